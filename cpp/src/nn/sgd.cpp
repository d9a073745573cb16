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

Sgd::Sgd(SgdConfig config, std::size_t param_count, const Backend& backend)
    : backend_(&backend), config_(config), size_(param_count) {
  validate(config_);
  velocity_ = DeviceBuffer<float>(backend, param_count);
  set_decay_exempt({});
}

void Sgd::to(const Backend& backend) {
  if (&backend == backend_) return;
  std::vector<float> host(size_);
  download_velocity(host.data());
  DeviceBuffer<float> velocity(backend, size_);
  velocity.upload(host.data(), size_);
  velocity_ = std::move(velocity);
  backend_ = &backend;
  set_decay_exempt(exempt_);  // the new backend may cut updates into other pieces
  guard_.reset();
}

void Sgd::set_decay_exempt(const std::vector<std::pair<std::size_t, std::size_t>>& ranges) {
  spans_ = decay_spans(ranges, size_, backend_->update_piece);
  exempt_ = ranges;
}

void Sgd::set_config(const SgdConfig& config) {
  validate(config);
  config_ = config;
}

void Sgd::upload_velocity(const float* host) {
  velocity_.upload(host, size_);
  guard_.reset();
}

void Sgd::update(float* params, const float* grads, Verdict* verdict, Verdict code, double gradient_bound) {
  SgdUpdate u{config_, &spans_, size_, params, grads, velocity_.data(), steps_ == 0, gradient_bound};
  backend_->sgd_update(u, guard_, verdict, code);
  ++steps_;
}

}  // namespace mlpcore
