// The one GEMM driver (BLIS's five loops): for each nc-wide block of columns
// and kc-deep slice of the shared dimension, B is packed into nr-wide slivers
// (by the ISA's packing routine, which absorbs the transpose) unless the
// micro-kernel can read it in place; for each mc-tall block of rows, A is
// packed into mr-tall slivers (likewise) when it is reused enough to pay for
// it, else read in place through strides; then the dispatched micro-kernel
// computes every mr x nr tile and applies the epilogue on the last k slice.
// Some shapes run as C^T = op(B)^T op(A)^T instead (a narrow C, or a
// transposed B with few rows), with the same FMAs. Threads split C, never the
// shared dimension: by rows, sharing each packed panel of B, or by columns,
// each block a product of its own; so each element of C is summed in the same
// order whatever the thread count.
#include "mlpcore/gemm.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <immintrin.h>  // _mm_pause, and SSE for transpose_into
#endif

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
// FMA units busy (docs/gemm.md has the timing). Each row is summed in the same
// order whatever the height of its tile, so results do not change.
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
// A packed sliver is one stream of consecutive floats that stays in L1 while
// it meets each B sliver; read in place, its rows are lda apart (twelve
// streams, which a power-of-two lda maps onto the same L1 sets). The copy
// costs about as much as a few B slivers' worth of FMAs, so it pays from five
// slivers on. A single row tile (B then read in place) keeps A in place.
bool should_pack_a(std::size_t m, std::size_t n, const GemmBlocking& bl) {
  return m > static_cast<std::size_t>(bl.mr) && n > 4 * static_cast<std::size_t>(bl.nr);
}

// Whether a product is cut among threads by rows (see plan_split): when it has
// more than one block of rows and B is wide enough to be worth sharing.
bool rows_worth_sharing_b(std::size_t m, std::size_t n, const GemmBlocking& bl) {
  return m > static_cast<std::size_t>(bl.mc) && n > 2 * static_cast<std::size_t>(bl.nr);
}

// One product and its epilogue, as sgemm was given them.
struct Product {
  bool ta, tb;
  std::size_t m, n, k;
  float alpha;
  const float* a;
  std::size_t lda;
  const float* b;
  std::size_t ldb;
  float beta;
  float* c;
  std::size_t ldc;
  Epilogue ep;
};

// Which slivers of B the micro-kernel reads in place (rows ldb apart) instead
// of a packed copy. Full slivers: when the product has few rows (at most the
// ISA's sgemm_b_in_place_rows, at least mr), as each sliver then meets a few
// row tiles, one after the other, and the copy would cost more than it saves
// (their column sums, when wanted, are then summed from B itself). A partial
// last sliver of at most sgemm_b_in_place_cols columns (an output layer's 10):
// the kernel reads just those columns, so a copy would buy nothing. Nothing of
// a transposed B (a sliver's row would be a strided column).
struct BInPlace {
  bool full, partial;
  bool sliver(std::size_t cols, std::size_t nr) const { return cols == nr ? full : partial; }
};

BInPlace b_in_place_of(const Product& pr, const KernelTable& kt) {
  if (pr.tb) return {false, false};
  const std::size_t nr = kt.sgemm_blocking.nr, rest = pr.n % nr;
  const int rows = std::max(kt.sgemm_blocking.mr, kt.sgemm_b_in_place_rows);
  return {pr.m <= static_cast<std::size_t>(rows),
          rest != 0 && rest <= static_cast<std::size_t>(kt.sgemm_b_in_place_cols)};
}

// How k and the columns are cut into panels of B. k is cut the same way for
// every block of C, so each element of C is summed in the same order.
struct Panels {
  std::size_t kc, nc;
};

Panels plan_panels(const GemmBlocking& bl, std::size_t n, std::size_t k) {
  return {balanced_block(k, static_cast<std::size_t>(bl.kc), 1),
          balanced_block(n, static_cast<std::size_t>(bl.nc), static_cast<std::size_t>(bl.nr))};
}

// Packing space of one thread of a product: a block of A's rows and a panel of B.
struct Workspace {
  AlignedBuffer a, b;
};

// The packing space of a product's team, one Workspace per thread, owned by
// the thread that calls sgemm (concurrent calls, such as predicts from several
// Python threads, never share it) and kept between calls: it only grows. All
// of it is allocated before a team starts, so an allocation failure is an
// exception in the caller, never inside a parallel region. Floats per thread:
// a packed A block of at most mc rows (rounded to mr) by kc, and a B panel of
// at most kc by min(nc, n rounded to nr), which also bounds every column block
// of a product split by columns. With one shared B panel (a split by rows),
// only the first thread's is allocated.
Workspace* team_workspace(const GemmBlocking& bl, std::size_t n, std::size_t k, int team, bool pack_a,
                          bool b_each) {
  thread_local std::vector<Workspace> space;
  if (space.size() < static_cast<std::size_t>(team)) space.resize(static_cast<std::size_t>(team));
  const std::size_t mr = bl.mr, nr = bl.nr, kc = plan_panels(bl, n, k).kc;
  const std::size_t a_floats = pack_a ? ceil_div(static_cast<std::size_t>(bl.mc), mr) * mr * kc : 0;
  const std::size_t b_floats = kc * std::min(static_cast<std::size_t>(bl.nc), ceil_div(n, nr) * nr);
  for (int t = 0; t < team; ++t) {
    space[t].a.resize(a_floats);
    if (t == 0 || b_each) space[t].b.resize(b_floats);
  }
  return space.data();
}

// Packs slivers [s0, s1) of the panel of op(B) at column jc and k offset pc
// (kb deep) into b_pack, but those read in place, adding each sliver's
// column sums into ep.b_column_sums when asked (summed while the packed
// sliver is in L1, or from B itself when it is read in place: the same sums
// in the same order; each column by whoever handles its sliver, k slices in
// order).
void pack_b_slivers(const KernelTable& kt, const Product& pr, BInPlace in_place, std::size_t jc,
                    std::size_t pc, std::size_t kb, std::size_t s0, std::size_t s1, float* b_pack) {
  const std::size_t nr = kt.sgemm_blocking.nr;
  for (std::size_t s = s0; s < s1; ++s) {
    const std::size_t j0 = jc + s * nr, cols = std::min(nr, pr.n - j0);
    float partial[64] = {};
    if (in_place.sliver(cols, nr)) {
      if (!pr.ep.b_column_sums) continue;
      for (std::size_t p = 0; p < kb; ++p) {
        const float* row = pr.b + (pc + p) * pr.ldb + j0;
        for (std::size_t j = 0; j < cols; ++j) partial[j] += row[j];
      }
    } else {
      float* dst = b_pack + s * nr * kb;
      kt.sgemm_pack_b(pr.tb, pr.tb ? pr.b + j0 * pr.ldb + pc : pr.b + pc * pr.ldb + j0, pr.ldb,
                      cols, kb, dst);
      if (pr.ep.b_column_sums) kt.column_sums(kb, nr, dst, partial);
    }
    if (pr.ep.b_column_sums) {
      for (std::size_t j = 0; j < cols; ++j) pr.ep.b_column_sums[j0 + j] += partial[j];
    }
  }
}

// Rows [ic, ic + mb) of C against one panel of op(B) (columns jc..jc + nb, k
// offset pc, kb deep; packed into b_pack but where b_in_place says): A's rows
// packed into a_pack (room for mb rounded up to mr, by kb) when it is not
// null, else read in place; then every tile, with the epilogue on the last k
// slice.
void multiply_rows(const KernelTable& kt, const Product& pr, std::size_t ic, std::size_t mb,
                   std::size_t jc, std::size_t nb, std::size_t pc, std::size_t kb, float* a_pack,
                   const float* b_pack, BInPlace b_in_place) {
  const std::size_t mr = kt.sgemm_blocking.mr, nr = kt.sgemm_blocking.nr;
  const Epilogue& ep = pr.ep;
  const float beta_here = pc == 0 ? pr.beta : 1.0f;
  const bool finish = pc + kb == pr.k && has_epilogue(ep);
  // Sigmoid and tanh go through the vectorised elementwise code after the
  // micro-kernel's store; bias, ReLU and derivatives stay in its registers.
  const bool act_after_store =
      !ep.act_output && (ep.act == Activation::sigmoid || ep.act == Activation::tanh);
  const bool pack_a = a_pack != nullptr;
  const std::size_t m_slivers = ceil_div(mb, mr);
  if (pack_a) {
    for (std::size_t s = 0; s < m_slivers; ++s) {
      const std::size_t i0 = ic + s * mr;
      kt.sgemm_pack_a(pr.ta, pr.ta ? pr.a + pc * pr.lda + i0 : pr.a + i0 * pr.lda + pc, pr.lda,
                      std::min(mr, pr.m - i0), kb, a_pack + s * mr * kb);
    }
  }
  // Strides of A in place: element (i, p) of op(A) at a[i * rs + p * cs].
  const std::ptrdiff_t rs_a = pr.ta ? 1 : static_cast<std::ptrdiff_t>(pr.lda);
  const std::ptrdiff_t cs_a = pr.ta ? static_cast<std::ptrdiff_t>(pr.lda) : 1;
  const std::ptrdiff_t ldc = static_cast<std::ptrdiff_t>(pr.ldc);
  const RowTiles row_tiles = plan_row_tiles(mb, mr, pack_a);
  const std::size_t n_slivers = ceil_div(nb, nr);
  // Tiles row by row (each A sliver meets every B sliver while it is in L1,
  // and C is written a few whole rows at a time), but column sliver by column
  // sliver when B is read in place: each sliver then meets the row tiles while
  // its strided rows are cached, instead of being streamed once per row tile.
  const bool rows_outer = !b_in_place.full && !b_in_place.partial;
  const std::size_t outer = rows_outer ? row_tiles.count : n_slivers;
  const std::size_t inner = rows_outer ? n_slivers : row_tiles.count;
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t q = 0; q < inner; ++q) {
      const std::size_t jr = rows_outer ? q : o, ir = rows_outer ? o : q;
      const std::size_t col = jc + jr * nr;
      const int tn = static_cast<int>(std::min(nr, pr.n - col));
      const bool in_place = b_in_place.sliver(static_cast<std::size_t>(tn), nr);
      const float* bt = in_place ? pr.b + pc * pr.ldb + col : b_pack + jr * nr * kb;
      const std::ptrdiff_t rs_b = static_cast<std::ptrdiff_t>(in_place ? pr.ldb : nr);
      const std::size_t row = ic + row_tiles.start(ir);
      const int tm = static_cast<int>(row_tiles.height(ir));
      float* ct = pr.c + row * pr.ldc + col;
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
                               : pr.a + (pr.ta ? pc * pr.lda + row : row * pr.lda + pc);
      kt.sgemm_ukr(kb, at, pack_a ? 1 : rs_a, pack_a ? static_cast<std::ptrdiff_t>(mr) : cs_a, bt,
                   rs_b, ct, ldc, tm, tn, pr.alpha, beta_here, finish ? &te : nullptr);
      if (finish && act_after_store) {
        kt.bias_act_rows(ep.act, static_cast<std::size_t>(tm), static_cast<std::size_t>(tn),
                         nullptr, ct, ldc);
      }
    }
  }
}

// The whole product on one thread (BLIS's five loops), packing into ws
// (sized by team_workspace for this product or one it is a column block of).
void sgemm_serial(const KernelTable& kt, const Product& pr, Workspace& ws) {
  const GemmBlocking& bl = kt.sgemm_blocking;
  const std::size_t mr = bl.mr, nr = bl.nr;
  const Panels panels = plan_panels(bl, pr.n, pr.k);
  const std::size_t mc = balanced_block(pr.m, static_cast<std::size_t>(bl.mc), mr);
  const bool pack_a = should_pack_a(pr.m, pr.n, bl);
  const BInPlace b_in_place = b_in_place_of(pr, kt);
  if (pr.ep.b_column_sums) std::fill(pr.ep.b_column_sums, pr.ep.b_column_sums + pr.n, 0.0f);
  float* a_pack = pack_a ? ws.a.data() : nullptr;
  float* b_pack = ws.b.data();
  for (std::size_t jc = 0; jc < pr.n; jc += panels.nc) {
    const std::size_t nb = std::min(panels.nc, pr.n - jc);
    for (std::size_t pc = 0; pc < pr.k; pc += panels.kc) {
      const std::size_t kb = std::min(panels.kc, pr.k - pc);
      pack_b_slivers(kt, pr, b_in_place, jc, pc, kb, 0, ceil_div(nb, nr), b_pack);
      for (std::size_t ic = 0; ic < pr.m; ic += mc) {
        multiply_rows(kt, pr, ic, std::min(mc, pr.m - ic), jc, nb, pc, kb, a_pack, b_pack,
                      b_in_place);
      }
    }
  }
}

// Pause inside a spin-wait (lets a sibling hyperthread run).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Waits until `count` reaches `target`: work that other threads have already
// claimed and are doing. Spins briefly, then gives the core away between checks.
void wait_for(const std::atomic<std::size_t>& count, std::size_t target) {
  for (int spins = 0; count.load(std::memory_order_acquire) < target; ++spins) {
    if (spins < 4096) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

// One panel of B at a time, shared by the team: its slivers are claimed and
// packed, then blocks of rows are claimed and multiplied against it.
struct PanelWork {
  std::atomic<std::size_t> pack_next{0}, packed{0}, rows_next{0}, rows_done{0};
};

// Zeroed counters for `count` panels: the calling thread's, kept between calls
// (a training step allocates nothing once they have grown).
PanelWork* panel_work(std::size_t count) {
  thread_local std::unique_ptr<PanelWork[]> work;
  thread_local std::size_t capacity = 0;
  if (count > capacity) {
    work.reset(new PanelWork[count]);
    capacity = count;
  }
  for (std::size_t i = 0; i < count; ++i) {
    PanelWork& w = work[i];
    for (std::atomic<std::size_t>* c : {&w.pack_next, &w.packed, &w.rows_next, &w.rows_done}) {
      c->store(0, std::memory_order_relaxed);
    }
  }
  return work.get();
}

// The product split by rows among `team` threads, with B packed once (into
// the calling thread's workspace) by all of them together. A thread waits only for
// work that others have claimed (every sliver of a panel packed before any row
// block reads it; every row block done before the next panel overwrites it),
// never for a thread that has not arrived, so one slowed by another process
// simply claims less. Row blocks are whole mr slivers, about four per thread
// and at most mc rows, and each packs its own rows of A: nothing is packed
// twice. Every element is computed as in sgemm_serial (same k slices, same
// kernel calls), so the result is bitwise the same.
void sgemm_rows_shared_b(const KernelTable& kt, const Product& pr, int team, Workspace* ws) {
  const GemmBlocking& bl = kt.sgemm_blocking;
  const std::size_t mr = bl.mr, nr = bl.nr;
  const Panels panels = plan_panels(bl, pr.n, pr.k);
  const bool pack_a = should_pack_a(pr.m, pr.n, bl);
  const std::size_t m_slivers = ceil_div(pr.m, mr);
  const std::size_t per_thread = ceil_div(m_slivers, 4 * static_cast<std::size_t>(team));
  const std::size_t block_slivers =
      std::max<std::size_t>(1, std::min(static_cast<std::size_t>(bl.mc) / mr, per_thread));
  const std::size_t row_blocks = ceil_div(m_slivers, block_slivers);
  const std::size_t panel_count = ceil_div(pr.n, panels.nc) * ceil_div(pr.k, panels.kc);
  PanelWork* work = panel_work(panel_count);
  const BInPlace b_in_place = b_in_place_of(pr, kt);
  float* b_pack = ws[0].b.data();
  if (pr.ep.b_column_sums) std::fill(pr.ep.b_column_sums, pr.ep.b_column_sums + pr.n, 0.0f);

  run_team(team, [&](int thread) {
    float* a_pack = pack_a ? ws[thread].a.data() : nullptr;
    std::size_t panel = 0;
    for (std::size_t jc = 0; jc < pr.n; jc += panels.nc) {
      const std::size_t nb = std::min(panels.nc, pr.n - jc), n_slivers = ceil_div(nb, nr);
      for (std::size_t pc = 0; pc < pr.k; pc += panels.kc, ++panel) {
        const std::size_t kb = std::min(panels.kc, pr.k - pc);
        PanelWork& w = work[panel];
        for (std::size_t s = w.pack_next.fetch_add(1, std::memory_order_relaxed); s < n_slivers;
             s = w.pack_next.fetch_add(1, std::memory_order_relaxed)) {
          pack_b_slivers(kt, pr, b_in_place, jc, pc, kb, s, s + 1, b_pack);
          w.packed.fetch_add(1, std::memory_order_release);
        }
        wait_for(w.packed, n_slivers);
        for (std::size_t blk = w.rows_next.fetch_add(1, std::memory_order_relaxed); blk < row_blocks;
             blk = w.rows_next.fetch_add(1, std::memory_order_relaxed)) {
          const std::size_t i0 = blk * block_slivers * mr;
          const std::size_t mb = std::min(block_slivers * mr, pr.m - i0);
          multiply_rows(kt, pr, i0, mb, jc, nb, pc, kb, a_pack, b_pack, b_in_place);
          w.rows_done.fetch_add(1, std::memory_order_release);
        }
        // After the last panel the end of the region waits for everyone anyway.
        if (panel + 1 < panel_count) wait_for(w.rows_done, row_blocks);
      }
    }
  });
}

// How a product is cut among threads: by rows (B packed once, shared) when
// there are several blocks of rows or B is too narrow to share out by columns;
// otherwise into blocks of whole nr-wide column slivers, a few per thread, each
// run as a product of its own (column blocks share nothing).
struct Split {
  bool by_rows;
  std::size_t column_blocks;  // when by columns: slivers dealt to blocks as evenly as integers allow
};

Split plan_split(std::size_t m, std::size_t n, int nthreads, const GemmBlocking& bl) {
  constexpr std::size_t kBlocksPerThread = 4;
  const std::size_t n_slivers = ceil_div(n, static_cast<std::size_t>(bl.nr));
  if (rows_worth_sharing_b(m, n, bl) || n_slivers < static_cast<std::size_t>(nthreads)) return {true, 0};
  // Keep each column block at least two slivers wide for the micro-kernel's B reuse.
  const std::size_t want = static_cast<std::size_t>(nthreads) * kBlocksPerThread;
  return {false, std::max<std::size_t>(1, std::min(want, n_slivers / 2))};
}

void run_product(const KernelTable& kt, const Product& pr);

// Whether to compute C^T = op(B)^T op(A)^T instead of C, into a scratch
// matrix then transposed into C, when that saves more than the transposes cost:
// - a narrow C (n < nr, so most lanes of each row's vectors would idle, as for
//   the 10 columns of an output layer) whose A is stored transposed (that
//   layer's weight gradient X^T dZ): the transposed product has m columns, so
//   full vectors, and one row tile (n <= mr), so it reads its B, the stored X,
//   in place; nothing is packed and only the small C is transposed;
// - a transposed B of a product with few rows (an input gradient dZ W^T at a
//   small batch): the direct product would pack all of W through register
//   transposes for a few row tiles; the transposed one reads W in place and
//   transposes only the m x k of A and the m x n of C (floats moved: m k + m n
//   against k n, a transpose-out counted four times a packed float).
// Each kernel call of the transposed product does the same FMAs as the direct
// product's, element for element and in the same order (a * b == b * a, k is
// sliced alike, alpha and beta applied alike), and the activation derivative
// is applied on the way out with the kernels' formula, so C is bitwise the
// same either way. A bias or an activation keeps the direct product.
bool transposed_pays(const Product& pr, const GemmBlocking& bl) {
  if (pr.ep.bias || (!pr.ep.act_output && pr.ep.act != Activation::identity)) return false;
  const std::size_t mr = static_cast<std::size_t>(bl.mr), nr = static_cast<std::size_t>(bl.nr);
  const std::size_t m = pr.m, n = pr.n, k = pr.k;
  if (pr.ta && !pr.ep.act_output) return n < nr && n <= mr && m >= 2 * nr;
  if (pr.tb && !pr.ta) return m >= nr / 2 && m <= 4 * nr && m * k + 4 * m * n < n * k;
  return false;
}

// out[j] = sum of op(B)(p, j) over p, summed per k slice from zero and the
// slices added in order, as pack_b_slivers sums them (all columns of a step
// at once, so that the columns' sums are independent chains).
void column_sums_by_slices(const Product& pr, std::size_t kc, float* out) {
  constexpr std::size_t kCols = 64;
  std::fill(out, out + pr.n, 0.0f);
  for (std::size_t j0 = 0; j0 < pr.n; j0 += kCols) {
    const std::size_t cols = std::min(kCols, pr.n - j0);
    for (std::size_t pc = 0; pc < pr.k; pc += kc) {
      float partial[kCols] = {};
      for (std::size_t p = pc; p < std::min(pr.k, pc + kc); ++p) {
        if (pr.tb) {
          for (std::size_t j = 0; j < cols; ++j) partial[j] += pr.b[(j0 + j) * pr.ldb + p];
        } else {
          const float* row = pr.b + p * pr.ldb + j0;
          for (std::size_t j = 0; j < cols; ++j) partial[j] += row[j];
        }
      }
      for (std::size_t j = 0; j < cols; ++j) out[j0 + j] += partial[j];
    }
  }
}

// act'(y) times v, as the micro-kernels' epilogue computes it.
inline float times_derivative(Activation act, float v, float y) {
  switch (act) {
    case Activation::relu: return y > 0.0f ? v : 0.0f;
    case Activation::sigmoid: return v * (y * (1.0f - y));
    case Activation::tanh: return v * ((1.0f - y) * (1.0f + y));
    case Activation::identity: break;
  }
  return v;
}

#if defined(__SSE2__) || defined(_M_X64)
#define MLPCORE_SSE_TRANSPOSE 1
// The first h (1 to 4) floats at p, the rest zero; and the converse store.
inline __m128 load_first(std::size_t h, const float* p) {
  if (h == 4) return _mm_loadu_ps(p);
  __m128 v = h >= 2 ? _mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(p)) : _mm_load_ss(p);
  if (h == 3) v = _mm_movelh_ps(v, _mm_load_ss(p + 2));
  return v;
}

inline void store_first(std::size_t h, float* p, __m128 v) {
  if (h == 4) {
    _mm_storeu_ps(p, v);
    return;
  }
  if (h >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), v);
  } else {
    _mm_store_ss(p, v);
  }
  if (h == 3) _mm_store_ss(p + 2, _mm_movehl_ps(v, v));
}

// times_derivative on 4 lanes, with the same operations.
inline __m128 times_derivative(Activation act, __m128 v, __m128 y) {
  const __m128 one = _mm_set1_ps(1.0f);
  switch (act) {
    case Activation::relu: return _mm_and_ps(v, _mm_cmpgt_ps(y, _mm_setzero_ps()));
    case Activation::sigmoid: return _mm_mul_ps(v, _mm_mul_ps(y, _mm_sub_ps(one, y)));
    case Activation::tanh: return _mm_mul_ps(v, _mm_mul_ps(_mm_sub_ps(one, y), _mm_add_ps(one, y)));
    case Activation::identity: break;
  }
  return v;
}
#endif

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols; then, with
// ep.act_output, times act'(.) through y (dst's shape). In blocks of 4 x 4
// through SSE registers where the baseline x86-64 has them (a transposed
// output layer's 10 x m block would otherwise cost about as much as its
// product), a last block of fewer rows padded with zeros.
void transpose_into(std::size_t rows, std::size_t cols, const float* src, std::size_t lds, float* dst,
                    std::size_t ldd, const Epilogue& ep = Epilogue{}) {
  const float* y = ep.act_output;
  const std::size_t ldy = ep.ld_act_output;
  const Activation act = ep.act;
  std::size_t j0 = 0;
#if defined(MLPCORE_SSE_TRANSPOSE)
  // Rows i0..i0+h-1 (h <= 4; rows past them read as zeros), 4 columns at a time.
  auto block_rows = [&](std::size_t i0, std::size_t h, auto full) {
    constexpr bool kFull = decltype(full)::value;
    const float* s0 = src + i0 * lds;
    const __m128 zero = _mm_setzero_ps();
    for (std::size_t j = 0; j + 4 <= cols; j += 4) {
      __m128 r0 = _mm_loadu_ps(s0 + j);
      __m128 r1 = kFull || h > 1 ? _mm_loadu_ps(s0 + lds + j) : zero;
      __m128 r2 = kFull || h > 2 ? _mm_loadu_ps(s0 + 2 * lds + j) : zero;
      __m128 r3 = kFull || h > 3 ? _mm_loadu_ps(s0 + 3 * lds + j) : zero;
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      const __m128 r[4] = {r0, r1, r2, r3};
      for (std::size_t q = 0; q < 4; ++q) {
        float* d = dst + (j + q) * ldd + i0;
        __m128 v = r[q];
        if (y) v = times_derivative(act, v, kFull ? _mm_loadu_ps(y + (j + q) * ldy + i0) : load_first(h, y + (j + q) * ldy + i0));
        if constexpr (kFull) {
          _mm_storeu_ps(d, v);
        } else {
          store_first(h, d, v);
        }
      }
    }
  };
  std::size_t i0 = 0;
  for (; i0 + 4 <= rows; i0 += 4) block_rows(i0, 4, std::true_type{});
  if (i0 < rows) block_rows(i0, rows - i0, std::false_type{});
  j0 = cols / 4 * 4;
#endif
  for (std::size_t j = j0; j < cols; ++j) {
    for (std::size_t i = 0; i < rows; ++i) {
      const float v = src[i * lds + j];
      dst[j * ldd + i] = y ? times_derivative(act, v, y[j * ldy + i]) : v;
    }
  }
}

// The product as C^T = op(B)^T op(A)^T (see transposed_pays), through a
// scratch copy of C^T that belongs to the calling thread and only grows.
void sgemm_transposed(const KernelTable& kt, const Product& pr) {
  thread_local AlignedBuffer scratch;
  scratch.resize(pr.n * pr.m);
  float* ct = scratch.data();
  if (pr.beta != 0.0f) transpose_into(pr.m, pr.n, pr.c, pr.ldc, ct, pr.m);
  // op(B)^T is the stored B read with the other transpose flag, and op(A)^T likewise.
  const Product t{!pr.tb, !pr.ta, pr.n, pr.m, pr.k, pr.alpha, pr.b, pr.ldb, pr.a, pr.lda,
                  pr.beta, ct, pr.m, Epilogue{}};
  run_product(kt, t);
  transpose_into(pr.n, pr.m, ct, pr.m, pr.c, pr.ldc, pr.ep);
  if (pr.ep.b_column_sums) {
    column_sums_by_slices(pr, plan_panels(kt.sgemm_blocking, pr.n, pr.k).kc, pr.ep.b_column_sums);
  }
}

// The product on as many threads as its size warrants (sgemm's arguments
// already checked, m, n, k > 0 and alpha != 0).
void run_product(const KernelTable& kt, const Product& pr) {
  const std::size_t m = pr.m, n = pr.n, k = pr.k;
  if (transposed_pays(pr, kt.sgemm_blocking)) {
    sgemm_transposed(kt, pr);
    return;
  }
  const int nthreads = threads_for(2.0 * static_cast<double>(m) * n * k);
  const Split split = plan_split(m, n, nthreads, kt.sgemm_blocking);
  const bool pack_a = should_pack_a(m, n, kt.sgemm_blocking);
  if (nthreads <= 1 || (!split.by_rows && split.column_blocks <= 1)) {
    // No OpenMP region for one thread: it would still allocate a team and make
    // a futex call per barrier.
    sgemm_serial(kt, pr, *team_workspace(kt.sgemm_blocking, n, k, 1, pack_a, true));
    return;
  }
  if (split.by_rows) {
    sgemm_rows_shared_b(kt, pr, nthreads, team_workspace(kt.sgemm_blocking, n, k, nthreads, pack_a, false));
    return;
  }
  // Column blocks are claimed one at a time from a shared counter and each runs
  // the serial algorithm with its claimer's packing buffers. A thread that
  // another process slows down (two cores shared with a build, or a library's
  // spinning idle threads) simply claims fewer blocks; with a fixed share per
  // thread the whole product would wait for it. Each element of C is computed
  // by the same instructions in the same order whichever block holds it (k is
  // blocked the same way; packed or in-place A and B, edge tiles and all sum
  // alike), so the result is bitwise the same for any thread count and any claiming.
  const bool tb = pr.tb;
  const Epilogue& ep = pr.ep;
  const std::size_t nr = kt.sgemm_blocking.nr, slivers = ceil_div(n, nr);
  const std::size_t blocks = split.column_blocks;
  std::atomic<std::size_t> next_block{0};
  const int team = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(nthreads), blocks));
  Workspace* ws = team_workspace(kt.sgemm_blocking, n, k, team, pack_a, true);
  run_team(team, [&](int thread) {
    for (std::size_t blk = next_block.fetch_add(1, std::memory_order_relaxed); blk < blocks;
         blk = next_block.fetch_add(1, std::memory_order_relaxed)) {
      const std::size_t j0 = blk * slivers / blocks * nr;
      const std::size_t j1 = std::min(n, (blk + 1) * slivers / blocks * nr);
      Product sub = pr;
      sub.n = j1 - j0;
      sub.b = tb ? pr.b + j0 * pr.ldb : pr.b + j0;
      sub.c = pr.c + j0;
      if (ep.bias) sub.ep.bias = ep.bias + j0;
      if (ep.act_output) sub.ep.act_output = ep.act_output + j0;
      if (ep.b_column_sums) sub.ep.b_column_sums = ep.b_column_sums + j0;
      sgemm_serial(kt, sub, ws[thread]);
    }
  });
}

}  // namespace

void sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc, const Epilogue& ep) {
  check_epilogue(ep);
  const bool ta = trans_a == Trans::yes, tb = trans_b == Trans::yes;
  if (n == 0) return;
  const KernelTable& kt = kernels();
  if (m == 0 || k == 0 || alpha == 0.0f) {
    if (ep.b_column_sums) column_sums_of_op_b(b, ldb, tb, k, n, ep.b_column_sums);
    if (m != 0) scale_and_finish(m, n, beta, c, ldc, ep, kt);
    return;
  }
  run_product(kt, Product{ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep});
}

}  // namespace mlpcore
