// Device discovery, memory and copies. A machine without a driver or GPU is
// normal here: device_count() answers 0 and clears the error, so importing the
// module never fails.
#include "mlpcore/cuda/device.h"

#include <cuda_runtime.h>

#include <new>

#include "check.cuh"

namespace mlpcore::cuda {

int device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // not sticky: clear it so later calls start clean
    return 0;
  }
  return n;
}

std::string device_count_error() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err == cudaSuccess) return n > 0 ? "" : "the CUDA runtime reports no devices";
  cudaGetLastError();
  std::string why = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
  // The runtime says "insufficient driver" also when there is no driver at all.
  if (err == cudaErrorInsufficientDriver) why += "; is the NVIDIA driver installed and recent enough?";
  return why;
}

std::string device_name() {
  if (device_count() == 0) return "";
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return prop.name;
}

void require_device() {
  if (device_count() == 0) {
    throw CudaError("no CUDA device is available (" + device_count_error() + ")");
  }
}

void* device_alloc(std::size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) bytes = 1;  // a valid, distinct pointer for empty arrays
  const cudaError_t err = cudaMalloc(&p, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw std::bad_alloc();
  }
  check(err, "cudaMalloc");
  return p;
}

void device_free(void* p) noexcept {
  if (p) cudaFree(p);  // errors here are those of earlier work; nothing to do with them in a destructor
}

void copy_to_device(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (to device)");
}

void copy_to_host(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy (to host)");
}

void copy_on_device(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "cudaMemcpy (device to device)");
}

void fill_zero(void* p, std::size_t bytes) { check(cudaMemset(p, 0, bytes), "cudaMemset"); }

void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

}  // namespace mlpcore::cuda
