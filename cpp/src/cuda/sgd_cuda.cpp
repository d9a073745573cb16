#include "mlpcore/cuda/sgd.h"

#include <limits>
#include <stdexcept>

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
  ranges_ = decay_spans(ranges, size_, std::numeric_limits<std::size_t>::max());  // one launch a span
}

void CudaSgd::step(float* params, const float* grads, const int* skip) {
  const bool first = steps_ == 0;
  for (const DecaySpan& r : ranges_) {
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
