// Bindings for data-movement kernels.
#include "bindings.h"
#include "edgeprune/kernels/shape.h"

EP_BIND(bind_copy) {
  m.def("ep_copy", [](py::dict p, py::dict, py::array in, py::array out) {
    ep_copy_params params{};
    params.nbytes = ep_py::get_i(p, "nbytes");
    if (in.nbytes() < params.nbytes || out.nbytes() < params.nbytes) throw std::invalid_argument("ep_copy: short buffer");
    ep_py::check(ep_copy(&params, in.data(), out.mutable_data()), "ep_copy");
  });
}

namespace {

template <typename P>
void load_transpose(const py::dict& d, P& p, const py::array& in, const py::array& out, const char* fn) {
  ep_py::get_arr(d, "dims", p.dims);
  ep_py::get_arr(d, "in_strides", p.in_strides);
  int64_t n = 1, ext = 1;
  for (int i = 0; i < EP_TRANSPOSE_DIMS; ++i) {
    if (p.dims[i] <= 0 || p.in_strides[i] < 0) throw std::invalid_argument(std::string(fn) + ": bad shape");
    n *= p.dims[i];
    ext += (int64_t)(p.dims[i] - 1) * p.in_strides[i];
  }
  if (in.size() < ext || out.size() < n) throw std::invalid_argument(std::string(fn) + ": short buffer");
}

template <typename P>
void load_pad(const py::dict& d, P& p, const py::array& in, const py::array& out, const char* fn) {
  ep_py::get_arr(d, "in_dims", p.in_dims);
  ep_py::get_arr(d, "pad_before", p.pad_before);
  ep_py::get_arr(d, "pad_after", p.pad_after);
  int64_t n_in = 1, n_out = 1;
  for (int i = 0; i < EP_PAD_DIMS; ++i) {
    if (p.in_dims[i] < 0 || p.pad_before[i] < 0 || p.pad_after[i] < 0)
      throw std::invalid_argument(std::string(fn) + ": bad shape");
    n_in *= p.in_dims[i];
    n_out *= (int64_t)p.in_dims[i] + p.pad_before[i] + p.pad_after[i];
  }
  if (in.size() < n_in || out.size() < n_out) throw std::invalid_argument(std::string(fn) + ": short buffer");
}

template <typename P>
void load_concat(const py::dict& d, P& p, const py::array& in, const py::array& out, const char* fn) {
  p.outer = ep_py::get_i(d, "outer");
  p.in_row = ep_py::get_i(d, "in_row");
  p.out_row = ep_py::get_i(d, "out_row");
  p.offset = ep_py::get_i(d, "offset");
  if (in.size() < (int64_t)p.outer * p.in_row || out.size() < (int64_t)p.outer * p.out_row)
    throw std::invalid_argument(std::string(fn) + ": short buffer");
}

}  // namespace

EP_BIND(bind_shape_ops) {
  m.def("ep_transpose_s8", [](py::dict d, py::dict, py::array in, py::array out) {
    ep_transpose_s8_params p{};
    load_transpose(d, p, in, out, "ep_transpose_s8");
    ep_py::check(ep_transpose_s8(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<int8_t>(out, "output")),
                 "ep_transpose_s8");
  });
  m.def("ep_transpose_f32", [](py::dict d, py::dict, py::array in, py::array out) {
    ep_transpose_f32_params p{};
    load_transpose(d, p, in, out, "ep_transpose_f32");
    ep_py::check(ep_transpose_f32(&p, ep_py::ptr<float>(in, "input"), ep_py::ptr<float>(out, "output")),
                 "ep_transpose_f32");
  });
  m.def("ep_pad_s8", [](py::dict d, py::dict, py::array in, py::array out) {
    ep_pad_s8_params p{};
    load_pad(d, p, in, out, "ep_pad_s8");
    p.pad_value = ep_py::get_i(d, "pad_value");
    ep_py::check(ep_pad_s8(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<int8_t>(out, "output")), "ep_pad_s8");
  });
  m.def("ep_pad_f32", [](py::dict d, py::dict, py::array in, py::array out) {
    ep_pad_f32_params p{};
    load_pad(d, p, in, out, "ep_pad_f32");
    p.pad_value = ep_py::get_f(d, "pad_value");
    ep_py::check(ep_pad_f32(&p, ep_py::ptr<float>(in, "input"), ep_py::ptr<float>(out, "output")), "ep_pad_f32");
  });
  m.def("ep_concat_s8", [](py::dict d, py::dict, py::array in, py::array out) {
    ep_concat_s8_params p{};
    load_concat(d, p, in, out, "ep_concat_s8");
    ep_py::check(ep_concat_s8(&p, ep_py::ptr<int8_t>(in, "input"), ep_py::ptr<int8_t>(out, "output")),
                 "ep_concat_s8");
  });
  m.def("ep_concat_f32", [](py::dict d, py::dict, py::array in, py::array out) {
    ep_concat_f32_params p{};
    load_concat(d, p, in, out, "ep_concat_f32");
    ep_py::check(ep_concat_f32(&p, ep_py::ptr<float>(in, "input"), ep_py::ptr<float>(out, "output")),
                 "ep_concat_f32");
  });
}
