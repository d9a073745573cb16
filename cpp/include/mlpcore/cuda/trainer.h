// The training loop on the GPU, as mlpcore::Trainer: the same seeded shuffle
// (so a CPU and a GPU run see the same batches), gather, forward, fused loss and
// gradient, backward and SGD step. The data is copied to the device once
// (load_data) and batches are gathered there. Batch losses and accuracy counts
// stay on the device until the epoch ends (or every few dozen steps, to stop
// early after a diverged batch), so the host never waits on a single step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "mlpcore/cuda/device.h"
#include "mlpcore/cuda/network.h"
#include "mlpcore/cuda/sgd.h"
#include "mlpcore/losses.h"
#include "mlpcore/trainer.h"

namespace mlpcore::cuda {

// A dataset copied to the device.
struct DeviceDataset {
  std::size_t rows = 0;
  DeviceArray<float> x, dense, weight;
  DeviceArray<std::int32_t> labels;
  bool has_labels = false, has_weight = false;

  void upload(const Dataset& host, std::size_t input_dim, std::size_t output_dim);
  Targets targets() const;  // device pointers
};

class CudaTrainer {
 public:
  CudaTrainer(CudaNetwork& net, CudaSgd& sgd, LossKind loss, std::size_t batch_size);

  const CudaNetwork& network() const { return net_; }
  LossKind loss() const { return loss_; }

  // Copies the data to the device; run_epoch trains on it until the next load.
  void load_data(const Dataset& data);
  bool has_data() const { return data_loaded_; }

  // As Trainer::run_epoch, on the loaded data.
  EpochStats run_epoch(bool shuffle, std::uint64_t seed, std::uint64_t epoch,
                       const std::function<bool()>& interrupted);

 private:
  CudaNetwork& net_;
  CudaSgd& sgd_;
  LossKind loss_;
  std::size_t batch_size_;
  bool data_loaded_ = false;
  DeviceDataset data_;
  std::vector<DeviceArray<float>> act_buffers_;
  std::vector<float*> acts_;
  DeviceArray<float> delta_, scratch_, batch_x_, batch_dense_, batch_weight_;
  DeviceArray<std::int32_t> batch_labels_;
  DeviceArray<double> row_loss_, step_loss_;
  DeviceArray<int> row_correct_, diverged_;
  DeviceArray<long long> step_correct_;
  std::vector<std::uint32_t> order_;
  DeviceArray<std::uint32_t> device_order_;
};

// Loss and accuracy of a host dataset, computed on the device in chunks.
EpochStats evaluate(const CudaNetwork& net, LossKind loss, const Dataset& data);

}  // namespace mlpcore::cuda
