// Storing a micro-kernel's finished tile: C = alpha * acc + beta * C, trimmed to
// m x n. Included by the micro-kernel files inside their anonymous namespace, for
// edge tiles (full tiles are stored straight from the registers).
// (The including file includes <cstddef> first.)

inline void store_tile(const float* acc, int nr, float* c, std::ptrdiff_t ldc, int m, int n,
                       float alpha, float beta) {
  for (int i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    const float* ai = acc + i * nr;
    if (beta == 0.0f) {
      for (int j = 0; j < n; ++j) ci[j] = alpha * ai[j];
    } else {
      for (int j = 0; j < n; ++j) ci[j] = alpha * ai[j] + beta * ci[j];
    }
  }
}
