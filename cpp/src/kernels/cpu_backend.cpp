// The CPU backend: host memory, the dispatched kernels (GEMM driver,
// elementwise, losses) and their threads, behind the Backend table.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include "mlpcore/aligned_buffer.h"
#include "mlpcore/backend.h"
#include "mlpcore/dispatch.h"
#include "mlpcore/elementwise.h"
#include "mlpcore/threads.h"
#include "optimizer_update_cpu.h"

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace mlpcore {
namespace {

void* cpu_alloc(std::size_t bytes) {
  const std::size_t rounded = (std::max<std::size_t>(bytes, 1) + 63) / 64 * 64;
  if (rounded < bytes) throw std::bad_alloc();
  void* p = aligned_allocate(rounded);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, rounded);
  return p;
}

void cpu_release(void* p) noexcept { aligned_free(p); }

void cpu_copy(void* dst, const void* src, std::size_t bytes) {
  if (bytes && dst != src) std::memcpy(dst, src, bytes);
}

void cpu_fill_zero(void* p, std::size_t bytes) {
  if (bytes) std::memset(p, 0, bytes);
}

double cpu_memory_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return static_cast<double>(pages) * static_cast<double>(page);
#endif
  return 0.0;  // unknown: only overflow is checked
}

void cpu_sgemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
               std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc,
               const Epilogue& ep) {
  sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep);
}

void cpu_batch_loss(LossKind kind, std::size_t rows, std::size_t cols, const float* out, const Targets& targets,
                    const float* row_weight, float* grad, float grad_scale, BatchResult* result, Verdict* verdict,
                    Verdict code) {
  const double loss = loss_sum(kind, rows, cols, out, targets, row_weight, grad, grad_scale) /
                      loss_normalizer(kind, rows, cols);
  result->loss = loss;
  result->correct = static_cast<long long>(correct_count(kind, rows, cols, out, targets));
  if (verdict && *verdict == 0 && !std::isfinite(loss)) *verdict = code;
}

void cpu_gather_rows(std::size_t rows, std::size_t row_bytes, const void* src, const std::uint32_t* idx,
                     void* dst) {
  const auto* s = static_cast<const unsigned char*>(src);
  auto* d = static_cast<unsigned char*>(dst);
  // Copies are memory-bound: count a float as a few flops when sizing threads.
  const int nt = threads_for(static_cast<double>(rows) * static_cast<double>(row_bytes));
  // Pieces claimed one at a time, so a thread slowed by another process copies fewer.
  constexpr std::size_t kRowsPerPiece = 32;
  parallel_for_dynamic(nt, (rows + kRowsPerPiece - 1) / kRowsPerPiece, [&](std::size_t p) {
    const std::size_t r1 = std::min(rows, (p + 1) * kRowsPerPiece);
    for (std::size_t r = p * kRowsPerPiece; r < r1; ++r) {
      std::memcpy(d + r * row_bytes, s + static_cast<std::size_t>(idx[r]) * row_bytes, row_bytes);
    }
  });
}

template <class Index>
void gather_csr_typed(std::size_t rows, std::size_t cols, const Index* indptr, const Index* indices,
                      const float* values, const std::uint32_t* idx, float* dst) {
  // Mostly zero fill: memory-bound like gather_rows, and sized the same way.
  const int nt = threads_for(static_cast<double>(rows) * static_cast<double>(cols) * sizeof(float));
  constexpr std::size_t kRowsPerPiece = 32;
  parallel_for_dynamic(nt, (rows + kRowsPerPiece - 1) / kRowsPerPiece, [&](std::size_t p) {
    const std::size_t r1 = std::min(rows, (p + 1) * kRowsPerPiece);
    for (std::size_t r = p * kRowsPerPiece; r < r1; ++r) {
      float* d = dst + r * cols;
      std::memset(d, 0, cols * sizeof(float));
      const std::size_t src = idx ? idx[r] : r;
      const auto end = static_cast<std::size_t>(indptr[src + 1]);
      for (auto k = static_cast<std::size_t>(indptr[src]); k < end; ++k) {
        d[static_cast<std::size_t>(indices[k])] += values[k];  // += as toarray: a stored -0.0 gives +0.0
      }
    }
  });
}

void cpu_gather_csr_rows(std::size_t rows, std::size_t cols, const CsrRows& csr, const std::uint32_t* idx,
                         float* dst) {
  if (csr.index_type == IndexType::i32) {
    gather_csr_typed(rows, cols, static_cast<const std::int32_t*>(csr.indptr),
                     static_cast<const std::int32_t*>(csr.indices), csr.values, idx, dst);
  } else {
    gather_csr_typed(rows, cols, static_cast<const std::int64_t*>(csr.indptr),
                     static_cast<const std::int64_t*>(csr.indices), csr.values, idx, dst);
  }
}

double cpu_squared_norm(const float* x, const std::vector<std::pair<std::size_t, std::size_t>>& runs) {
  double sum = 0.0;
  for (const auto& [begin, size] : runs) {
    for (std::size_t i = begin; i < begin + size; ++i) sum += static_cast<double>(x[i]) * x[i];
  }
  return sum;
}

// Pieces of a cache-friendly size for the update's threads.
constexpr std::size_t kUpdatePiece = 1 << 15;

// A predict is split among the threads by rows where the kernels read the
// weights in place for a block of this many rows (AVX-512): no thread then
// packs them. Elsewhere each product packs its panels once and shares them
// among the threads, which costs less than every thread packing its own.
std::size_t cpu_predict_thread_rows() {
  constexpr int kRows = 128;
  return kernels().sgemm_b_in_place_rows >= kRows ? kRows : 0;
}

const Backend kCpu = {
    Device::cpu,
    /*host_memory=*/true,
    /*verdict_poll_steps=*/1,
    kUpdatePiece,
    /*predict_chunk_rows=*/1024,
    cpu_predict_thread_rows,
    cpu_alloc,
    cpu_release,
    cpu_copy,
    cpu_copy,
    cpu_copy,
    cpu_fill_zero,
    cpu_memory_bytes,
    cpu_sgemm,
    activation_backward,
    output_transform,
    cpu_batch_loss,
    cpu_gather_rows,
    cpu_gather_csr_rows,
    max_abs,
    cpu_squared_norm,
    optimizer_update_cpu,
    /*time_sgemm=*/nullptr,
};

}  // namespace

const Backend& cpu_backend() { return kCpu; }

}  // namespace mlpcore
