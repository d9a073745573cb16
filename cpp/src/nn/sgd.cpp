#include "mlpcore/sgd.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "mlpcore/dispatch.h"
#include "mlpcore/elementwise.h"
#include "mlpcore/threads.h"

namespace mlpcore {

namespace {
// The shortest decimal that reads back as v ("0.1", not "0.100000"), as Python prints it.
std::string shortest_decimal(float v) {
  char text[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(v));
    if (std::strtof(text, nullptr) == v) break;
  }
  return text;
}
}  // namespace

void validate(const SgdConfig& c) {
  auto bad = [](const char* what, const char* expected, float got) {
    throw std::invalid_argument(std::string(what) + ": expected " + expected + ", got " + shortest_decimal(got));
  };
  if (!(c.lr > 0.0f) || !std::isfinite(c.lr)) bad("lr", "a finite number > 0", c.lr);
  // A subnormal rate is flushed to 0 in native compute (float_env.h): no step would move.
  if (c.lr < std::numeric_limits<float>::min()) bad("lr", "a number >= 1.1754944e-38 (float32's smallest normal)", c.lr);
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
// Fixed pieces of a cache-friendly size, claimed by threads one at a time (a
// thread slowed by another process takes fewer); each element is updated on its own,
// so the split never changes the result.
constexpr std::size_t kChunk = 1 << 15;

// The largest magnitude an update's bounded values may reach and still be
// cleared without a trial: half the float range, ample room for rounding.
constexpr double kSafe = 0.5 * static_cast<double>(std::numeric_limits<float>::max());
constexpr double kUnknown = std::numeric_limits<double>::infinity();
}  // namespace

std::vector<DecaySpan> decay_spans(const std::vector<std::pair<std::size_t, std::size_t>>& exempt,
                                   std::size_t size, std::size_t max_piece) {
  std::vector<std::pair<std::size_t, std::size_t>> sorted(exempt);
  std::sort(sorted.begin(), sorted.end());
  std::vector<DecaySpan> spans;
  auto add = [&](std::size_t begin, std::size_t end, bool decay) {
    for (std::size_t b = begin; b < end;) {
      const std::size_t n = std::min(max_piece, end - b);
      spans.push_back({b, n, decay});
      b += n;
    }
  };
  std::size_t at = 0;
  for (const auto& [begin, end] : sorted) {
    if (begin > end || end > size || begin < at) {
      throw std::invalid_argument("decay_exempt: expected sorted, disjoint ranges within [0, " +
                                  std::to_string(size) + ")");
    }
    add(at, begin, true);
    add(begin, end, false);
    at = end;
  }
  add(at, size, true);
  return spans;
}

Sgd::Sgd(SgdConfig config, std::size_t param_count)
    : config_(config), size_(param_count), param_bound_(kUnknown), velocity_bound_(kUnknown) {
  validate(config_);
  velocity_.resize(param_count);
  set_decay_exempt({});
}

void Sgd::set_decay_exempt(const std::vector<std::pair<std::size_t, std::size_t>>& ranges) {
  segments_ = decay_spans(ranges, size_, kChunk);
}

void Sgd::set_config(const SgdConfig& config) {
  validate(config);
  config_ = config;
}

void Sgd::run_kernel(std::size_t segment, float* params, const float* grads, float* velocity) const {
  const Segment& s = segments_[segment];
  const SgdConfig& c = config_;
  kernels().sgd_step(s.size, params, grads, velocity, c.lr, c.momentum, c.dampening,
                     s.decay ? c.weight_decay : 0.0f, c.nesterov, steps_ == 0);
}

void Sgd::step(float* params, const float* grads) {
  const std::size_t pieces = segments_.size();
  const int nt = pieces > 1 ? threads_for(4.0 * static_cast<double>(size_)) : 1;
  float* v = velocity_.data();
  const Segment* seg = segments_.data();
  auto update = [&](std::size_t i) {
    const std::size_t b = seg[i].begin;
    run_kernel(i, params + b, grads + b, v + b);
  };
  parallel_for_dynamic(nt, pieces, update);
  ++steps_;
}

void Sgd::measure(const float* params) {
  const float p = max_abs(size_, params), v = max_abs(size_, velocity_.data());
  param_bound_ = std::isfinite(p) ? p : kUnknown;
  velocity_bound_ = std::isfinite(v) ? v : kUnknown;
}

// Computes the step chunk by chunk on copies (placed at the same alignment, so
// the kernel takes the same path and gives the same bits) and reports whether
// every result is finite, with the largest magnitudes. Serial: it only runs for
// updates near the float range.
bool Sgd::trial_step(float* params, const float* grads, double& param_max, double& velocity_max) {
  constexpr std::size_t kLine = 16;  // floats per 64 bytes
  const std::size_t stride = kChunk + 2 * kLine;
  trial_.resize(2 * stride);
  const bool momentum = config_.momentum != 0.0f;
  float pm = 0.0f, vm = 0.0f;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    const std::size_t b = segments_[i].begin, n = segments_[i].size;
    float* p = trial_.data() + (reinterpret_cast<std::uintptr_t>(params + b) / sizeof(float)) % kLine;
    float* v = trial_.data() + stride + (reinterpret_cast<std::uintptr_t>(velocity_.data() + b) / sizeof(float)) % kLine;
    std::memcpy(p, params + b, n * sizeof(float));
    std::memcpy(v, velocity_.data() + b, n * sizeof(float));
    run_kernel(i, p, grads + b, v);
    const float p_max = kernels().max_abs(n, p), v_max = momentum ? kernels().max_abs(n, v) : 0.0f;
    if (!std::isfinite(p_max) || !std::isfinite(v_max)) return false;
    pm = std::max(pm, p_max);
    vm = std::max(vm, v_max);
  }
  param_max = pm;
  velocity_max = momentum ? vm : velocity_bound_;
  return true;
}

// Bounds on every value the kernel computes, element by element, given
// |gradient| <= g: the decayed gradient |g + wd p| <= h, the momentum
// |v'| <= momentum |v| + (1 - dampening) h (h on the first step), the step |s|
// (v', or h + momentum v' for Nesterov) and the parameter |p - lr s| <= |p| + lr |s|.
// True when they all stay below kSafe; fills in the bounds after the step.
bool Sgd::bounds_clear(double g, double& param_next, double& velocity_next) const {
  const SgdConfig& c = config_;
  const double h = g + (c.weight_decay != 0.0f ? c.weight_decay * param_bound_ : 0.0);
  double velocity = velocity_bound_, s = h;
  if (c.momentum != 0.0f) {
    velocity = steps_ == 0 ? h : c.momentum * velocity_bound_ + (1.0 - c.dampening) * h;
    s = c.nesterov ? h + c.momentum * velocity : velocity;
  }
  const double lr_s = c.lr * s;
  param_next = param_bound_ + lr_s;
  velocity_next = velocity;
  auto safe = [](double x) { return x <= kSafe; };  // false for NaN too
  return safe(h) && safe(s) && safe(lr_s) && safe(param_next) && (c.momentum == 0.0f || safe(velocity));
}

bool Sgd::step_if_finite(float* params, const float* grads, double gradient_bound) {
  double param, velocity;
  if (!bounds_clear(gradient_bound, param, velocity)) {
    const float g_max = max_abs(size_, grads);  // exact, where the given bound was loose or missing
    if (!std::isfinite(g_max)) return false;
    if (!bounds_clear(g_max, param, velocity) && !trial_step(params, grads, param, velocity)) return false;
  }
  step(params, grads);
  param_bound_ = param;
  velocity_bound_ = velocity;
  return true;
}

}  // namespace mlpcore
