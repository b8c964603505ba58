// Shared by the conv bindings (portable and DSP): geometry fields, buffer sizes and size checks.
#pragma once

#include "bindings.h"

namespace ep_py {

template <typename P>
void conv_geometry(const py::dict& d, P& p) {
  p.batches = get_i(d, "batches");
  p.in_h = get_i(d, "in_h");
  p.in_w = get_i(d, "in_w");
  p.in_c = get_i(d, "in_c");
  p.filter_h = get_i(d, "filter_h");
  p.filter_w = get_i(d, "filter_w");
  p.out_h = get_i(d, "out_h");
  p.out_w = get_i(d, "out_w");
  p.out_c = get_i(d, "out_c");
  p.stride_h = get_i(d, "stride_h");
  p.stride_w = get_i(d, "stride_w");
  p.dilation_h = get_i(d, "dilation_h");
  p.dilation_w = get_i(d, "dilation_w");
  p.pad_h = get_i(d, "pad_h");
  p.pad_w = get_i(d, "pad_w");
}

inline size_t conv_in(const py::dict& d) {
  return (size_t)get_i(d, "batches") * get_i(d, "in_h") * get_i(d, "in_w") * get_i(d, "in_c");
}
inline size_t conv_out(const py::dict& d) {
  return (size_t)get_i(d, "batches") * get_i(d, "out_h") * get_i(d, "out_w") * get_i(d, "out_c");
}

inline void need(const py::array& a, size_t n, const char* what) {
  if ((size_t)a.size() < n) throw std::invalid_argument(std::string(what) + ": buffer too small");
}
inline void need_const(const py::dict& consts, const char* key, size_t n) {
  py::array a = consts[key].cast<py::array>();
  if ((size_t)a.size() < n) throw std::invalid_argument(std::string("const ") + key + " too short");
}

}  // namespace ep_py
