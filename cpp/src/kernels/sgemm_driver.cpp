// The one GEMM driver (BLIS's five loops): for each nc-wide block of columns
// and kc-deep slice of the shared dimension, B is packed into nr-wide slivers;
// for each mc-tall block of rows, A is packed into mr-tall slivers; then the
// dispatched micro-kernel computes every mr x nr tile. Packing absorbs the
// transposes. Threads split the packing and the tiles of C, never the shared
// dimension, so each element of C is summed in the same order whatever the
// thread count.
#include "mlpcore/gemm.h"

#include <algorithm>

#include "mlpcore/aligned_buffer.h"
#include "mlpcore/dispatch.h"
#include "mlpcore/threads.h"

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

// Copies rows [p0, p0 + kb) x columns [j0, j0 + nr) of op(B) into dst, one row
// of the sliver (nr floats) per step; columns past n are zero.
void pack_b_sliver(const float* b, std::size_t ldb, bool trans, std::size_t n, std::size_t j0,
                   std::size_t p0, std::size_t kb, int nr, float* dst) {
  const std::size_t cols = std::min<std::size_t>(nr, n - j0);
  if (!trans) {  // B stored k x n: a sliver row is contiguous
    for (std::size_t p = 0; p < kb; ++p) {
      const float* src = b + (p0 + p) * ldb + j0;
      float* d = dst + p * nr;
      std::size_t j = 0;
      for (; j < cols; ++j) d[j] = src[j];
      for (; j < static_cast<std::size_t>(nr); ++j) d[j] = 0.0f;
    }
  } else {  // B stored n x k
    for (std::size_t j = 0; j < cols; ++j) {
      const float* src = b + (j0 + j) * ldb + p0;
      for (std::size_t p = 0; p < kb; ++p) dst[p * nr + j] = src[p];
    }
    for (std::size_t j = cols; j < static_cast<std::size_t>(nr); ++j) {
      for (std::size_t p = 0; p < kb; ++p) dst[p * nr + j] = 0.0f;
    }
  }
}

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

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
  }
  if (ep.bias || ep.act != Activation::identity) {
    kt.bias_act_rows(ep.act, m, n, ep.bias, c, static_cast<std::ptrdiff_t>(ldc));
  }
}

}  // namespace

void sgemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc, const Epilogue& ep) {
  if (m == 0 || n == 0) return;
  const KernelTable& kt = kernels();
  if (k == 0 || alpha == 0.0f) {
    scale_and_finish(m, n, beta, c, ldc, ep, kt);
    return;
  }
  const GemmBlocking bl = kt.sgemm_blocking;
  const std::size_t mr = bl.mr, nr = bl.nr;
  const std::size_t mc = std::min<std::size_t>(bl.mc, ceil_div(m, mr) * mr);
  const std::size_t nc = std::min<std::size_t>(bl.nc, ceil_div(n, nr) * nr);
  const std::size_t kc = std::min<std::size_t>(bl.kc, k);
  const bool ta = trans_a == Trans::yes, tb = trans_b == Trans::yes;
  const bool has_epilogue = ep.bias || ep.act != Activation::identity;

  // Packing space belongs to the calling thread, so concurrent calls (predict
  // from several Python threads) never share it; it only grows.
  thread_local AlignedBuffer a_buffer, b_buffer;
  a_buffer.resize(mc * kc);
  b_buffer.resize(kc * nc);
  float* a_pack = a_buffer.data();
  float* b_pack = b_buffer.data();

  const int nthreads = threads_for(2.0 * static_cast<double>(m) * n * k);
  const std::ptrdiff_t ldc_s = static_cast<std::ptrdiff_t>(ldc);

#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  for (std::size_t jc = 0; jc < n; jc += nc) {
    const std::size_t nb = std::min(nc, n - jc);
    const std::size_t n_slivers = ceil_div(nb, nr);
    for (std::size_t pc = 0; pc < k; pc += kc) {
      const std::size_t kb = std::min(kc, k - pc);
      const float beta_here = pc == 0 ? beta : 1.0f;
      const bool last_slice = pc + kb == k;

#pragma omp for schedule(static)
      for (std::ptrdiff_t s = 0; s < static_cast<std::ptrdiff_t>(n_slivers); ++s) {
        pack_b_sliver(b, ldb, tb, n, jc + s * nr, pc, kb, static_cast<int>(nr), b_pack + s * nr * kb);
      }

      for (std::size_t ic = 0; ic < m; ic += mc) {
        const std::size_t mb = std::min(mc, m - ic);
        const std::size_t m_slivers = ceil_div(mb, mr);
#pragma omp for schedule(static)
        for (std::ptrdiff_t s = 0; s < static_cast<std::ptrdiff_t>(m_slivers); ++s) {
          pack_a_sliver(a, lda, ta, m, ic + s * mr, pc, kb, static_cast<int>(mr),
                        a_pack + s * mr * kb);
        }

        // Tiles in column-sliver-major order: a thread's contiguous share reuses
        // each packed B sliver across consecutive row slivers.
        const std::ptrdiff_t tiles = static_cast<std::ptrdiff_t>(n_slivers * m_slivers);
#pragma omp for schedule(static)
        for (std::ptrdiff_t t = 0; t < tiles; ++t) {
          const std::size_t jr = static_cast<std::size_t>(t) / m_slivers;
          const std::size_t ir = static_cast<std::size_t>(t) % m_slivers;
          const std::size_t row = ic + ir * mr, col = jc + jr * nr;
          const int tm = static_cast<int>(std::min(mr, m - row));
          const int tn = static_cast<int>(std::min(nr, n - col));
          float* ct = c + row * ldc + col;
          kt.sgemm_ukr(kb, a_pack + ir * mr * kb, b_pack + jr * nr * kb, ct, ldc_s, tm, tn, alpha,
                       beta_here);
          if (last_slice && has_epilogue) {
            kt.bias_act_rows(ep.act, static_cast<std::size_t>(tm), static_cast<std::size_t>(tn),
                             ep.bias ? ep.bias + col : nullptr, ct, ldc_s);
          }
        }
      }
    }
  }
}

}  // namespace mlpcore
