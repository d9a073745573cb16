// The one GEMM driver (BLIS's five loops): for each nc-wide block of columns
// and kc-deep slice of the shared dimension, B is packed into nr-wide slivers
// (by the ISA's packing routine, which absorbs the transpose); for each mc-tall
// block of rows, A is packed into mr-tall slivers (likewise) when it is reused
// enough to pay for it, else read in place through strides; then the dispatched
// micro-kernel computes every mr x nr tile and applies the epilogue on the last
// k slice. Threads take disjoint blocks of C (never a split of the shared
// dimension) and run the same loops on them, so each element of C is summed
// in the same order whatever the thread count.
#include "mlpcore/gemm.h"

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include "mlpcore/aligned_buffer.h"
#include "mlpcore/dispatch.h"
#include "mlpcore/threads.h"

namespace mlpcore {
namespace {

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// The largest block <= limit that splits `extent` into equal parts, rounded up to
// a multiple of `unit`: 784 with limit 256 gives 4 x 196, not 3 x 256 + 16.
std::size_t balanced_block(std::size_t extent, std::size_t limit, std::size_t unit) {
  const std::size_t parts = ceil_div(extent, limit);
  return std::min(limit, ceil_div(ceil_div(extent, parts), unit) * unit);
}

bool has_epilogue(const Epilogue& ep) {
  return ep.bias || ep.act != Activation::identity || ep.act_output;
}

// out[j] = sum over p of op(B)(p, j), p ascending; for the paths that do not pack B.
void column_sums_of_op_b(const float* b, std::size_t ldb, bool trans, std::size_t k, std::size_t n,
                         float* out) {
  std::fill(out, out + n, 0.0f);
  for (std::size_t p = 0; p < k; ++p) {
    for (std::size_t j = 0; j < n; ++j) out[j] += trans ? b[j * ldb + p] : b[p * ldb + j];
  }
}

// C = beta * C, then the epilogue: what a product with k == 0 or alpha == 0 leaves.
void scale_and_finish(std::size_t m, std::size_t n, float beta, float* c, std::size_t ldc,
                      const Epilogue& ep, const KernelTable& kt) {
  for (std::size_t i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(ci, ci + n, 0.0f);
    } else if (beta != 1.0f) {
      for (std::size_t j = 0; j < n; ++j) ci[j] *= beta;
    }
    if (ep.act_output) kt.act_backward(ep.act, n, ep.act_output + i * ep.ld_act_output, ci, ci);
  }
  if (!ep.act_output && (ep.bias || ep.act != Activation::identity)) {
    kt.bias_act_rows(ep.act, m, n, ep.bias, c, static_cast<std::ptrdiff_t>(ldc));
  }
}

// The row tiles of a block of `rows` rows: mr tall, except that a last tile
// of at most mr / 3 rows is merged with the full tile before it and the pair
// split into halves, when A is read in place (packed A comes in mr-tall
// slivers). A tile of one or two rows has too few accumulators to keep both
// FMA units busy: on AVX2 (mr = 6, Zen 3, operands in L1) 32 rows take 11.1 ns
// per step of k as 6+6+6+6+4+4 against 11.4 as 6+6+6+6+6+2. Each row is summed
// in the same order whatever the height of its tile, so results do not change.
struct RowTiles {
  std::size_t rows, mr;
  std::size_t count;  // tiles
  std::size_t split;  // the first tile of the split pair; count when there is none

  std::size_t first_half() const { return (rows - split * mr + 1) / 2; }
  std::size_t start(std::size_t i) const { return i <= split ? i * mr : split * mr + first_half(); }
  std::size_t height(std::size_t i) const {
    if (i < split) return std::min(mr, rows - i * mr);
    return i == split ? first_half() : rows - split * mr - first_half();
  }
};

RowTiles plan_row_tiles(std::size_t rows, std::size_t mr, bool a_packed) {
  const std::size_t full = rows / mr, rest = rows % mr;
  if (!a_packed && full >= 1 && rest > 0 && rest <= mr / 3) return {rows, mr, full + 1, full - 1};
  const std::size_t count = ceil_div(rows, mr);
  return {rows, mr, count, count};
}

// Whether to copy A into packed slivers or let the micro-kernel read it in place.
// Packing pays when an A block is reused across many B slivers and must stay
// in L2 without conflict misses; for a single block of rows (the batch of an
// MLP layer) or a narrow B, reading A in place saves the copy.
bool should_pack_a(std::size_t m, std::size_t n, const GemmBlocking& bl) {
  if (m <= static_cast<std::size_t>(bl.mc)) return false;
  if (n <= 2 * static_cast<std::size_t>(bl.nr)) return false;
  return true;
}

// The whole product on the calling thread (BLIS's five loops), with this
// thread's packing buffers. Parallel calls give each thread its own block of C.
void sgemm_serial(const KernelTable& kt, bool ta, bool tb, std::size_t m, std::size_t n,
                  std::size_t k, float alpha, const float* a, std::size_t lda, const float* b,
                  std::size_t ldb, float beta, float* c, std::size_t ldc, const Epilogue& ep) {
  const GemmBlocking bl = kt.sgemm_blocking;
  const std::size_t mr = bl.mr, nr = bl.nr;
  const std::size_t mc = balanced_block(m, bl.mc, mr);
  const std::size_t nc = balanced_block(n, bl.nc, nr);
  const std::size_t kc = balanced_block(k, bl.kc, 1);
  const bool pack_a = should_pack_a(m, n, bl);
  const bool any_epilogue = has_epilogue(ep);
  // Sigmoid and tanh go through the vectorised elementwise code after the
  // micro-kernel's store; bias, ReLU and derivatives stay in its registers.
  const bool act_after_store =
      !ep.act_output && (ep.act == Activation::sigmoid || ep.act == Activation::tanh);
  float* col_sums = ep.b_column_sums;
  if (col_sums) std::fill(col_sums, col_sums + n, 0.0f);

  // Packing space belongs to the calling thread, so concurrent calls (predict
  // from several Python threads) never share it; it only grows.
  thread_local AlignedBuffer a_buffer, b_buffer;
  if (pack_a) a_buffer.resize(mc * kc);
  b_buffer.resize(kc * nc);
  float* a_pack = a_buffer.data();
  float* b_pack = b_buffer.data();

  const std::ptrdiff_t ldc_s = static_cast<std::ptrdiff_t>(ldc);
  // Strides of A in place: element (i, p) of op(A) at a[i * rs + p * cs].
  const std::ptrdiff_t rs_a = ta ? 1 : static_cast<std::ptrdiff_t>(lda);
  const std::ptrdiff_t cs_a = ta ? static_cast<std::ptrdiff_t>(lda) : 1;

  for (std::size_t jc = 0; jc < n; jc += nc) {
    const std::size_t nb = std::min(nc, n - jc);
    const std::size_t n_slivers = ceil_div(nb, nr);
    for (std::size_t pc = 0; pc < k; pc += kc) {
      const std::size_t kb = std::min(kc, k - pc);
      const float beta_here = pc == 0 ? beta : 1.0f;
      const bool last_slice = pc + kb == k;

      for (std::ptrdiff_t s = 0; s < static_cast<std::ptrdiff_t>(n_slivers); ++s) {
        const std::size_t j0 = jc + static_cast<std::size_t>(s) * nr;
        const std::size_t cols = std::min(nr, n - j0);
        float* dst = b_pack + static_cast<std::size_t>(s) * nr * kb;
        kt.sgemm_pack_b(tb, tb ? b + j0 * ldb + pc : b + pc * ldb + j0, ldb, cols, kb, dst);
        if (col_sums) {
          // The packed sliver is in L1; each column is summed in p order by one thread.
          float partial[64] = {};
          kt.column_sums(kb, nr, dst, partial);
          for (std::size_t j = 0; j < cols; ++j) col_sums[j0 + j] += partial[j];
        }
      }

      for (std::size_t ic = 0; ic < m; ic += mc) {
        const std::size_t mb = std::min(mc, m - ic);
        const std::size_t m_slivers = ceil_div(mb, mr);
        if (pack_a) {
          for (std::size_t s = 0; s < m_slivers; ++s) {
            const std::size_t i0 = ic + s * mr;
            kt.sgemm_pack_a(ta, ta ? a + pc * lda + i0 : a + i0 * lda + pc, lda,
                            std::min(mr, m - i0), kb, a_pack + s * mr * kb);
          }
        }

        const RowTiles row_tiles = plan_row_tiles(mb, mr, pack_a);
        const bool finish = last_slice && any_epilogue;
        // Tiles in column-sliver-major order: each packed B sliver is reused
        // across consecutive row tiles while it is in L1.
        for (std::size_t jr = 0; jr < n_slivers; ++jr) {
          const std::size_t col = jc + jr * nr;
          const int tn = static_cast<int>(std::min(nr, n - col));
          const float* bt = b_pack + jr * nr * kb;
          for (std::size_t ir = 0; ir < row_tiles.count; ++ir) {
            const std::size_t row = ic + row_tiles.start(ir);
            const int tm = static_cast<int>(row_tiles.height(ir));
            float* ct = c + row * ldc + col;
            TileEpilogue te;
            if (finish) {
              te.bias = ep.bias ? ep.bias + col : nullptr;
              te.relu = !ep.act_output && ep.act == Activation::relu;
              if (ep.act_output) {
                te.derivative = ep.act;
                te.y = ep.act_output + row * ep.ld_act_output + col;
                te.ld_y = static_cast<std::ptrdiff_t>(ep.ld_act_output);
              }
            }
            const float* at = pack_a ? a_pack + ir * mr * kb
                                     : a + (ta ? pc * lda + row : row * lda + pc);
            kt.sgemm_ukr(kb, at, pack_a ? 1 : rs_a, pack_a ? static_cast<std::ptrdiff_t>(mr) : cs_a,
                         bt, ct, ldc_s, tm, tn, alpha, beta_here, finish ? &te : nullptr);
            if (finish && act_after_store) {
              kt.bias_act_rows(ep.act, static_cast<std::size_t>(tm), static_cast<std::size_t>(tn),
                               nullptr, ct, ldc_s);
            }
          }
        }
      }
    }
  }
}

// How a product is cut into blocks of C for threads: whole micro-tile slivers
// of columns or of rows, a few blocks per thread so that one slowed thread
// costs little. Blocks never share packing, so the cut follows what a block
// must pack again: a column block repacks A when A is packed (a large m), a row
// block repacks all of B (so row blocks are fewer and taller).
struct Split {
  bool by_columns;
  std::size_t slivers;  // of columns (nr wide) or of rows (mr tall)
  std::size_t blocks;   // slivers are dealt to blocks as evenly as integers allow
};

Split plan_split(std::size_t m, std::size_t n, int nthreads, const GemmBlocking& bl) {
  constexpr std::size_t kBlocksPerThread = 4;
  const std::size_t mr = bl.mr, nr = bl.nr;
  const std::size_t n_slivers = ceil_div(n, nr), m_slivers = ceil_div(m, mr);
  const std::size_t want = static_cast<std::size_t>(nthreads) * kBlocksPerThread;
  const bool rows_first = should_pack_a(m, n, bl) || n_slivers < static_cast<std::size_t>(nthreads);
  if (!rows_first) {
    // A is read in place: column blocks share nothing, so only keep each at
    // least two slivers wide for the micro-kernel's B reuse.
    return {true, n_slivers, std::max<std::size_t>(1, std::min(want, n_slivers / 2))};
  }
  // Row blocks: each repacks all of B (measured: 8 blocks of 128 rows spent 8%
  // of a 1024 x 784 x 512 product packing B), so keep them at least 2 mc tall,
  // and a multiple of the thread count so that equal blocks share out evenly.
  const std::size_t per_thread = std::min(
      kBlocksPerThread, std::max<std::size_t>(1, m / (2 * static_cast<std::size_t>(bl.mc) * nthreads)));
  const std::size_t blocks = std::min(m_slivers, per_thread * static_cast<std::size_t>(nthreads));
  return {false, m_slivers, blocks};
}

}  // namespace

void sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc, const Epilogue& ep) {
  if (ep.act_output && ep.bias) {
    throw std::invalid_argument("epilogue: a bias cannot be combined with an activation derivative");
  }
  const bool ta = trans_a == Trans::yes, tb = trans_b == Trans::yes;
  if (n == 0) return;
  const KernelTable& kt = kernels();
  if (m == 0 || k == 0 || alpha == 0.0f) {
    if (ep.b_column_sums) column_sums_of_op_b(b, ldb, tb, k, n, ep.b_column_sums);
    if (m != 0) scale_and_finish(m, n, beta, c, ldc, ep, kt);
    return;
  }
  const int nthreads = threads_for(2.0 * static_cast<double>(m) * n * k);
  const Split split = plan_split(m, n, nthreads, kt.sgemm_blocking);
  if (nthreads <= 1 || split.blocks <= 1) {
    // No OpenMP region for one thread: it would still allocate a team and make
    // a futex call per barrier.
    sgemm_serial(kt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep);
    return;
  }
  const std::size_t mr = kt.sgemm_blocking.mr, nr = kt.sgemm_blocking.nr;
  // Blocks of C are claimed one at a time from a shared counter and each runs
  // the serial algorithm with its claimer's packing buffers. A thread that
  // another process slows down (two cores shared with a build, or a library's
  // spinning idle threads) simply claims fewer blocks; with a fixed share per
  // thread the whole product would wait for it. Each element of C is computed
  // by the same instructions in the same order whichever block holds it (k is
  // blocked the same way; packed or in-place A, edge tiles and all sum alike),
  // so the result is bitwise the same for any thread count and any claiming.
  std::atomic<std::size_t> next_block{0};
  const int team = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(nthreads), split.blocks));
#pragma omp parallel num_threads(team)
  {
    for (std::size_t blk = next_block.fetch_add(1, std::memory_order_relaxed); blk < split.blocks;
         blk = next_block.fetch_add(1, std::memory_order_relaxed)) {
      const std::size_t s0 = blk * split.slivers / split.blocks;
      const std::size_t s1 = (blk + 1) * split.slivers / split.blocks;
      Epilogue sub = ep;
      if (split.by_columns) {
        const std::size_t j0 = s0 * nr, j1 = std::min(n, s1 * nr);
        if (ep.bias) sub.bias = ep.bias + j0;
        if (ep.act_output) sub.act_output = ep.act_output + j0;
        if (ep.b_column_sums) sub.b_column_sums = ep.b_column_sums + j0;
        sgemm_serial(kt, ta, tb, m, j1 - j0, k, alpha, a, lda, tb ? b + j0 * ldb : b + j0, ldb, beta,
                     c + j0, ldc, sub);
      } else {
        const std::size_t i0 = s0 * mr, i1 = std::min(m, s1 * mr);
        if (ep.act_output) sub.act_output = ep.act_output + i0 * ep.ld_act_output;
        if (blk != 0) sub.b_column_sums = nullptr;  // every block packs all of B; one sums it
        sgemm_serial(kt, ta, tb, i1 - i0, n, k, alpha, ta ? a + i0 : a + i0 * lda, lda, b, ldb, beta,
                     c + i0 * ldc, ldc, sub);
      }
    }
  }
}

}  // namespace mlpcore
