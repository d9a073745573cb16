// Turning CUDA error codes into exceptions, and the launch geometry shared by
// the elementwise kernels.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "mlpcore/cuda/device.h"

namespace mlpcore::cuda {

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    throw CudaError(std::string("CUDA error in ") + what + ": " + cudaGetErrorName(err) + " (" +
                    cudaGetErrorString(err) + ")");
  }
}

// After a kernel launch: a bad configuration is reported here, a fault inside
// the kernel at the next synchronising call.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items: enough to fill any current GPU.
inline unsigned blocks_for(std::size_t n) {
  const std::size_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 8192 ? (b ? b : 1) : 8192);
}

}  // namespace mlpcore::cuda
