#include "mlpcore/cuda/trainer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "mlpcore/cuda/kernels.h"

namespace mlpcore::cuda {

void DeviceDataset::upload(const Dataset& host, std::size_t input_dim, std::size_t output_dim) {
  rows = host.rows;
  x.upload(host.x, rows * input_dim);
  has_labels = host.targets.labels != nullptr;
  if (has_labels) {
    labels.upload(host.targets.labels, rows);
  } else {
    dense.upload(host.targets.dense, rows * output_dim);
  }
  has_weight = host.sample_weight != nullptr;
  if (has_weight) weight.upload(host.sample_weight, rows);
}

Targets DeviceDataset::targets() const {
  Targets t;
  t.labels = has_labels ? labels.data() : nullptr;
  t.dense = has_labels ? nullptr : dense.data();
  return t;
}

namespace {

// Predictions judged for accuracy in a batch, as count_correct counts them.
std::size_t judged_in(LossKind loss, std::size_t rows, std::size_t cols) {
  if (loss == LossKind::cross_entropy) return rows;
  if (loss == LossKind::binary_cross_entropy) return rows * cols;
  return 0;
}

// Steps between looks at the divergence flag: rare enough not to stall the
// queue, often enough not to run long past a diverged batch.
constexpr std::size_t kPollSteps = 32;

}  // namespace

CudaTrainer::CudaTrainer(CudaNetwork& net, CudaSgd& sgd, LossKind loss, std::size_t batch_size)
    : net_(net), sgd_(sgd), loss_(loss), batch_size_(batch_size) {
  if (batch_size == 0) throw std::invalid_argument("batch_size: expected a positive integer, got 0");
  if (sgd.size() != net.param_count()) {
    throw std::invalid_argument("optimizer: its state does not match this network's parameters");
  }
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    act_buffers_.emplace_back(batch_size * net.fan_out(l));
    acts_.push_back(act_buffers_.back().data());
  }
  delta_.resize(batch_size * net.max_width());
  scratch_.resize(batch_size * net.max_width());
  batch_x_.resize(batch_size * net.input_dim());
  batch_dense_.resize(batch_size * net.output_dim());
  batch_weight_.resize(batch_size);
  batch_labels_.resize(batch_size);
  row_loss_.resize(batch_size);
  row_correct_.resize(batch_size);
  diverged_.resize(1);
}

void CudaTrainer::load_data(const Dataset& data) {
  if (data.rows > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("X: at most 2^32 - 1 rows per fit");
  }
  data_loaded_ = false;
  data_.upload(data, net_.input_dim(), net_.output_dim());
  const std::size_t steps = (data.rows + batch_size_ - 1) / batch_size_;
  step_loss_.resize(steps);
  step_correct_.resize(steps);
  data_loaded_ = true;
}

EpochStats CudaTrainer::run_epoch(bool shuffle, std::uint64_t seed, std::uint64_t epoch,
                                  const std::function<bool()>& interrupted) {
  if (!data_loaded_) throw std::logic_error("run_epoch: no data on the device; call load_data first");
  const std::size_t n_rows = data_.rows, d = net_.input_dim(), out = net_.output_dim();
  if (shuffle) {
    shuffled_order(n_rows, seed, epoch, order_);  // the CPU trainer's order, drawn on the host, sent once
    device_order_.upload(order_.data(), n_rows);
  }
  fill_zero(diverged_.data(), sizeof(int));
  const std::size_t steps_before = sgd_.steps();
  const Targets all = data_.targets();

  EpochStats stats;
  std::size_t issued = 0;
  for (std::size_t start = 0; start < n_rows; start += batch_size_) {
    if (interrupted && interrupted()) {
      stats.interrupted = true;
      break;
    }
    if (issued > 0 && issued % kPollSteps == 0) {
      int flag = 0;
      diverged_.download(&flag, 1);
      if (flag) break;  // the steps after it were skipped; stop issuing more
    }
    const std::size_t rows = std::min(batch_size_, n_rows - start);
    const float* x;
    Targets t;
    const float* w = nullptr;
    if (shuffle) {
      const std::uint32_t* idx = device_order_.data() + start;
      cuda::gather_rows(rows, d, data_.x.data(), idx, batch_x_.data());
      x = batch_x_.data();
      if (all.labels) {
        cuda::gather_labels(rows, all.labels, idx, batch_labels_.data());
        t.labels = batch_labels_.data();
      } else {
        cuda::gather_rows(rows, out, all.dense, idx, batch_dense_.data());
        t.dense = batch_dense_.data();
      }
      if (data_.has_weight) {
        cuda::gather_rows(rows, 1, data_.weight.data(), idx, batch_weight_.data());
        w = batch_weight_.data();
      }
    } else {
      x = data_.x.data() + start * d;
      t.labels = all.labels ? all.labels + start : nullptr;
      t.dense = all.dense ? all.dense + start * out : nullptr;
      w = data_.has_weight ? data_.weight.data() + start : nullptr;
    }

    const float* logits = net_.forward(x, rows, acts_);
    const double norm = loss_normalizer(loss_, rows, out);
    cuda::loss_rows(loss_, rows, out, logits, t, w, delta_.data(), static_cast<float>(1.0 / norm), row_loss_.data(),
              row_correct_.data());
    cuda::reduce_batch(rows, row_loss_.data(), row_correct_.data(), norm, step_loss_.data() + issued,
                 step_correct_.data() + issued, diverged_.data());
    net_.backward(x, rows, acts_, delta_.data(), scratch_.data());
    sgd_.step(net_.params(), net_.grads(), diverged_.data());  // skipped once a batch has diverged
    ++issued;
  }

  // Read the batch results back and count only the steps before a diverged
  // batch: those are exactly the updates the parameters received.
  const std::vector<double> losses = step_loss_.to_vector(issued);
  const std::vector<long long> correct = step_correct_.to_vector(issued);
  for (std::size_t i = 0; i < issued; ++i) {
    if (!std::isfinite(losses[i])) {
      stats.diverged = true;
      break;
    }
    const std::size_t rows = std::min(batch_size_, n_rows - i * batch_size_);
    stats.loss_sum += losses[i] * static_cast<double>(rows);
    stats.correct += static_cast<std::size_t>(correct[i]);
    stats.judged += judged_in(loss_, rows, out);
    stats.rows += rows;
    ++stats.steps;
  }
  sgd_.set_steps(steps_before + stats.steps);
  return stats;
}

EpochStats evaluate(const CudaNetwork& net, LossKind loss, const Dataset& data) {
  EpochStats stats;
  constexpr std::size_t kChunk = 4096;
  const std::size_t d = net.input_dim(), out = net.output_dim();
  const std::size_t chunk = std::min(kChunk, data.rows);
  DeviceArray<float> x(chunk * d), dense(chunk * out), weight(chunk);
  DeviceArray<std::int32_t> labels(chunk);
  DeviceArray<double> row_loss(chunk), batch_loss(1);
  DeviceArray<int> row_correct(chunk);
  DeviceArray<long long> batch_correct(1);
  std::vector<DeviceArray<float>> buffers;
  std::vector<float*> acts;
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    buffers.emplace_back(chunk * net.fan_out(l));
    acts.push_back(buffers.back().data());
  }
  for (std::size_t start = 0; start < data.rows; start += kChunk) {
    const std::size_t rows = std::min(kChunk, data.rows - start);
    copy_to_device(x.data(), data.x + start * d, rows * d * sizeof(float));
    Targets t;
    if (data.targets.labels) {
      copy_to_device(labels.data(), data.targets.labels + start, rows * sizeof(std::int32_t));
      t.labels = labels.data();
    } else {
      copy_to_device(dense.data(), data.targets.dense + start * out, rows * out * sizeof(float));
      t.dense = dense.data();
    }
    const float* w = nullptr;
    if (data.sample_weight) {
      copy_to_device(weight.data(), data.sample_weight + start, rows * sizeof(float));
      w = weight.data();
    }
    const float* logits = net.forward(x.data(), rows, acts);
    cuda::loss_rows(loss, rows, out, logits, t, w, nullptr, 0.0f, row_loss.data(), row_correct.data());
    cuda::reduce_batch(rows, row_loss.data(), row_correct.data(), loss_normalizer(loss, rows, out),
                 batch_loss.data(), batch_correct.data(), nullptr);
    double value = 0.0;
    long long correct = 0;
    batch_loss.download(&value, 1);
    batch_correct.download(&correct, 1);
    stats.loss_sum += value * static_cast<double>(rows);
    stats.correct += static_cast<std::size_t>(correct);
    stats.judged += judged_in(loss, rows, out);
    stats.rows += rows;
  }
  return stats;
}

}  // namespace mlpcore::cuda
