// The optimizers over a network's flat parameter buffer, written once for every
// backend and every kind, each exactly as its torch.optim twin: SGD (weight
// decay added to the gradient, the momentum buffer starting as the first
// gradient, Nesterov as there), Adam and AdamW, RMSprop, Adagrad. The state
// buffers live in the memory of the backend the optimizer was made for, laid
// out as the parameters; every update goes through that backend under the
// divergence rule (backend.h).
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "mlpcore/backend.h"
#include "mlpcore/optimizer_configs.h"
#include "mlpcore/optimizer_update.h"

namespace mlpcore {

// One optimizer's kind and settings (only the kind's own config is used).
struct OptimizerSettings {
  OptimizerKind kind = OptimizerKind::sgd;
  SgdConfig sgd;
  AdamConfig adam;  // AdamW: adam.decoupled
  RmspropConfig rmsprop;
  AdagradConfig adagrad;

  double lr() const;
  // The same settings with another learning rate (validated as the kind's own).
  OptimizerSettings with_lr(double lr) const;
};

// Throws std::invalid_argument naming the bad setting (optimizer_configs.h's rules).
void validate(const OptimizerSettings& settings);

class Optimizer {
 public:
  Optimizer(OptimizerSettings settings, std::size_t param_count, const Backend& backend = cpu_backend());

  const Backend& backend() const { return *backend_; }
  // Moves the state to another backend's memory.
  void to(const Backend& backend);

  const OptimizerSettings& settings() const { return settings_; }
  // New settings of the same kind and state layout (a new learning rate, say);
  // std::invalid_argument otherwise.
  void set_settings(const OptimizerSettings& settings);

  // One update of all parameters from their gradients (backend memory), applied
  // only when the gradient and every parameter and state value it produces are
  // finite; otherwise *verdict gets `code` and nothing changes. Skipped when
  // *verdict is already set. Counts the update it issued (steps());
  // gradient_bound: an upper bound on |every gradient| (infinite: unknown).
  void update(float* params, const float* grads, Verdict* verdict, Verdict code,
              double gradient_bound = std::numeric_limits<double>::infinity());
  // Forget the magnitude bounds: call after anything but update() changed the
  // parameters or the state.
  void parameters_changed() { guard_.reset(); }

  // Parameter ranges [begin, end) that get no weight decay (biases, as in
  // scikit-learn's alpha and most L2 setups). Empty by default: torch decays all.
  void set_decay_exempt(const std::vector<std::pair<std::size_t, std::size_t>>& ranges);

  // Updates applied so far (the step count Adam's bias corrections and
  // Adagrad's decay read): with the state, what a resumed run needs.
  std::size_t steps() const { return steps_; }
  void set_steps(std::size_t steps) { steps_ = steps; }
  std::size_t size() const { return size_; }

  // The state buffers, in slot order (optimizer_update.h): a slot holds a
  // buffer exactly when the settings use it. Names are torch.optim's state keys.
  bool has_state(int slot) const { return states_[slot].has_value(); }
  const char* state_name(int slot) const;
  const DeviceBuffer<float>& state(int slot) const { return *states_[slot]; }
  // Writes into a state buffer (parameters_changed() follows by itself on the next epoch).
  DeviceBuffer<float>& state(int slot) { return *states_[slot]; }
  int state_count() const;
  // Every state buffer back to its first value (0; Adagrad's initial accumulator).
  void reset_state();

 private:
  const Backend* backend_;
  OptimizerSettings settings_;
  std::size_t size_;
  std::size_t steps_ = 0;
  std::optional<DeviceBuffer<float>> states_[kMaxStates];
  std::vector<std::pair<std::size_t, std::size_t>> exempt_;
  std::vector<DecaySpan> spans_;  // the work of one update, cut at the backend's piece size
  UpdateGuard guard_;
};

// The slots a kind's settings use (optimizer_update.h), in order.
std::vector<int> state_slots(const OptimizerSettings& settings);

}  // namespace mlpcore
