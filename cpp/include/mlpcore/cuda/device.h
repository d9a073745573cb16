// The CUDA runtime as the rest of the core sees it: device count, errors as
// exceptions, raw memory and copies (typed arrays are DeviceBuffers of the
// CUDA backend, cuda/backend.h). No CUDA header is needed to use it, so
// host-only translation units (the bindings) include it freely.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace mlpcore::cuda {

// Thrown for any failing CUDA call; the message names the call and the error.
class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Devices the runtime sees; 0 (never an error) when there is no driver or GPU.
int device_count() noexcept;
// Why device_count() is 0: the runtime's message, or "" when devices exist.
std::string device_count_error();
// Name of device 0 ("" when there is none).
std::string device_name();
// Throws CudaError unless a device is usable; called before any allocation.
void require_device();

void* device_alloc(std::size_t bytes);
void device_free(void* p) noexcept;
void copy_to_device(void* dst, const void* src, std::size_t bytes);
void copy_to_host(void* dst, const void* src, std::size_t bytes);
void copy_on_device(void* dst, const void* src, std::size_t bytes);
void fill_zero(void* p, std::size_t bytes);
// Waits for all queued work and reports any error it raised.
void synchronize();

}  // namespace mlpcore::cuda
