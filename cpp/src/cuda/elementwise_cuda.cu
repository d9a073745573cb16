// Elementwise CUDA kernels: activations and their derivatives, softmax, column
// sums and the batch gathers (dense rows, and CSR rows made dense). Grid-stride
// loops, one element per thread per step (a row per warp for CSR rows).
#include <cstdint>

#include "check.cuh"
#include "device_math.cuh"
#include "kernels.cuh"

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

// One thread per row, in the CPU kernel's order: max, then exp and sum, then scale.
__global__ void softmax_kernel(std::size_t rows, std::size_t cols, const float* x, float* y) {
  for (std::size_t r = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; r < rows;
       r += std::size_t{gridDim.x} * blockDim.x) {
    softmax_row(cols, x + r * cols, y + r * cols);
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

__global__ void exp_kernel(std::size_t n, float* x) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    x[i] = expf(x[i]);
  }
}

// 4-byte words of rows: every row the gather moves is a whole number of them.
__global__ void gather_words_kernel(std::size_t rows, std::size_t words, const std::uint32_t* __restrict__ src,
                                    const std::uint32_t* __restrict__ idx, std::uint32_t* __restrict__ dst) {
  const std::size_t n = rows * words;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const std::size_t r = i / words, j = i % words;
    dst[i] = src[static_cast<std::size_t>(idx[r]) * words + j];
  }
}

// A warp per row (grid-stride over rows): the lanes zero the dense row, then
// add the row's stored values at their columns; the columns of a row are
// distinct, so the adds never collide.
constexpr int kWarp = 32;

template <class Index>
__global__ void gather_csr_kernel(std::size_t rows, std::size_t cols, const Index* __restrict__ indptr,
                                  const Index* __restrict__ indices, const float* __restrict__ values,
                                  const std::uint32_t* __restrict__ idx, float* __restrict__ dst) {
  const std::size_t warps_per_block = blockDim.x / kWarp;
  const std::size_t lane = threadIdx.x % kWarp;
  for (std::size_t r = blockIdx.x * warps_per_block + threadIdx.x / kWarp; r < rows;
       r += std::size_t{gridDim.x} * warps_per_block) {
    float* d = dst + r * cols;
    for (std::size_t j = lane; j < cols; j += kWarp) d[j] = 0.0f;
    __syncwarp();
    const std::size_t src = idx ? idx[r] : r;
    const auto end = static_cast<std::size_t>(indptr[src + 1]);
    for (auto k = static_cast<std::size_t>(indptr[src]) + lane; k < end; k += kWarp) {
      d[static_cast<std::size_t>(indices[k])] += values[k];  // += as toarray: a stored -0.0 gives +0.0
    }
    __syncwarp();
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

void gather_rows(std::size_t rows, std::size_t row_bytes, const void* src, const std::uint32_t* idx, void* dst) {
  if (rows == 0 || row_bytes == 0) return;
  if (row_bytes % sizeof(std::uint32_t) != 0) throw CudaError("gather_rows: rows must be a whole number of 4-byte words");
  const std::size_t words = row_bytes / sizeof(std::uint32_t);
  gather_words_kernel<<<blocks_for(rows * words), kThreads>>>(rows, words, static_cast<const std::uint32_t*>(src), idx,
                                                             static_cast<std::uint32_t*>(dst));
  check_launch("gather_words_kernel");
}

void gather_csr_rows(std::size_t rows, std::size_t cols, const CsrRows& csr, const std::uint32_t* idx, float* dst) {
  if (rows == 0 || cols == 0) return;
  constexpr std::size_t kRowsPerBlock = kThreads / kWarp;
  const std::size_t wanted = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  const unsigned blocks = static_cast<unsigned>(wanted < 8192 ? wanted : 8192);
  if (csr.index_type == IndexType::i32) {
    gather_csr_kernel<<<blocks, kThreads>>>(rows, cols, static_cast<const std::int32_t*>(csr.indptr),
                                            static_cast<const std::int32_t*>(csr.indices), csr.values, idx, dst);
  } else {
    gather_csr_kernel<<<blocks, kThreads>>>(rows, cols, static_cast<const std::int64_t*>(csr.indptr),
                                            static_cast<const std::int64_t*>(csr.indices), csr.values, idx, dst);
  }
  check_launch("gather_csr_kernel");
}

void output_transform(LossKind kind, std::size_t rows, std::size_t cols, float* out) {
  if (kind == LossKind::cross_entropy) {
    cuda::softmax(rows, cols, out, out);
  } else if (kind == LossKind::binary_cross_entropy) {
    cuda::activation_forward(Activation::sigmoid, rows * cols, out, out);
  } else if (kind == LossKind::poisson && rows * cols > 0) {
    exp_kernel<<<blocks_for(rows * cols), kThreads>>>(rows * cols, out);
    check_launch("exp_kernel");
  }
}

}  // namespace mlpcore::cuda
