// Sliver packing (SgemmPackB, SgemmPackA) with AVX vectors and 8 x 8
// register transposes, shared by the AVX2 and AVX-512 files (both compile with
// AVX2), included inside their anonymous namespace after pack_portable.h. (The
// including file includes <immintrin.h>.)

// r[j] (8 floats of stored row j) -> r[q] (lane j = old r[j][q]).
inline void transpose_8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// The first W floats of v to d (W = 4, 6 or 8).
template <int W>
inline void store_first(float* d, __m256 v) {
  static_assert(W == 4 || W == 6 || W == 8, "a width of a group of 8 lanes in a sliver of 6, 12, 16 or 32");
  if constexpr (W == 8) {
    _mm256_storeu_ps(d, v);
  } else {
    _mm_storeu_ps(d, _mm256_castps256_ps128(v));
    if constexpr (W == 6) _mm_storel_pi(reinterpret_cast<__m64*>(d + 4), _mm256_extractf128_ps(v, 1));
  }
}

// W floats from s to d (W a multiple of 2).
template <int W>
inline void copy_floats(const float* s, float* d) {
  int j = 0;
#pragma GCC unroll 4
  for (; j + 8 <= W; j += 8) _mm256_storeu_ps(d + j, _mm256_loadu_ps(s + j));
  if constexpr (W % 8 >= 4) {
    _mm_storeu_ps(d + j, _mm_loadu_ps(s + j));
    j += 4;
  }
  if constexpr (W % 4 == 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(d + j),
                  _mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(s + j)));
  }
}

// Columns [0, cols) of kb rows, zero-padded to W (a multiple of 8): masked
// vector loads, for a partial B sliver (the 10 columns of an output layer).
template <int W>
void copy_partial_rows(const float* m, std::size_t ld, std::size_t cols, std::size_t kb, float* dst) {
  __m256i mask[W / 8];
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int h = 0; h < W / 8; ++h) {
    mask[h] = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(cols) - 8 * h), lanes);
  }
  for (std::size_t p = 0; p < kb; ++p) {
#pragma GCC unroll 4
    for (int h = 0; h < W / 8; ++h) {
      _mm256_storeu_ps(dst + p * W + h * 8, _mm256_maskload_ps(m + p * ld + h * 8, mask[h]));
    }
  }
}

// pack_sliver_portable (pack_portable.h) for a sliver W wide (W = 6, 12, 16 or
// 32): full-width slivers as vector copies, or, transposed, through 8 x 8
// register transposes of groups of 8 columns (the last group 4 or 6 wide,
// its missing rows zero); partial untransposed slivers of B through masked
// loads, other partial slivers through the portable code.
template <int W>
void pack_sliver_x86(bool trans, const float* m, std::size_t ld, std::size_t cols, std::size_t kb,
                     float* dst) {
  const bool full = cols == static_cast<std::size_t>(W);
  if (!trans && full) {
    for (std::size_t p = 0; p < kb; ++p) copy_floats<W>(m + p * ld, dst + p * W);
    return;
  }
  if constexpr (W % 8 == 0) {
    if (!trans) {
      copy_partial_rows<W>(m, ld, cols, kb, dst);
      return;
    }
  }
  if (!full) {
    pack_sliver_portable<W>(trans, m, ld, cols, kb, dst);
    return;
  }
  constexpr int kGroups = (W + 7) / 8, kLast = W - 8 * (kGroups - 1);
  std::size_t p = 0;
  for (; p + 8 <= kb; p += 8) {
#pragma GCC unroll 4
    for (int g = 0; g < kGroups; ++g) {
      const int width = g + 1 < kGroups ? 8 : kLast;
      __m256 r[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) r[j] = j < width ? _mm256_loadu_ps(m + (g * 8 + j) * ld + p) : _mm256_setzero_ps();
      transpose_8x8(r);
      float* d = dst + p * W + g * 8;
#pragma GCC unroll 8
      for (int q = 0; q < 8; ++q) {
        if (g + 1 < kGroups) {
          store_first<8>(d + q * W, r[q]);
        } else {
          store_first<kLast>(d + q * W, r[q]);
        }
      }
    }
  }
  if (p < kb) pack_sliver_portable<W>(true, m + p, ld, cols, kb - p, dst + p * W);
}
