// Minibatch SGD over a network's flat parameter buffer, exactly as
// torch.optim.SGD: weight decay is added to the gradient, the momentum buffer
// starts as the first gradient, Nesterov uses g + momentum * v.
#pragma once

#include <cstddef>
#include <limits>
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

// A run of parameters [begin, begin + size) updated with or without weight decay.
struct DecaySpan {
  std::size_t begin, size;
  bool decay;
};
// [0, size) cut into spans at the edges of the exempt ranges [begin, end) (no
// decay) and into pieces of at most max_piece. Throws std::invalid_argument
// unless the ranges are disjoint and within [0, size).
std::vector<DecaySpan> decay_spans(const std::vector<std::pair<std::size_t, std::size_t>>& exempt,
                                   std::size_t size, std::size_t max_piece);

class Sgd {
 public:
  Sgd(SgdConfig config, std::size_t param_count);

  const SgdConfig& config() const { return config_; }
  void set_config(const SgdConfig& config);
  // One update of all n parameters from their gradients, in one parallel pass.
  void step(float* params, const float* grads);
  // The same update, applied only when the gradient is finite and every
  // parameter and momentum value it produces stays finite; otherwise returns
  // false and changes nothing, so a diverging run keeps its last good state
  // without a copy of it. Magnitude bounds carried from step to step, with
  // `gradient_bound` (an upper bound on |every gradient|, e.g. from
  // Network::backward; infinite: unknown), clear almost every update at no
  // cost; if they cannot, the gradients' largest magnitude is read, and an
  // update that could still come near the float range is first computed on a
  // scratch copy, a chunk at a time.
  bool step_if_finite(float* params, const float* grads,
                      double gradient_bound = std::numeric_limits<double>::infinity());
  // Starts the bounds from the exact magnitudes of the parameters and momentum;
  // call it after anything but step_if_finite changed them (the trainer does,
  // at each epoch's start). Until then every checked step is computed twice.
  void measure(const float* params);

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
  using Segment = DecaySpan;
  std::vector<Segment> segments_;
  // Upper bounds on max |parameter| and max |momentum| (infinite: unknown).
  double param_bound_, velocity_bound_;
  AlignedBuffer trial_;  // two chunks: a step computed on copies before it is applied

  bool trial_step(float* params, const float* grads, double& param_max, double& velocity_max);
  bool bounds_clear(double gradient_max, double& param_next, double& velocity_next) const;
  void run_kernel(std::size_t segment, float* params, const float* grads, float* velocity) const;
};

// Throws std::invalid_argument naming the bad field (lr > 0, momentum in [0, 1),
// weight_decay >= 0, Nesterov needs momentum > 0 and no dampening).
void validate(const SgdConfig& config);

}  // namespace mlpcore
