// The CUDA backend's table: device memory (device.cu) and the CUDA kernels.
#include <cuda_runtime.h>

#include "check.cuh"
#include "kernels.cuh"
#include "mlpcore/cuda/backend.h"

namespace mlpcore::cuda {
namespace {

void* alloc_zeroed(std::size_t bytes) {
  void* p = device_alloc(bytes);
  fill_zero(p, bytes == 0 ? 1 : bytes);
  return p;
}

void copy_device(void* dst, const void* src, std::size_t bytes) {
  if (bytes) copy_on_device(dst, src, bytes);
}

void upload(void* dst, const void* src, std::size_t bytes) {
  if (bytes) copy_to_device(dst, src, bytes);
}

void download(void* dst, const void* src, std::size_t bytes) {
  if (bytes) copy_to_host(dst, src, bytes);
}

void zero(void* p, std::size_t bytes) {
  if (bytes) fill_zero(p, bytes);
}

double memory_bytes() {
  std::size_t free_bytes = 0, total = 0;
  if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) {
    cudaGetLastError();
    return 0.0;  // unknown: only overflow is checked
  }
  return static_cast<double>(total);
}

// A whole span per launch: the GPU needs no cache-sized pieces.
constexpr std::size_t kWholeSpan = static_cast<std::size_t>(-1);

// The GPU parallelises each product itself.
std::size_t no_predict_split() { return 0; }

const Backend kCuda = {
    Device::cuda,
    /*host_memory=*/false,
    /*verdict_poll_steps=*/32,  // rare enough not to stall the queue, often enough to stop soon after a diverged batch
    kWholeSpan,
    /*predict_chunk_rows=*/4096,
    no_predict_split,
    alloc_zeroed,
    device_free,
    upload,
    download,
    copy_device,
    zero,
    memory_bytes,
    sgemm,
    activation_backward,
    output_transform,
    batch_loss,
    gather_rows,
    gather_csr_rows,
    max_abs,
    squared_norm,
    optimizer_update,
    time_sgemm,
};

}  // namespace

const Backend& backend() {
  require_device();
  return kCuda;
}

}  // namespace mlpcore::cuda
