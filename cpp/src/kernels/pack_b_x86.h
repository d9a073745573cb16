// Transposed B packing with 8 x 8 AVX register transposes, shared by the AVX2
// and AVX-512 files (both compile with AVX2), included inside their anonymous
// namespace after tile_store.h. (The including file includes <immintrin.h>.)

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

// SgemmPackB for an NR-wide tile (NR a multiple of 8): full-width transposed
// slivers go through register transposes, the rest through the portable code.
template <int NR>
void pack_b_x86(bool trans, const float* b, std::size_t ldb, std::size_t cols, std::size_t kb,
                float* dst) {
  if (!trans) {  // rows of the sliver: vector copies, masked loads for a partial sliver
    if (cols == static_cast<std::size_t>(NR)) {
      for (std::size_t p = 0; p < kb; ++p) {
        const float* src = b + p * ldb;
#pragma GCC unroll 4
        for (int h = 0; h < NR / 8; ++h) _mm256_storeu_ps(dst + p * NR + h * 8, _mm256_loadu_ps(src + h * 8));
      }
      return;
    }
    __m256i mask[NR / 8];
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int h = 0; h < NR / 8; ++h) {
      mask[h] = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(cols) - 8 * h), lanes);
    }
    for (std::size_t p = 0; p < kb; ++p) {
      const float* src = b + p * ldb;
#pragma GCC unroll 4
      for (int h = 0; h < NR / 8; ++h) {
        _mm256_storeu_ps(dst + p * NR + h * 8, _mm256_maskload_ps(src + h * 8, mask[h]));
      }
    }
    return;
  }
  if (cols != static_cast<std::size_t>(NR)) {
    pack_b_portable<NR>(trans, b, ldb, cols, kb, dst);
    return;
  }
  std::size_t p = 0;
  for (; p + 8 <= kb; p += 8) {
#pragma GCC unroll 4
    for (int h = 0; h < NR / 8; ++h) {
      __m256 r[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(b + (h * 8 + j) * ldb + p);
      transpose_8x8(r);
#pragma GCC unroll 8
      for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * NR + h * 8, r[q]);
    }
  }
  if (p < kb) pack_b_portable<NR>(true, b + p, ldb, cols, kb - p, dst + p * NR);
}
