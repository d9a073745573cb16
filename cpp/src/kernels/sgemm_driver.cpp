// The one GEMM driver (BLIS's five loops): for each nc-wide block of columns
// and kc-deep slice of the shared dimension, B is packed into nr-wide slivers
// (by the ISA's packing routine, which absorbs the transpose); for each mc-tall
// block of rows, A is packed into mr-tall slivers when it is reused enough to
// pay for it, else read in place through strides; then the dispatched
// micro-kernel computes every mr x nr tile and applies the epilogue on the last
// k slice. Threads take disjoint blocks of C (never a split of the shared
// dimension) and run the same loops on them, so each element of C is summed
// in the same order whatever the thread count.
#include "mlpcore/gemm.h"

#include <algorithm>
#include <stdexcept>

#include "mlpcore/aligned_buffer.h"
#include "mlpcore/dispatch.h"
#include "mlpcore/threads.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace mlpcore {
namespace {

// Copies rows [i0, i0 + mr) x columns [p0, p0 + kb) of op(A) into dst, one
// column of the sliver (mr floats) per step; rows past m are zero.
void pack_a_sliver(const float* a, std::size_t lda, bool trans, std::size_t m, std::size_t i0,
                   std::size_t p0, std::size_t kb, int mr, float* dst) {
  const std::size_t rows = std::min<std::size_t>(mr, m - i0);
  if (trans) {  // A stored k x m: a sliver column is contiguous
    for (std::size_t p = 0; p < kb; ++p) {
      const float* src = a + (p0 + p) * lda + i0;
      float* d = dst + p * mr;
      std::size_t i = 0;
      for (; i < rows; ++i) d[i] = src[i];
      for (; i < static_cast<std::size_t>(mr); ++i) d[i] = 0.0f;
    }
  } else {  // A stored m x k: walk each row, scatter into the sliver
    for (std::size_t i = 0; i < rows; ++i) {
      const float* src = a + (i0 + i) * lda + p0;
      for (std::size_t p = 0; p < kb; ++p) dst[p * mr + i] = src[p];
    }
    for (std::size_t i = rows; i < static_cast<std::size_t>(mr); ++i) {
      for (std::size_t p = 0; p < kb; ++p) dst[p * mr + i] = 0.0f;
    }
  }
}

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
          for (std::ptrdiff_t s = 0; s < static_cast<std::ptrdiff_t>(m_slivers); ++s) {
            pack_a_sliver(a, lda, ta, m, ic + s * mr, pc, kb, static_cast<int>(mr),
                          a_pack + s * mr * kb);
          }
        }

        // Tiles in column-sliver-major order: each packed B sliver is reused
        // across consecutive row slivers while it is in L1.
        const std::ptrdiff_t tiles = static_cast<std::ptrdiff_t>(n_slivers * m_slivers);
        for (std::ptrdiff_t t = 0; t < tiles; ++t) {
          const std::size_t jr = static_cast<std::size_t>(t) / m_slivers;
          const std::size_t ir = static_cast<std::size_t>(t) % m_slivers;
          const std::size_t row = ic + ir * mr, col = jc + jr * nr;
          const int tm = static_cast<int>(std::min(mr, m - row));
          const int tn = static_cast<int>(std::min(nr, n - col));
          float* ct = c + row * ldc + col;
          TileEpilogue te;
          const bool finish = last_slice && any_epilogue;
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
                       b_pack + jr * nr * kb, ct, ldc_s, tm, tn, alpha, beta_here,
                       finish ? &te : nullptr);
          if (finish && act_after_store) {
            kt.bias_act_rows(ep.act, static_cast<std::size_t>(tm), static_cast<std::size_t>(tn),
                             nullptr, ct, ldc_s);
          }
        }
      }
    }
  }
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
  const std::size_t mr = kt.sgemm_blocking.mr, nr = kt.sgemm_blocking.nr;
  const std::size_t n_slivers = ceil_div(n, nr), m_slivers = ceil_div(m, mr);
  // Threads take disjoint blocks of C (columns when there are enough, else
  // rows) and run the serial algorithm on them with their own packing: no
  // barrier until the end, which matters when another process can take a core
  // mid-product. Each element of C is computed by the same instructions in the
  // same order as on one thread (k is blocked the same way; packed or in-place
  // A, edge tiles and all sum alike), so the result is bitwise the same for any
  // thread count.
  const bool by_columns = n_slivers >= 2 * static_cast<std::size_t>(nthreads) || n_slivers >= m_slivers;
  const std::size_t slivers = by_columns ? n_slivers : m_slivers;
  const int parts = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(nthreads), slivers));
  if (parts <= 1) {
    // No OpenMP region for one thread: it would still allocate a team and make
    // a futex call per barrier.
    sgemm_serial(kt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep);
    return;
  }
#pragma omp parallel num_threads(parts)
  {
#if defined(_OPENMP)
    const std::size_t part = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t nparts = static_cast<std::size_t>(omp_get_num_threads());
#else
    const std::size_t part = 0, nparts = 1;
#endif
    const std::size_t s0 = part * slivers / nparts, s1 = (part + 1) * slivers / nparts;
    Epilogue sub = ep;
    if (by_columns) {
      const std::size_t j0 = s0 * nr, j1 = std::min(n, s1 * nr);
      if (ep.bias) sub.bias = ep.bias + j0;
      if (ep.act_output) sub.act_output = ep.act_output + j0;
      if (ep.b_column_sums) sub.b_column_sums = ep.b_column_sums + j0;
      if (j1 > j0) {
        sgemm_serial(kt, ta, tb, m, j1 - j0, k, alpha, a, lda, tb ? b + j0 * ldb : b + j0, ldb, beta,
                     c + j0, ldc, sub);
      }
    } else {
      const std::size_t i0 = s0 * mr, i1 = std::min(m, s1 * mr);
      if (ep.act_output) sub.act_output = ep.act_output + i0 * ep.ld_act_output;
      if (part != 0) sub.b_column_sums = nullptr;  // every part packs all of B; one sums it
      if (i1 > i0) {
        sgemm_serial(kt, ta, tb, i1 - i0, n, k, alpha, ta ? a + i0 : a + i0 * lda, lda, b, ldb, beta,
                     c + i0 * ldc, ldc, sub);
      }
    }
  }
}

}  // namespace mlpcore
