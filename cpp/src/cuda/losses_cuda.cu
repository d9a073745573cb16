// Losses on the GPU, row by row in double precision exactly as
// kernels/losses.cpp computes them, with the gradient and the count of correct
// predictions (trainer.cpp's count_correct) in the same pass; then a one-block
// reduction in a fixed order gives the batch loss without a host round trip.
#include <cstdint>

#include "check.cuh"
#include "mlpcore/cuda/kernels.h"

namespace mlpcore::cuda {
namespace {

// Index of the first largest element, as std::max_element.
__device__ std::size_t argmax(std::size_t cols, const float* z) {
  std::size_t best = 0;
  for (std::size_t j = 1; j < cols; ++j) best = z[j] > z[best] ? j : best;
  return best;
}

// With m the row's argmax and r = sum_{j != m} exp(z_j - z_m), log-sum-exp is
// z_m + log1p(r), as kernels/losses.cpp takes it: full relative accuracy when
// the loss is tiny, and nothing underflows to log(0).
__device__ double cross_entropy_row(std::size_t cols, const float* z, const std::int32_t* label,
                                    const float* t, float* g, float scale) {
  const std::size_t m = argmax(cols, z);
  const double zmax = z[m];
  double r = 0.0;
  for (std::size_t j = 0; j < cols; ++j) r += j == m ? 0.0 : exp(static_cast<double>(z[j]) - zmax);
  const double lse = zmax + log1p(r);
  double loss;
  if (label) {
    loss = lse - z[*label];
  } else {
    double tz = 0.0, tsum = 0.0;
    for (std::size_t j = 0; j < cols; ++j) {
      tz += static_cast<double>(t[j]) * z[j];
      tsum += t[j];
    }
    loss = tsum * lse - tz;
  }
  if (g) {
    const double inv = 1.0 / (1.0 + r);
    for (std::size_t j = 0; j < cols; ++j) {
      const double p = exp(static_cast<double>(z[j]) - zmax) * inv;
      const double tj = label ? (static_cast<std::size_t>(*label) == j ? 1.0 : 0.0) : t[j];
      g[j] = static_cast<float>((p - tj) * scale);
    }
  }
  return loss;
}

__device__ double bce_row(std::size_t cols, const float* z, const float* t, float* g, float scale) {
  double loss = 0.0;
  for (std::size_t j = 0; j < cols; ++j) {
    const double zj = z[j], tj = t[j];
    loss += fmax(zj, 0.0) - zj * tj + log1p(exp(-fabs(zj)));
    if (g) {
      const double s = zj >= 0 ? 1.0 / (1.0 + exp(-zj)) : exp(zj) / (1.0 + exp(zj));
      g[j] = static_cast<float>((s - tj) * scale);
    }
  }
  return loss;
}

__device__ double mse_row(std::size_t cols, const float* y, const float* t, float* g, float scale) {
  double loss = 0.0;
  for (std::size_t j = 0; j < cols; ++j) {
    const double d = static_cast<double>(y[j]) - t[j];
    loss += d * d;
    if (g) g[j] = static_cast<float>(2.0 * d * scale);
  }
  return loss;
}

__device__ int correct_in_row(LossKind kind, std::size_t cols, const float* z, const std::int32_t* label,
                              const float* t) {
  if (kind == LossKind::cross_entropy) {
    const std::size_t truth = label ? static_cast<std::size_t>(*label) : argmax(cols, t);
    return argmax(cols, z) == truth ? 1 : 0;
  }
  if (kind == LossKind::binary_cross_entropy) {
    int n = 0;
    for (std::size_t j = 0; j < cols; ++j) n += (z[j] > 0.0f) == (t[j] > 0.5f);
    return n;
  }
  return 0;
}

__global__ void loss_rows_kernel(LossKind kind, std::size_t rows, std::size_t cols, const float* out,
                                 const std::int32_t* labels, const float* dense, const float* row_weight,
                                 float* grad, float grad_scale, double* row_loss, int* row_correct) {
  for (std::size_t r = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; r < rows;
       r += std::size_t{gridDim.x} * blockDim.x) {
    const float* z = out + r * cols;
    const float* t = dense ? dense + r * cols : nullptr;
    const std::int32_t* label = labels ? labels + r : nullptr;
    float* g = grad ? grad + r * cols : nullptr;
    const float w = row_weight ? row_weight[r] : 1.0f;
    const float scale = grad_scale * w;
    double loss = 0.0;
    switch (kind) {
      case LossKind::cross_entropy: loss = cross_entropy_row(cols, z, label, t, g, scale); break;
      case LossKind::binary_cross_entropy: loss = bce_row(cols, z, t, g, scale); break;
      case LossKind::mse: loss = mse_row(cols, z, t, g, scale); break;
    }
    row_loss[r] = w * loss;
    if (row_correct) row_correct[r] = correct_in_row(kind, cols, z, label, t);
  }
}

constexpr int kReduceThreads = 256;

// One block: thread t adds rows t, t + 256, ... in order, then a tree of fixed shape.
__global__ void reduce_batch_kernel(std::size_t rows, const double* row_loss, const int* row_correct,
                                    double norm, double* loss, long long* correct, int* diverged) {
  __shared__ double sums[kReduceThreads];
  __shared__ long long counts[kReduceThreads];
  double s = 0.0;
  long long c = 0;
  for (std::size_t r = threadIdx.x; r < rows; r += kReduceThreads) {
    s += row_loss[r];
    if (row_correct) c += row_correct[r];
  }
  sums[threadIdx.x] = s;
  counts[threadIdx.x] = c;
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      sums[threadIdx.x] += sums[threadIdx.x + half];
      counts[threadIdx.x] += counts[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const double value = sums[0] / norm;
    *loss = value;
    if (correct) *correct = counts[0];
    if (diverged && !isfinite(value)) *diverged = 1;
  }
}

}  // namespace

void loss_rows(LossKind kind, std::size_t rows, std::size_t cols, const float* out, const Targets& targets,
               const float* row_weight, float* grad, float grad_scale, double* row_loss, int* row_correct) {
  if (rows == 0) return;
  loss_rows_kernel<<<blocks_for(rows), kThreads>>>(kind, rows, cols, out, targets.labels, targets.dense,
                                                   row_weight, grad, grad_scale, row_loss, row_correct);
  check_launch("loss_rows_kernel");
}

void reduce_batch(std::size_t rows, const double* row_loss, const int* row_correct, double norm,
                  double* loss, long long* correct, int* diverged) {
  reduce_batch_kernel<<<1, kReduceThreads>>>(rows, row_loss, row_correct, norm, loss, correct, diverged);
  check_launch("reduce_batch_kernel");
}

}  // namespace mlpcore::cuda
