// The training loop: epochs of seeded shuffling, batch gather, forward, fused
// loss and gradient, backward and SGD step, with every buffer allocated once
// for the largest batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "mlpcore/aligned_buffer.h"
#include "mlpcore/losses.h"
#include "mlpcore/network.h"
#include "mlpcore/sgd.h"
#include "mlpcore/step_threads.h"

namespace mlpcore {

// Rows of inputs with their targets (see losses.h) and optional per-row weights.
struct Dataset {
  const float* x = nullptr;
  std::size_t rows = 0;
  Targets targets;
  const float* sample_weight = nullptr;
};

// Sums over an epoch (or an evaluation): mean loss = loss_sum / rows.
struct EpochStats {
  double loss_sum = 0.0;      // sum over batches of (mean batch loss * batch rows)
  std::size_t rows = 0;       // samples seen
  std::size_t correct = 0;    // for classification losses
  std::size_t judged = 0;     // predictions counted for accuracy (0 for MSE)
  std::size_t steps = 0;      // SGD steps taken
  bool interrupted = false;   // stopped early by the interrupt check
  bool diverged = false;      // stopped at a batch whose loss or update was NaN or infinite
  bool update_refused = false;  // ... the update: a non-finite gradient, or one that overflowed
};

class Trainer {
 public:
  Trainer(Network& net, Sgd& sgd, LossKind loss, std::size_t batch_size);

  const Network& network() const { return net_; }
  const Sgd& optimizer() const { return sgd_; }
  LossKind loss() const { return loss_; }

  // One pass over the data. The order is a seeded shuffle (seed, epoch) or the
  // given order. `interrupted` is polled between steps; when it returns true the
  // epoch ends after the last completed step. A batch whose loss, gradient or
  // update is not finite ends the epoch before that update is applied, so the
  // weights and momentum stay those of the last finite step.
  EpochStats run_epoch(const Dataset& data, bool shuffle, std::uint64_t seed, std::uint64_t epoch,
                       const std::function<bool()>& interrupted);

 private:
  void gather(const Dataset& data, const std::uint32_t* idx, std::size_t rows);

  Network& net_;
  Sgd& sgd_;
  LossKind loss_;
  std::size_t batch_size_;
  std::size_t layer_values_;  // per row: inputs, layer outputs and their derivatives
  std::vector<AlignedBuffer> act_buffers_;
  std::vector<float*> acts_;
  AlignedBuffer delta_, scratch_, batch_x_, batch_dense_, batch_weight_;
  std::vector<std::int32_t> batch_labels_;
  std::vector<std::uint32_t> order_;
  StepThreads step_threads_;  // kept across epochs: what it measured stays true while the load does
};

// The order of an epoch's samples when shuffling: a Fisher-Yates shuffle of
// 0..rows-1 drawn from Rng(seed, epoch), shared by every backend so that a CPU
// and a GPU run see the same batches.
void shuffled_order(std::size_t rows, std::uint64_t seed, std::uint64_t epoch, std::vector<std::uint32_t>& order);

// Loss and accuracy over a dataset, without training (predict in chunks).
EpochStats evaluate(const Network& net, LossKind loss, const Dataset& data);

// Adds to `stats` the correct predictions of a batch of raw outputs: argmax
// against the label (or the target's argmax) for cross-entropy, each output's
// sign against target > 0.5 for binary cross-entropy; nothing for MSE.
void count_correct(LossKind loss, std::size_t rows, std::size_t cols, const float* out,
                   const Targets& targets, EpochStats& stats);

}  // namespace mlpcore
