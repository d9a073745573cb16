#include "mlpcore/cuda/sgd.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "mlpcore/cuda/kernels.h"

namespace mlpcore::cuda {

CudaSgd::CudaSgd(SgdConfig config, std::size_t param_count) : config_(config), size_(param_count) {
  validate(config_);
  require_device();
  velocity_.resize(param_count);
  set_decay_exempt({});
}

void CudaSgd::set_config(const SgdConfig& config) {
  validate(config);
  config_ = config;
}

void CudaSgd::set_decay_exempt(const std::vector<std::pair<std::size_t, std::size_t>>& ranges) {
  std::vector<std::pair<std::size_t, std::size_t>> sorted(ranges);
  std::sort(sorted.begin(), sorted.end());
  std::vector<Range> out;
  auto add = [&](std::size_t begin, std::size_t end, bool decay) {
    if (end > begin) out.push_back({begin, end - begin, decay});
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
  ranges_ = std::move(out);
}

void CudaSgd::step(float* params, const float* grads, const int* skip) {
  const bool first = steps_ == 0;
  for (const Range& r : ranges_) {
    SgdConfig c = config_;
    if (!r.decay) c.weight_decay = 0.0f;
    cuda::sgd_step(r.size, params + r.begin, grads + r.begin, velocity_.data() + r.begin, c, first, skip);
  }
  ++steps_;
}

void CudaSgd::copy_state_from(Sgd& host) {
  if (host.size() != size_) throw std::invalid_argument("optimizer: the host optimizer has a different size");
  config_ = host.config();
  velocity_.upload(host.velocity(), size_);
  steps_ = host.steps();
}

void CudaSgd::copy_state_to(Sgd& host) const {
  if (host.size() != size_) throw std::invalid_argument("optimizer: the host optimizer has a different size");
  velocity_.download(host.velocity(), size_);
  host.set_steps(steps_);
}

}  // namespace mlpcore::cuda
