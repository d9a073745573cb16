// Portable sliver packing (SgemmPackB, SgemmPackA in kernel_table.h), for the
// kernels without vector packing and for the edges of those with it.
// Included inside the kernel file's anonymous namespace (each ISA its own copy).
// (The including file includes <cstddef> first.)

// kb steps of W floats, step p holding op(M)(p, j) for j < cols and zeros
// after, where op(M)(p, j) = m[p * ld + j], or m[j * ld + p] when trans. B's
// sliver is M = B; A's sliver is M = op(A)^T, so its trans is the opposite of
// A's. The untransposed case copies rows; the transposed one reads kBlock
// consecutive values of each stored row and writes them out as kBlock packed
// steps, so both sides stream.
template <int W>
void pack_sliver_portable(bool trans, const float* __restrict m, std::size_t ld, std::size_t cols,
                          std::size_t kb, float* __restrict dst) {
  if (!trans) {
    for (std::size_t p = 0; p < kb; ++p, dst += W) {
      const float* src = m + p * ld;
      if (cols == static_cast<std::size_t>(W)) {
        for (int j = 0; j < W; ++j) dst[j] = src[j];
      } else {
        std::size_t j = 0;
        for (; j < cols; ++j) dst[j] = src[j];
        for (; j < static_cast<std::size_t>(W); ++j) dst[j] = 0.0f;
      }
    }
    return;
  }
  constexpr std::size_t kBlock = 8;
  std::size_t p = 0;
  for (; p + kBlock <= kb; p += kBlock) {
    float* d = dst + p * W;
    for (std::size_t j = 0; j < cols; ++j) {
      const float* src = m + j * ld + p;
      for (std::size_t q = 0; q < kBlock; ++q) d[q * W + j] = src[q];
    }
    for (std::size_t j = cols; j < static_cast<std::size_t>(W); ++j) {
      for (std::size_t q = 0; q < kBlock; ++q) d[q * W + j] = 0.0f;
    }
  }
  for (; p < kb; ++p) {
    float* d = dst + p * W;
    std::size_t j = 0;
    for (; j < cols; ++j) d[j] = m[j * ld + p];
    for (; j < static_cast<std::size_t>(W); ++j) d[j] = 0.0f;
  }
}
