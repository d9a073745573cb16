#include "mlpcore/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "mlpcore/random.h"
#include "mlpcore/threads.h"

namespace mlpcore {

Trainer::Trainer(Network& net, Sgd& sgd, LossKind loss, std::size_t batch_size)
    : net_(net), sgd_(sgd), loss_(loss), batch_size_(batch_size), step_threads_(max_threads()) {
  if (batch_size == 0) throw std::invalid_argument("batch_size: expected a positive integer, got 0");
  if (sgd.size() != net.param_count()) {
    throw std::invalid_argument("optimizer: its state does not match this network's parameters");
  }
  const std::size_t L = net.num_layers();
  act_buffers_.reserve(L);
  for (std::size_t l = 0; l < L; ++l) {
    act_buffers_.emplace_back(batch_size * net.fan_out(l));
    acts_.push_back(act_buffers_.back().data());
  }
  layer_values_ = net.input_dim();
  for (std::size_t l = 0; l < L; ++l) layer_values_ += 2 * net.fan_out(l);  // outputs and their derivatives
  delta_.resize(batch_size * net.max_width());
  scratch_.resize(batch_size * net.max_width());
  batch_x_.resize(batch_size * net.input_dim());
  batch_dense_.resize(batch_size * net.output_dim());
  batch_weight_.resize(batch_size);
  batch_labels_.resize(batch_size);
}

void Trainer::gather(const Dataset& data, const std::uint32_t* idx, std::size_t rows) {
  const std::size_t d = net_.input_dim(), out = net_.output_dim();
  const bool dense = data.targets.labels == nullptr;
  auto copy_rows = [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      const std::size_t src = idx[r];
      std::memcpy(batch_x_.data() + r * d, data.x + src * d, d * sizeof(float));
      if (dense) {
        std::memcpy(batch_dense_.data() + r * out, data.targets.dense + src * out, out * sizeof(float));
      } else {
        batch_labels_[r] = data.targets.labels[src];
      }
      if (data.sample_weight) batch_weight_.data()[r] = data.sample_weight[src];
    }
  };
  // Copies are memory-bound: count a float as a few flops when sizing threads.
  const int nt = threads_for(4.0 * static_cast<double>(rows) * static_cast<double>(d + out));
  // Pieces claimed one at a time, so a thread slowed by another process copies fewer.
  constexpr std::size_t kRowsPerPiece = 32;
  parallel_for_dynamic(nt, (rows + kRowsPerPiece - 1) / kRowsPerPiece, [&](std::size_t p) {
    const std::size_t r0 = p * kRowsPerPiece;
    copy_rows(r0, std::min(rows, r0 + kRowsPerPiece));
  });
}

EpochStats Trainer::run_epoch(const Dataset& data, bool shuffle, std::uint64_t seed,
                              std::uint64_t epoch, const std::function<bool()>& interrupted) {
  if (data.rows > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("X: at most 2^32 - 1 rows per fit");
  }
  EpochStats stats;
  if (shuffle) shuffled_order(data.rows, seed, epoch, order_);
  sgd_.measure(net_.params());  // the weights may have been set since the last epoch
  const std::size_t out = net_.output_dim();
  if (step_threads_.max_threads() != max_threads()) step_threads_ = StepThreads(max_threads());
  ThreadCapGuard thread_cap;
  for (std::size_t start = 0; start < data.rows; start += batch_size_) {
    if (interrupted && interrupted()) {
      stats.interrupted = true;
      break;
    }
    const std::size_t rows = std::min(batch_size_, data.rows - start);
    const int threads = step_threads_.next();
    thread_cap.set(threads);
    const auto step_start = std::chrono::steady_clock::now();
    const float* x;
    Targets t;
    const float* w = nullptr;
    if (shuffle) {
      gather(data, order_.data() + start, rows);
      x = batch_x_.data();
      t.labels = data.targets.labels ? batch_labels_.data() : nullptr;
      t.dense = data.targets.labels ? nullptr : batch_dense_.data();
      w = data.sample_weight ? batch_weight_.data() : nullptr;
    } else {
      x = data.x + start * net_.input_dim();
      t.labels = data.targets.labels ? data.targets.labels + start : nullptr;
      t.dense = data.targets.dense ? data.targets.dense + start * out : nullptr;
      w = data.sample_weight ? data.sample_weight + start : nullptr;
    }

    const float* logits = net_.forward(x, rows, acts_);
    const double norm = loss_normalizer(loss_, rows, out);
    const double batch_loss =
        loss_sum(loss_, rows, out, logits, t, w, delta_.data(), static_cast<float>(1.0 / norm)) / norm;
    if (!std::isfinite(batch_loss)) {
      stats.diverged = true;
      break;
    }
    EpochStats batch;
    count_correct(loss_, rows, out, logits, t, batch);
    // The divergence check bounds the gradients from the layers' inputs and
    // output derivatives when those are fewer values than the parameters.
    double gradient_bound = std::numeric_limits<double>::infinity();
    net_.backward(x, rows, acts_, delta_.data(), scratch_.data(),
                  rows * layer_values_ < net_.param_count() ? &gradient_bound : nullptr);
    if (!sgd_.step_if_finite(net_.params(), net_.grads(), gradient_bound)) {
      stats.diverged = stats.update_refused = true;
      break;
    }
    if (rows == batch_size_) {  // a last, smaller batch would skew the time per row
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - step_start;
      step_threads_.record(threads, took.count() / static_cast<double>(rows));
    }
    stats.correct += batch.correct;
    stats.judged += batch.judged;
    stats.loss_sum += batch_loss * static_cast<double>(rows);
    stats.rows += rows;
    ++stats.steps;
  }
  return stats;
}

void shuffled_order(std::size_t rows, std::uint64_t seed, std::uint64_t epoch, std::vector<std::uint32_t>& order) {
  order.resize(rows);
  std::iota(order.begin(), order.end(), 0u);
  std::uint64_t mix = seed;
  Rng rng(Rng::splitmix64(mix) ^ (epoch * 0xd1b54a32d192ed03ULL));
  for (std::size_t i = rows; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
}

void count_correct(LossKind loss, std::size_t rows, std::size_t cols, const float* out,
                   const Targets& t, EpochStats& stats) {
  if (loss == LossKind::mse) return;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* z = out + r * cols;
    if (loss == LossKind::cross_entropy) {
      const std::size_t pred = static_cast<std::size_t>(std::max_element(z, z + cols) - z);
      std::size_t truth;
      if (t.labels) {
        truth = static_cast<std::size_t>(t.labels[r]);
      } else {
        const float* tr = t.dense + r * cols;
        truth = static_cast<std::size_t>(std::max_element(tr, tr + cols) - tr);
      }
      stats.correct += pred == truth;
      stats.judged += 1;
    } else {
      const float* tr = t.dense + r * cols;
      for (std::size_t j = 0; j < cols; ++j) stats.correct += (z[j] > 0.0f) == (tr[j] > 0.5f);
      stats.judged += cols;
    }
  }
}

EpochStats evaluate(const Network& net, LossKind loss, const Dataset& data) {
  EpochStats stats;
  constexpr std::size_t kChunk = 4096;
  const std::size_t out = net.output_dim();
  AlignedBuffer logits(std::min(kChunk, data.rows) * out);
  for (std::size_t start = 0; start < data.rows; start += kChunk) {
    const std::size_t rows = std::min(kChunk, data.rows - start);
    net.predict(data.x + start * net.input_dim(), rows, logits.data());
    Targets t;
    t.labels = data.targets.labels ? data.targets.labels + start : nullptr;
    t.dense = data.targets.dense ? data.targets.dense + start * out : nullptr;
    const float* w = data.sample_weight ? data.sample_weight + start : nullptr;
    stats.loss_sum += loss_sum(loss, rows, out, logits.data(), t, w, nullptr, 0.0f) /
                      loss_normalizer(loss, rows, out) * static_cast<double>(rows);
    count_correct(loss, rows, out, logits.data(), t, stats);
    stats.rows += rows;
  }
  return stats;
}

}  // namespace mlpcore
