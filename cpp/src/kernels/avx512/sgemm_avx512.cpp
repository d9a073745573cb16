// AVX-512 GEMM micro-kernel: a 12 x 32 tile of C in 24 zmm accumulators,
// two B loads and one A broadcast per row and step (27 of 32 registers).
// Tiles of the last rows of a product use 10, 8 or 4 rows of accumulators, and
// tiles of at most 16 columns (an output layer's 10) one vector per row. Edge
// tiles and the epilogue (bias, ReLU, activation derivative) are done in
// registers, partial rows through masks.
#include <immintrin.h>

#include <cstddef>

#include "../isa_fillers.h"

namespace {
#include "../pack_portable.h"
#include "../pack_x86.h"
#include "../tile_rows.h"

constexpr int kMR = 12;
constexpr int kNR = 32;

// The rows of a tile are unrolled so that its accumulators live in registers.
// Not in the emulated build (tests only): there each register is a struct in
// memory anyway, and unrolled emulated code takes many times as long to build.
#if defined(MLPCORE_AVX512_EMULATED) || defined(_MSC_VER)
#define MLPCORE_UNROLL_ROWS
#else
#define MLPCORE_UNROLL_ROWS _Pragma("GCC unroll 12")
#endif

inline __mmask16 lane_mask(int n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF)
                 : static_cast<__mmask16>(n <= 0 ? 0u : (1u << n) - 1u);
}

// How a tile reads A, element (i, p) at a[i * rs_a + p * cs_a]:
// - column: rs_a == 1 and all R rows real, so a step's R values are
//   consecutive (a packed sliver, or op(A) = A^T read in place): one pointer,
//   each row at a fixed offset from it;
// - row_pointers: any strides (A read in place, rows lda apart), a pointer per
//   row; rows past m repeat the last real row, computed but never stored.
// Both issue the same FMAs in the same order.
enum class AWalk { column, row_pointers };

// The tile with R rows of accumulators and V vectors of 16 columns per row
// (V = 1 for a tile of at most 16 columns). Each element of C is the same
// chain of FMAs, p ascending, whatever R, V and the walk, so a row of C is
// bitwise the same wherever it sits in a product. B's steps are rs_b floats
// apart; with V = 1 only its columns [0, n) are read, so a partial B may be
// read in place.
template <int R, int V, AWalk WALK>
void tile_rows(std::size_t kc, const float* a, std::ptrdiff_t rs_a, std::ptrdiff_t cs_a,
               const float* b, std::ptrdiff_t rs_b, float* c, std::ptrdiff_t ldc, int m, int n,
               float alpha, float beta, const mlpcore::TileEpilogue* ep) {
  __m512 acc[R][V];
MLPCORE_UNROLL_ROWS
  for (int i = 0; i < R; ++i) {
    acc[i][0] = _mm512_setzero_ps();
    if constexpr (V == 2) acc[i][1] = _mm512_setzero_ps();
  }

  // Start fetching the C tile now; it is read (beta != 0) or written after the
  // k loop. Rows of a large C, ldc apart, are rarely still cached from the last
  // k slice. A short k loop (k = 10 in an output layer's input gradient)
  // could not hide the fetch anyway.
MLPCORE_UNROLL_ROWS
  for (int i = 0; i < R; ++i) {
    if (i < m && kc >= 32) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 8 * V), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16 * V - 1), _MM_HINT_T0);
    }
  }

  const __mmask16 b_mask = lane_mask(n);
  auto step = [&](const float* bp, auto a_of_row) {
    const __m512 b0 = V == 1 ? _mm512_maskz_loadu_ps(b_mask, bp) : _mm512_loadu_ps(bp);
    const __m512 b1 = V == 2 ? _mm512_loadu_ps(bp + 16) : b0;
MLPCORE_UNROLL_ROWS
    for (int i = 0; i < R; ++i) {
      const __m512 ai = _mm512_set1_ps(a_of_row(i));
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      if constexpr (V == 2) acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  };
  if constexpr (WALK == AWalk::column) {
    for (std::size_t p = 0; p < kc; ++p) {
      step(b, [&](int i) { return a[i]; });
      a += cs_a;
      b += rs_b;
    }
  } else {
    const float* row[R];
MLPCORE_UNROLL_ROWS
    for (int i = 0; i < R; ++i) row[i] = a + (i < m ? i : m - 1) * rs_a;
    std::ptrdiff_t off = 0;
    for (std::size_t p = 0; p < kc; ++p) {
      step(b, [&](int i) { return row[i][off]; });
      off += cs_a;
      b += rs_b;
    }
  }

  // C = epilogue(alpha * acc + beta * C), a pass over the rows for each step
  // so that no test is left inside the unrolled rows; alpha == 1 skips the
  // product (1 * x == x). Partial rows through masks.
  if (alpha != 1.0f) {
    const __m512 va = _mm512_set1_ps(alpha);
MLPCORE_UNROLL_ROWS
    for (int i = 0; i < R; ++i) {
      acc[i][0] = _mm512_mul_ps(va, acc[i][0]);
      if constexpr (V == 2) acc[i][1] = _mm512_mul_ps(va, acc[i][1]);
    }
  }
  const __mmask16 mask[2] = {lane_mask(n), lane_mask(n - 16)};
  if (beta != 0.0f) {
    const __m512 vb = _mm512_set1_ps(beta);
MLPCORE_UNROLL_ROWS
    for (int i = 0; i < R; ++i) {
      for (int v = 0; v < V; ++v) {
        if (i < m) acc[i][v] = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], c + i * ldc + 16 * v), acc[i][v]);
      }
    }
  }
  // Each element through f(x, j, y): j its vector's index in the row, y the
  // row of the stored output for a derivative.
  auto store_rows = [&](auto f) {
MLPCORE_UNROLL_ROWS
    for (int i = 0; i < R; ++i) {
      for (int v = 0; v < V; ++v) {
        if (i < m) _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mask[v], f(acc[i][v], v, i));
      }
    }
  };
  using mlpcore::Activation;
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
  if (!ep || (!ep->bias && !ep->relu && !ep->y)) {
    store_rows([](__m512 x, int, int) { return x; });
  } else if (!ep->y) {
    __m512 bias[2] = {zero, zero};
    for (int v = 0; v < V; ++v) {
      if (ep->bias) bias[v] = _mm512_maskz_loadu_ps(mask[v], ep->bias + 16 * v);
    }
    // max(0, x), NaN passing through
    auto relu = [&](__m512 x) { return _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), zero); };
    if (ep->bias && ep->relu) {
      store_rows([&](__m512 x, int v, int) { return relu(_mm512_add_ps(x, bias[v])); });
    } else if (ep->bias) {
      store_rows([&](__m512 x, int v, int) { return _mm512_add_ps(x, bias[v]); });
    } else {
      store_rows([&](__m512 x, int, int) { return relu(x); });
    }
  } else {
    // Times act'(.) through the stored output y (as activation_backward computes it).
    auto y_at = [&](int v, int i) { return _mm512_maskz_loadu_ps(mask[v], ep->y + i * ep->ld_y + 16 * v); };
    switch (ep->derivative) {
      case Activation::relu:
        store_rows([&](__m512 x, int v, int i) {
          return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y_at(v, i), zero, _CMP_GT_OQ), x);
        });
        break;
      case Activation::sigmoid:
        store_rows([&](__m512 x, int v, int i) {
          const __m512 y = y_at(v, i);
          return _mm512_mul_ps(x, _mm512_mul_ps(y, _mm512_sub_ps(one, y)));
        });
        break;
      case Activation::tanh:  // (1 - y)(1 + y): accurate near |y| = 1 (elementwise_impl.h)
        store_rows([&](__m512 x, int v, int i) {
          const __m512 y = y_at(v, i);
          return _mm512_mul_ps(x, _mm512_mul_ps(_mm512_sub_ps(one, y), _mm512_add_ps(one, y)));
        });
        break;
      case Activation::identity: store_rows([](__m512 x, int, int) { return x; }); break;
    }
  }
}

void sgemm_ukr_avx512_12x32(std::size_t kc, const float* a, std::ptrdiff_t rs_a,
                            std::ptrdiff_t cs_a, const float* b, std::ptrdiff_t rs_b, float* c,
                            std::ptrdiff_t ldc, int m, int n, float alpha, float beta,
                            const mlpcore::TileEpilogue* ep) {
  call_with_rows<kMR, 10, 8, 4>(m, [&](auto rows) {
    constexpr int R = decltype(rows)::value;
    auto with_walk = [&](auto vectors) {
      constexpr int V = decltype(vectors)::value;
      if (rs_a == 1 && m == R) {
        tile_rows<R, V, AWalk::column>(kc, a, rs_a, cs_a, b, rs_b, c, ldc, m, n, alpha, beta, ep);
      } else {
        tile_rows<R, V, AWalk::row_pointers>(kc, a, rs_a, cs_a, b, rs_b, c, ldc, m, n, alpha, beta, ep);
      }
    };
    if (n <= 16) {
      with_walk(IntConstant<1>{});
    } else {
      with_walk(IntConstant<2>{});
    }
  });
}

// A's sliver is the sliver of op(A)^T (pack_portable.h), mr wide.
void sgemm_pack_a_avx512(bool trans, const float* a, std::size_t lda, std::size_t rows,
                         std::size_t kb, float* dst) {
  pack_sliver_x86<kMR>(!trans, a, lda, rows, kb, dst);
}

void sgemm_pack_b_avx512(bool trans, const float* b, std::size_t ldb, std::size_t cols,
                         std::size_t kb, float* dst) {
  pack_sliver_x86<kNR>(trans, b, ldb, cols, kb, dst);
}

}  // namespace

namespace mlpcore {

void fill_sgemm_avx512(KernelTable& table) {
  table.sgemm_ukr = sgemm_ukr_avx512_12x32;
  table.sgemm_pack_a = sgemm_pack_a_avx512;
  table.sgemm_pack_b = sgemm_pack_b_avx512;
  // B read in place up to 12 row tiles: its 32-wide sliver outgrows L1 at a deep
  // kc anyway, and the copy would cost more than the strided reads it saves.
  table.sgemm_b_in_place_rows = 12 * kMR;
  table.sgemm_b_in_place_cols = 16;
  // Defaults for when no cache size can be read (gemm_blocking.h derives them).
  table.sgemm_blocking = GemmBlocking{kMR, kNR, 252, 512, 4096};
}

}  // namespace mlpcore
