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

namespace {
// Fixed pieces of a cache-friendly size; each element is updated on its own,
// so the split never changes the result.
constexpr std::size_t kChunk = 1 << 15;
}  // namespace

Sgd::Sgd(SgdConfig config, std::size_t param_count) : config_(config), size_(param_count) {
  validate(config_);
  velocity_.resize(param_count);
  set_decay_exempt({});
}

void Sgd::set_decay_exempt(const std::vector<std::pair<std::size_t, std::size_t>>& ranges) {
  std::vector<std::pair<std::size_t, std::size_t>> sorted(ranges);
  std::sort(sorted.begin(), sorted.end());
  segments_.clear();
  auto add = [&](std::size_t begin, std::size_t end, bool decay) {
    for (std::size_t b = begin; b < end; b += kChunk) segments_.push_back({b, std::min(kChunk, end - b), decay});
  };
  std::size_t at = 0;
  for (const auto& [begin, end] : sorted) {
    if (begin > end || end > size_ || begin < at) {
      throw std::invalid_argument("decay_exempt: expected sorted, disjoint ranges within [0, " +
                                  std::to_string(size_) + ")");
    }
    add(at, begin, true);
    add(begin, end, false);
    at = end;
  }
  add(at, size_, true);
}

void Sgd::set_config(const SgdConfig& config) {
  validate(config);
  config_ = config;
}

void Sgd::step(float* params, const float* grads) {
  const KernelTable& kt = kernels();
  const bool first = steps_ == 0;
  const std::size_t pieces = segments_.size();
  const int nt = pieces > 1 ? threads_for(4.0 * static_cast<double>(size_)) : 1;
  const SgdConfig c = config_;
  float* v = velocity_.data();
  const Segment* seg = segments_.data();
  auto update = [&](std::size_t i) {
    const std::size_t b = seg[i].begin;
    kt.sgd_step(seg[i].size, params + b, grads + b, v + b, c.lr, c.momentum, c.dampening,
                seg[i].decay ? c.weight_decay : 0.0f, c.nesterov, first);
  };
  if (nt > 1) {
#pragma omp parallel for schedule(static) num_threads(nt)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(pieces); ++i) update(static_cast<std::size_t>(i));
  } else {  // no OpenMP region at all: a serial one still allocates a team and syncs
    for (std::size_t i = 0; i < pieces; ++i) update(i);
  }
  ++steps_;
}

}  // namespace mlpcore
