// Read-outs on the GPU: the largest magnitude and sums of squares, each
// reduced by one block in an order fixed by the size alone, then copied back.
#include <vector>

#include "check.cuh"
#include "kernels.cuh"
#include "mlpcore/cuda/backend.h"

namespace mlpcore::cuda {
namespace {

constexpr int kReduceThreads = 256;

// NaN wins, then the larger magnitude.
__device__ __forceinline__ float wider(float m, float x) {
  const float a = fabsf(x);
  return (a > m || a != a) && m == m ? a : m;
}

__global__ void max_abs_kernel(std::size_t n, const float* __restrict__ x, float* out) {
  __shared__ float part[kReduceThreads];
  float m = 0.0f;
  for (std::size_t i = threadIdx.x; i < n; i += kReduceThreads) m = wider(m, x[i]);
  part[threadIdx.x] = m;
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) part[threadIdx.x] = wider(part[threadIdx.x], part[threadIdx.x + half]);
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = part[0];
}

__global__ void squared_norm_kernel(std::size_t n, const float* __restrict__ x, double* acc) {
  __shared__ double part[kReduceThreads];
  double s = 0.0;
  for (std::size_t i = threadIdx.x; i < n; i += kReduceThreads) s += static_cast<double>(x[i]) * x[i];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) part[threadIdx.x] += part[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) *acc += part[0];
}

}  // namespace

float max_abs(std::size_t n, const float* x) {
  DeviceBuffer<float> out(backend(), 1);
  max_abs_kernel<<<1, kReduceThreads>>>(n, x, out.data());
  check_launch("max_abs_kernel");
  float m = 0.0f;
  out.download(&m, 1);
  return m;
}

double squared_norm(const float* x, const std::vector<std::pair<std::size_t, std::size_t>>& runs) {
  DeviceBuffer<double> acc(backend(), 1);
  for (const auto& [begin, size] : runs) {
    squared_norm_kernel<<<1, kReduceThreads>>>(size, x + begin, acc.data());
    check_launch("squared_norm_kernel");
  }
  double s = 0.0;
  acc.download(&s, 1);
  return s;
}

}  // namespace mlpcore::cuda
