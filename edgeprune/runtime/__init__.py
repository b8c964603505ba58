"""Runs lowered programs on the host through the C++ kernels (pybind11 module `edgeprune._edgeprune`)."""
