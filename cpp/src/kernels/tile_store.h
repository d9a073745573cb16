// The portable micro-kernels' tile store: a finished tile of accumulators
// written to C with alpha, beta and the epilogue (bias, ReLU, activation
// derivative), one float at a time. Included by each kernel file that uses it
// inside its anonymous namespace (so every ISA gets its own copy, compiled with
// its own flags). No std:: inline functions here (see elementwise_impl.h for why).
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
