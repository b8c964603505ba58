// The _edgeprune extension module: runs the runtime's kernels on numpy arrays.
#include "bindings.h"

namespace ep_py {
std::vector<BindFn>& registry() {
  static std::vector<BindFn> fns;
  return fns;
}
}  // namespace ep_py

PYBIND11_MODULE(_edgeprune, m) {
  m.doc() = "edgeprune kernel runtime (host build)";
  for (auto fn : ep_py::registry()) fn(m);
}
