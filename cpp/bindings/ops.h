// What the CUDA bindings share with the CPU ops (ops.cpp).
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>

#include "mlpcore/gemm.h"

namespace mlpcore::bindings {

namespace py = pybind11;

// An sgemm with the signature of mlpcore::sgemm (the CPU one, or the CUDA one on host arrays).
using SgemmFn = void (*)(Trans, Trans, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
                         std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc,
                         const Epilogue& epilogue);

// sgemm with its epilogue (bias + activation, or the activation derivative
// through a stored output) and the fused column sums of op(b); for tests and
// benchmarks of the fused kernels. Returns (c, column sums of op(b) or None).
py::tuple gemm_fused_with(SgemmFn run, const py::handle& a_obj, const py::handle& b_obj,
                          const py::handle& trans_a_obj, const py::handle& trans_b_obj, const py::handle& alpha_obj,
                          const py::handle& beta_obj, const py::object& c_obj, const py::object& bias_obj,
                          const py::handle& act, const py::object& act_output_obj,
                          const py::handle& column_sums_obj);

}  // namespace mlpcore::bindings
