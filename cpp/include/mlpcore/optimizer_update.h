// What one optimizer update is, as a backend receives it: the settings, the
// flat buffers it changes and the runs of parameters with or without weight
// decay. The optimizer layer (nn/) fills it in; each backend applies it
// (backend.h) under the same divergence rule.
#pragma once

#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

namespace mlpcore {

// torch.optim.SGD's settings.
struct SgdConfig {
  float lr = 0.01f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

// Throws std::invalid_argument naming the bad field (lr > 0, momentum in [0, 1),
// weight_decay >= 0, Nesterov needs momentum > 0 and no dampening).
void validate(const SgdConfig& config);

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

// Magnitude bounds an optimizer carries from update to update, for backends
// that decide finiteness on the host (the CPU): upper bounds on max |parameter|
// and max |momentum|, infinite while unknown. Reset (to unknown) whenever the
// parameters or the state were changed by anything but an update.
struct UpdateGuard {
  double param_bound = std::numeric_limits<double>::infinity();
  double velocity_bound = std::numeric_limits<double>::infinity();
  void reset() { *this = UpdateGuard{}; }
};

// One SGD update of `size` parameters (backend memory).
struct SgdUpdate {
  SgdConfig config;
  const std::vector<DecaySpan>* spans;  // cover [0, size), each at most the backend's update_piece
  std::size_t size;
  float* params;
  const float* grads;
  float* velocity;
  bool first_step;  // the momentum buffer starts as the first gradient
  // An upper bound on |every gradient| known to the caller (infinite: none).
  double gradient_bound = std::numeric_limits<double>::infinity();
};

}  // namespace mlpcore
