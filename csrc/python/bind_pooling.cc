// Bindings for pooling kernels (AVERAGE_POOL_2D, MAX_POOL_2D) and MEAN.
#include "bindings.h"
#include "edgeprune/kernels/pooling.h"

namespace {

template <typename P, typename V>
void load_pool(const py::dict& d, P& p, V act_min, V act_max, const py::array& in, const py::array& out,
               const char* fn) {
  p.batches = ep_py::get_i(d, "batches");
  p.in_h = ep_py::get_i(d, "in_h");
  p.in_w = ep_py::get_i(d, "in_w");
  p.channels = ep_py::get_i(d, "channels");
  p.out_h = ep_py::get_i(d, "out_h");
  p.out_w = ep_py::get_i(d, "out_w");
  p.filter_h = ep_py::get_i(d, "filter_h");
  p.filter_w = ep_py::get_i(d, "filter_w");
  p.stride_h = ep_py::get_i(d, "stride_h");
  p.stride_w = ep_py::get_i(d, "stride_w");
  p.pad_h = ep_py::get_i(d, "pad_h");
  p.pad_w = ep_py::get_i(d, "pad_w");
  p.act_min = act_min;
  p.act_max = act_max;
  if (p.batches < 0 || p.in_h < 0 || p.in_w < 0 || p.out_h < 0 || p.out_w < 0 || p.pad_h < 0 || p.pad_w < 0)
    throw std::invalid_argument(std::string(fn) + ": bad shape");
  if (in.size() < (int64_t)p.batches * p.in_h * p.in_w * p.channels ||
      out.size() < (int64_t)p.batches * p.out_h * p.out_w * p.channels)
    throw std::invalid_argument(std::string(fn) + ": short buffer");
}

template <typename P>
void load_mean(const py::dict& d, P& p, const py::array& in, const py::array& out, const char* fn) {
  ep_py::get_arr(d, "dims", p.dims);
  ep_py::get_arr(d, "out_strides", p.out_strides);
  p.num_outputs = ep_py::get_i(d, "num_outputs");
  p.num_reduced = ep_py::get_i(d, "num_reduced");
  int64_t n_in = 1, ext = 1;
  for (int i = 0; i < EP_MEAN_DIMS; ++i) {
    if (p.dims[i] <= 0 || p.out_strides[i] < 0) throw std::invalid_argument(std::string(fn) + ": bad shape");
    n_in *= p.dims[i];
    ext += (int64_t)(p.dims[i] - 1) * p.out_strides[i];
  }
  if (ext > p.num_outputs || in.size() < n_in || out.size() < p.num_outputs)
    throw std::invalid_argument(std::string(fn) + ": short buffer");
}

}  // namespace

EP_BIND(bind_pooling) {
  m.def("ep_avg_pool_s8", [](py::dict d, py::dict, py::array in, py::array out, py::array scratch) {
    ep_avg_pool_s8_params p{};
    load_pool(d, p, ep_py::get_i(d, "act_min"), ep_py::get_i(d, "act_max"), in, out, "ep_avg_pool_s8");
    if (scratch.nbytes() < (int64_t)p.channels * 4) throw std::invalid_argument("ep_avg_pool_s8: short scratch");
    ep_py::check(ep_avg_pool_s8(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<int8_t>(out, "output"),
                                scratch.mutable_data()),
                 "ep_avg_pool_s8");
  });
  m.def("ep_avg_pool_f32", [](py::dict d, py::dict, py::array in, py::array out) {
    ep_avg_pool_f32_params p{};
    load_pool(d, p, ep_py::get_f(d, "act_min"), ep_py::get_f(d, "act_max"), in, out, "ep_avg_pool_f32");
    ep_py::check(ep_avg_pool_f32(&p, ep_py::ptr<float>(in, "input"), ep_py::ptr<float>(out, "output")),
                 "ep_avg_pool_f32");
  });
  m.def("ep_max_pool_s8", [](py::dict d, py::dict, py::array in, py::array out) {
    ep_max_pool_s8_params p{};
    load_pool(d, p, ep_py::get_i(d, "act_min"), ep_py::get_i(d, "act_max"), in, out, "ep_max_pool_s8");
    ep_py::check(ep_max_pool_s8(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<int8_t>(out, "output")),
                 "ep_max_pool_s8");
  });
  m.def("ep_max_pool_f32", [](py::dict d, py::dict, py::array in, py::array out) {
    ep_max_pool_f32_params p{};
    load_pool(d, p, ep_py::get_f(d, "act_min"), ep_py::get_f(d, "act_max"), in, out, "ep_max_pool_f32");
    ep_py::check(ep_max_pool_f32(&p, ep_py::ptr<float>(in, "input"), ep_py::ptr<float>(out, "output")),
                 "ep_max_pool_f32");
  });
  m.def("ep_mean_s8", [](py::dict d, py::dict, py::array in, py::array out, py::array scratch) {
    ep_mean_s8_params p{};
    load_mean(d, p, in, out, "ep_mean_s8");
    p.input_zero_point = ep_py::get_i(d, "input_zero_point");
    p.output_zero_point = ep_py::get_i(d, "output_zero_point");
    p.multiplier = ep_py::get_i(d, "multiplier");
    p.shift = ep_py::get_i(d, "shift");
    if (scratch.nbytes() < (int64_t)p.num_outputs * 4) throw std::invalid_argument("ep_mean_s8: short scratch");
    ep_py::check(ep_mean_s8(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<int8_t>(out, "output"),
                            scratch.mutable_data()),
                 "ep_mean_s8");
  });
  m.def("ep_mean_f32", [](py::dict d, py::dict, py::array in, py::array out) {
    ep_mean_f32_params p{};
    load_mean(d, p, in, out, "ep_mean_f32");
    ep_py::check(ep_mean_f32(&p, ep_py::ptr<float>(in, "input"), ep_py::ptr<float>(out, "output")), "ep_mean_f32");
  });
}
