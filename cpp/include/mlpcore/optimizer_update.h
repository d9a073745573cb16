// What one optimizer update is, as a backend receives it: the kind and the
// step's scalars, the flat buffers it changes and the runs of parameters with
// or without weight decay. The optimizer layer (nn/optimizer.h) fills it in;
// each backend applies it (backend.h) under the same divergence rule.
#pragma once

#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

#include "mlpcore/optimizer_configs.h"
#include "mlpcore/optimizer_steps.h"

namespace mlpcore {

enum class OptimizerKind : int { sgd = 0, adam = 1, rmsprop = 2, adagrad = 3 };  // AdamW: adam, decoupled

// The most state buffers a kind has (Adam with amsgrad, RMSprop centered with momentum).
constexpr int kMaxStates = 3;

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
// and max |state buffer i|, infinite while unknown. Reset (to unknown) whenever
// the parameters or the state were changed by anything but an update.
struct UpdateGuard {
  double param_bound = std::numeric_limits<double>::infinity();
  double state_bound[kMaxStates] = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
                                    std::numeric_limits<double>::infinity()};
  void reset() { *this = UpdateGuard{}; }
};

// One update of `size` parameters (backend memory) by one optimizer.
//   sgd:     state {momentum}; sgd and first_step (the momentum buffer starts as the first gradient)
//   adam:    state {exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad) or null}; adam
//   rmsprop: state {square_avg, grad_avg (centered) or null, momentum buffer (momentum > 0) or null}; rmsprop
//   adagrad: state {sum}; adagrad
// Spans without decay run with weight decay off (Adam's and AdamW's alike).
struct OptimizerUpdate {
  OptimizerKind kind = OptimizerKind::sgd;
  SgdConfig sgd;
  bool first_step = false;
  AdamStep adam;
  RmspropStep rmsprop;
  AdagradStep adagrad;
  const std::vector<DecaySpan>* spans = nullptr;  // cover [0, size), each at most the backend's update_piece
  std::size_t size = 0;
  float* params = nullptr;
  const float* grads = nullptr;
  float* state[kMaxStates] = {nullptr, nullptr, nullptr};
  // An upper bound on |every gradient| known to the caller (infinite: none).
  double gradient_bound = std::numeric_limits<double>::infinity();
};

}  // namespace mlpcore
