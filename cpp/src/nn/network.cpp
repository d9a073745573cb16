#include "mlpcore/network.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "mlpcore/dispatch.h"
#include "mlpcore/elementwise.h"
#include "mlpcore/gemm.h"
#include "mlpcore/random.h"

namespace mlpcore {
namespace {

// Layers start on a 64-byte boundary of the flat buffer (16 floats).
constexpr std::size_t kAlignFloats = 16;

std::size_t round_up(std::size_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

// n_in * n_out (+ n_out) without overflow; throws for absurd layer sizes.
std::size_t layer_params(std::size_t n_in, std::size_t n_out) {
  constexpr std::size_t kMax = std::size_t{1} << 40;  // 4 TiB of floats: nothing real is this big
  if (n_in > kMax || n_out > kMax || (n_in != 0 && n_out > kMax / n_in)) throw std::bad_alloc();
  return n_in * n_out + n_out;
}

}  // namespace

Network::Network(std::size_t input_dim, std::vector<DenseSpec> layers, std::uint64_t seed)
    : input_dim_(input_dim), specs_(std::move(layers)) {
  if (input_dim_ == 0) throw std::invalid_argument("input_dim: expected a positive size, got 0");
  if (specs_.empty()) throw std::invalid_argument("layers: expected at least one layer, got none");
  for (std::size_t l = 0; l < specs_.size(); ++l) {
    if (specs_[l].units == 0) {
      throw std::invalid_argument("units: expected a positive size for layer " + std::to_string(l) +
                                  ", got 0");
    }
    offsets_.push_back(param_count_);
    param_count_ = round_up(param_count_ + layer_params(fan_in(l), fan_out(l)));
  }
  params_.resize(param_count_);
  grads_.resize(param_count_);

  Rng rng(seed);
  for (std::size_t l = 0; l < specs_.size(); ++l) {
    const double n_in = static_cast<double>(fan_in(l)), n_out = static_cast<double>(fan_out(l));
    float w_bound = static_cast<float>(1.0 / std::sqrt(n_in)), b_bound = w_bound;
    if (specs_[l].init == Init::glorot_uniform) {
      w_bound = static_cast<float>(std::sqrt(6.0 / (n_in + n_out)));
      b_bound = 0.0f;
    } else if (specs_[l].init == Init::he_uniform) {
      w_bound = static_cast<float>(std::sqrt(6.0 / n_in));
      b_bound = 0.0f;
    }
    float* w = params_.data() + weight_offset(l);
    for (std::size_t i = 0, n = fan_in(l) * fan_out(l); i < n; ++i) w[i] = rng.uniform(-w_bound, w_bound);
    float* b = params_.data() + bias_offset(l);
    for (std::size_t j = 0; j < fan_out(l); ++j) b[j] = b_bound == 0.0f ? 0.0f : rng.uniform(-b_bound, b_bound);
  }
}

double Network::weights_squared_norm() const {
  double sum = 0.0;
  for (std::size_t l = 0; l < num_layers(); ++l) {
    const float* w = params_.data() + weight_offset(l);
    const std::size_t n = fan_in(l) * fan_out(l);
    for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(w[i]) * w[i];
  }
  return sum;
}

std::size_t Network::max_width() const {
  std::size_t w = 0;
  for (const auto& s : specs_) w = std::max(w, s.units);
  return w;
}

const float* Network::forward(const float* x, std::size_t rows,
                              const std::vector<float*>& acts) const {
  const float* in = x;
  for (std::size_t l = 0; l < num_layers(); ++l) {
    const std::size_t k = fan_in(l), n = fan_out(l);
    Epilogue ep{params_.data() + bias_offset(l), activation(l)};
    sgemm(Trans::no, Trans::no, rows, n, k, 1.0f, in, k, params_.data() + weight_offset(l), n, 0.0f,
          acts[l], n, ep);
    in = acts[l];
  }
  return in;
}

void Network::backward(const float* x, std::size_t rows, const std::vector<float*>& acts,
                       float* delta, float* scratch, double* gradient_bound, float* input_grad) {
  // delta holds dL/d(output of the last layer): only that layer's activation
  // derivative needs a pass of its own. Then, layer by layer, with dZ = dL/dZ:
  //   dW = X^T dZ, with db = column sums of dZ taken while dZ is packed;
  //   dZ_prev = (dZ W^T) (.) act'(X), the derivative applied to the product's
  //   tiles in registers (X = the previous layer's stored output).
  const std::size_t last = num_layers() - 1;
  if (activation(last) != Activation::identity) {
    activation_backward(activation(last), rows * fan_out(last), acts[last], delta, delta);
  }
  double bound = 0.0;
  for (std::size_t l = num_layers(); l-- > 0;) {
    const std::size_t k = fan_in(l), n = fan_out(l);
    const float* in = l == 0 ? x : acts[l - 1];
    if (gradient_bound) {
      // |dW| <= rows max|X| max|dZ|, |db| <= rows max|dZ|, partial sums included.
      const double in_max = max_abs(rows * k, in), dz_max = max_abs(rows * n, delta);
      const double layer = static_cast<double>(rows) * dz_max * std::max(in_max, 1.0);
      bound = layer > bound || !(layer == layer) ? layer : bound;  // NaN (non-finite inputs) wins
    }
    Epilogue bias_grad;
    bias_grad.b_column_sums = grads_.data() + bias_offset(l);
    sgemm(Trans::yes, Trans::no, k, n, rows, 1.0f, in, k, delta, n, 0.0f,
          grads_.data() + weight_offset(l), n, bias_grad);
    if (l > 0) {
      Epilogue derivative;
      if (activation(l - 1) != Activation::identity) {
        derivative.act = activation(l - 1);
        derivative.act_output = acts[l - 1];
        derivative.ld_act_output = k;
      }
      sgemm(Trans::no, Trans::yes, rows, k, n, 1.0f, delta, n, params_.data() + weight_offset(l), n,
            0.0f, scratch, k, derivative);
      std::swap(delta, scratch);
    } else if (input_grad) {
      // dX = dZ0 W0^T: the inputs have no activation, so no epilogue.
      sgemm(Trans::no, Trans::yes, rows, k, n, 1.0f, delta, n, params_.data() + weight_offset(0), n, 0.0f,
            input_grad, k);
    }
  }
  if (gradient_bound) *gradient_bound = bound;
}

void Network::predict(const float* x, std::size_t rows, float* out) const {
  // Chunks of rows keep the intermediate outputs in cache and the workspace
  // small; the workspace belongs to the calling thread and only grows, so
  // repeated calls allocate nothing and concurrent callers never share it.
  constexpr std::size_t kChunk = 1024;
  const std::size_t chunk = std::min(rows, kChunk);
  thread_local AlignedBuffer workspace;
  thread_local std::vector<float*> acts;
  std::size_t hidden = 0;
  for (std::size_t l = 0; l + 1 < num_layers(); ++l) hidden += chunk * round_up(fan_out(l));
  workspace.resize(hidden);
  acts.resize(num_layers());
  float* next = workspace.data();
  for (std::size_t l = 0; l + 1 < num_layers(); ++l) {
    acts[l] = next;
    next += chunk * round_up(fan_out(l));
  }
  for (std::size_t r = 0; r < rows; r += chunk) {
    const std::size_t nrows = std::min(chunk, rows - r);
    acts[num_layers() - 1] = out + r * output_dim();
    forward(x + r * input_dim_, nrows, acts);
  }
}

}  // namespace mlpcore
