// A float array aligned to 64 bytes (a cache line, an AVX-512 register), zero
// filled on allocation. Sizes are checked before allocating, so an impossible
// request fails with std::bad_alloc instead of wrapping around.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace mlpcore {

// 64-byte aligned memory of `bytes` (a multiple of 64), or null; freed with aligned_free.
inline void* aligned_allocate(std::size_t bytes) {
#if defined(_MSC_VER)
  return _aligned_malloc(bytes, 64);
#else
  return std::aligned_alloc(64, bytes);
#endif
}

inline void aligned_free(void* p) noexcept {
#if defined(_MSC_VER)
  _aligned_free(p);
#else
  std::free(p);
#endif
}

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t n) { resize(n); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = o.data_;
      size_ = o.size_;
      o.data_ = nullptr;
      o.size_ = 0;
    }
    return *this;
  }
  ~AlignedBuffer() { release(); }

  // Reallocates (zeroed) when n exceeds the current size; keeps the memory otherwise.
  void resize(std::size_t n) {
    if (n <= size_) return;
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(float) - 64) throw std::bad_alloc();
    const std::size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    void* p = aligned_allocate(bytes);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    release();
    data_ = static_cast<float*>(p);
    size_ = n;
  }

  float* data() { return data_; }
  const float* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  void release() {
    aligned_free(data_);
    data_ = nullptr;
    size_ = 0;
  }

  float* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace mlpcore
