#include "mlpcore/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "mlpcore/loss_rows.h"
#include "mlpcore/random.h"
#include "mlpcore/threads.h"

namespace mlpcore {

DeviceDataset::DeviceDataset(const Backend& backend, const Dataset& host, std::size_t input_dim,
                             std::size_t output_dim)
    : x_(backend, 0), dense_(backend, 0), weight_(backend, 0), labels_(backend, 0), csr_(backend) {
  view_.rows = host.rows;
  view_.x = stage_in(x_, host.x, host.rows * input_dim);
  view_.x_csr = stage_in(csr_, host.x_csr, host.rows);
  view_.targets.labels = stage_in(labels_, host.targets.labels, host.rows);
  view_.targets.dense = stage_in(dense_, host.targets.dense, host.rows * output_dim);
  view_.sample_weight = stage_in(weight_, host.sample_weight, host.rows);
}

double Trainer::workspace_bytes_per_row(const Network& net) {
  const double gathered = static_cast<double>(net.input_dim() + net.output_dim() + 2);  // x, targets, label, weight
  return 4.0 * (PassWorkspace::floats_per_row(net) + gathered);
}

Trainer::Trainer(Network& net, Optimizer& optimizer, LossKind loss, std::size_t batch_size)
    : net_(net), opt_(optimizer), loss_(loss), batch_size_(batch_size), backend_(net.backend()),
      pass_(net, batch_size), batch_x_(backend_, batch_size * net.input_dim()),
      batch_dense_(backend_, batch_size * net.output_dim()), batch_weight_(backend_, batch_size),
      batch_labels_(backend_, batch_size), order_(backend_, 0), results_(backend_, 0), verdict_(backend_, 1),
      step_threads_(max_threads()) {
  if (batch_size == 0) throw std::invalid_argument("batch_size: expected a positive integer, got 0");
  if (optimizer.size() != net.param_count()) {
    throw std::invalid_argument("optimizer: its state does not match this network's parameters");
  }
  if (&optimizer.backend() != &backend_) throw std::invalid_argument("optimizer: its state is on another device");
  layer_values_ = net.input_dim();
  for (std::size_t l = 0; l < net.num_layers(); ++l) layer_values_ += 2 * net.fan_out(l);  // outputs and their derivatives
}

void Trainer::load_data(const Dataset& data) {
  if (data.rows > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("X: at most 2^32 - 1 rows per fit");
  }
  data_.clear();  // the old copy goes first
  data_.emplace_back(backend_, data, net_.input_dim(), net_.output_dim());
  results_.resize((data.rows + batch_size_ - 1) / batch_size_);
}

EpochStats Trainer::run_epoch(bool shuffle, std::uint64_t seed, std::uint64_t epoch,
                              const std::function<bool()>& interrupted) {
  if (!has_data()) throw std::logic_error("run_epoch: no data loaded; call load_data first");
  if (&net_.backend() != &backend_ || &opt_.backend() != &backend_) {
    throw std::logic_error("run_epoch: the network or optimizer moved to another device since this trainer was made");
  }
  const Dataset& data = data_.front().view();
  const std::size_t d = net_.input_dim(), out = net_.output_dim();
  if (shuffle) {
    shuffled_order(data.rows, seed, epoch, host_order_);  // drawn on the host, sent once an epoch
    order_.upload(host_order_.data(), data.rows);
  }
  backend_.fill_zero(verdict_.data(), sizeof(Verdict));
  opt_.parameters_changed();  // the weights may have been set since the last epoch
  const std::size_t steps_before = opt_.steps();
  if (step_threads_.max_threads() != max_threads()) step_threads_ = StepThreads(max_threads());
  ThreadCapGuard thread_cap;

  EpochStats stats;
  std::size_t issued = 0;
  Verdict verdict = 0;
  for (std::size_t start = 0; start < data.rows; start += batch_size_) {
    if (interrupted && interrupted()) {
      stats.interrupted = true;
      break;
    }
    if (issued > 0 && issued % backend_.verdict_poll_steps == 0) {
      verdict_.download(&verdict, 1);
      if (verdict != 0) break;  // later updates would be skipped: stop issuing them
    }
    const std::size_t rows = std::min(batch_size_, data.rows - start);
    const int threads = step_threads_.next();
    thread_cap.set(threads);
    const auto step_start = std::chrono::steady_clock::now();
    const float* x;
    Targets t;
    const float* w = nullptr;
    if (shuffle) {
      const std::uint32_t* idx = order_.data() + start;
      if (data.sparse()) {
        backend_.gather_csr_rows(rows, d, data.x_csr, idx, batch_x_.data());
      } else {
        backend_.gather_rows(rows, d * sizeof(float), data.x, idx, batch_x_.data());
      }
      x = batch_x_.data();
      if (data.targets.labels) {
        backend_.gather_rows(rows, sizeof(std::int32_t), data.targets.labels, idx, batch_labels_.data());
        t.labels = batch_labels_.data();
      } else {
        backend_.gather_rows(rows, out * sizeof(float), data.targets.dense, idx, batch_dense_.data());
        t.dense = batch_dense_.data();
      }
      if (data.sample_weight) {
        backend_.gather_rows(rows, sizeof(float), data.sample_weight, idx, batch_weight_.data());
        w = batch_weight_.data();
      }
    } else {
      if (data.sparse()) {
        backend_.gather_csr_rows(rows, d, data.x_csr.from_row(start), nullptr, batch_x_.data());
        x = batch_x_.data();
      } else {
        x = data.x + start * d;
      }
      t.labels = data.targets.labels ? data.targets.labels + start : nullptr;
      t.dense = data.targets.dense ? data.targets.dense + start * out : nullptr;
      w = data.sample_weight ? data.sample_weight + start : nullptr;
    }

    const float* logits = net_.forward(x, rows, pass_.acts);
    const double norm = loss_normalizer(loss_, rows, out);
    backend_.batch_loss(loss_, rows, out, logits, t, w, pass_.delta.data(), static_cast<float>(1.0 / norm),
                        results_.data() + issued, verdict_.data(), verdict_code(issued, Divergence::loss));
    // Where read-outs are free, the divergence check bounds the gradients from
    // the layers' inputs and output derivatives when those are fewer values
    // than the parameters.
    double gradient_bound = std::numeric_limits<double>::infinity();
    const bool bound = backend_.host_memory && rows * layer_values_ < net_.param_count();
    net_.backward(x, rows, pass_.acts, pass_.delta.data(), pass_.scratch.data(), bound ? &gradient_bound : nullptr);
    opt_.update(net_.params(), net_.grads(), verdict_.data(), verdict_code(issued, Divergence::update),
                gradient_bound);
    ++issued;
    if (rows == batch_size_) {  // a last, smaller batch would skew the time per row
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - step_start;
      step_threads_.record(threads, took.count() / static_cast<double>(rows));
    }
  }

  // The batch results, read back once: only the steps before a diverged one
  // count, and those are exactly the updates the parameters received.
  verdict_.download(&verdict, 1);
  const std::size_t applied = verdict != 0 ? std::min(issued, verdict_step(verdict)) : issued;
  const std::vector<BatchResult> results = results_.to_vector(applied);
  for (std::size_t i = 0; i < applied; ++i) {
    const std::size_t rows = std::min(batch_size_, data.rows - i * batch_size_);
    stats.loss_sum += results[i].loss * static_cast<double>(rows);
    stats.correct += static_cast<std::size_t>(results[i].correct);
    stats.judged += loss_rows::judged(loss_, rows, out);
    stats.rows += rows;
    ++stats.steps;
  }
  stats.diverged = verdict != 0;
  stats.update_refused = verdict != 0 && verdict_refused_update(verdict);
  opt_.set_steps(steps_before + applied);
  return stats;
}

void shuffled_order(std::size_t rows, std::uint64_t seed, std::uint64_t epoch, std::vector<std::uint32_t>& order) {
  order.resize(rows);
  std::iota(order.begin(), order.end(), 0u);
  std::uint64_t mix = seed;
  Rng rng(Rng::splitmix64(mix) ^ (epoch * 0xd1b54a32d192ed03ULL));
  for (std::size_t i = rows; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
}

EpochStats evaluate(const Network& net, LossKind loss, const Dataset& host) {
  const Backend& backend = net.backend();
  EpochStats stats;
  const std::size_t chunk = std::min(4 * backend.predict_chunk_rows, host.rows);
  const std::size_t d = net.input_dim(), out = net.output_dim();
  PassWorkspace pass(net, chunk);
  DeviceBuffer<float> x(backend, 0), dense(backend, 0), weight(backend, 0);
  DeviceBuffer<std::int32_t> labels(backend, 0);
  DeviceBuffer<BatchResult> result(backend, 1);
  // Sparse inputs: the CSR arrays go to the backend once, and the chunk's rows
  // are made dense in x a part at a time (dense_chunk_rows), each part's outputs
  // written where the whole chunk's forward would put them.
  CsrStaging csr_staging(backend);
  const CsrRows csr = stage_in(csr_staging, host.x_csr, host.rows);
  const std::size_t part = host.sparse() ? dense_chunk_rows(chunk, d) : chunk;
  std::vector<float*> part_acts(net.num_layers());
  if (host.sparse()) x.resize(part * d);
  for (std::size_t start = 0; start < host.rows; start += chunk) {
    const std::size_t rows = std::min(chunk, host.rows - start);
    Targets t;
    t.labels = stage_in(labels, host.targets.labels ? host.targets.labels + start : nullptr, rows);
    t.dense = stage_in(dense, host.targets.dense ? host.targets.dense + start * out : nullptr, rows * out);
    const float* w = stage_in(weight, host.sample_weight ? host.sample_weight + start : nullptr, rows);
    const float* logits;
    if (host.sparse()) {
      for (std::size_t p = 0; p < rows; p += part) {
        const std::size_t n = std::min(part, rows - p);
        for (std::size_t l = 0; l < net.num_layers(); ++l) part_acts[l] = pass.acts[l] + p * net.fan_out(l);
        backend.gather_csr_rows(n, d, csr.from_row(start + p), nullptr, x.data());
        net.forward(x.data(), n, part_acts);
      }
      logits = pass.acts[net.num_layers() - 1];
    } else {
      logits = net.forward(stage_in(x, host.x + start * d, rows * d), rows, pass.acts);
    }
    backend.batch_loss(loss, rows, out, logits, t, w, nullptr, 0.0f, result.data(), nullptr, 0);
    BatchResult r;
    result.download(&r, 1);
    stats.loss_sum += r.loss * static_cast<double>(rows);
    stats.correct += static_cast<std::size_t>(r.correct);
    stats.judged += loss_rows::judged(loss, rows, out);
    stats.rows += rows;
  }
  return stats;
}

}  // namespace mlpcore
