// Whole-array front ends of the elementwise kernels: split into fixed chunks
// (when the array is large enough to pay for threads) that threads claim one at
// a time, so a thread slowed by another process on a shared core takes fewer
// chunks instead of holding up the rest; each chunk's result does not depend
// on which thread ran it.
#include "mlpcore/elementwise.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include "mlpcore/dispatch.h"
#include "mlpcore/threads.h"

namespace mlpcore {
namespace {

// Roughly the flops of one element of an activation, to size thread counts.
constexpr double kFlopsPerElement = 20.0;
// A pass that only reads (a max, a finiteness check) is memory-bound: a few flops an element.
constexpr double kFlopsPerRead = 2.0;
constexpr std::size_t kChunk = 1 << 14;  // elements per task: large enough to amortise

template <class Body>
void for_chunks(std::size_t n, std::size_t chunk, Body body, double flops_per_element = kFlopsPerElement) {
  const std::size_t chunks = (n + chunk - 1) / chunk;
  const int nt = chunks > 1 ? threads_for(flops_per_element * static_cast<double>(n)) : 1;
  if (nt == 1) {
    if (n) body(0, n);
    return;
  }
  parallel_for_dynamic(nt, chunks, [&](std::size_t c) {
    const std::size_t begin = c * chunk;
    body(begin, std::min(n, begin + chunk));
  });
}

}  // namespace

void activation_forward(Activation act, std::size_t n, const float* x, float* y) {
  const KernelTable& kt = kernels();
  for_chunks(n, kChunk, [&](std::size_t b, std::size_t e) { kt.act_forward(act, e - b, x + b, y + b); });
}

void activation_backward(Activation act, std::size_t n, const float* y, const float* dy, float* dx) {
  const KernelTable& kt = kernels();
  for_chunks(n, kChunk, [&](std::size_t b, std::size_t e) {
    kt.act_backward(act, e - b, y + b, dy + b, dx + b);
  });
}

void softmax(std::size_t rows, std::size_t cols, const float* x, float* y) {
  const KernelTable& kt = kernels();
  const std::size_t rows_per_chunk = std::max<std::size_t>(1, kChunk / std::max<std::size_t>(cols, 1));
  for_chunks(rows, rows_per_chunk, [&](std::size_t b, std::size_t e) {
    kt.softmax_rows(e - b, cols, x + b * cols, y + b * cols);
  });
}

void column_sums(std::size_t rows, std::size_t cols, const float* x, float* out) {
  // Split by columns only: every column is summed top to bottom by one thread,
  // so the result is the same for any thread count.
  const KernelTable& kt = kernels();
  std::fill(out, out + cols, 0.0f);
  constexpr std::size_t kColBlock = 64;
  const std::size_t blocks = (cols + kColBlock - 1) / kColBlock;
  const int nt = blocks > 1 ? threads_for(static_cast<double>(rows) * cols) : 1;
  if (nt == 1) {  // one thread: every column still summed top to bottom, same result
    kt.column_sums(rows, cols, x, out);
    return;
  }
  parallel_for_dynamic(nt, blocks, [&](std::size_t blk) {
    const std::size_t j0 = blk * kColBlock;
    const std::size_t w = std::min(kColBlock, cols - j0);
    // Rows are strided by cols: walk them one at a time into a local accumulator.
    for (std::size_t r = 0; r < rows; ++r) kt.column_sums(1, w, x + r * cols + j0, out + j0);
  });
}

float max_abs(std::size_t n, const float* x) {
  const KernelTable& kt = kernels();
  // Non-negative floats (and NaN, as the kernel gives it) order as their bit
  // patterns do, so the chunks' maxima combine exactly through an atomic max.
  std::atomic<std::uint32_t> top{0};
  for_chunks(n, kChunk, [&](std::size_t b, std::size_t e) {
    const float m = kt.max_abs(e - b, x + b);
    std::uint32_t bits;
    std::memcpy(&bits, &m, sizeof bits);
    std::uint32_t seen = top.load(std::memory_order_relaxed);
    while (bits > seen && !top.compare_exchange_weak(seen, bits, std::memory_order_relaxed)) {
    }
  }, kFlopsPerRead);
  const std::uint32_t bits = top.load(std::memory_order_relaxed);
  float m;
  std::memcpy(&m, &bits, sizeof m);
  return m;
}

}  // namespace mlpcore
