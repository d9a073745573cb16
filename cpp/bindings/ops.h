// What the backend ops (backend_ops.cpp) share with the CPU ops (ops.cpp).
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>

#include "mlpcore/backend.h"

namespace mlpcore::bindings {

namespace py = pybind11;

// sgemm with its epilogue (bias + activation, or the activation derivative
// through a stored output) and the fused column sums of op(b); for tests and
// benchmarks of the fused kernels, on `backend` (host arrays copied to its
// memory and back where it cannot read them). Returns (c, column sums of op(b) or None).
py::tuple gemm_fused_with(const Backend& backend, const py::handle& a_obj, const py::handle& b_obj,
                          const py::handle& trans_a_obj, const py::handle& trans_b_obj, const py::handle& alpha_obj,
                          const py::handle& beta_obj, const py::object& c_obj, const py::object& bias_obj,
                          const py::handle& act, const py::object& act_output_obj,
                          const py::handle& column_sums_obj);

}  // namespace mlpcore::bindings
