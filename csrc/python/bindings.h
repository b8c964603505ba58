// Shared helpers for the pybind11 module: each bind_*.cc registers its kernels with EP_BIND.
//
// Every kernel binding has the same Python signature: fn(params: dict, consts: dict, *arrays),
// where params holds the scalar fields of the kernel's params struct, consts its const-array
// pointer fields, and arrays the pointer arguments in C order. The host runner in
// edgeprune/runtime/host.py and the C backend both read the same lowered KernelCall.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>  // get_arr casts lists to std::vector

#include <stdexcept>
#include <string>
#include <vector>

namespace ep_py {
namespace py = pybind11;

using BindFn = void (*)(py::module_&);
std::vector<BindFn>& registry();
struct Registrar {
  explicit Registrar(BindFn fn) { registry().push_back(fn); }
};

inline int32_t get_i(const py::dict& d, const char* key) {
  if (!d.contains(key)) throw std::invalid_argument(std::string("missing param ") + key);
  return d[key].cast<int32_t>();
}
inline float get_f(const py::dict& d, const char* key) {
  if (!d.contains(key)) throw std::invalid_argument(std::string("missing param ") + key);
  return d[key].cast<float>();
}
// Fixed-size int array field (e.g. dims[4]).
template <size_t N>
inline void get_arr(const py::dict& d, const char* key, int32_t (&out)[N]) {
  if (!d.contains(key)) throw std::invalid_argument(std::string("missing param ") + key);
  auto v = d[key].cast<std::vector<int32_t>>();
  if (v.size() != N) throw std::invalid_argument(std::string("param ") + key + " has wrong length");
  for (size_t i = 0; i < N; ++i) out[i] = v[i];
}

// Raw pointer into a numpy array, with a dtype check. Arrays must be C-contiguous.
template <typename T>
inline T* ptr(py::array& a, const char* what) {
  if (!py::isinstance<py::array_t<T>>(a) && a.size() > 0)
    throw std::invalid_argument(std::string(what) + ": wrong dtype");
  if (!(a.flags() & py::array::c_style)) throw std::invalid_argument(std::string(what) + ": not contiguous");
  return static_cast<T*>(a.mutable_data());
}
template <typename T>
inline const T* cptr(const py::dict& consts, const char* key) {
  if (!consts.contains(key)) throw std::invalid_argument(std::string("missing const ") + key);
  py::array a = consts[key].cast<py::array>();
  return ptr<T>(a, key);
}

inline void check(int status, const char* fn) {
  if (status != 0) throw std::runtime_error(std::string(fn) + " returned status " + std::to_string(status));
}

}  // namespace ep_py

namespace py = pybind11;

#define EP_BIND_CAT2(a, b) a##b
#define EP_BIND_CAT(a, b) EP_BIND_CAT2(a, b)
#define EP_BIND(fn)                                           \
  static void fn(pybind11::module_& m);                       \
  static ep_py::Registrar EP_BIND_CAT(fn, _registrar)(fn);    \
  static void fn(pybind11::module_& m)
