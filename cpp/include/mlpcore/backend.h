// The Backend interface: what the nn layer (Network, optimizers, Trainer) needs
// from a device, as one table of function pointers per device, in the spirit of
// KernelTable and of ggml's backend vtable. It offers memory and numeric
// operations on flat buffers and knows nothing of layers or networks.
//
// Pointers passed to a backend's operations are its own memory (from alloc),
// except where a parameter says "host". Operations run in the order they are
// called; on an asynchronous device (CUDA) they are queued, and only download
// (and read-outs that return a value) wait for the work before them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mlpcore/csr.h"
#include "mlpcore/gemm.h"
#include "mlpcore/kernel_table.h"
#include "mlpcore/losses.h"
#include "mlpcore/optimizer_update.h"

namespace mlpcore {

enum class Device : int { cpu = 0, cuda = 1 };

const char* device_name(Device device);

// Whether the training steps issued so far were all finite, kept in backend
// memory so that a device decides it without the host: 0 while every loss and
// update was finite; otherwise it names the first step that was not,
// verdict_code(step, reason), and every later update is skipped.
using Verdict = std::uint64_t;
enum class Divergence : std::uint64_t { loss = 0, update = 1 };
constexpr Verdict verdict_code(std::size_t step, Divergence why) {
  return (static_cast<Verdict>(step) + 1) << 1 | static_cast<Verdict>(why);
}
constexpr std::size_t verdict_step(Verdict v) { return static_cast<std::size_t>((v >> 1) - 1); }
constexpr bool verdict_refused_update(Verdict v) { return (v & 1) != 0; }

// One batch's loss as the loss defines it (the mean), and its correct
// predictions (count_correct's rule), in backend memory.
struct BatchResult {
  double loss = 0.0;
  long long correct = 0;
};

struct Backend {
  Device device;
  // True when the backend's memory is the host's: its buffers can be read in
  // place, so staging copies and exact read-outs cost nothing.
  bool host_memory;
  // Training steps between looks at the verdict: 1 where reading it is free;
  // more where it waits for the device.
  std::size_t verdict_poll_steps;
  // The largest run of parameters one optimizer update call should cover (the
  // CPU splits updates into cache-sized pieces for its threads).
  std::size_t update_piece;
  // Rows predict and evaluate take at a time: the CPU keeps a chunk's layer
  // outputs in cache, a GPU wants enough rows to fill it.
  std::size_t predict_chunk_rows;
  // Where the backend computes on the host's cores: the rows one thread takes
  // at a time when a predict is split among the threads by rows (each block
  // through every layer on one thread). 0: not split; each product uses the
  // device's parallelism itself. A function: it may depend on the kernels in use.
  std::size_t (*predict_thread_rows)();

  // ------------------------------------------------------------- memory
  // Zero-filled; throws std::bad_alloc when the device has no room.
  void* (*alloc)(std::size_t bytes);
  void (*release)(void* p) noexcept;
  void (*upload)(void* dst, const void* host_src, std::size_t bytes);
  void (*download)(void* host_dst, const void* src, std::size_t bytes);
  void (*copy)(void* dst, const void* src, std::size_t bytes);
  void (*fill_zero)(void* p, std::size_t bytes);
  // Bytes the device could still give (the machine's memory for the CPU).
  double (*memory_bytes)();

  // ------------------------------------------------------------- compute
  // C = epilogue(alpha * op(A) * op(B) + beta * C), as mlpcore::sgemm (gemm.h).
  void (*sgemm)(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
                const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
                std::size_t ldc, const Epilogue& epilogue);
  // dx = dy * act'(.) through the output y = act(x); dx may alias dy.
  void (*activation_backward)(Activation act, std::size_t n, const float* y, const float* dy, float* dx);
  // Logits into what predict returns (losses.h's output_transform).
  void (*output_transform)(LossKind kind, std::size_t rows, std::size_t cols, float* out);
  // The batch's mean loss and correct count into *result; with grad, also
  // grad_scale * d(sum of row losses)/d(out) (loss_rows.h's formulas). When the
  // loss is not finite and verdict is not null, *verdict gets `code` unless it
  // holds an earlier one.
  void (*batch_loss)(LossKind kind, std::size_t rows, std::size_t cols, const float* out, const Targets& targets,
                     const float* row_weight, float* grad, float grad_scale, BatchResult* result,
                     Verdict* verdict, Verdict code);
  // dst row r = src row idx[r], rows of row_bytes bytes.
  void (*gather_rows)(std::size_t rows, std::size_t row_bytes, const void* src, const std::uint32_t* idx,
                      void* dst);
  // dst [rows, cols], row r = CSR row idx[r] of csr (row r when idx is null)
  // as a dense row: zeros, then each stored value added at its column, which
  // is scipy's toarray() bit for bit. csr's arrays are backend memory.
  void (*gather_csr_rows)(std::size_t rows, std::size_t cols, const CsrRows& csr, const std::uint32_t* idx,
                          float* dst);
  // max |x[i]| (0 for n == 0), NaN or infinite when some x[i] is not finite;
  // exact. A read-out: it waits for the device.
  float (*max_abs)(std::size_t n, const float* x);
  // Sum of squares in double over runs [begin, begin + size) of x (host spans).
  double (*squared_norm)(const float* x, const std::vector<std::pair<std::size_t, std::size_t>>& runs);

  // ------------------------------------------------------------- optimizers
  // One optimizer update (optimizer_update.h) unless *verdict is already set. A
  // step whose gradient or results are not finite is not applied: *verdict gets
  // `code` and nothing changes, so the parameters and state stay those of the
  // last finite step.
  void (*optimizer_update)(const OptimizerUpdate& update, UpdateGuard& guard, Verdict* verdict, Verdict code);

  // ------------------------------------------------------------- benchmarks
  // Seconds per sgemm call on random device-resident operands (m x k, k x n),
  // timed on the device over `repeats` back-to-back calls; null where the
  // host's clock is the right one (the CPU).
  double (*time_sgemm)(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, int repeats,
                       bool with_bias, Activation act);
};

// The CPU backend (always there) and the others this build registered.
const Backend& cpu_backend();
// The backend of `device`; std::invalid_argument naming the device when this
// build or machine has none.
const Backend& backend_for(Device device);
bool has_backend(Device device);
// Called once by a build that has the device (the CUDA backend registers itself
// from the module's initialisation).
void register_backend(const Backend& backend);

// An array of T in one backend's memory, zero filled; it grows but never
// shrinks, and is freed with the backend that gave it.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const Backend& backend, std::size_t n) : backend_(&backend) { resize(n); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : backend_(o.backend_), data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      free();
      backend_ = o.backend_;
      data_ = o.data_;
      size_ = o.size_;
      o.data_ = nullptr;
      o.size_ = 0;
    }
    return *this;
  }
  ~DeviceBuffer() { free(); }

  void resize(std::size_t n) {
    if (n <= size_) return;
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_alloc();
    T* p = static_cast<T*>(backend_->alloc(n * sizeof(T)));
    free();
    data_ = p;
    size_ = n;
  }
  void upload(const T* host, std::size_t n) {
    resize(n);
    if (n) backend_->upload(data_, host, n * sizeof(T));
  }
  void download(T* host, std::size_t n) const {
    if (n > size_) throw std::out_of_range("DeviceBuffer::download: more elements than the buffer holds");
    if (n) backend_->download(host, data_, n * sizeof(T));
  }
  // Elements [offset, offset + n) to or from host memory, the rest untouched.
  void download_range(std::size_t offset, T* host, std::size_t n) const {
    if (offset > size_ || n > size_ - offset) throw std::out_of_range("DeviceBuffer::download_range: past the end");
    if (n) backend_->download(host, data_ + offset, n * sizeof(T));
  }
  void upload_range(std::size_t offset, const T* host, std::size_t n) {
    if (offset > size_ || n > size_ - offset) throw std::out_of_range("DeviceBuffer::upload_range: past the end");
    if (n) backend_->upload(data_ + offset, host, n * sizeof(T));
  }
  void fill_zero() {
    if (size_) backend_->fill_zero(data_, size_ * sizeof(T));
  }
  std::vector<T> to_vector(std::size_t n) const {
    std::vector<T> out(n);
    download(out.data(), n);
    return out;
  }

  const Backend& backend() const { return *backend_; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  void free() noexcept {
    if (data_) backend_->release(data_);
    data_ = nullptr;
  }
  const Backend* backend_ = &cpu_backend();
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

// Host rows as the backend can read them: the host pointer itself where the
// backend's memory is the host's, else a copy uploaded into `staging`.
template <class T>
const T* stage_in(DeviceBuffer<T>& staging, const T* host, std::size_t n) {
  if (host == nullptr || staging.backend().host_memory) return host;
  staging.upload(host, n);
  return staging.data();
}

// A host CSR matrix as the backend can read it, as stage_in does for dense
// rows: its three arrays copied where the backend cannot read the host's
// (never a dense copy).
struct CsrStaging {
  explicit CsrStaging(const Backend& backend) : indptr(backend, 0), indices(backend, 0), values(backend, 0) {}
  DeviceBuffer<unsigned char> indptr, indices;
  DeviceBuffer<float> values;
};

inline CsrRows stage_in(CsrStaging& staging, const CsrRows& host, std::size_t rows) {
  if (!host.present() || staging.values.backend().host_memory) return host;
  const std::size_t width = index_bytes(host.index_type);
  CsrRows staged = host;
  staged.indptr = stage_in(staging.indptr, static_cast<const unsigned char*>(host.indptr), (rows + 1) * width);
  staged.indices = stage_in(staging.indices, static_cast<const unsigned char*>(host.indices), host.nnz * width);
  staged.values = stage_in(staging.values, host.values, host.nnz);
  return staged;
}

}  // namespace mlpcore
