// Elementwise CUDA kernels: activations and their derivatives, bias +
// activation, softmax, column sums, the SGD update and the batch gather.
// Grid-stride loops, one element per thread per step.
#include <cstdint>

#include "check.cuh"
#include "device_math.cuh"
#include "mlpcore/cuda/kernels.h"

namespace mlpcore::cuda {
namespace {

__global__ void act_forward_kernel(Activation act, std::size_t n, const float* x, float* y) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    y[i] = activate(act, x[i]);
  }
}

__global__ void act_backward_kernel(Activation act, std::size_t n, const float* y, const float* dy,
                                    float* dx) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    dx[i] = backprop(act, y[i], dy[i]);
  }
}

__global__ void bias_act_kernel(Activation act, std::size_t rows, std::size_t cols,
                                const float* __restrict__ bias, float* y, std::size_t ld) {
  const std::size_t n = rows * cols;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const std::size_t r = i / cols, j = i % cols;
    float& v = y[r * ld + j];
    v = activate(act, bias ? v + bias[j] : v);
  }
}

// One thread per row, in the CPU kernel's order: max, then exp and sum, then scale.
__global__ void softmax_kernel(std::size_t rows, std::size_t cols, const float* x, float* y) {
  for (std::size_t r = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; r < rows;
       r += std::size_t{gridDim.x} * blockDim.x) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = xr[0];
    for (std::size_t j = 1; j < cols; ++j) m = xr[j] > m ? xr[j] : m;
    float sum = 0.0f;
    for (std::size_t j = 0; j < cols; ++j) {
      yr[j] = vexp(xr[j] - m);
      sum += yr[j];
    }
    const float inv = 1.0f / sum;
    for (std::size_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

// A block of 32 x kSumLanes threads sums 32 columns: lane y adds rows y,
// y + kSumLanes, ... top to bottom, then lane sums are added in lane order. The
// order is fixed by the shape alone, so results are reproducible.
constexpr int kSumLanes = 32;

__global__ void column_sums_kernel(std::size_t rows, std::size_t cols, const float* __restrict__ x,
                                   std::size_t ld, float* __restrict__ out) {
  __shared__ float partial[kSumLanes][33];
  const std::size_t j = blockIdx.x * std::size_t{32} + threadIdx.x;
  float s = 0.0f;
  if (j < cols) {
    for (std::size_t r = threadIdx.y; r < rows; r += kSumLanes) s += x[r * ld + j];
  }
  partial[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < cols) {
    float total = 0.0f;
    for (int lane = 0; lane < kSumLanes; ++lane) total += partial[lane][threadIdx.x];
    out[j] = total;
  }
}

// torch.optim.SGD, as sgd_step in kernels/elementwise_impl.h.
__global__ void sgd_kernel(std::size_t n, float* __restrict__ p, const float* __restrict__ grad,
                           float* __restrict__ v, float lr, float momentum, float keep, float take,
                           float weight_decay, bool nesterov, const int* skip) {
  if (skip && *skip) return;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const float g = grad[i] + weight_decay * p[i];
    if (momentum == 0.0f) {
      p[i] -= lr * g;
      continue;
    }
    const float vi = keep * v[i] + take * g;
    v[i] = vi;
    p[i] -= lr * (nesterov ? g + momentum * vi : vi);
  }
}

__global__ void gather_rows_kernel(std::size_t rows, std::size_t cols, const float* __restrict__ src,
                                   const std::uint32_t* __restrict__ idx, float* __restrict__ dst) {
  const std::size_t n = rows * cols;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const std::size_t r = i / cols, j = i % cols;
    dst[i] = src[static_cast<std::size_t>(idx[r]) * cols + j];
  }
}

__global__ void gather_labels_kernel(std::size_t rows, const std::int32_t* __restrict__ src,
                                     const std::uint32_t* __restrict__ idx, std::int32_t* __restrict__ dst) {
  for (std::size_t r = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; r < rows;
       r += std::size_t{gridDim.x} * blockDim.x) {
    dst[r] = src[idx[r]];
  }
}

}  // namespace

void activation_forward(Activation act, std::size_t n, const float* x, float* y) {
  if (n == 0) return;
  act_forward_kernel<<<blocks_for(n), kThreads>>>(act, n, x, y);
  check_launch("act_forward_kernel");
}

void activation_backward(Activation act, std::size_t n, const float* y, const float* dy, float* dx) {
  if (n == 0) return;
  act_backward_kernel<<<blocks_for(n), kThreads>>>(act, n, y, dy, dx);
  check_launch("act_backward_kernel");
}

void bias_activation(Activation act, std::size_t rows, std::size_t cols, const float* bias, float* y,
                     std::size_t ld) {
  if (rows == 0 || cols == 0 || (!bias && act == Activation::identity)) return;
  bias_act_kernel<<<blocks_for(rows * cols), kThreads>>>(act, rows, cols, bias, y, ld);
  check_launch("bias_act_kernel");
}

void softmax(std::size_t rows, std::size_t cols, const float* x, float* y) {
  if (rows == 0 || cols == 0) return;
  softmax_kernel<<<blocks_for(rows), kThreads>>>(rows, cols, x, y);
  check_launch("softmax_kernel");
}

void column_sums_strided(std::size_t rows, std::size_t cols, const float* x, std::size_t ld, float* out) {
  if (cols == 0) return;
  const std::size_t blocks = (cols + 31) / 32;
  if (blocks > 0x7fffffffu) throw CudaError("column_sums: too many columns");
  column_sums_kernel<<<static_cast<unsigned>(blocks), dim3(32, kSumLanes)>>>(rows, cols, x, ld, out);
  check_launch("column_sums_kernel");
}

void column_sums(std::size_t rows, std::size_t cols, const float* x, float* out) {
  column_sums_strided(rows, cols, x, cols, out);
}

void sgd_step(std::size_t n, float* param, const float* grad, float* velocity, const SgdConfig& c,
              bool first_step, const int* skip) {
  if (n == 0) return;
  // The momentum buffer starts as the first gradient: keep nothing, take all.
  const float keep = first_step ? 0.0f : c.momentum;
  const float take = first_step ? 1.0f : 1.0f - c.dampening;
  sgd_kernel<<<blocks_for(n), kThreads>>>(n, param, grad, velocity, c.lr, c.momentum, keep, take,
                                          c.weight_decay, c.nesterov, skip);
  check_launch("sgd_kernel");
}

void gather_rows(std::size_t rows, std::size_t cols, const float* src, const std::uint32_t* idx, float* dst) {
  if (rows == 0 || cols == 0) return;
  gather_rows_kernel<<<blocks_for(rows * cols), kThreads>>>(rows, cols, src, idx, dst);
  check_launch("gather_rows_kernel");
}

void gather_labels(std::size_t rows, const std::int32_t* src, const std::uint32_t* idx, std::int32_t* dst) {
  if (rows == 0) return;
  gather_labels_kernel<<<blocks_for(rows), kThreads>>>(rows, src, idx, dst);
  check_launch("gather_labels_kernel");
}

void output_transform(LossKind kind, std::size_t rows, std::size_t cols, float* out) {
  if (kind == LossKind::cross_entropy) {
    cuda::softmax(rows, cols, out, out);
  } else if (kind == LossKind::binary_cross_entropy) {
    cuda::activation_forward(Activation::sigmoid, rows * cols, out, out);
  }
}

}  // namespace mlpcore::cuda
