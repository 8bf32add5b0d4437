#include "sweeplab/train/trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <dlfcn.h>
#include <signal.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "../train/checkpoint.hpp"
#include "../train/dataset.hpp"
#include "../train/model.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/hash.hpp"
#include "sweeplab/train/csv.hpp"
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

// Test-only fault injection, so tests can break a real run at exact points:
// SWEEPLAB_FAULT=kill_at_step=N | kill_in_checkpoint=K | sigint_at_step=N | abort_at_step=N | segfault_at_step=N
// with an optional "@bs=B" to hit only trials of batch size B. kill_* and sigint_* signal the whole
// process group (power loss; Ctrl-C in a terminal), so tests run the binary in a group of its own
// (setsid); abort and segfault crash only the worker that trains the trial.
struct Faults {
  std::int64_t kill_at_step = -1, kill_in_checkpoint = -1, abort_at_step = -1, segfault_at_step = -1,
               sigint_at_step = -1, only_batch_size = -1;
  bool applies_to(std::int64_t batch_size) const { return only_batch_size < 0 || only_batch_size == batch_size; }
  static const Faults& get() {
    static const Faults faults = [] {
      Faults f;
      const char* text = std::getenv("SWEEPLAB_FAULT");
      if (!text) return f;
      const std::string spec = text;
      const auto equals = spec.find('=');
      if (equals == std::string::npos) return f;
      const std::string name = spec.substr(0, equals);
      const std::int64_t value = std::atoll(spec.c_str() + equals + 1);
      if (const auto at = spec.find("@bs="); at != std::string::npos) f.only_batch_size = std::atoll(spec.c_str() + at + 4);
      if (name == "kill_at_step") f.kill_at_step = value;
      if (name == "kill_in_checkpoint") f.kill_in_checkpoint = value;
      if (name == "abort_at_step") f.abort_at_step = value;
      if (name == "segfault_at_step") f.segfault_at_step = value;
      if (name == "sigint_at_step") f.sigint_at_step = value;
      return f;
    }();
    return faults;
  }
  void after_step(std::int64_t step, std::int64_t batch_size) const {
    if (!applies_to(batch_size)) return;
    if (step == kill_at_step) ::kill(0, SIGKILL);
    if (step == sigint_at_step) ::kill(0, SIGINT);
    if (step == abort_at_step) std::abort();
    if (step == segfault_at_step) std::raise(SIGSEGV);
  }
};

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
// the same on every run and platform. Its state as of the epoch's start goes into checkpoints.
class BatchOrder {
 public:
  BatchOrder(std::int64_t samples, std::uint64_t seed) : samples_(samples), rng_(seed ^ 0x5eed0bad5eedULL) {}
  torch::Tensor next_epoch() {
    epoch_start_ = state();
    std::vector<std::int64_t> order(static_cast<std::size_t>(samples_));
    for (std::int64_t i = 0; i < samples_; ++i) order[std::size_t(i)] = i;
    for (std::int64_t i = samples_ - 1; i > 0; --i) {
      std::swap(order[std::size_t(i)], order[std::size_t(rng_() % std::uint64_t(i + 1))]);
    }
    return torch::tensor(order, torch::kLong);
  }
  std::string state() const {
    std::ostringstream out;
    out << rng_;
    return out.str();
  }
  const std::string& epoch_start_state() const { return epoch_start_; }
  void set_state(const std::string& text) {
    std::istringstream in(text);
    in >> rng_;
    if (in.fail()) throw std::runtime_error("unreadable data-order generator state");
  }

 private:
  std::int64_t samples_;
  std::mt19937_64 rng_;
  std::string epoch_start_;
};

void put_record(StateText& state, const EvalRecord& r) {
  state.put_int("last.epoch", r.epoch);
  state.put_int("last.step", r.step);
  state.put_int("last.samples", r.samples);
  state.put_double("last.lr", r.lr);
  state.put_int("last.batch_size", r.batch_size);
  state.put_double("last.train_loss", r.train_loss);
  if (r.test_loss) state.put_double("last.test_loss", *r.test_loss);
  if (r.train_acc) state.put_double("last.train_acc", *r.train_acc);
  if (r.test_acc) state.put_double("last.test_acc", *r.test_acc);
  state.put_double("last.elapsed_s", r.elapsed_s);
}

EvalRecord get_record(const StateText& state) {
  EvalRecord r;
  r.epoch = state.get_int("last.epoch");
  r.step = state.get_int("last.step");
  r.samples = state.get_int("last.samples");
  r.lr = state.get_double("last.lr");
  r.batch_size = state.get_int("last.batch_size");
  r.train_loss = state.get_double("last.train_loss");
  if (state.has("last.test_loss")) r.test_loss = state.get_double("last.test_loss");
  if (state.has("last.train_acc")) r.train_acc = state.get_double("last.train_acc");
  if (state.has("last.test_acc")) r.test_acc = state.get_double("last.test_acc");
  r.elapsed_s = state.get_double("last.elapsed_s");
  return r;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string utc_stamp() {
  const std::time_t now = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", std::gmtime(&now));
  return buffer;
}

std::string weights_digest(torch::nn::Module& model) {
  std::string bytes;
  for (const auto& parameter : model.parameters()) {
    const auto values = parameter.detach().to(torch::kCPU).contiguous();
    bytes.append(static_cast<const char*>(values.data_ptr()), values.numel() * values.element_size());
  }
  return full_hash(bytes);
}

// One trial's training: the model, optimizer, data order and every counter, so that all of it can be
// checkpointed and restored exactly.
class TrialRun {
 public:
  TrialRun(const Config& config, TrialSink& sink, const CheckpointOptions& checkpoints)
      : config_(config), sink_(sink), checkpoints_(checkpoints), data_(make_dataset(config.task)) {
    const torch::Device device(config.training.device == "cuda" ? torch::kCUDA : torch::kCPU);
    x_train_ = data_.x_train.to(device);
    y_train_ = data_.y_train.to(device);
    x_test_ = data_.x_test.to(device);
    y_test_ = data_.y_test.to(device);
    classification_ = data_.loss != LossKind::Regression;
    n_train_ = data_.x_train.size(0);
    batch_size_ = config.training.batch_size;
    const bool drop_last = config.training.drop_last && n_train_ >= batch_size_;
    steps_per_epoch_ = drop_last ? n_train_ / batch_size_ : (n_train_ + batch_size_ - 1) / batch_size_;
    budget_in_steps_ = config.training.steps > 0;
    total_steps_ = budget_in_steps_ ? config.training.steps : config.training.epochs * steps_per_epoch_;
    config_hash_ = short_hash(canonical_text(config));
    start_fresh();
  }

  TrialOutcome run() {
    resume_if_possible();
    sink_.on_start(step_);
    outcome_.resumed_from_step = step_;
    bool checkpointed_here = false;
    while (step_ < total_steps_) {
      if (sink_.stop_requested()) {
        outcome_.status = TrialStatus::Interrupted;
        break;
      }
      checkpointed_here = false;
      if (train_one_step()) break;  // diverged
      const bool epoch_done = batch_in_epoch_ == 0;
      const auto every = config_.training.eval_every;
      const bool eval_due = budget_in_steps_ ? step_ % every == 0 || step_ == total_steps_
                                             : epoch_done && (epoch_ % every == 0 || step_ == total_steps_);
      if (eval_due) {
        evaluate();
        if (config_.stop.on_target && tracker_->all_targets_reached()) {
          outcome_.stopped_at_target = true;
          break;
        }
      }
      const auto interval = checkpoints_.every;
      const bool checkpoint_due =
          interval > 0 && (budget_in_steps_ ? step_ % interval == 0 : epoch_done && epoch_ % interval == 0);
      if (checkpoint_due) {
        save_checkpoint();
        checkpointed_here = true;
      }
    }
    const bool trained_now = step_ > outcome_.resumed_from_step;
    if (trained_now && outcome_.status != TrialStatus::Diverged && !checkpointed_here) save_checkpoint();
    outcome_.final = last_;
    outcome_.best = tracker_->best();
    outcome_.targets = tracker_->targets();
    outcome_.steps = step_;
    outcome_.samples = samples_;
    outcome_.epochs = epoch_;
    outcome_.wall_time_s = elapsed();
    outcome_.weights_digest = weights_digest(*model_);
    return outcome_;
  }

 private:
  double elapsed() const {
    return elapsed_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  void start_fresh() {
    auto init = at::make_generator<at::CPUGeneratorImpl>(static_cast<std::uint64_t>(config_.training.seed));
    model_ = make_model(config_.model, data_.inputs, data_.outputs, init);
    model_->to(x_train_.device());
    optimizer_ = make_optimizer(config_.optimizer, model_->parameters());
    order_ = std::make_unique<BatchOrder>(n_train_, static_cast<std::uint64_t>(config_.training.seed));
    tracker_ = std::make_unique<MetricsTracker>(config_.targets, classification_);
    step_ = samples_ = epoch_ = batch_in_epoch_ = batches_since_eval_ = 0;
    loss_sum_ = accuracy_sum_ = elapsed_before_ = 0.0;
    lr_ = config_.optimizer.lr;
    last_.reset();
  }

  void resume_if_possible() {
    namespace fs = std::filesystem;
    if (checkpoints_.path.empty() || !fs::exists(checkpoints_.path)) return;
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(checkpoints_.path);
      const StateText state = read_checkpoint_state(archive);
      const auto version = state.get_int("format_version");
      if (version != kCheckpointFormatVersion) {
        throw std::runtime_error("format version " + std::to_string(version) + ", this sweeplab reads " +
                                 std::to_string(kCheckpointFormatVersion));
      }
      if (state.get("config_hash") != config_hash_) throw std::runtime_error("it was written for another config");
      read_checkpoint_tensors(archive, *model_, *optimizer_);
      step_ = state.get_int("step");
      samples_ = state.get_int("samples");
      epoch_ = state.get_int("epoch");
      batch_in_epoch_ = state.get_int("batch_in_epoch");
      batches_since_eval_ = state.get_int("batches_since_eval");
      loss_sum_ = state.get_double("loss_sum");
      accuracy_sum_ = state.get_double("accuracy_sum");
      lr_ = state.get_double("lr");
      elapsed_before_ = state.get_double("elapsed_s");
      tracker_->restore(state.get("tracker"));
      if (state.has("last.step")) last_ = get_record(state);
      order_->set_state(state.get("data_order"));
      if (batch_in_epoch_ > 0) shuffle_epoch();  // the same order as before the stop
    } catch (const std::exception& e) {
      const std::string aside = checkpoints_.path + ".corrupt-" + utc_stamp();
      std::error_code ec;
      fs::rename(checkpoints_.path, aside, ec);
      outcome_.warnings.push_back("checkpoint unreadable (" + first_line(e.what()) + "); kept as " +
                                  fs::path(aside).filename().string() + "; started over");
      start_fresh();
    }
  }

  void shuffle_epoch() {
    const auto order = order_->next_epoch().to(x_train_.device());
    x_epoch_ = x_train_.index_select(0, order);
    y_epoch_ = y_train_.index_select(0, order);
  }

  // One optimizer step; true when the loss diverged.
  bool train_one_step() {
    if (batch_in_epoch_ == 0) shuffle_epoch();  // the epoch's data in shuffled order: batches are slices
    const std::int64_t first = batch_in_epoch_ * batch_size_, last = std::min(first + batch_size_, n_train_);
    const auto x = x_epoch_.slice(0, first, last), y = y_epoch_.slice(0, first, last);

    lr_ = learning_rate(config_.optimizer, config_.lr_schedule, step_, total_steps_);
    set_learning_rate(*optimizer_, lr_);
    optimizer_->zero_grad();
    const auto output = model_->forward(x);
    const auto loss = loss_of(output, y, data_.loss);
    loss.backward();
    optimizer_->step();

    const double loss_value = value_of(loss);
    ++step_;
    samples_ += last - first;
    Faults::get().after_step(step_, batch_size_);
    if (!std::isfinite(loss_value) || loss_value > config_.stop.divergence_loss) {
      outcome_.status = TrialStatus::Diverged;
      outcome_.diverged_at_step = step_;
      if (std::isfinite(loss_value)) outcome_.diverged_loss = loss_value;
      return true;
    }
    loss_sum_ += loss_value;
    if (classification_) accuracy_sum_ += accuracy_of(output, y, data_.loss);
    ++batches_since_eval_;
    if (++batch_in_epoch_ == steps_per_epoch_) {
      ++epoch_;
      batch_in_epoch_ = 0;
    }
    return false;
  }

  void evaluate() {
    EvalRecord record;
    record.epoch = epoch_;
    record.step = step_;
    record.samples = samples_;
    record.lr = lr_;
    record.batch_size = batch_size_;
    record.train_loss = loss_sum_ / double(std::max<std::int64_t>(1, batches_since_eval_));
    if (classification_) record.train_acc = accuracy_sum_ / double(std::max<std::int64_t>(1, batches_since_eval_));
    if (x_test_.size(0) > 0) {
      torch::InferenceMode inference;
      const auto output = model_->forward(x_test_);
      record.test_loss = loss_of(output, y_test_, data_.loss).item<double>();
      if (classification_) record.test_acc = accuracy_of(output, y_test_, data_.loss);
    }
    record.elapsed_s = elapsed();
    loss_sum_ = accuracy_sum_ = 0.0;
    batches_since_eval_ = 0;
    tracker_->observe(record);
    last_ = record;
    sink_.on_eval(record);
  }

  void save_checkpoint() {
    if (checkpoints_.path.empty()) return;
    const auto started = std::chrono::steady_clock::now();
    StateText state;
    state.put_int("format_version", kCheckpointFormatVersion);
    state.put("config_hash", config_hash_);
    state.put_int("step", step_);
    state.put_int("samples", samples_);
    state.put_int("epoch", epoch_);
    state.put_int("batch_in_epoch", batch_in_epoch_);
    state.put_int("batches_since_eval", batches_since_eval_);
    state.put_double("loss_sum", loss_sum_);
    state.put_double("accuracy_sum", accuracy_sum_);
    state.put_double("lr", lr_);
    state.put_double("elapsed_s", elapsed());
    state.put("tracker", tracker_->save());
    if (last_) put_record(state, *last_);
    // Mid-epoch the order must be re-drawn from the epoch's start; at a boundary the next draw is due.
    state.put("data_order", batch_in_epoch_ > 0 ? order_->epoch_start_state() : order_->state());
    const std::string bytes = checkpoint_bytes(*model_, *optimizer_, state);
    ++outcome_.checkpoints_written;
    if (outcome_.checkpoints_written == Faults::get().kill_in_checkpoint && Faults::get().applies_to(batch_size_)) {
      std::ofstream(checkpoints_.path + ".tmp", std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
      ::kill(0, SIGKILL);  // test-only: die half-way through writing
    }
    write_file_atomic(checkpoints_.path, bytes);
    outcome_.checkpoint_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }

  const Config& config_;
  TrialSink& sink_;
  CheckpointOptions checkpoints_;
  Dataset data_;
  torch::Tensor x_train_, y_train_, x_test_, y_test_, x_epoch_, y_epoch_;
  bool classification_ = true, budget_in_steps_ = false;
  std::int64_t n_train_ = 0, batch_size_ = 0, steps_per_epoch_ = 0, total_steps_ = 0;
  std::string config_hash_;

  torch::nn::Sequential model_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<BatchOrder> order_;
  std::unique_ptr<MetricsTracker> tracker_;
  std::int64_t step_ = 0, samples_ = 0, epoch_ = 0, batch_in_epoch_ = 0, batches_since_eval_ = 0;
  double loss_sum_ = 0.0, accuracy_sum_ = 0.0, lr_ = 0.0, elapsed_before_ = 0.0;  // sums since the last evaluation
  std::optional<EvalRecord> last_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  TrialOutcome outcome_;
};

}  // namespace

std::string torch_version() { return TORCH_VERSION; }

void check_trial_inputs(const Config& config) {
  check_device(config.training.device);
  if (config.task.name == "csv") {  // generated tasks cannot fail once the config is valid
    const auto rows = std::int64_t(read_csv(config.task.path, config.task.label_column).rows());
    if (rows - std::llround(double(rows) * config.task.test_fraction) < 1) {
      throw UserError(config.task.path + ": " + std::to_string(rows) + " rows leave no training rows after the test split");
    }
  }
}

TrialOutcome train_trial(const Config& config, TrialSink& sink, const CheckpointOptions& checkpoints) {
  limit_threads(config.training.threads);
  check_device(config.training.device);
  TrialRun run(config, sink, checkpoints);
  return run.run();
}

}  // namespace sweeplab
