// Bindings for the Armv7E-M DSP conv kernels. On the host they run with the plain-C emulation of the
// DSP intrinsics (edgeprune/dsp.h), so tests check the re-laid-out weights and the arithmetic cheaply.
#include "bindings.h"
#include "conv_fields.h"
#include "edgeprune/kernels/conv_dsp.h"
#include "edgeprune/kernels/sparse_dsp.h"

namespace {

template <typename P>
void geometry(const py::dict& d, P& p) {
  ep_py::conv_geometry(d, p);
  p.input_offset = ep_py::get_i(d, "input_offset");
  p.output_offset = ep_py::get_i(d, "output_offset");
  p.act_min = ep_py::get_i(d, "act_min");
  p.act_max = ep_py::get_i(d, "act_max");
}

size_t n_in(const py::dict& d) { return ep_py::conv_in(d); }
size_t n_out(const py::dict& d) { return ep_py::conv_out(d); }
using ep_py::need;
using ep_py::need_const;
template <typename T>
const T* opt(py::array& a, size_t n, const char* what) {
  if (a.size() == 0) return nullptr;
  need(a, n, what);
  return ep_py::ptr<T>(a, what);
}
size_t even(size_t n) { return (n + 1) / 2 * 2; }

using ConvFn = ep_status (*)(const ep_conv2d_s8_dsp_params*, const int8_t*, const int16_t*, void*, int8_t*);
using DwFn = ep_status (*)(const ep_depthwise_conv2d_s8_dsp_params*, const int8_t*, const int16_t*, void*, int8_t*);

template <typename P>
void requant(const py::dict& d, const py::dict& c, P& p) {
  p.all_right = ep_py::get_i(d, "all_right");
  need_const(c, "requant", (size_t)p.out_c * 4);
  p.requant = ep_py::cptr<int32_t>(c, "requant");
}

ep_conv2d_s8_dsp_params conv_params(const py::dict& d, const py::dict& c, py::array& in, py::array& s,
                                    py::array& out) {
  ep_conv2d_s8_dsp_params p{};
  geometry(d, p);
  p.k_padded = ep_py::get_i(d, "k_padded");
  requant(d, c, p);
  need(in, n_in(d), "input");
  need(s, EP_CONV_DSP_SCRATCH_BYTES(p.k_padded, p.out_c), "scratch");
  need(out, n_out(d), "output");
  return p;
}

void conv(ConvFn fn, const char* name, py::dict d, py::dict c, py::array in, py::array f, py::array s,
          py::array out) {
  const ep_conv2d_s8_dsp_params p = conv_params(d, c, in, s, out);
  need(f, even(p.out_c) * p.k_padded, "filter");
  ep_py::check(fn(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<int16_t>(f, "filter"), s.mutable_data(),
                  ep_py::ptr<int8_t>(out, "output")),
               name);
}

// The block-sparse format (sparse_dsp.h): per pair a block count, then its group indices; 8 weights a block.
// Walks the stream so a malformed one fails here rather than reading outside the column or the weights.
void check_blocks(py::array& blocks, py::array& f, int32_t pairs, int32_t k_padded) {
  const uint8_t* b = ep_py::ptr<uint8_t>(blocks, "blocks");
  const size_t size = (size_t)blocks.size();
  size_t pos = 0, stored = 0;
  for (int32_t i = 0; i < pairs; ++i) {
    if (pos >= size) throw std::invalid_argument("blocks: stream too short");
    const size_t n = b[pos++];
    if (pos + n > size) throw std::invalid_argument("blocks: stream too short");
    for (size_t j = 0; j < n; ++j)
      if (4 * (int32_t)b[pos + j] >= k_padded) throw std::invalid_argument("blocks: group out of range");
    pos += n;
    stored += n;
  }
  need(f, stored * 8, "filter");
}

template <typename W>
using SparseConvFn = ep_status (*)(const ep_conv2d_s8_dsp_params*, const int8_t*, const W*, const uint8_t*, void*,
                                   int8_t*);

template <typename W>
void sparse_conv(SparseConvFn<W> fn, const char* name, py::dict d, py::dict c, py::array in, py::array f,
                 py::array blocks, py::array s, py::array out) {
  const ep_conv2d_s8_dsp_params p = conv_params(d, c, in, s, out);
  check_blocks(blocks, f, (p.out_c + 1) / 2, p.k_padded);
  ep_py::check(fn(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<W>(f, "filter"),
                  ep_py::ptr<uint8_t>(blocks, "blocks"), s.mutable_data(), ep_py::ptr<int8_t>(out, "output")),
               name);
}

ep_fully_connected_s8_dsp_params fc_params(const py::dict& d, const py::dict& c, py::array& in, py::array& s,
                                           py::array& out) {
  ep_fully_connected_s8_dsp_params p{};
  p.batches = ep_py::get_i(d, "batches");
  p.depth = ep_py::get_i(d, "depth");
  p.units = ep_py::get_i(d, "units");
  p.depth_padded = ep_py::get_i(d, "depth_padded");
  p.input_offset = ep_py::get_i(d, "input_offset");
  p.output_offset = ep_py::get_i(d, "output_offset");
  p.act_min = ep_py::get_i(d, "act_min");
  p.act_max = ep_py::get_i(d, "act_max");
  p.input_scale = ep_py::get_f(d, "input_scale");
  p.output_scale = ep_py::get_f(d, "output_scale");
  need_const(c, "filter_scales", p.units);
  p.filter_scales = ep_py::cptr<float>(c, "filter_scales");
  need(in, (size_t)p.batches * p.depth, "input");
  need(s, EP_FC_DSP_SCRATCH_BYTES(p.depth_padded, p.units), "scratch");
  need(out, (size_t)p.batches * p.units, "output");
  return p;
}

template <typename W>
using SparseFcFn = ep_status (*)(const ep_fully_connected_s8_dsp_params*, const int8_t*, const W*, const uint8_t*,
                                 const int32_t*, void*, int8_t*);

template <typename W>
void sparse_fc(SparseFcFn<W> fn, const char* name, py::dict d, py::dict c, py::array in, py::array w,
               py::array blocks, py::array b, py::array s, py::array out) {
  const ep_fully_connected_s8_dsp_params p = fc_params(d, c, in, s, out);
  check_blocks(blocks, w, (p.units + 1) / 2, p.depth_padded);
  ep_py::check(fn(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<W>(w, "weights"),
                  ep_py::ptr<uint8_t>(blocks, "blocks"), opt<int32_t>(b, p.units, "bias"), s.mutable_data(),
                  ep_py::ptr<int8_t>(out, "output")),
               name);
}

void depthwise(DwFn fn, const char* name, py::dict d, py::dict c, py::array in, py::array f, py::array s,
               py::array out) {
  ep_depthwise_conv2d_s8_dsp_params p{};
  geometry(d, p);
  p.depth_multiplier = ep_py::get_i(d, "depth_multiplier");
  requant(d, c, p);
  need(in, n_in(d), "input");
  need(f, (size_t)p.filter_h * p.filter_w * p.out_c, "filter");
  need(s, fn == ep_depthwise_conv2d_3x3_s8_dsp ? EP_DEPTHWISE_3X3_DSP_SCRATCH_BYTES(p.out_w, p.stride_w)
                                               : EP_DEPTHWISE_DSP_SCRATCH_BYTES(p.out_c),
       "scratch");
  need(out, n_out(d), "output");
  ep_py::check(fn(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<int16_t>(f, "filter"), s.mutable_data(),
                  ep_py::ptr<int8_t>(out, "output")),
               name);
}

}  // namespace

EP_BIND(bind_conv_dsp) {
  m.def("ep_conv2d_s8_dsp", [](py::dict d, py::dict c, py::array in, py::array f, py::array s, py::array out) {
    conv(ep_conv2d_s8_dsp, "ep_conv2d_s8_dsp", d, c, in, f, s, out);
  });
  m.def("ep_conv2d_1x1_s8_dsp", [](py::dict d, py::dict c, py::array in, py::array f, py::array s, py::array out) {
    conv(ep_conv2d_1x1_s8_dsp, "ep_conv2d_1x1_s8_dsp", d, c, in, f, s, out);
  });
  m.def("ep_depthwise_conv2d_s8_dsp", [](py::dict d, py::dict c, py::array in, py::array f, py::array s,
                                         py::array out) {
    depthwise(ep_depthwise_conv2d_s8_dsp, "ep_depthwise_conv2d_s8_dsp", d, c, in, f, s, out);
  });
  m.def("ep_depthwise_conv2d_3x3_s8_dsp", [](py::dict d, py::dict c, py::array in, py::array f, py::array s,
                                             py::array out) {
    depthwise(ep_depthwise_conv2d_3x3_s8_dsp, "ep_depthwise_conv2d_3x3_s8_dsp", d, c, in, f, s, out);
  });
  m.def("ep_fully_connected_s8_dsp", [](py::dict d, py::dict c, py::array in, py::array w, py::array b,
                                        py::array s, py::array out) {
    const ep_fully_connected_s8_dsp_params p = fc_params(d, c, in, s, out);
    need(w, even(p.units) * p.depth_padded, "weights");
    ep_py::check(ep_fully_connected_s8_dsp(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<int16_t>(w, "weights"),
                                           opt<int32_t>(b, p.units, "bias"), s.mutable_data(),
                                           ep_py::ptr<int8_t>(out, "output")),
                 "ep_fully_connected_s8_dsp");
  });
  // The block-sparse kernels, fast (int16 weights) and compact (int8 weights) formats.
  m.def("ep_conv2d_s8_sparse_dsp", [](py::dict d, py::dict c, py::array in, py::array f, py::array blocks,
                                      py::array s, py::array out) {
    sparse_conv<int16_t>(ep_conv2d_s8_sparse_dsp, "ep_conv2d_s8_sparse_dsp", d, c, in, f, blocks, s, out);
  });
  m.def("ep_conv2d_s8_sparse8_dsp", [](py::dict d, py::dict c, py::array in, py::array f, py::array blocks,
                                       py::array s, py::array out) {
    sparse_conv<int8_t>(ep_conv2d_s8_sparse8_dsp, "ep_conv2d_s8_sparse8_dsp", d, c, in, f, blocks, s, out);
  });
  m.def("ep_conv2d_1x1_s8_sparse_dsp", [](py::dict d, py::dict c, py::array in, py::array f, py::array blocks,
                                          py::array s, py::array out) {
    sparse_conv<int16_t>(ep_conv2d_1x1_s8_sparse_dsp, "ep_conv2d_1x1_s8_sparse_dsp", d, c, in, f, blocks, s, out);
  });
  m.def("ep_conv2d_1x1_s8_sparse8_dsp", [](py::dict d, py::dict c, py::array in, py::array f, py::array blocks,
                                           py::array s, py::array out) {
    sparse_conv<int8_t>(ep_conv2d_1x1_s8_sparse8_dsp, "ep_conv2d_1x1_s8_sparse8_dsp", d, c, in, f, blocks, s, out);
  });
  m.def("ep_fully_connected_s8_sparse_dsp", [](py::dict d, py::dict c, py::array in, py::array w, py::array blocks,
                                               py::array b, py::array s, py::array out) {
    sparse_fc<int16_t>(ep_fully_connected_s8_sparse_dsp, "ep_fully_connected_s8_sparse_dsp", d, c, in, w, blocks, b,
                       s, out);
  });
  m.def("ep_fully_connected_s8_sparse8_dsp", [](py::dict d, py::dict c, py::array in, py::array w, py::array blocks,
                                                py::array b, py::array s, py::array out) {
    sparse_fc<int8_t>(ep_fully_connected_s8_sparse8_dsp, "ep_fully_connected_s8_sparse8_dsp", d, c, in, w, blocks,
                      b, s, out);
  });
}
