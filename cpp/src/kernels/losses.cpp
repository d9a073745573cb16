// Losses and their gradients in one pass. Output layers are narrow (a few to a
// few hundred columns), so these are portable code; the exp they need is the
// dispatched softmax / sigmoid kernels'.
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

// Softmax cross-entropy of one row: log-sum-exp - sum_j t_j z_j (t sums to 1),
// computed from the row max so large logits never overflow; the gradient is
// softmax - t.
double cross_entropy_row(std::size_t cols, const float* z, const std::int32_t* label,
                         const float* t, float* g, float scale) {
  float zmax = z[0];
  for (std::size_t j = 1; j < cols; ++j) zmax = std::max(zmax, z[j]);
  double sum = 0.0;
  for (std::size_t j = 0; j < cols; ++j) sum += std::exp(static_cast<double>(z[j] - zmax));
  const double lse = std::log(sum) + zmax;
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
    const double inv = 1.0 / sum;
    for (std::size_t j = 0; j < cols; ++j) {
      const double p = std::exp(static_cast<double>(z[j] - zmax)) * inv;
      const double tj = label ? (static_cast<std::size_t>(*label) == j ? 1.0 : 0.0) : t[j];
      g[j] = static_cast<float>((p - tj) * scale);
    }
  }
  return loss;
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
  for (std::size_t r = 0; r < rows; ++r) {
    const float* z = out + r * cols;
    const float* t = targets.dense ? targets.dense + r * cols : nullptr;
    float* g = grad ? grad + r * cols : nullptr;
    const float w = row_weight ? row_weight[r] : 1.0f;
    const float scale = grad_scale * w;
    double row_loss = 0.0;
    switch (kind) {
      case LossKind::cross_entropy:
        row_loss = cross_entropy_row(cols, z, targets.labels ? targets.labels + r : nullptr, t, g, scale);
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
