// The CUDA runtime as the rest of the core sees it: device count, errors as
// exceptions, and typed device arrays. No CUDA header is needed to use it, so
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

// An array of T in device memory, zero filled; grows but never shrinks.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(std::size_t n) { resize(n); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) {
      device_free(data_);
      data_ = o.data_;
      size_ = o.size_;
      o.data_ = nullptr;
      o.size_ = 0;
    }
    return *this;
  }
  ~DeviceArray() { device_free(data_); }

  void resize(std::size_t n) {
    if (n <= size_) return;
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    void* p = device_alloc(n * sizeof(T));
    device_free(data_);
    data_ = static_cast<T*>(p);
    size_ = n;
    fill_zero(data_, n * sizeof(T));
  }
  void upload(const T* host, std::size_t n) {
    resize(n);
    if (n) copy_to_device(data_, host, n * sizeof(T));
  }
  void download(T* host, std::size_t n) const {
    if (n > size_) throw std::out_of_range("DeviceArray::download: more elements than the array holds");
    if (n) copy_to_host(host, data_, n * sizeof(T));
  }
  std::vector<T> to_vector(std::size_t n) const {
    std::vector<T> out(n);
    download(out.data(), n);
    return out;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace mlpcore::cuda
