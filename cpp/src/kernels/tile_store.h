// Shared pieces of the GEMM micro-kernel files, included by each one inside its
// anonymous namespace (so every ISA gets its own copy, compiled with its own
// flags): the scalar tile store with the epilogue, and the portable sliver packing.
// No std:: inline functions here (see elementwise_impl.h for why).
// (The including file includes <cstddef> and mlpcore/kernel_table.h first.)

// act'(.) through the output y, as TileEpilogue describes.
inline float derivative_through_output(mlpcore::Activation act, float y) {
  switch (act) {
    case mlpcore::Activation::relu: return y > 0.0f ? 1.0f : 0.0f;
    case mlpcore::Activation::sigmoid: return y * (1.0f - y);
    case mlpcore::Activation::tanh: return (1.0f - y) * (1.0f + y);  // see elementwise_impl.h
    case mlpcore::Activation::identity: break;
  }
  return 1.0f;
}

// C = epilogue(alpha * acc + beta * C), trimmed to m x n; acc has rows of nr floats.
inline void store_tile(const float* acc, int nr, float* c, std::ptrdiff_t ldc, int m, int n,
                       float alpha, float beta, const mlpcore::TileEpilogue* ep) {
  for (int i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    const float* ai = acc + i * nr;
    for (int j = 0; j < n; ++j) {
      float v = alpha * ai[j];
      if (beta != 0.0f) v += beta * ci[j];
      if (ep) {
        if (ep->bias) v += ep->bias[j];
        if (ep->relu) v = v < 0.0f ? 0.0f : v;
        if (ep->y) {
          const float y = ep->y[i * ep->ld_y + j];
          if (ep->derivative == mlpcore::Activation::relu) {
            v = y > 0.0f ? v : 0.0f;  // as activation_backward: NaN in dy passes where y > 0
          } else {
            v *= derivative_through_output(ep->derivative, y);
          }
        }
      }
      ci[j] = v;
    }
  }
}

// A compile-time int, to hand template arguments to a generic lambda.
template <int V>
struct IntConstant {
  static constexpr int value = V;
};

// The SIMD micro-kernels' choice of tile: calls tile(rows, step) with rows the
// fewest accumulator rows of {MR, MID, LOW} that cover m, and step NR for a
// packed B (a constant step, which compilers schedule best: one offset register
// for all the rows of A) or 0 for B read in place (rs_b floats a step).
template <int MR, int MID, int LOW, int NR, class Tile>
inline void call_tile(int m, std::ptrdiff_t rs_b, Tile tile) {
  auto with_rows = [&](auto step) {
    if (m > MID) {
      tile(IntConstant<MR>{}, step);
    } else if (m > LOW) {
      tile(IntConstant<MID>{}, step);
    } else {
      tile(IntConstant<LOW>{}, step);
    }
  };
  if (rs_b == NR) {
    with_rows(IntConstant<NR>{});
  } else {
    with_rows(IntConstant<0>{});
  }
}

// Portable sliver packing: kb steps of W floats, step p holding op(M)(p, j)
// for j < cols and zeros after, where op(M)(p, j) = m[p * ld + j], or
// m[j * ld + p] when trans. B's sliver (SgemmPackB) is M = B; A's sliver
// (SgemmPackA) is M = op(A)^T, so its trans is the opposite of A's. The
// untransposed case copies rows; the transposed one reads kBlock consecutive
// values of each stored row and writes them out as kBlock packed steps, so
// both sides stream.
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
