// The CUDA backend's kernels on device pointers, as backend_cuda.cu puts them
// in its Backend table. Every launch goes to the default stream, so the calls
// run in the order they are made; a failing launch throws CudaError.
// Semantics match the CPU kernels; only the order of floating-point sums
// inside a GEMM differs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mlpcore/backend.h"

namespace mlpcore::cuda {

// C = act(alpha * op(A) * op(B) + beta * C + bias) on row-major device arrays,
// as mlpcore::sgemm, with every Epilogue field (bias and act, or the derivative
// through act_output; b_column_sums). beta == 0 never reads C.
void sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc, const Epilogue& epilogue);

void activation_forward(Activation act, std::size_t n, const float* x, float* y);
// dx = dy * act'(x), from the output y = act(x); dx may alias dy.
void activation_backward(Activation act, std::size_t n, const float* y, const float* dy, float* dx);
void softmax(std::size_t rows, std::size_t cols, const float* x, float* y);
// out[j] = sum of x[r, j] over r (rows of stride ld), in a fixed order (so the same every run).
void column_sums_strided(std::size_t rows, std::size_t cols, const float* x, std::size_t ld, float* out);
// Softmax rows for cross-entropy, sigmoid for binary cross-entropy, nothing for MSE.
void output_transform(LossKind kind, std::size_t rows, std::size_t cols, float* out);

// Backend::batch_loss: loss_rows.h's formulas row by row, then a reduction in
// a fixed order; the verdict is set on the device.
void batch_loss(LossKind kind, std::size_t rows, std::size_t cols, const float* out, const Targets& targets,
                const float* row_weight, float* grad, float grad_scale, BatchResult* result, Verdict* verdict,
                Verdict code);

// dst row r = src row idx[r] (rows of row_bytes bytes, a multiple of 4).
void gather_rows(std::size_t rows, std::size_t row_bytes, const void* src, const std::uint32_t* idx, void* dst);
// Backend::gather_csr_rows: a warp per row, the zero fill and then the row's
// entries (each column at most once per row, so no two lanes write one value).
void gather_csr_rows(std::size_t rows, std::size_t cols, const CsrRows& csr, const std::uint32_t* idx, float* dst);

// Backend::max_abs and Backend::squared_norm: reductions in a fixed order, read back.
float max_abs(std::size_t n, const float* x);
double squared_norm(const float* x, const std::vector<std::pair<std::size_t, std::size_t>>& runs);

// Backend::optimizer_update: a pass that sets the verdict when the gradient or
// any value the step would produce is not finite, then the update, which the
// verdict skips (no host synchronisation).
void optimizer_update(const OptimizerUpdate& update, UpdateGuard& guard, Verdict* verdict, Verdict code);

// Seconds per call of sgemm on device-resident random operands (CUDA events).
double time_sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, int repeats,
                  bool with_bias, Activation act);

}  // namespace mlpcore::cuda
