// AVX2 + FMA GEMM micro-kernel: a 6 x 16 tile of C in 12 ymm accumulators,
// two B loads and one A broadcast per row and step (15 of 16 registers).
// Edge tiles and the epilogue (bias, ReLU, activation derivative) are done in
// registers, with masked loads and stores for partial rows.
#include <immintrin.h>

#include <cstddef>

#include "../isa_fillers.h"

namespace {
#include "../pack_portable.h"
#include "../pack_x86.h"
#include "../tile_rows.h"

constexpr int kMR = 6;
constexpr int kNR = 16;

// Lanes [0, n) of an 8-float vector (none for n <= 0, all for n >= 8).
inline __m256i lane_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline __m256 load_lanes(const float* p, bool full, __m256i mask) {
  return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}

inline void store_lanes(float* p, __m256 v, bool full, __m256i mask) {
  if (full) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, mask, v);
  }
}

// How a tile reads A, element (i, p) at a[i * rs_a + p * cs_a]: column when
// rs_a == 1 and all R rows are real (a packed sliver, or op(A) = A^T read in
// place: one pointer, each row at a fixed offset), else row_pointers (a
// pointer per row; rows past m repeat the last real row, computed but never
// stored). Both issue the same FMAs in the same order.
enum class AWalk { column, row_pointers };

// The tile computed with R rows of accumulators (R = 6 for full tiles; 4 or 2
// for the last rows of a product, e.g. rows 30-31 of a batch of 32, which
// would otherwise cost a whole 6-row tile). Every R and walk sums in the same
// order, so a row of C is bitwise the same wherever it sits in the batch.
// B's steps are rs_b floats apart.
template <int R, AWalk WALK>
void tile_rows(std::size_t kc, const float* a, std::ptrdiff_t rs_a, std::ptrdiff_t cs_a,
               const float* b, std::ptrdiff_t rs_b, float* c, std::ptrdiff_t ldc, int m, int n,
               float alpha, float beta, const mlpcore::TileEpilogue* ep) {
  __m256 acc[R][2];
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();

  // Start fetching the C tile now; it is read (beta != 0) or written after the k loop.
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i) {
    if (i < m) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + kNR - 1), _MM_HINT_T0);
    }
  }

  auto step = [&](const float* bp, auto a_at_row) {
    const __m256 b0 = _mm256_loadu_ps(bp);
    const __m256 b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a_at_row(i));
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  };
  if constexpr (WALK == AWalk::column) {
#pragma GCC unroll 2
    for (std::size_t p = 0; p < kc; ++p) {
      step(b, [&](int i) { return a + i; });
      a += cs_a;
      b += rs_b;
    }
  } else {
    const float* row[R];
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) row[i] = a + (i < m ? i : m - 1) * rs_a;
    std::ptrdiff_t off = 0;
#pragma GCC unroll 2
    for (std::size_t p = 0; p < kc; ++p) {
      step(b, [&](int i) { return row[i] + off; });
      off += cs_a;
      b += rs_b;
    }
  }

  // C = epilogue(alpha * acc + beta * C), a pass over the rows for each step
  // so that no test is left inside the unrolled rows; alpha == 1 skips the
  // product (1 * x == x). Partial rows through masks, full ones without.
  if (alpha != 1.0f) {
    const __m256 va = _mm256_set1_ps(alpha);
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) {
      acc[i][0] = _mm256_mul_ps(va, acc[i][0]);
      acc[i][1] = _mm256_mul_ps(va, acc[i][1]);
    }
  }
  const bool full = n == kNR;
  const __m256i mask[2] = {lane_mask(n), lane_mask(n - 8)};
  if (beta != 0.0f) {
    const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) {
      for (int v = 0; v < 2; ++v) {
        if (i < m) acc[i][v] = _mm256_fmadd_ps(vb, load_lanes(c + i * ldc + 8 * v, full, mask[v]), acc[i][v]);
      }
    }
  }
  // Each element through f(x, v, i): v its vector's index in the row, i the row.
  auto store_rows = [&](auto f) {
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) {
      for (int v = 0; v < 2; ++v) {
        if (i < m) store_lanes(c + i * ldc + 8 * v, f(acc[i][v], v, i), full, mask[v]);
      }
    }
  };
  using mlpcore::Activation;
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  if (!ep || (!ep->bias && !ep->relu && !ep->y)) {
    store_rows([](__m256 x, int, int) { return x; });
  } else if (!ep->y) {
    __m256 bias[2] = {zero, zero};
    for (int v = 0; v < 2; ++v) {
      if (ep->bias) bias[v] = load_lanes(ep->bias + 8 * v, full, mask[v]);
    }
    auto relu = [&](__m256 x) { return _mm256_max_ps(zero, x); };  // returns x when x is NaN
    if (ep->bias && ep->relu) {
      store_rows([&](__m256 x, int v, int) { return relu(_mm256_add_ps(x, bias[v])); });
    } else if (ep->bias) {
      store_rows([&](__m256 x, int v, int) { return _mm256_add_ps(x, bias[v]); });
    } else {
      store_rows([&](__m256 x, int, int) { return relu(x); });
    }
  } else {
    // Times act'(.) through the stored output y (as activation_backward computes it).
    auto y_at = [&](int v, int i) { return load_lanes(ep->y + i * ep->ld_y + 8 * v, full, mask[v]); };
    switch (ep->derivative) {
      case Activation::relu:
        store_rows([&](__m256 x, int v, int i) {
          return _mm256_and_ps(x, _mm256_cmp_ps(y_at(v, i), zero, _CMP_GT_OQ));
        });
        break;
      case Activation::sigmoid:
        store_rows([&](__m256 x, int v, int i) {
          const __m256 y = y_at(v, i);
          return _mm256_mul_ps(x, _mm256_mul_ps(y, _mm256_sub_ps(one, y)));
        });
        break;
      case Activation::tanh:  // (1 - y)(1 + y): accurate near |y| = 1 (elementwise_impl.h)
        store_rows([&](__m256 x, int v, int i) {
          const __m256 y = y_at(v, i);
          return _mm256_mul_ps(x, _mm256_mul_ps(_mm256_sub_ps(one, y), _mm256_add_ps(one, y)));
        });
        break;
      case Activation::identity: store_rows([](__m256 x, int, int) { return x; }); break;
    }
  }
}

void sgemm_ukr_avx2_6x16(std::size_t kc, const float* a, std::ptrdiff_t rs_a, std::ptrdiff_t cs_a,
                         const float* b, std::ptrdiff_t rs_b, float* c, std::ptrdiff_t ldc, int m,
                         int n, float alpha, float beta, const mlpcore::TileEpilogue* ep) {
  call_with_rows<kMR, 4, 2>(m, [&](auto rows) {
    constexpr int R = decltype(rows)::value;
    if (rs_a == 1 && m == R) {
      tile_rows<R, AWalk::column>(kc, a, rs_a, cs_a, b, rs_b, c, ldc, m, n, alpha, beta, ep);
    } else {
      tile_rows<R, AWalk::row_pointers>(kc, a, rs_a, cs_a, b, rs_b, c, ldc, m, n, alpha, beta, ep);
    }
  });
}

// A's sliver is the sliver of op(A)^T (pack_portable.h), mr wide.
void sgemm_pack_a_avx2(bool trans, const float* a, std::size_t lda, std::size_t rows,
                       std::size_t kb, float* dst) {
  pack_sliver_x86<kMR>(!trans, a, lda, rows, kb, dst);
}

void sgemm_pack_b_avx2(bool trans, const float* b, std::size_t ldb, std::size_t cols,
                       std::size_t kb, float* dst) {
  pack_sliver_x86<kNR>(trans, b, ldb, cols, kb, dst);
}

}  // namespace

namespace mlpcore {

void fill_sgemm_avx2(KernelTable& table) {
  table.sgemm_ukr = sgemm_ukr_avx2_6x16;
  table.sgemm_pack_a = sgemm_pack_a_avx2;
  table.sgemm_pack_b = sgemm_pack_b_avx2;
  // Defaults for when no cache size can be read (gemm_blocking.h derives them).
  table.sgemm_blocking = GemmBlocking{kMR, kNR, 252, 512, 2048};
}

}  // namespace mlpcore
