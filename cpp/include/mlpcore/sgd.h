// Minibatch SGD over a network's flat parameter buffer, exactly as
// torch.optim.SGD: weight decay is added to the gradient, the momentum buffer
// starts as the first gradient, Nesterov uses g + momentum * v.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "mlpcore/aligned_buffer.h"

namespace mlpcore {

struct SgdConfig {
  float lr = 0.01f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

class Sgd {
 public:
  Sgd(SgdConfig config, std::size_t param_count);

  const SgdConfig& config() const { return config_; }
  void set_config(const SgdConfig& config);
  // One update of all n parameters from their gradients, in one parallel pass.
  void step(float* params, const float* grads);

  // Parameter ranges [begin, end) that get no weight decay (biases, as in
  // scikit-learn's alpha and most L2 setups). Empty by default: torch decays all.
  void set_decay_exempt(const std::vector<std::pair<std::size_t, std::size_t>>& ranges);

  // Momentum buffer and step count: the state a resumed run needs.
  std::size_t steps() const { return steps_; }
  void set_steps(std::size_t steps) { steps_ = steps; }
  float* velocity() { return velocity_.data(); }
  std::size_t size() const { return size_; }

 private:
  SgdConfig config_;
  std::size_t size_;
  std::size_t steps_ = 0;
  AlignedBuffer velocity_;
  // The work of one step, cut into cache-sized pieces, each with or without decay.
  struct Segment {
    std::size_t begin, size;
    bool decay;
  };
  std::vector<Segment> segments_;
};

// Throws std::invalid_argument naming the bad field (lr > 0, momentum in [0, 1),
// weight_decay >= 0, Nesterov needs momentum > 0 and no dampening).
void validate(const SgdConfig& config);

}  // namespace mlpcore
