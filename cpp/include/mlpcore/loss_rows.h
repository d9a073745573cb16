// The losses row by row, written once for every backend: the CPU's loss_sum
// (kernels/losses.cpp) and the CUDA loss kernel (cuda/losses_cuda.cu) both call
// these, so a loss has one formula everywhere. Per-row values are in double;
// softmax probabilities come in from the backend's float softmax kernel.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "mlpcore/losses.h"

#if defined(__CUDACC__)
#define MLPCORE_HOST_DEVICE __host__ __device__
#else
#define MLPCORE_HOST_DEVICE
#endif

namespace mlpcore::loss_rows {

// Index of the first largest element, as std::max_element.
MLPCORE_HOST_DEVICE inline std::size_t argmax(std::size_t cols, const float* z) {
  std::size_t best = 0;
  for (std::size_t j = 1; j < cols; ++j) best = z[j] > z[best] ? j : best;
  return best;
}

// Softmax cross-entropy of one row from its softmax p: with m the row's argmax,
// log-sum-exp = z_m + log(1 + r), r = sum_{j != m} exp(z_j - z_m) = q / p_m with
// q = sum_{j != m} p_j, so loss = z_m + log1p(q / p_m) - sum_j t_j z_j. Summing q
// without p_m keeps full relative accuracy when the loss is tiny, and nothing
// underflows to log(0). With g, writes (p - t) * scale (g may be p).
MLPCORE_HOST_DEVICE inline double cross_entropy(std::size_t cols, const float* z, const float* p,
                                                const std::int32_t* label, const float* t, float* g, float scale) {
  const std::size_t m = argmax(cols, z);
  double q = 0.0;
  for (std::size_t j = 0; j < cols; ++j) q += j == m ? 0.0 : static_cast<double>(p[j]);
  const double lse = static_cast<double>(z[m]) + log1p(q / static_cast<double>(p[m]));
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

// Binary cross-entropy on logits: max(z, 0) - z t + log(1 + exp(-|z|)), gradient sigmoid(z) - t.
MLPCORE_HOST_DEVICE inline double binary_cross_entropy(std::size_t cols, const float* z, const float* t, float* g,
                                                       float scale) {
  double loss = 0.0;
  for (std::size_t j = 0; j < cols; ++j) {
    const double zj = z[j], tj = t[j];
    loss += (zj < 0.0 ? 0.0 : zj) - zj * tj + log1p(exp(-fabs(zj)));
    if (g) {
      const double s = zj >= 0 ? 1.0 / (1.0 + exp(-zj)) : exp(zj) / (1.0 + exp(zj));
      g[j] = static_cast<float>((s - tj) * scale);
    }
  }
  return loss;
}

MLPCORE_HOST_DEVICE inline double squared_error(std::size_t cols, const float* y, const float* t, float* g,
                                                float scale) {
  double loss = 0.0;
  for (std::size_t j = 0; j < cols; ++j) {
    const double d = static_cast<double>(y[j]) - t[j];
    loss += d * d;
    if (g) g[j] = static_cast<float>(2.0 * d * scale);
  }
  return loss;
}

// Poisson deviance with a log link on the outputs z (log means): exp(z) - t z
// (the deviance up to terms that depend on t alone), gradient exp(z) - t.
MLPCORE_HOST_DEVICE inline double poisson(std::size_t cols, const float* z, const float* t, float* g, float scale) {
  double loss = 0.0;
  for (std::size_t j = 0; j < cols; ++j) {
    const double mean = exp(static_cast<double>(z[j]));
    loss += mean - static_cast<double>(t[j]) * z[j];
    if (g) g[j] = static_cast<float>((mean - t[j]) * scale);
  }
  return loss;
}

// One row's loss times its weight w (gradient scaled by grad_scale * w).
// p: the row's softmax (cross-entropy only).
MLPCORE_HOST_DEVICE inline double weighted(LossKind kind, std::size_t cols, const float* z, const float* p,
                                           const std::int32_t* label, const float* t, float w, float* g,
                                           float grad_scale) {
  const float scale = grad_scale * w;
  double loss = 0.0;
  switch (kind) {
    case LossKind::cross_entropy: loss = cross_entropy(cols, z, p, label, t, g, scale); break;
    case LossKind::binary_cross_entropy: loss = binary_cross_entropy(cols, z, t, g, scale); break;
    case LossKind::mse: loss = squared_error(cols, z, t, g, scale); break;
    case LossKind::poisson: loss = poisson(cols, z, t, g, scale); break;
  }
  return w * loss;
}

// Correct predictions in a row of raw outputs: argmax against the label (or the
// target's argmax) for cross-entropy, each output's sign against target > 0.5
// for binary cross-entropy; none for the regression losses.
MLPCORE_HOST_DEVICE inline int correct(LossKind kind, std::size_t cols, const float* z, const std::int32_t* label,
                                       const float* t) {
  if (kind == LossKind::cross_entropy) {
    const std::size_t truth = label ? static_cast<std::size_t>(*label) : argmax(cols, t);
    return argmax(cols, z) == truth ? 1 : 0;
  }
  if (kind == LossKind::binary_cross_entropy) {
    int n = 0;
    for (std::size_t j = 0; j < cols; ++j) n += (z[j] > 0.0f) == (t[j] > 0.5f);
    return n;
  }
  return 0;
}

// Predictions a batch's accuracy counts: one per row for cross-entropy, one
// per output for binary cross-entropy, none for MSE.
MLPCORE_HOST_DEVICE inline std::size_t judged(LossKind kind, std::size_t rows, std::size_t cols) {
  if (kind == LossKind::cross_entropy) return rows;
  if (kind == LossKind::binary_cross_entropy) return rows * cols;
  return 0;
}

}  // namespace mlpcore::loss_rows
