// SGD over a CudaNetwork's device parameters, torch.optim.SGD semantics as
// mlpcore::Sgd, with the momentum buffer on the device.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "mlpcore/cuda/device.h"
#include "mlpcore/sgd.h"

namespace mlpcore::cuda {

class CudaSgd {
 public:
  CudaSgd(SgdConfig config, std::size_t param_count);

  const SgdConfig& config() const { return config_; }
  void set_config(const SgdConfig& config);
  // Parameter ranges [begin, end) that get no weight decay; empty by default.
  void set_decay_exempt(const std::vector<std::pair<std::size_t, std::size_t>>& ranges);

  // One update of every parameter (device pointers). When skip is not null the
  // update happens only if *skip (device memory) is 0 at the time it runs.
  void step(float* params, const float* grads, const int* skip = nullptr);
  // Steps issued since construction; the trainer corrects it for skipped ones.
  std::size_t steps() const { return steps_; }
  void set_steps(std::size_t steps) { steps_ = steps; }
  std::size_t size() const { return size_; }

  // Settings (from only), momentum and step count from / to a host optimizer
  // of the same size. The decay exemptions are this object's own.
  void copy_state_from(Sgd& host);
  void copy_state_to(Sgd& host) const;

 private:
  SgdConfig config_;
  std::size_t size_;
  std::size_t steps_ = 0;
  std::vector<DecaySpan> ranges_;
  DeviceArray<float> velocity_;
};

}  // namespace mlpcore::cuda
