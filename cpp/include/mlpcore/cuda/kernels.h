// The CUDA kernels behind the same interface as the CPU ones (gemm.h,
// elementwise.h, losses.h, sgd.h), on device pointers. Every launch goes to the
// default stream, so the calls run in the order they are made; a failing
// launch throws CudaError. Semantics match the CPU kernels; only the order of
// floating-point sums inside a GEMM differs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mlpcore/gemm.h"
#include "mlpcore/kernel_table.h"
#include "mlpcore/losses.h"
#include "mlpcore/sgd.h"

namespace mlpcore::cuda {

// C = act(alpha * op(A) * op(B) + beta * C + bias) on row-major device arrays,
// as mlpcore::sgemm, with every Epilogue field (bias and act, or the derivative
// through act_output; b_column_sums). beta == 0 never reads C.
void sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc, const Epilogue& epilogue = Epilogue{});

void activation_forward(Activation act, std::size_t n, const float* x, float* y);
// dx = dy * act'(x), from the output y = act(x); dx may alias dy.
void activation_backward(Activation act, std::size_t n, const float* y, const float* dy, float* dx);
// y[r, j] = act(y[r, j] + bias[j]) in place over rows with stride ld; bias may be null.
void bias_activation(Activation act, std::size_t rows, std::size_t cols, const float* bias, float* y,
                     std::size_t ld);
void softmax(std::size_t rows, std::size_t cols, const float* x, float* y);
// out[j] = sum of x[r, j] over r, in a fixed order (so the same every run).
void column_sums(std::size_t rows, std::size_t cols, const float* x, float* out);
// The same over rows of stride ld.
void column_sums_strided(std::size_t rows, std::size_t cols, const float* x, std::size_t ld, float* out);

// One torch.optim.SGD step over n parameters. When skip is not null and *skip
// is nonzero (a diverged batch), nothing changes.
void sgd_step(std::size_t n, float* param, const float* grad, float* velocity, const SgdConfig& config,
              bool first_step, const int* skip);

// dst[r] = src[idx[r]] for rows of `cols` elements: the batch gather.
void gather_rows(std::size_t rows, std::size_t cols, const float* src, const std::uint32_t* idx, float* dst);
void gather_labels(std::size_t rows, const std::int32_t* src, const std::uint32_t* idx, std::int32_t* dst);

// Per-row losses of a batch, as mlpcore::loss_sum computes them (in double):
// row_loss[r] = row_weight[r] * loss of row r; when grad is not null it gets
// grad_scale * row_weight[r] * d loss / d out. row_correct[r] (when not null)
// counts the row's correct predictions as count_correct() does. Targets and
// weights are device pointers.
void loss_rows(LossKind kind, std::size_t rows, std::size_t cols, const float* out, const Targets& targets,
               const float* row_weight, float* grad, float grad_scale, double* row_loss, int* row_correct);

// *loss = (sum of row_loss) / norm and *correct = sum of row_correct, summed in a
// fixed order; sets *diverged to 1 when the loss is not finite (when not null).
void reduce_batch(std::size_t rows, const double* row_loss, const int* row_correct, double norm,
                  double* loss, long long* correct, int* diverged);

// Softmax rows for cross-entropy, sigmoid for binary cross-entropy, nothing for MSE.
void output_transform(LossKind kind, std::size_t rows, std::size_t cols, float* out);

// Seconds per call of sgemm on device-resident m x k and k x n operands,
// averaged over `repeats` back-to-back calls (CUDA events; for benchmarks).
// with_bias and act choose the epilogue.
double time_sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, int repeats,
                  bool with_bias = false, Activation act = Activation::identity);

}  // namespace mlpcore::cuda
