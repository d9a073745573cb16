// Losses and their gradients in one pass. Output layers are narrow (a few to a
// few hundred columns), so these are portable code; the exp that cross-entropy
// needs comes from the dispatched softmax kernel, in float.
#include "mlpcore/losses.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "mlpcore/dispatch.h"

namespace mlpcore {

double loss_normalizer(LossKind kind, std::size_t rows, std::size_t cols) {
  return kind == LossKind::cross_entropy ? static_cast<double>(rows)
                                         : static_cast<double>(rows) * static_cast<double>(cols);
}

namespace {

// Softmax cross-entropy of one row from its softmax p (float, from the
// dispatched kernel): with m the row's argmax, log-sum-exp = z_m + log(1 + r),
// r = sum_{j != m} exp(z_j - z_m) = (1 - p_m) / p_m, so
//   loss = z_m + log1p(q / p_m) - sum_j t_j z_j,  q = sum_{j != m} p_j.
// Summing q without p_m keeps full relative accuracy when the loss is tiny, and
// nothing underflows to log(0). Writes (p - t) * scale over p when g == p.
double cross_entropy_row(std::size_t cols, const float* z, const float* p, const std::int32_t* label,
                         const float* t, float* g, float scale) {
  std::size_t m = 0;
  for (std::size_t j = 1; j < cols; ++j) m = z[j] > z[m] ? j : m;
  double q = 0.0;
  for (std::size_t j = 0; j < cols; ++j) q += j == m ? 0.0 : static_cast<double>(p[j]);
  const double lse = static_cast<double>(z[m]) + std::log1p(q / static_cast<double>(p[m]));
  double loss;
  if (label) {
    loss = lse - z[*label];
  } else {
    double tz = 0.0, tsum = 0.0;
    for (std::size_t j = 0; j < cols; ++j) {
      tz += static_cast<double>(t[j]) * z[j];
      tsum += t[j];
    }
    loss = tsum * lse - tz;
  }
  if (g) {
    if (label) {
      const float p_label = p[*label];  // read before g (which may be p) is overwritten
      for (std::size_t j = 0; j < cols; ++j) g[j] = p[j] * scale;
      g[*label] = (p_label - 1.0f) * scale;
    } else {
      for (std::size_t j = 0; j < cols; ++j) g[j] = (p[j] - t[j]) * scale;
    }
  }
  return loss;
}

// Softmax probabilities of `rows` rows into p with the dispatched (vectorised)
// kernel; without a gradient buffer they go to per-thread scratch that only grows.
const float* softmax_block(std::size_t rows, std::size_t cols, const float* z, float* grad) {
  if (grad) {
    kernels().softmax_rows(rows, cols, z, grad);
    return grad;
  }
  thread_local std::vector<float> scratch;
  if (scratch.size() < rows * cols) scratch.resize(rows * cols);
  kernels().softmax_rows(rows, cols, z, scratch.data());
  return scratch.data();
}

// Binary cross-entropy on a logit: max(z, 0) - z t + log(1 + exp(-|z|)),
// gradient sigmoid(z) - t.
double bce_row(std::size_t cols, const float* z, const float* t, float* g, float scale) {
  double loss = 0.0;
  for (std::size_t j = 0; j < cols; ++j) {
    const double zj = z[j], tj = t[j];
    loss += std::max(zj, 0.0) - zj * tj + std::log1p(std::exp(-std::abs(zj)));
    if (g) {
      const double s = zj >= 0 ? 1.0 / (1.0 + std::exp(-zj)) : std::exp(zj) / (1.0 + std::exp(zj));
      g[j] = static_cast<float>((s - tj) * scale);
    }
  }
  return loss;
}

double mse_row(std::size_t cols, const float* y, const float* t, float* g, float scale) {
  double loss = 0.0;
  for (std::size_t j = 0; j < cols; ++j) {
    const double d = static_cast<double>(y[j]) - t[j];
    loss += d * d;
    if (g) g[j] = static_cast<float>(2.0 * d * scale);
  }
  return loss;
}

}  // namespace

double loss_sum(LossKind kind, std::size_t rows, std::size_t cols, const float* out,
                const Targets& targets, const float* row_weight, float* grad, float grad_scale) {
  double total = 0.0;
  const float* probs = kind == LossKind::cross_entropy ? softmax_block(rows, cols, out, grad) : nullptr;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* z = out + r * cols;
    const float* t = targets.dense ? targets.dense + r * cols : nullptr;
    float* g = grad ? grad + r * cols : nullptr;
    const float w = row_weight ? row_weight[r] : 1.0f;
    const float scale = grad_scale * w;
    double row_loss = 0.0;
    switch (kind) {
      case LossKind::cross_entropy:
        row_loss = cross_entropy_row(cols, z, probs + r * cols, targets.labels ? targets.labels + r : nullptr,
                                     t, g, scale);
        break;
      case LossKind::binary_cross_entropy: row_loss = bce_row(cols, z, t, g, scale); break;
      case LossKind::mse: row_loss = mse_row(cols, z, t, g, scale); break;
    }
    total += w * row_loss;
  }
  return total;
}

void output_transform(LossKind kind, std::size_t rows, std::size_t cols, float* out) {
  const KernelTable& kt = kernels();
  if (kind == LossKind::cross_entropy) {
    kt.softmax_rows(rows, cols, out, out);
  } else if (kind == LossKind::binary_cross_entropy) {
    kt.act_forward(Activation::sigmoid, rows * cols, out, out);
  }
}

}  // namespace mlpcore
