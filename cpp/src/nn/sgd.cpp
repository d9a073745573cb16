#include "mlpcore/sgd.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "mlpcore/dispatch.h"
#include "mlpcore/threads.h"

namespace mlpcore {

void validate(const SgdConfig& c) {
  auto bad = [](const char* what, const char* expected, float got) {
    throw std::invalid_argument(std::string(what) + ": expected " + expected + ", got " +
                                std::to_string(got));
  };
  if (!(c.lr > 0.0f) || !std::isfinite(c.lr)) bad("lr", "a finite number > 0", c.lr);
  if (!(c.momentum >= 0.0f && c.momentum < 1.0f)) bad("momentum", "a number in [0, 1)", c.momentum);
  if (!(c.dampening >= 0.0f && c.dampening <= 1.0f)) bad("dampening", "a number in [0, 1]", c.dampening);
  if (!(c.weight_decay >= 0.0f) || !std::isfinite(c.weight_decay)) {
    bad("weight_decay", "a finite number >= 0", c.weight_decay);
  }
  if (c.nesterov && (c.momentum <= 0.0f || c.dampening != 0.0f)) {
    throw std::invalid_argument("nesterov: requires momentum > 0 and dampening == 0");
  }
}

Sgd::Sgd(SgdConfig config, std::size_t param_count) : config_(config), size_(param_count) {
  validate(config_);
  velocity_.resize(param_count);
}

void Sgd::set_config(const SgdConfig& config) {
  validate(config);
  config_ = config;
}

void Sgd::step(float* params, const float* grads) {
  const KernelTable& kt = kernels();
  const bool first = steps_ == 0;
  // Fixed chunks of a cache-friendly size; each element is updated on its own,
  // so the split never changes the result.
  constexpr std::size_t kChunk = 1 << 15;
  const std::size_t chunks = (size_ + kChunk - 1) / kChunk;
  const int nt = threads_for(4.0 * static_cast<double>(size_));
  const SgdConfig c = config_;
  float* v = velocity_.data();
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1 && chunks > 1)
  for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(chunks); ++i) {
    const std::size_t b = static_cast<std::size_t>(i) * kChunk;
    const std::size_t n = std::min(kChunk, size_ - b);
    kt.sgd_step(n, params + b, grads + b, v + b, c.lr, c.momentum, c.dampening, c.weight_decay,
                c.nesterov, first);
  }
  ++steps_;
}

}  // namespace mlpcore
