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
