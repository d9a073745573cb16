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
