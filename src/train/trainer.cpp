#include "sweeplab/train/trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <dlfcn.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <algorithm>
#include <cmath>
#include <random>

#include "dataset.hpp"
#include "model.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/train/schedule.hpp"
#include "sweeplab/train/tracker.hpp"

namespace sweeplab {
namespace {

// One thread per trial: trials run side by side instead. torch::set_num_threads does not reach
// OpenBLAS, which has its own pool; its setter is looked up at run time so any BLAS works.
void limit_threads(std::int64_t threads) {
  if (torch::get_num_threads() != threads) torch::set_num_threads(int(threads));
  using SetThreads = void (*)(int);
  static const auto openblas_set_num_threads =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (openblas_set_num_threads) openblas_set_num_threads(int(threads));
}

void check_device(const std::string& device) {
  if (device == "cuda" && !torch::cuda::is_available()) {
    throw UserError("training.device: cuda, but this LibTorch build has no CUDA (or no GPU is visible); use cpu");
  }
}

torch::Tensor loss_of(const torch::Tensor& output, const torch::Tensor& target, LossKind kind) {
  switch (kind) {
    case LossKind::Binary: return torch::binary_cross_entropy_with_logits(output.squeeze(1), target);
    case LossKind::Multiclass: return torch::cross_entropy_loss(output, target);
    case LossKind::Regression: return torch::mse_loss(output, target);
  }
  throw InternalError("loss_of: unknown loss");
}

// Fraction of correct predictions; classification only.
double accuracy_of(const torch::Tensor& output, const torch::Tensor& target, LossKind kind) {
  if (output.is_cpu() && output.is_contiguous() && target.is_contiguous() && output.scalar_type() == torch::kFloat32) {
    // Small batches: a loop over the values costs less than the half-dozen dispatched ops below.
    const float* out = output.data_ptr<float>();
    const std::int64_t rows = output.size(0), columns = output.size(1);
    std::int64_t correct = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      if (kind == LossKind::Binary) {
        correct += (out[r] > 0.0f) == (target.data_ptr<float>()[r] > 0.5f);
      } else {
        const float* row = out + r * columns;
        correct += std::max_element(row, row + columns) - row == target.data_ptr<std::int64_t>()[r];
      }
    }
    return double(correct) / double(rows);
  }
  const auto predicted = kind == LossKind::Binary ? output.squeeze(1).gt(0).to(target.scalar_type()) : output.argmax(1);
  return predicted.eq(target).to(torch::kFloat64).mean().item<double>();
}

double value_of(const torch::Tensor& scalar) {
  return scalar.is_cpu() ? double(*scalar.data_ptr<float>()) : scalar.item<double>();
}

// The batch order of one trial: a Fisher-Yates shuffle per epoch from the trial's own generator,
// so it is the same on every run and every platform.
class BatchOrder {
 public:
  BatchOrder(std::int64_t samples, std::uint64_t seed) : samples_(samples), rng_(seed ^ 0x5eed0bad5eedULL) {}
  torch::Tensor next_epoch() {
    std::vector<std::int64_t> order(static_cast<std::size_t>(samples_));
    for (std::int64_t i = 0; i < samples_; ++i) order[std::size_t(i)] = i;
    for (std::int64_t i = samples_ - 1; i > 0; --i) {
      std::swap(order[std::size_t(i)], order[std::size_t(rng_() % std::uint64_t(i + 1))]);
    }
    return torch::tensor(order, torch::kLong);
  }

 private:
  std::int64_t samples_;
  std::mt19937_64 rng_;
};

}  // namespace

std::string torch_version() { return TORCH_VERSION; }

void check_trial_inputs(const Config& config) {
  check_device(config.training.device);
  make_dataset(config.task);
}

TrialOutcome train_trial(const Config& config, TrialSink& sink) {
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  limit_threads(config.training.threads);
  check_device(config.training.device);
  const torch::Device device(config.training.device == "cuda" ? torch::kCUDA : torch::kCPU);

  Dataset data = make_dataset(config.task);
  const auto x_train = data.x_train.to(device), y_train = data.y_train.to(device);
  const auto x_test = data.x_test.to(device), y_test = data.y_test.to(device);
  const bool classification = data.loss != LossKind::Regression;
  const bool has_test = data.x_test.size(0) > 0;

  auto init = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(config.training.seed));
  auto model = make_model(config.model, data.inputs, data.outputs, init);
  model->to(device);
  auto optimizer = make_optimizer(config.optimizer, model->parameters());
  BatchOrder batch_order(data.x_train.size(0), static_cast<std::uint64_t>(config.training.seed));

  const std::int64_t n_train = data.x_train.size(0), batch_size = config.training.batch_size;
  const bool drop_last = config.training.drop_last && n_train >= batch_size;
  const std::int64_t steps_per_epoch = drop_last ? n_train / batch_size : (n_train + batch_size - 1) / batch_size;
  const bool budget_in_steps = config.training.steps > 0;
  const std::int64_t total_steps = budget_in_steps ? config.training.steps : config.training.epochs * steps_per_epoch;

  MetricsTracker tracker(config.targets, classification);
  TrialOutcome outcome;
  std::int64_t step = 0, samples = 0, epoch = 0, batch_in_epoch = 0;
  double lr = config.optimizer.lr;
  double loss_sum = 0.0, accuracy_sum = 0.0;  // over the batches since the last evaluation
  std::int64_t batches_since_eval = 0;
  torch::Tensor x_epoch, y_epoch;

  const auto evaluate = [&] {
    EvalRecord record;
    record.epoch = epoch;
    record.step = step;
    record.samples = samples;
    record.lr = lr;
    record.batch_size = batch_size;
    record.train_loss = loss_sum / double(std::max<std::int64_t>(1, batches_since_eval));
    if (classification) record.train_acc = accuracy_sum / double(std::max<std::int64_t>(1, batches_since_eval));
    if (has_test) {
      torch::InferenceMode inference;
      const auto output = model->forward(x_test);
      record.test_loss = loss_of(output, y_test, data.loss).item<double>();
      if (classification) record.test_acc = accuracy_of(output, y_test, data.loss);
    }
    record.elapsed_s = elapsed();
    loss_sum = accuracy_sum = 0.0;
    batches_since_eval = 0;
    tracker.observe(record);
    outcome.final = record;
    sink.on_eval(record);
  };

  while (step < total_steps) {
    if (sink.stop_requested()) {
      outcome.status = TrialStatus::Interrupted;
      break;
    }
    if (batch_in_epoch == 0) {  // the epoch's data in shuffled order: each batch is then a slice
      const auto order = batch_order.next_epoch().to(device);
      x_epoch = x_train.index_select(0, order);
      y_epoch = y_train.index_select(0, order);
    }
    const std::int64_t first = batch_in_epoch * batch_size, last = std::min(first + batch_size, n_train);
    const auto x = x_epoch.slice(0, first, last), y = y_epoch.slice(0, first, last);

    lr = learning_rate(config.optimizer, config.lr_schedule, step, total_steps);
    set_learning_rate(*optimizer, lr);
    optimizer->zero_grad();
    const auto output = model->forward(x);
    const auto loss = loss_of(output, y, data.loss);
    loss.backward();
    optimizer->step();

    const double loss_value = value_of(loss);
    ++step;
    samples += last - first;
    if (!std::isfinite(loss_value) || loss_value > config.stop.divergence_loss) {
      outcome.status = TrialStatus::Diverged;
      outcome.diverged_at_step = step;
      if (std::isfinite(loss_value)) outcome.diverged_loss = loss_value;
      break;
    }
    loss_sum += loss_value;
    if (classification) accuracy_sum += accuracy_of(output, y, data.loss);
    ++batches_since_eval;

    const bool epoch_done = ++batch_in_epoch == steps_per_epoch;
    if (epoch_done) {
      ++epoch;
      batch_in_epoch = 0;
    }
    const bool due = budget_in_steps ? step % config.training.eval_every == 0 || step == total_steps
                                     : epoch_done && (epoch % config.training.eval_every == 0 || step == total_steps);
    if (due) {
      evaluate();
      if (config.stop.on_target && tracker.all_targets_reached()) {
        outcome.stopped_at_target = true;
        break;
      }
    }
  }

  outcome.best = tracker.best();
  outcome.targets = tracker.targets();
  outcome.steps = step;
  outcome.samples = samples;
  outcome.epochs = epoch;
  outcome.wall_time_s = elapsed();
  return outcome;
}

}  // namespace sweeplab
