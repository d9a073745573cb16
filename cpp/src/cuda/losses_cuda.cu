// Losses on the GPU with loss_rows.h's formulas (the ones the CPU uses): the
// softmax rows from the float softmax kernel, then one thread a row in double
// for the loss, its gradient and the correct predictions; then a one-block
// reduction in a fixed order gives the batch result and the verdict without a
// host round trip.
#include <cstdint>

#include "check.cuh"
#include "kernels.cuh"
#include "mlpcore/cuda/backend.h"
#include "mlpcore/loss_rows.h"

namespace mlpcore::cuda {
namespace {

__global__ void loss_rows_kernel(LossKind kind, std::size_t rows, std::size_t cols, const float* out,
                                 const float* probs, const std::int32_t* labels, const float* dense,
                                 const float* row_weight, float* grad, float grad_scale, double* row_loss,
                                 int* row_correct) {
  for (std::size_t r = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; r < rows;
       r += std::size_t{gridDim.x} * blockDim.x) {
    const float* z = out + r * cols;
    const float* t = dense ? dense + r * cols : nullptr;
    const std::int32_t* label = labels ? labels + r : nullptr;
    row_correct[r] = loss_rows::correct(kind, cols, z, label, t);
    row_loss[r] = loss_rows::weighted(kind, cols, z, probs ? probs + r * cols : nullptr, label, t,
                                      row_weight ? row_weight[r] : 1.0f, grad ? grad + r * cols : nullptr,
                                      grad_scale);
  }
}

constexpr int kReduceThreads = 256;

// One block: thread t adds rows t, t + 256, ... in order, then a tree of fixed shape.
__global__ void reduce_batch_kernel(std::size_t rows, const double* row_loss, const int* row_correct, double norm,
                                    BatchResult* result, unsigned long long* verdict, unsigned long long code) {
  __shared__ double sums[kReduceThreads];
  __shared__ long long counts[kReduceThreads];
  double s = 0.0;
  long long c = 0;
  for (std::size_t r = threadIdx.x; r < rows; r += kReduceThreads) {
    s += row_loss[r];
    c += row_correct[r];
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
    result->loss = value;
    result->correct = counts[0];
    if (verdict && !isfinite(value)) atomicCAS(verdict, 0ULL, code);
  }
}

// Per-row scratch of the calling thread, on the device; it only grows.
struct LossScratch {
  DeviceBuffer<float> probs{backend(), 0};
  DeviceBuffer<double> row_loss{backend(), 0};
  DeviceBuffer<int> row_correct{backend(), 0};
};

}  // namespace

void batch_loss(LossKind kind, std::size_t rows, std::size_t cols, const float* out, const Targets& targets,
                const float* row_weight, float* grad, float grad_scale, BatchResult* result, Verdict* verdict,
                Verdict code) {
  thread_local LossScratch scratch;
  scratch.row_loss.resize(rows);
  scratch.row_correct.resize(rows);
  const float* probs = nullptr;
  if (kind == LossKind::cross_entropy && rows > 0) {
    float* p = grad;  // the probabilities become the gradient in place, as on the CPU
    if (!p) {
      scratch.probs.resize(rows * cols);
      p = scratch.probs.data();
    }
    softmax(rows, cols, out, p);
    probs = p;
  }
  if (rows > 0) {
    loss_rows_kernel<<<blocks_for(rows), kThreads>>>(kind, rows, cols, out, probs, targets.labels, targets.dense,
                                                     row_weight, grad, grad_scale, scratch.row_loss.data(),
                                                     scratch.row_correct.data());
    check_launch("loss_rows_kernel");
  }
  reduce_batch_kernel<<<1, kReduceThreads>>>(rows, scratch.row_loss.data(), scratch.row_correct.data(),
                                             loss_normalizer(kind, rows, cols), result,
                                             reinterpret_cast<unsigned long long*>(verdict), code);
  check_launch("reduce_batch_kernel");
}

}  // namespace mlpcore::cuda
