// The training loop, written once for every backend: epochs of seeded
// shuffling, batch gather, forward, fused loss and gradient, backward and
// optimizer update, with every buffer allocated once for the largest batch in
// the memory of the network's backend. The data goes to that memory once per
// fit (load_data); the host never waits on a single step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "mlpcore/backend.h"
#include "mlpcore/losses.h"
#include "mlpcore/network.h"
#include "mlpcore/optimizer.h"
#include "mlpcore/step_threads.h"

namespace mlpcore {

// Rows of inputs with their targets (see losses.h) and optional per-row weights.
// The inputs are dense rows x, or (x null) a CSR matrix x_csr whose rows are
// made dense a batch or a chunk at a time (Backend::gather_csr_rows).
struct Dataset {
  const float* x = nullptr;
  CsrRows x_csr;
  std::size_t rows = 0;
  Targets targets;
  const float* sample_weight = nullptr;
  bool sparse() const { return x_csr.present(); }
};

// Sums over an epoch (or an evaluation): mean loss = loss_sum / rows.
struct EpochStats {
  double loss_sum = 0.0;      // sum over batches of (mean batch loss * batch rows)
  std::size_t rows = 0;       // samples seen
  std::size_t correct = 0;    // for classification losses
  std::size_t judged = 0;     // predictions counted for accuracy (0 for MSE)
  std::size_t steps = 0;      // optimizer updates applied
  bool interrupted = false;   // stopped early by the interrupt check
  bool diverged = false;      // stopped at a batch whose loss or update was NaN or infinite
  bool update_refused = false;  // ... the update: a non-finite gradient, or one that overflowed
};

// A host dataset in a backend's memory: copies where the backend cannot read
// the host's, else the host arrays themselves (which must then outlive it).
class DeviceDataset {
 public:
  DeviceDataset(const Backend& backend, const Dataset& host, std::size_t input_dim, std::size_t output_dim);
  const Dataset& view() const { return view_; }

 private:
  DeviceBuffer<float> x_, dense_, weight_;
  DeviceBuffer<std::int32_t> labels_;
  CsrStaging csr_;
  Dataset view_;
};

class Trainer {
 public:
  Trainer(Network& net, Optimizer& optimizer, LossKind loss, std::size_t batch_size);

  const Network& network() const { return net_; }
  const Optimizer& optimizer() const { return opt_; }
  LossKind loss() const { return loss_; }
  std::size_t batch_size() const { return batch_size_; }

  // Bytes of workspace a trainer for `net` needs per row of its batch: every
  // layer's output, two deltas, the gathered inputs, targets and weight.
  static double workspace_bytes_per_row(const Network& net);

  // The data run_epoch trains on until the next load (see DeviceDataset).
  void load_data(const Dataset& data);
  bool has_data() const { return data_.size() == 1; }
  void release_data() { data_.clear(); }

  // One pass over the loaded data. The order is a seeded shuffle (seed, epoch)
  // or the given order. `interrupted` is polled between steps; when it returns
  // true the epoch ends after the last completed step. A batch whose loss,
  // gradient or update is not finite is not applied, nor is any after it: the
  // epoch ends there, with the weights and optimizer state of the last finite
  // step, and the stats (and the optimizer's step count) count only the
  // updates that were applied.
  EpochStats run_epoch(bool shuffle, std::uint64_t seed, std::uint64_t epoch,
                       const std::function<bool()>& interrupted);

 private:
  Network& net_;
  Optimizer& opt_;
  LossKind loss_;
  std::size_t batch_size_;
  std::size_t layer_values_;  // per row: inputs, layer outputs and their derivatives
  const Backend& backend_;
  PassWorkspace pass_;
  DeviceBuffer<float> batch_x_, batch_dense_, batch_weight_;
  DeviceBuffer<std::int32_t> batch_labels_;
  DeviceBuffer<std::uint32_t> order_;
  DeviceBuffer<BatchResult> results_;
  DeviceBuffer<Verdict> verdict_;
  std::vector<DeviceDataset> data_;  // at most one
  std::vector<std::uint32_t> host_order_;
  StepThreads step_threads_;  // kept across epochs: what it measured stays true while the load does
};

// The order of an epoch's samples when shuffling: a Fisher-Yates shuffle of
// 0..rows-1 drawn from Rng(seed, epoch), the same on every backend, so that
// runs on different devices see the same batches.
void shuffled_order(std::size_t rows, std::uint64_t seed, std::uint64_t epoch, std::vector<std::uint32_t>& order);

// Loss and accuracy over a host dataset, without training, on the network's backend.
EpochStats evaluate(const Network& net, LossKind loss, const Dataset& data);

}  // namespace mlpcore
