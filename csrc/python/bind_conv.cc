// Bindings for the conv kernels (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED).
#include "bindings.h"
#include "conv_fields.h"
#include "edgeprune/kernels/conv.h"

namespace {

using ep_py::conv_in;
using ep_py::conv_out;
using ep_py::need;

// Optional bias: an empty array stands for "no bias" (NULL).
template <typename T>
const T* opt(py::array& a, size_t n, const char* what) {
  if (a.size() == 0) return nullptr;
  need(a, n, what);
  return ep_py::ptr<T>(a, what);
}

}  // namespace

EP_BIND(bind_conv) {
  m.def("ep_conv2d_s8", [](py::dict d, py::dict c, py::array in, py::array f, py::array b, py::array out) {
    ep_conv2d_s8_params p{};
    ep_py::conv_geometry(d, p);
    p.input_offset = ep_py::get_i(d, "input_offset");
    p.output_offset = ep_py::get_i(d, "output_offset");
    p.act_min = ep_py::get_i(d, "act_min");
    p.act_max = ep_py::get_i(d, "act_max");
    p.out_multiplier = ep_py::cptr<int32_t>(c, "out_multiplier");
    p.out_shift = ep_py::cptr<int32_t>(c, "out_shift");
    ep_py::need_const(c, "out_multiplier", p.out_c);
    ep_py::need_const(c, "out_shift", p.out_c);
    need(in, conv_in(d), "input");
    need(f, (size_t)p.out_c * p.filter_h * p.filter_w * p.in_c, "filter");
    need(out, conv_out(d), "output");
    ep_py::check(ep_conv2d_s8(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<int8_t>(f, "filter"),
                              opt<int32_t>(b, p.out_c, "bias"), ep_py::ptr<int8_t>(out, "output")),
                 "ep_conv2d_s8");
  });
  m.def("ep_conv2d_f32", [](py::dict d, py::dict, py::array in, py::array f, py::array b, py::array out) {
    ep_conv2d_f32_params p{};
    ep_py::conv_geometry(d, p);
    p.act_min = ep_py::get_f(d, "act_min");
    p.act_max = ep_py::get_f(d, "act_max");
    need(in, conv_in(d), "input");
    need(f, (size_t)p.out_c * p.filter_h * p.filter_w * p.in_c, "filter");
    need(out, conv_out(d), "output");
    ep_py::check(ep_conv2d_f32(&p, ep_py::ptr<float>(in, "input"), ep_py::ptr<float>(f, "filter"),
                               opt<float>(b, p.out_c, "bias"), ep_py::ptr<float>(out, "output")),
                 "ep_conv2d_f32");
  });
  m.def("ep_conv2d_hybrid",
        [](py::dict d, py::dict c, py::array in, py::array f, py::array b, py::array s, py::array out) {
          ep_conv2d_hybrid_params p{};
          ep_py::conv_geometry(d, p);
          p.per_channel = ep_py::get_i(d, "per_channel");
          p.act_min = ep_py::get_f(d, "act_min");
          p.act_max = ep_py::get_f(d, "act_max");
          p.filter_scales = ep_py::cptr<float>(c, "filter_scales");
          ep_py::need_const(c, "filter_scales", p.out_c);
          need(in, conv_in(d), "input");
          need(f, (size_t)p.out_c * p.filter_h * p.filter_w * p.in_c, "filter");
          if ((size_t)s.nbytes() < EP_HYBRID_SCRATCH_BYTES(p.batches, conv_in(d) / p.batches))
            throw std::invalid_argument("scratch too small");
          need(out, conv_out(d), "output");
          ep_py::check(ep_conv2d_hybrid(&p, ep_py::ptr<float>(in, "input"), ep_py::ptr<int8_t>(f, "filter"),
                                        opt<float>(b, p.out_c, "bias"), s.mutable_data(),
                                        ep_py::ptr<float>(out, "output")),
                       "ep_conv2d_hybrid");
        });
  m.def("ep_depthwise_conv2d_s8",
        [](py::dict d, py::dict c, py::array in, py::array f, py::array b, py::array out) {
          ep_depthwise_conv2d_s8_params p{};
          ep_py::conv_geometry(d, p);
          p.depth_multiplier = ep_py::get_i(d, "depth_multiplier");
          p.input_offset = ep_py::get_i(d, "input_offset");
          p.output_offset = ep_py::get_i(d, "output_offset");
          p.act_min = ep_py::get_i(d, "act_min");
          p.act_max = ep_py::get_i(d, "act_max");
          p.out_multiplier = ep_py::cptr<int32_t>(c, "out_multiplier");
          p.out_shift = ep_py::cptr<int32_t>(c, "out_shift");
          ep_py::need_const(c, "out_multiplier", p.out_c);
          ep_py::need_const(c, "out_shift", p.out_c);
          need(in, conv_in(d), "input");
          need(f, (size_t)p.out_c * p.filter_h * p.filter_w, "filter");
          need(out, conv_out(d), "output");
          ep_py::check(ep_depthwise_conv2d_s8(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<int8_t>(f, "filter"),
                                              opt<int32_t>(b, p.out_c, "bias"), ep_py::ptr<int8_t>(out, "output")),
                       "ep_depthwise_conv2d_s8");
        });
  m.def("ep_depthwise_conv2d_f32",
        [](py::dict d, py::dict, py::array in, py::array f, py::array b, py::array out) {
          ep_depthwise_conv2d_f32_params p{};
          ep_py::conv_geometry(d, p);
          p.depth_multiplier = ep_py::get_i(d, "depth_multiplier");
          p.act_min = ep_py::get_f(d, "act_min");
          p.act_max = ep_py::get_f(d, "act_max");
          need(in, conv_in(d), "input");
          need(f, (size_t)p.out_c * p.filter_h * p.filter_w, "filter");
          need(out, conv_out(d), "output");
          ep_py::check(ep_depthwise_conv2d_f32(&p, ep_py::ptr<float>(in, "input"), ep_py::ptr<float>(f, "filter"),
                                               opt<float>(b, p.out_c, "bias"), ep_py::ptr<float>(out, "output")),
                       "ep_depthwise_conv2d_f32");
        });
  m.def("ep_depthwise_conv2d_hybrid",
        [](py::dict d, py::dict c, py::array in, py::array f, py::array b, py::array s, py::array out) {
          ep_depthwise_conv2d_hybrid_params p{};
          ep_py::conv_geometry(d, p);
          p.depth_multiplier = ep_py::get_i(d, "depth_multiplier");
          p.act_min = ep_py::get_f(d, "act_min");
          p.act_max = ep_py::get_f(d, "act_max");
          p.filter_scales = ep_py::cptr<float>(c, "filter_scales");
          ep_py::need_const(c, "filter_scales", p.out_c);
          need(in, conv_in(d), "input");
          need(f, (size_t)p.out_c * p.filter_h * p.filter_w, "filter");
          if ((size_t)s.nbytes() < EP_HYBRID_SCRATCH_BYTES(p.batches, conv_in(d) / p.batches))
            throw std::invalid_argument("scratch too small");
          need(out, conv_out(d), "output");
          ep_py::check(ep_depthwise_conv2d_hybrid(&p, ep_py::ptr<float>(in, "input"), ep_py::ptr<int8_t>(f, "filter"),
                                                  opt<float>(b, p.out_c, "bias"), s.mutable_data(),
                                                  ep_py::ptr<float>(out, "output")),
                       "ep_depthwise_conv2d_hybrid");
        });
  m.def("ep_fully_connected_s8",
        [](py::dict d, py::dict c, py::array in, py::array w, py::array b, py::array out) {
          ep_fully_connected_s8_params p{};
          p.batches = ep_py::get_i(d, "batches");
          p.depth = ep_py::get_i(d, "depth");
          p.units = ep_py::get_i(d, "units");
          p.input_offset = ep_py::get_i(d, "input_offset");
          p.weights_offset = ep_py::get_i(d, "weights_offset");
          p.output_offset = ep_py::get_i(d, "output_offset");
          p.act_min = ep_py::get_i(d, "act_min");
          p.act_max = ep_py::get_i(d, "act_max");
          p.input_scale = ep_py::get_f(d, "input_scale");
          p.output_scale = ep_py::get_f(d, "output_scale");
          p.filter_scales = ep_py::cptr<float>(c, "filter_scales");
          ep_py::need_const(c, "filter_scales", p.units);
          need(in, (size_t)p.batches * p.depth, "input");
          need(w, (size_t)p.units * p.depth, "weights");
          need(out, (size_t)p.batches * p.units, "output");
          ep_py::check(ep_fully_connected_s8(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<int8_t>(w, "weights"),
                                             opt<int32_t>(b, p.units, "bias"), ep_py::ptr<int8_t>(out, "output")),
                       "ep_fully_connected_s8");
        });
  m.def("ep_fully_connected_f32",
        [](py::dict d, py::dict, py::array in, py::array w, py::array b, py::array out) {
          ep_fully_connected_f32_params p{};
          p.batches = ep_py::get_i(d, "batches");
          p.depth = ep_py::get_i(d, "depth");
          p.units = ep_py::get_i(d, "units");
          p.act_min = ep_py::get_f(d, "act_min");
          p.act_max = ep_py::get_f(d, "act_max");
          need(in, (size_t)p.batches * p.depth, "input");
          need(w, (size_t)p.units * p.depth, "weights");
          need(out, (size_t)p.batches * p.units, "output");
          ep_py::check(ep_fully_connected_f32(&p, ep_py::ptr<float>(in, "input"), ep_py::ptr<float>(w, "weights"),
                                              opt<float>(b, p.units, "bias"), ep_py::ptr<float>(out, "output")),
                       "ep_fully_connected_f32");
        });
  m.def("ep_fully_connected_hybrid",
        [](py::dict d, py::dict c, py::array in, py::array w, py::array b, py::array s, py::array out) {
          ep_fully_connected_hybrid_params p{};
          p.batches = ep_py::get_i(d, "batches");
          p.depth = ep_py::get_i(d, "depth");
          p.units = ep_py::get_i(d, "units");
          p.asymmetric = ep_py::get_i(d, "asymmetric");
          p.act_min = ep_py::get_f(d, "act_min");
          p.act_max = ep_py::get_f(d, "act_max");
          p.filter_scales = ep_py::cptr<float>(c, "filter_scales");
          ep_py::need_const(c, "filter_scales", p.units);
          need(in, (size_t)p.batches * p.depth, "input");
          need(w, (size_t)p.units * p.depth, "weights");
          if ((size_t)s.nbytes() < EP_HYBRID_SCRATCH_BYTES(p.batches, p.depth))
            throw std::invalid_argument("scratch too small");
          need(out, (size_t)p.batches * p.units, "output");
          ep_py::check(ep_fully_connected_hybrid(&p, ep_py::ptr<float>(in, "input"), ep_py::ptr<int8_t>(w, "weights"),
                                                 opt<float>(b, p.units, "bias"), s.mutable_data(),
                                                 ep_py::ptr<float>(out, "output")),
                       "ep_fully_connected_hybrid");
        });
}
