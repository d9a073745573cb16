// Minibatch SGD over a network's flat parameter buffer, exactly as
// torch.optim.SGD: weight decay is added to the gradient, the momentum buffer
// starts as the first gradient, Nesterov uses g + momentum * v. Its state (the
// momentum buffer) lives in the memory of the backend it was made for; every
// update goes through that backend under the divergence rule (backend.h).
#pragma once

#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

#include "mlpcore/backend.h"
#include "mlpcore/optimizer_update.h"

namespace mlpcore {

class Sgd {
 public:
  Sgd(SgdConfig config, std::size_t param_count, const Backend& backend = cpu_backend());

  const Backend& backend() const { return *backend_; }
  // Moves the state to another backend's memory.
  void to(const Backend& backend);

  const SgdConfig& config() const { return config_; }
  void set_config(const SgdConfig& config);

  // One update of all parameters from their gradients (backend memory), applied
  // only when the gradient and every parameter and momentum value it produces
  // are finite; otherwise *verdict gets `code` and nothing changes. Skipped
  // when *verdict is already set. Counts the update it issued (steps());
  // gradient_bound: an upper bound on |every gradient| (infinite: unknown).
  void update(float* params, const float* grads, Verdict* verdict, Verdict code,
              double gradient_bound = std::numeric_limits<double>::infinity());
  // Forget the magnitude bounds: call after anything but update() changed the
  // parameters or the state.
  void parameters_changed() { guard_.reset(); }

  // Parameter ranges [begin, end) that get no weight decay (biases, as in
  // scikit-learn's alpha and most L2 setups). Empty by default: torch decays all.
  void set_decay_exempt(const std::vector<std::pair<std::size_t, std::size_t>>& ranges);

  // Momentum buffer and step count: the state a resumed run needs.
  std::size_t steps() const { return steps_; }
  void set_steps(std::size_t steps) { steps_ = steps; }
  void download_velocity(float* host) const { velocity_.download(host, size_); }
  void upload_velocity(const float* host);
  const DeviceBuffer<float>& velocity_buffer() const { return velocity_; }
  // Writes into the momentum buffer (call parameters_changed() afterwards).
  DeviceBuffer<float>& velocity_buffer() { return velocity_; }
  std::size_t size() const { return size_; }

 private:
  const Backend* backend_;
  SgdConfig config_;
  std::size_t size_;
  std::size_t steps_ = 0;
  DeviceBuffer<float> velocity_;
  std::vector<std::pair<std::size_t, std::size_t>> exempt_;
  std::vector<DecaySpan> spans_;  // the work of one update, cut at the backend's piece size
  UpdateGuard guard_;
};

}  // namespace mlpcore
