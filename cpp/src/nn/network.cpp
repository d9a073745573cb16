#include "mlpcore/network.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#include "mlpcore/random.h"
#include "mlpcore/threads.h"

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

Network::Network(std::size_t input_dim, std::vector<DenseSpec> layers, std::uint64_t seed, const Backend& backend)
    : backend_(&backend), input_dim_(input_dim), specs_(std::move(layers)) {
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
  params_ = DeviceBuffer<float>(backend, param_count_);
  grads_ = DeviceBuffer<float>(backend, param_count_);
  // Drawn on the host a layer at a time (no host copy of the whole buffer).
  std::vector<float> host;
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
    const std::size_t nw = fan_in(l) * fan_out(l), nb = fan_out(l);
    host.resize(nw + nb);
    for (std::size_t i = 0; i < nw; ++i) host[i] = rng.uniform(-w_bound, w_bound);
    for (std::size_t j = 0; j < nb; ++j) host[nw + j] = b_bound == 0.0f ? 0.0f : rng.uniform(-b_bound, b_bound);
    params_.upload_range(weight_offset(l), host.data(), nw + nb);  // b follows W
  }
}

void Network::to(const Backend& backend) {
  if (&backend == backend_) return;
  std::vector<float> host(param_count_);
  download_params(host.data());
  DeviceBuffer<float> params(backend, param_count_), grads(backend, param_count_);
  params.upload(host.data(), param_count_);
  params_ = std::move(params);
  grads_ = std::move(grads);
  backend_ = &backend;
}

std::vector<std::pair<std::size_t, std::size_t>> Network::bias_ranges() const {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (std::size_t l = 0; l < num_layers(); ++l) ranges.emplace_back(bias_offset(l), bias_offset(l) + fan_out(l));
  return ranges;
}

double Network::weights_squared_norm() const {
  std::vector<std::pair<std::size_t, std::size_t>> weights;
  for (std::size_t l = 0; l < num_layers(); ++l) weights.emplace_back(weight_offset(l), fan_in(l) * fan_out(l));
  return backend_->squared_norm(params_.data(), weights);
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
    backend_->sgemm(Trans::no, Trans::no, rows, n, k, 1.0f, in, k, params_.data() + weight_offset(l), n, 0.0f,
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
    backend_->activation_backward(activation(last), rows * fan_out(last), acts[last], delta, delta);
  }
  double bound = 0.0;
  for (std::size_t l = num_layers(); l-- > 0;) {
    const std::size_t k = fan_in(l), n = fan_out(l);
    const float* in = l == 0 ? x : acts[l - 1];
    if (gradient_bound) {
      // |dW| <= rows max|X| max|dZ|, |db| <= rows max|dZ|, partial sums included.
      const double in_max = backend_->max_abs(rows * k, in), dz_max = backend_->max_abs(rows * n, delta);
      const double layer = static_cast<double>(rows) * dz_max * std::max(in_max, 1.0);
      bound = layer > bound || !(layer == layer) ? layer : bound;  // NaN (non-finite inputs) wins
    }
    Epilogue bias_grad;
    bias_grad.b_column_sums = grads_.data() + bias_offset(l);
    backend_->sgemm(Trans::yes, Trans::no, k, n, rows, 1.0f, in, k, delta, n, 0.0f,
                    grads_.data() + weight_offset(l), n, bias_grad);
    if (l > 0) {
      Epilogue derivative;
      if (activation(l - 1) != Activation::identity) {
        derivative.act = activation(l - 1);
        derivative.act_output = acts[l - 1];
        derivative.ld_act_output = k;
      }
      backend_->sgemm(Trans::no, Trans::yes, rows, k, n, 1.0f, delta, n, params_.data() + weight_offset(l), n,
                      0.0f, scratch, k, derivative);
      std::swap(delta, scratch);
    } else if (input_grad) {
      // dX = dZ0 W0^T: the inputs have no activation, so no epilogue.
      backend_->sgemm(Trans::no, Trans::yes, rows, k, n, 1.0f, delta, n, params_.data() + weight_offset(0), n,
                      0.0f, input_grad, k, Epilogue{});
    }
  }
  if (gradient_bound) *gradient_bound = bound;
}

namespace {

// One thread's predict buffers on one backend: the input chunk (where the
// backend cannot read the host's), every layer's output.
struct PredictWorkspace {
  DeviceBuffer<float> x, layers;
};

PredictWorkspace& predict_workspace(const Backend& backend) {
  thread_local PredictWorkspace per_device[2];
  PredictWorkspace& w = per_device[static_cast<int>(backend.device)];
  if (&w.layers.backend() != &backend) w = PredictWorkspace{DeviceBuffer<float>(backend, 0), DeviceBuffer<float>(backend, 0)};
  return w;
}

// Whether predict keeps layer l's output in its workspace: every layer's but
// the last, which goes straight into the caller's array where the backend
// reads host memory.
bool kept_in_workspace(const Network& net, std::size_t l) {
  return l + 1 < net.num_layers() || !net.backend().host_memory;
}

// Floats of the layer outputs predict_in_chunks keeps for chunks of `chunk` rows.
std::size_t predict_floats(const Network& net, std::size_t chunk) {
  std::size_t floats = 0;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    if (kept_in_workspace(net, l)) floats += chunk * round_up(net.fan_out(l));
  }
  return floats;
}

// Outputs for `rows` rows into host `out`, a chunk at a time; rows_at(r, n)
// gives rows r .. r + n of the input in backend memory.
template <class RowsAt>
void predict_in_chunks(const Network& net, std::size_t rows, std::size_t chunk_rows, float* out,
                       std::optional<LossKind> transform, PredictWorkspace& ws, RowsAt&& rows_at) {
  // Chunks of rows keep the intermediate outputs in cache and the workspace
  // small; the workspace belongs to the calling thread and only grows, so
  // repeated calls allocate nothing and concurrent callers never share it.
  // Where the backend reads host memory the last layer writes straight into out.
  const Backend& backend = net.backend();
  const std::size_t layers = net.num_layers(), outputs = net.output_dim();
  const std::size_t chunk = std::min(rows, chunk_rows);
  const bool direct = backend.host_memory;
  ws.layers.resize(predict_floats(net, chunk));
  std::vector<float*> acts(layers);
  float* next = ws.layers.data();
  for (std::size_t l = 0; l < layers; ++l) {
    if (!kept_in_workspace(net, l)) continue;
    acts[l] = next;
    next += chunk * round_up(net.fan_out(l));
  }
  for (std::size_t r = 0; r < rows; r += chunk) {
    const std::size_t n = std::min(chunk, rows - r);
    if (direct) acts[layers - 1] = out + r * outputs;
    float* logits = const_cast<float*>(net.forward(rows_at(r, n), n, acts));
    if (transform) backend.output_transform(*transform, n, outputs, logits);
    if (!direct) backend.download(out + r * outputs, logits, n * outputs * sizeof(float));
  }
}

// A predict split among the host's threads by rows: each thread claims blocks
// of `block` rows and takes each through every layer on its own (its products
// on one thread), so no thread waits for another between layers, and one
// slowed by another process claims fewer blocks. A row's outputs are the same
// bits in any block (a product sums each row of C alike wherever it sits).
// Every workspace is sized before the team starts; an error inside it (a
// product's packing space that cannot grow) is raised after it ends.
void predict_split(const Network& net, const float* x, std::size_t rows, float* out,
                   std::optional<LossKind> transform, int team, std::size_t block) {
  const Backend& backend = net.backend();
  // The calling thread's, named by reference: inside the team the thread_local
  // itself would name each worker's own (empty) instance.
  thread_local std::vector<PredictWorkspace> caller_spaces;
  std::vector<PredictWorkspace>& spaces = caller_spaces;
  for (std::size_t t = spaces.size(); t < static_cast<std::size_t>(team); ++t) {
    spaces.push_back(PredictWorkspace{DeviceBuffer<float>(backend, 0), DeviceBuffer<float>(backend, 0)});
  }
  for (int t = 0; t < team; ++t) {
    if (&spaces[t].layers.backend() != &backend) {
      spaces[t] = PredictWorkspace{DeviceBuffer<float>(backend, 0), DeviceBuffer<float>(backend, 0)};
    }
    spaces[t].layers.resize(predict_floats(net, block));
  }
  const std::size_t blocks = (rows + block - 1) / block, in = net.input_dim(), outputs = net.output_dim();
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  run_team(team, [&](int t) {
    ThreadCapGuard one_thread;
    one_thread.set(1);
    try {
      for (std::size_t b; !failed.load(std::memory_order_relaxed) && (b = next.fetch_add(1)) < blocks;) {
        const std::size_t r0 = b * block, n = std::min(block, rows - r0);
        predict_in_chunks(net, n, block, out + r0 * outputs, transform, spaces[t],
                          [&](std::size_t r, std::size_t) { return x + (r0 + r) * in; });
      }
    } catch (...) {
      if (!failed.exchange(true)) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
}

}  // namespace

void Network::predict(const float* x, std::size_t rows, float* out, std::optional<LossKind> transform) const {
  const std::size_t block = backend_->host_memory ? backend_->predict_thread_rows() : 0;
  const int team = block == 0 ? 1 : static_cast<int>(std::min<std::size_t>(max_threads(), rows / block));
  if (team > 1) {
    predict_split(*this, x, rows, out, transform, team, block);
    return;
  }
  PredictWorkspace& ws = predict_workspace(*backend_);
  predict_in_chunks(*this, rows, backend_->predict_chunk_rows, out, transform, ws, [&](std::size_t r, std::size_t n) {
    return stage_in(ws.x, x + r * input_dim_, n * input_dim_);
  });
}

void Network::predict(const CsrRows& x, std::size_t rows, float* out, std::optional<LossKind> transform) const {
  PredictWorkspace& ws = predict_workspace(*backend_);
  CsrStaging staging(*backend_);
  const CsrRows csr = stage_in(staging, x, rows);
  const std::size_t chunk = dense_chunk_rows(std::min(rows, backend_->predict_chunk_rows), input_dim_);
  ws.x.resize(chunk * input_dim_);
  predict_in_chunks(*this, rows, chunk, out, transform, ws, [&](std::size_t r, std::size_t n) {
    backend_->gather_csr_rows(n, input_dim_, csr.from_row(r), nullptr, ws.x.data());
    return static_cast<const float*>(ws.x.data());
  });
}

PassWorkspace::PassWorkspace(const Network& net, std::size_t rows)
    : delta(net.backend(), rows * net.max_width()), scratch(net.backend(), rows * net.max_width()) {
  act_buffers.reserve(net.num_layers());
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    act_buffers.emplace_back(net.backend(), rows * net.fan_out(l));
    acts.push_back(act_buffers.back().data());
  }
}

double PassWorkspace::floats_per_row(const Network& net) {
  double n = 2.0 * static_cast<double>(net.max_width());
  for (std::size_t l = 0; l < net.num_layers(); ++l) n += static_cast<double>(net.fan_out(l));
  return n;
}

}  // namespace mlpcore
