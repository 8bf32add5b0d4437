// The group trainer: the bookkeeping of every trial of a fused group (counters, data order, evaluations,
// targets, checkpoints, divergence, interrupts) around a GroupMath backend that does the arithmetic.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "blas.hpp"
#include "checkpoint.hpp"
#include "dataset.hpp"
#include "faults.hpp"
#include "online_rows.hpp"
#include "setup.hpp"
#include "torch_plugin.hpp"
#include "sweeplab/config/compact_config.hpp"
#include "sweeplab/config/fusion_key.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/hash.hpp"
#include "sweeplab/engine/trainer.hpp"
#include "sweeplab/tasks/tasks.hpp"
#include "sweeplab/training/schedule.hpp"
#include "sweeplab/training/tracker.hpp"

namespace sweeplab {
namespace {

// A trial's samples between two looks at interrupts: a group of 64 small MLPs stops within a fraction of a second
// at any batch size (about 0.1 s at batch size 2 and 512 alike on one core).
constexpr std::int64_t kMaxSegmentSamples = 4096;

// One thread per trial: trials run side by side instead. LibTorch's threads (when a trial loads it) do not reach
// OpenBLAS, which has its own pool.
void limit_threads(std::int64_t threads) {
  set_torch_threads(int(threads));
  blas::set_threads(int(threads));
}

void check_device(const std::string& device) {
  if (device != "cuda") return;
  // The same command gives the same numbers on a GPU: cuBLAS with a fixed workspace (set before cuBLAS starts),
  // deterministic kernels (before the first one runs).
  ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  if (const auto problem = cuda_problem(); !problem.empty()) throw UserError(problem);
  torch_plugin().prepare_cuda();
}

// The GPU's total memory, half of it for one group: the total, not what is free now, so the same command
// always cuts its groups the same way (and gives the same numbers). cudaMemGetInfo is looked up at run time,
// so the CPU build needs no CUDA; 0 when it is not there.
std::int64_t gpu_memory_for_groups() {
  using MemGetInfo = int (*)(std::size_t*, std::size_t*);
  const auto mem_get_info = reinterpret_cast<MemGetInfo>(dlsym(RTLD_DEFAULT, "cudaMemGetInfo"));
  std::size_t free_bytes = 0, total_bytes = 0;
  if (!mem_get_info || mem_get_info(&free_bytes, &total_bytes) != 0) return 0;
  return std::int64_t(total_bytes / 2);
}

// The batch order of one trial: a Fisher-Yates shuffle per epoch from the trial's own generator,
// the same on every run and platform. Its state as of the epoch's start goes into checkpoints.
class BatchOrder {
 public:
  BatchOrder(std::int64_t samples, std::uint64_t seed) : order_(std::size_t(samples)), rng_(seed ^ 0x5eed0bad5eedULL) {}
  const std::vector<std::int64_t>& next_epoch() {
    epoch_start_ = state();
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = std::int64_t(i);
    for (std::size_t i = order_.size() - 1; i > 0 && !order_.empty(); --i) {
      std::swap(order_[i], order_[std::size_t(rng_() % std::uint64_t(i + 1))]);
    }
    return order_;
  }
  const std::vector<std::int64_t>& current() const { return order_; }
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
  std::vector<std::int64_t> order_;
  std::mt19937_64 rng_;
  std::string epoch_start_;
};

// The default online stream: the task's teacher (src/tasks); tests may replace it (online_rows.hpp).
class TeacherRows : public OnlineRows {
 public:
  explicit TeacherRows(const TaskConfig& task) : stream_(task) {}
  void rows(std::int64_t first, std::int64_t count, float* x, float* y) const override { stream_.rows(first, count, x, y); }

 private:
  TeacherStream stream_;
};

OnlineRowsFactory& online_rows_factory() {
  static OnlineRowsFactory factory;
  return factory;
}

std::unique_ptr<OnlineRows> make_online_rows(const TaskConfig& task) {
  if (const auto& factory = online_rows_factory()) return factory(task);
  return std::make_unique<TeacherRows>(task);
}

// The largest batch size a trial's schedule reaches (the GPU's memory is shared out for it).
std::int64_t largest_batch_size(const Config& config) {
  const BatchScheduleConfig& schedule = config.batch_schedule;
  std::int64_t largest = std::max(config.training.batch_size, schedule.initial_batch_size);
  if (schedule.name == "linear" || schedule.name == "geometric") largest = std::max(largest, schedule.final_batch_size);
  if (schedule.name == "steps") {
    for (const std::int64_t b : schedule.sizes) largest = std::max(largest, b);
  }
  return largest;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }


// Everything one trial of the group carries besides its parameters (which live in the backend).
struct Trial {
  const Config* config = nullptr;
  TrialSink* sink = nullptr;
  CheckpointOptions checkpoints;
  int slot = 0;
  std::string config_hash;
  // batch_size: of the next step (batch_size_at(step)); b0: training.batch_size, the schedule's start and
  // the size of every step when the schedule is constant. steps_per_epoch: at b0 (constant schedules).
  std::int64_t batch_size = 0, b0 = 0, steps_per_epoch = 0, total_steps = 0;
  bool budget_in_steps = false, budget_in_samples = false;
  bool constant_batch = true;  // batch_schedule.name == constant
  bool online = false;         // task.online: rows from the stream, no epochs
  bool scaled_lr = false;      // sp, mup: the optimizer uses learning_rate(...) x lr_factor
  double lr_factor = 1.0;      // effective_lr_factor
  std::unique_ptr<BatchOrder> order;
  std::unique_ptr<MetricsTracker> tracker;
  // epoch_row: rows of the epoch's order trained on so far (batch_in_epoch x b0 for a constant batch size);
  // batch_in_epoch: steps taken in this epoch. Online trials stay at epoch 0, row 0.
  std::int64_t step = 0, samples = 0, epoch = 0, batch_in_epoch = 0, epoch_row = 0;
  std::int64_t samples_before = 0;  // at the start of the current segment (samples budgets: what it crossed)
  std::int64_t evaluations = 0;  // -1: unknown (resumed from a checkpoint that did not count them)
  double lr = 0.0, elapsed_before = 0.0;
  std::optional<EvalRecord> last;
  TrialOutcome outcome;
  bool active = true, checkpointed_here = false;
  bool finished = false;  // its outcome is final and reported
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();  // this session, or its part
  std::chrono::steady_clock::time_point last_checkpoint = std::chrono::steady_clock::now();
  std::vector<double> lrs;  // of the current segment, as the optimizer uses them (effective)
  std::vector<float> online_x, online_y;  // online: the current segment's rows
};

// The data of a group's task. The last one made is kept (never written), so a worker's groups of one task, one
// group per batch size in a B x eta grid, read or generate it once: 1.3 s per group for Fashion-MNIST's files.
const TaskData& dataset_of(const Config& config) {
  static std::string last_key;
  static TaskData last;
  const auto compact = CompactConfig::of(config);
  std::string key;
  for (std::size_t field = 0; field < schema().size(); ++field) {
    if (schema()[field].key.rfind("task.", 0) == 0) key += schema()[field].key + "=" + compact.text(field) + "\n";
  }
  if (key != last_key) {
    last_key.clear();  // a make_task_data that throws leaves nothing cached
    last = make_task_data(config.task);
    last_key = key;
  }
  return last;
}

class GroupRun {
 public:
  GroupRun(const std::vector<GroupMember>& members, std::size_t max_at_once) : data_(dataset_of(*members.at(0).config)) {
    const Config& first = *members[0].config;
    const std::string key = fusion_key(first);
    for (const auto& member : members) {
      if (fusion_key(*member.config) != key) throw InternalError("train_group: trials that do not fuse in one group");
    }
    shape_ = shape_of(first, data_);
    for (const auto& member : members) {
      shape_.momentum_buffer = shape_.momentum_buffer || member.config->optimizer.momentum > 0.0;
    }
    const bool cuda = first.training.device == "cuda";
    // On a GPU, memory decides how many trials train at once; a larger group trains in consecutive parts.
    std::int64_t largest_batch = 0;
    for (const auto& member : members) largest_batch = std::max(largest_batch, largest_batch_size(*member.config));
    std::int64_t fit = cuda ? trials_that_fit(shape_, largest_batch, gpu_memory_for_groups()) : std::int64_t(members.size());
    if (max_at_once > 0) fit = std::min(fit, std::int64_t(max_at_once));
    slots_ = int(std::min<std::int64_t>(fit, std::int64_t(members.size())));
    math_ = cuda ? torch_plugin().batched_math(shape_, data_, slots_, "cuda")
                 : make_lean_cpu_math(shape_, data_, slots_);
    classification_ = data_.loss != LossKind::Regression;
    target_width_ = data_.loss == LossKind::Regression ? data_.outputs : 1;
    if (first.task.online) online_rows_ = make_online_rows(first.task);
    for (int k = 0; k < int(members.size()); ++k) {
      auto trial = std::make_unique<Trial>();
      trial->config = members[std::size_t(k)].config;
      trial->sink = members[std::size_t(k)].sink;
      trial->checkpoints = members[std::size_t(k)].checkpoints;
      trial->slot = k % slots_;
      trial->config_hash = short_hash(canonical_text(*trial->config));
      const auto& training = trial->config->training;
      const std::int64_t n = data_.n_train;
      trial->batch_size = trial->b0 = training.batch_size;
      const bool drop_last = training.drop_last && n >= trial->b0;
      trial->steps_per_epoch = drop_last ? n / trial->b0 : (n + trial->b0 - 1) / trial->b0;
      trial->constant_batch = trial->config->batch_schedule.name == "constant";
      trial->online = trial->config->task.online;
      trial->lr_factor = effective_lr_factor(*trial->config);
      trial->scaled_lr = trial->config->model.parameterization != "standard";
      // Budgets: training.samples (as steps: steps_for_samples), else training.steps, else epochs.
      trial->budget_in_samples = training.samples > 0;
      trial->budget_in_steps = !trial->budget_in_samples && training.steps > 0;
      trial->total_steps = trial->budget_in_samples ? steps_for_samples(*trial->config, training.samples)
                           : trial->budget_in_steps ? training.steps
                                                    : training.epochs * trial->steps_per_epoch;
      trials_.push_back(std::move(trial));
    }
  }

  std::vector<TrialOutcome> run() {
    std::vector<TrialOutcome> outcomes;
    for (std::size_t first = 0; first < trials_.size(); first += std::size_t(slots_)) {
      const std::size_t end = std::min(trials_.size(), first + std::size_t(slots_));
      for (std::size_t i = first; i < end; ++i) {
        Trial& trial = *trials_[i];
        trial.started = std::chrono::steady_clock::now();
        start_fresh(trial);
        resume_if_possible(trial);
        if (!trial.outcome.not_trained.empty()) {
          trial.active = false;
          finish(trial);
          continue;
        }
        start_sink(trial);
      }
      while (true) {
        std::vector<Trial*> running;
        for (std::size_t i = first; i < end; ++i) {
          if (trials_[i]->active && trials_[i]->step < trials_[i]->total_steps) running.push_back(trials_[i].get());
        }
        if (running.empty()) break;
        if (running.front()->sink->stop_requested()) {
          for (auto* trial : running) trial->outcome.status = TrialStatus::Interrupted;
          break;
        }
        advance(running);
        for (auto* trial : running) {  // done ones report now; their group may go on for a long time
          if (!trial->active || trial->step == trial->total_steps) finish(*trial);
        }
      }
      for (std::size_t i = first; i < end; ++i) finish(*trials_[i]);  // before the slots are reused
    }
    for (auto& trial : trials_) outcomes.push_back(trial->outcome);
    return outcomes;
  }

 private:
  double elapsed(const Trial& trial) const {
    return trial.elapsed_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - trial.started).count();
  }

  // A file of the trial could not be written: it stops here, as interrupted, and writes no checkpoint after
  // this (one would claim records that are not on disk); its last good checkpoint stays for the next run.
  void stop_for_storage(Trial& trial, const StorageError& e) {
    trial.outcome.status = TrialStatus::Interrupted;
    trial.outcome.storage_error = first_line(e.what());
    trial.active = false;
  }

  // Tells the sink where the trial continues from; when its records up to there cannot be made whole, the
  // trial starts over (which writes them again).
  void start_sink(Trial& trial) {
    try {
      ResumePoint from{trial.step, trial.evaluations, trial.last};
      if (!trial.sink->on_start(from)) {
        start_fresh(trial);
        trial.outcome.stopped_at_target = false;
        trial.active = true;
        trial.sink->on_start(ResumePoint{});
      }
    } catch (const StorageError& e) {
      stop_for_storage(trial, e);
    }
    trial.outcome.resumed_from_step = trial.step;
  }

  void start_fresh(Trial& trial) {
    const Config& config = *trial.config;
    const std::vector<float> initial = initial_parameters(config.model, shape_, config.training.seed);
    math_->set_initial(trial.slot, initial);  // theta_0 of a centred output (resume too: start_fresh runs first)
    math_->load(trial.slot, initial, std::vector<float>(std::size_t(shape_.optimizer_state_count()), 0.0f));
    math_->set_hyper(trial.slot, hyper_of(config));
    trial.order = std::make_unique<BatchOrder>(data_.n_train, static_cast<std::uint64_t>(config.training.seed));
    trial.tracker = std::make_unique<MetricsTracker>(config.targets, classification_);
    trial.step = trial.samples = trial.epoch = trial.batch_in_epoch = trial.epoch_row = 0;
    trial.batch_size = batch_size_at(config, 0);  // a ramp may start from its own initial_batch_size
    trial.evaluations = 0;
    trial.elapsed_before = 0.0;
    trial.lr = config.optimizer.lr;
    trial.last.reset();
  }

  // Continues the trial from checkpoint.pt, else from checkpoint.prev.pt (checkpoint.pt damaged, or a crash
  // between the two renames of write_checkpoint), else it starts from scratch. A damaged or foreign
  // checkpoint is renamed aside with one warning line.
  void resume_if_possible(Trial& trial) {
    namespace fs = std::filesystem;
    const std::string& path = trial.checkpoints.path;
    if (path.empty()) return;
    std::vector<std::string> set_aside;
    bool resumed = false;
    for (const std::string& candidate : {path, previous_checkpoint_path(path)}) {
      if (!fs::exists(candidate)) continue;
      const std::string problem = resume_from(trial, candidate);
      if (problem.empty()) {
        resumed = true;
        if (!set_aside.empty()) {
          set_aside.back() += "; continued from " + fs::path(candidate).filename().string() + " at step " +
                              std::to_string(trial.step);
        }
        break;
      }
      set_aside.push_back("checkpoint unreadable (" + problem + "); kept as " + sweeplab::set_aside(candidate));
      start_fresh(trial);
    }
    if (!set_aside.empty() && !resumed) set_aside.back() += "; started over";
    for (auto& warning : set_aside) trial.outcome.warnings.push_back(std::move(warning));
  }

  // "" when the trial continues from the checkpoint at `path` (or is not to be trained: outcome.not_trained),
  // else why the checkpoint cannot be used (one line).
  std::string resume_from(Trial& trial, const std::string& path) {
    try {
      const CheckpointData checkpoint = read_checkpoint(path);
      const StateText& state = checkpoint.state;
      const auto version = state.get_int("format_version");
      const auto engine = state.has("engine_version") ? state.get_int("engine_version") : 1;
      if (version <= kCheckpointFormatVersion && (version < kOldestContinuedFormat || engine < kEngineVersion)) {
        trial.outcome.not_trained = "not continued: it was started by training engine " + std::to_string(engine) +
                                    " and this sweeplab has engine " + std::to_string(kEngineVersion) +
                                    ", whose numbers differ (rerun with --fresh to train it again from the start)";
        return "";
      }
      if (version > kCheckpointFormatVersion || engine != kEngineVersion) {
        throw std::runtime_error("format version " + std::to_string(version) + ", engine " + std::to_string(engine) +
                                 "; this sweeplab reads formats up to " + std::to_string(kCheckpointFormatVersion) +
                                 " of engine " + std::to_string(kEngineVersion));
      }
      if (state.get("config_hash") != trial.config_hash) throw std::runtime_error("it was written for another config");
      math_->load(trial.slot, checkpoint.parameters, state_for_group(trial, checkpoint.optimizer_state));
      Accumulators sums;
      sums.loss_sum = state.get_double("loss_sum");
      sums.accuracy_sum = state.get_double("accuracy_sum");
      sums.batches = state.get_int("batches_since_eval");
      if (state.has("noise_steps")) {
        sums.noise_gradient_sum = state.get_double("noise_gradient_sum");
        sums.noise_trace_sum = state.get_double("noise_trace_sum");
        sums.noise_steps = state.get_int("noise_steps");
      }
      math_->set_accumulators(trial.slot, sums);
      trial.step = state.get_int("step");
      trial.samples = state.get_int("samples");
      trial.epoch = state.get_int("epoch");
      trial.batch_in_epoch = state.get_int("batch_in_epoch");
      // Checkpoints before batch-size schedules count batches of training.batch_size only.
      trial.epoch_row = state.has("epoch_row") ? state.get_int("epoch_row") : trial.batch_in_epoch * trial.b0;
      trial.batch_size = batch_size_at(*trial.config, trial.step);
      trial.evaluations = state.has("evaluations") ? state.get_int("evaluations") : -1;
      trial.lr = state.get_double("lr");
      trial.elapsed_before = state.get_double("elapsed_s");
      trial.tracker->restore(state.get("tracker"));
      if (state.has("last.step")) trial.last = get_record(state);
      trial.order->set_state(state.get("data_order"));
      if (trial.epoch_row > 0) trial.order->next_epoch();  // the same order as before the stop
      // A trial that stopped at its targets stays stopped (its summary.json is being rebuilt).
      if (trial.config->stop.on_target && trial.tracker->all_targets_reached()) {
        trial.outcome.stopped_at_target = true;
        trial.active = false;
      }
      return "";
    } catch (const std::exception& e) {
      return first_line(e.what());
    }
  }

  // SGD keeps a momentum buffer for the whole group when any trial has momentum; a trial without momentum
  // never reads it (0 x buffer), so its checkpoint holds no state, and it gets zeros in any group.
  bool keeps_state(const Trial& trial) const {
    return shape_.optimizer != OptimizerKind::Sgd || trial.config->optimizer.momentum > 0.0;
  }
  std::vector<float> own_state(const Trial& trial) {
    return keeps_state(trial) ? math_->optimizer_state(trial.slot) : std::vector<float>();
  }
  std::vector<float> state_for_group(const Trial& trial, const std::vector<float>& saved) const {
    if (keeps_state(trial)) return saved;
    return std::vector<float>(std::size_t(shape_.optimizer_state_count()), 0.0f);
  }

  // Rows of step j of a segment that starts at the trial's current place: a whole batch, or online always; the
  // rest of the epoch when fewer rows are left.
  std::int64_t rows_of_step(const Trial& trial, std::int64_t j) const {
    if (trial.online) return trial.batch_size;
    return std::min(trial.batch_size, data_.n_train - (trial.epoch_row + j * trial.batch_size));
  }

  // Steps of a segment (at most `steps`) until the samples seen cross the next multiple of `every`.
  std::int64_t steps_until_samples_cross(const Trial& trial, std::int64_t every, std::int64_t steps) const {
    const std::int64_t next = (trial.samples / every + 1) * every;
    std::int64_t seen = trial.samples;
    for (std::int64_t j = 0; j < steps; ++j) {
      seen += rows_of_step(trial, j);
      if (seen >= next) return j + 1;
    }
    return steps;
  }

  // Steps until the trial's next evaluation, checkpoint, epoch end, change of batch size, end of budget or
  // injected fault. A segment has one batch size.
  std::int64_t segment_length(const Trial& trial) const {
    const std::int64_t b = trial.batch_size;
    const std::int64_t cap = std::max<std::int64_t>(1, kMaxSegmentSamples / b);
    std::int64_t steps = std::min(cap, trial.total_steps - trial.step);
    if (!trial.online) {
      // Never 0: advance() ends the epoch when fewer rows than the next step's batch are left under drop_last.
      const std::int64_t n = data_.n_train, left = n - trial.epoch_row;
      const bool drop_last = trial.config->training.drop_last && n >= b;
      steps = std::min(steps, drop_last ? left / b : (left + b - 1) / b);
    }
    if (!trial.constant_batch) {
      std::int64_t same = 1;
      while (same < steps && batch_size_at(*trial.config, trial.step + same) == b) ++same;
      steps = same;
    }
    const auto until_multiple = [&](std::int64_t every) { return every - trial.step % every; };
    if (trial.budget_in_steps) {
      steps = std::min(steps, until_multiple(trial.config->training.eval_every));
      if (trial.checkpoints.every > 0) steps = std::min(steps, until_multiple(trial.checkpoints.every));
    } else if (trial.budget_in_samples) {
      steps = steps_until_samples_cross(trial, trial.config->training.eval_every, steps);
      if (trial.checkpoints.every > 0) steps = steps_until_samples_cross(trial, trial.checkpoints.every, steps);
    }
    if (const auto fault = faults::fault_step(trial.b0); fault > trial.step) steps = std::min(steps, fault - trial.step);
    return steps;
  }

  // The scheduled learning rate (eta, what metrics record as lr) of the trial's step `step`.
  double scheduled_lr(const Trial& trial, std::int64_t step) const {
    return learning_rate(trial.config->optimizer, trial.config->lr_schedule, step, trial.total_steps);
  }

  // Budgets and intervals: with training.epochs, evaluations and checkpoints come at epoch ends (every
  // eval_every / checkpoint.every epochs); with training.steps, after steps that are multiples of them; with
  // training.samples they count samples: an evaluation (checkpoint) comes after the step at which the samples
  // seen reach or pass a multiple of eval_every (checkpoint.every), and the last step evaluates too.
  void advance(const std::vector<Trial*>& running) {
    std::vector<Segment> segments;
    // Online: the trials of a group share one stream, so trials at the same place drawing the same count (a
    // learning-rate axis at one batch size) train on the same rows: drawn once, by the first of them.
    std::map<std::pair<std::int64_t, std::int64_t>, const Trial*> drawn;
    for (auto* trial : running) {
      if (!trial->online && trial->epoch_row == 0) trial->order->next_epoch();
      const std::int64_t steps = segment_length(*trial);
      trial->lrs.resize(std::size_t(steps));
      for (std::int64_t j = 0; j < steps; ++j) {
        const double lr = scheduled_lr(*trial, trial->step + j);
        trial->lrs[std::size_t(j)] = trial->scaled_lr ? lr * trial->lr_factor : lr;
      }
      trial->samples_before = trial->samples;
      segments.push_back({trial->slot, trial->order->current().data(), trial->epoch_row, steps, trial->batch_size,
                          trial->lrs.data(), trial->step});
      if (trial->online) {
        // Samples samples .. samples + steps x B - 1 of the stream: sample i lands at the same place in every
        // batch size's sequence.
        const std::int64_t count = steps * trial->batch_size;
        const Trial* owner = drawn.emplace(std::make_pair(trial->samples, count), trial).first->second;
        if (owner == trial) {
          trial->online_x.resize(std::size_t(count * data_.inputs));
          trial->online_y.resize(std::size_t(count * target_width_));
          online_rows_->rows(trial->samples, count, trial->online_x.data(), trial->online_y.data());
        }
        segments.back().x = owner->online_x.data();
        segments.back().y = owner->online_y.data();
      }
    }
    math_->advance(segments);

    std::vector<Trial*> evaluate_now;
    for (std::size_t i = 0; i < running.size(); ++i) {
      Trial& trial = *running[i];
      trial.checkpointed_here = false;
      const std::int64_t steps = segments[i].steps;
      const Accumulators sums = math_->accumulators(trial.slot);
      const std::int64_t done = sums.diverged_at_step > 0 ? sums.diverged_at_step - trial.step : steps;
      std::int64_t rows = 0;
      for (std::int64_t j = 0; j < done; ++j) rows += rows_of_step(trial, j);
      trial.samples += rows;
      trial.step += done;
      trial.lr = trial.scaled_lr ? scheduled_lr(trial, trial.step - 1) : trial.lrs[std::size_t(done - 1)];
      if (sums.diverged_at_step > 0) {
        trial.outcome.status = TrialStatus::Diverged;
        trial.outcome.diverged_at_step = sums.diverged_at_step;
        if (std::isfinite(sums.diverged_loss)) trial.outcome.diverged_loss = sums.diverged_loss;
        trial.active = false;
        report_divergence(trial, sums.diverged_loss);
        continue;
      }
      const std::int64_t next_b = batch_size_at(*trial.config, trial.step);
      if (!trial.online) {
        // The epoch ends with its last row, or under drop_last when fewer rows are left than the next batch needs.
        trial.batch_in_epoch += steps;
        trial.epoch_row += rows;
        const std::int64_t n = data_.n_train, left = n - trial.epoch_row;
        if (left == 0 || (trial.config->training.drop_last && n >= next_b && left < next_b)) {
          ++trial.epoch;
          trial.batch_in_epoch = trial.epoch_row = 0;
        }
      }
      trial.batch_size = next_b;
      faults::after_step(trial.step, trial.b0, *trial.sink);
      const auto every = trial.config->training.eval_every;
      const bool end = trial.step == trial.total_steps, epoch_done = trial.epoch_row == 0;
      const bool eval_due = trial.budget_in_samples ? crossed(trial, every) || end
                            : trial.budget_in_steps ? trial.step % every == 0 || end
                                                    : epoch_done && (trial.epoch % every == 0 || end);
      if (eval_due) evaluate_now.push_back(&trial);
    }
    evaluate(evaluate_now);
    for (auto* trial : running) {
      if (!trial->active) continue;
      const auto interval = trial->checkpoints.every;
      const bool epoch_done = trial->epoch_row == 0;
      const bool due = interval > 0 && (trial->budget_in_samples ? crossed(*trial, interval)
                                        : trial->budget_in_steps ? trial->step % interval == 0
                                                                 : epoch_done && trial->epoch % interval == 0);
      const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - trial->last_checkpoint).count();
      if (due && since >= trial->checkpoints.min_interval_s) save_checkpoint(*trial);
    }
  }

  // Samples budgets: whether the last segment's samples reached or passed a multiple of `every`.
  static bool crossed(const Trial& trial, std::int64_t every) {
    return trial.samples / every > trial.samples_before / every;
  }

  // The mean of the batch accuracies since the previous evaluation. When all those batches were whole (no
  // short last batch of an epoch among them), their sum is k/B summed, so the count k of correct rows comes
  // back exactly and the mean is k / (B x batches) rounded once: 0.9995, not the 0.9995000000000004 that
  // summing the fractions leaves. Depends only on counters a checkpoint holds, so resuming changes nothing.
  double train_accuracy(const Trial& trial, const Accumulators& sums) const {
    const double batches = double(std::max<std::int64_t>(1, sums.batches));
    const double mean = sums.accuracy_sum / batches;
    // Batches of different sizes (a batch-size schedule): the sum of k_i/B_i gives no count back.
    if (!trial.constant_batch) return mean;
    const std::int64_t n = data_.n_train, b = trial.b0, per_epoch = trial.steps_per_epoch;
    const std::int64_t previous = trial.last ? trial.last->step : 0;
    // Online batches are always whole.
    const bool whole_batches_only = trial.online || n % b == 0 || n / b == per_epoch;  // no short batch, or dropped
    const bool short_batch_since = !whole_batches_only && trial.step / per_epoch > previous / per_epoch;
    if (short_batch_since || sums.batches <= 0) return mean;
    const double correct = std::round(sums.accuracy_sum * double(b));
    if (std::fabs(correct - sums.accuracy_sum * double(b)) > 1e-6) return mean;  // not k/B sums after all
    return correct / (double(b) * batches);
  }

  // A record of where the trial is now (counters, lr, wall time), its metrics to be filled in.
  EvalRecord record_now(const Trial& trial) const {
    EvalRecord record;
    record.epoch = trial.epoch;
    record.step = trial.step;
    record.samples = trial.samples;
    record.lr = trial.lr;
    if (trial.scaled_lr) record.effective_lr = trial.lr * trial.lr_factor;
    // The batch size of the step just taken (of step 0 before any).
    record.batch_size = batch_size_at(*trial.config, std::max<std::int64_t>(0, trial.step - 1));
    record.elapsed_s = elapsed(trial);
    return record;
  }

  // The line after the last evaluation of a diverged trial: the step and the loss that stopped it.
  void report_divergence(Trial& trial, double loss) {
    EvalRecord record = record_now(trial);
    record.train_loss = loss;
    record.diverged = true;
    try {
      trial.sink->on_diverged(record);
    } catch (const StorageError& e) {
      stop_for_storage(trial, e);
    }
  }

  void evaluate(const std::vector<Trial*>& trials) {
    if (trials.empty()) return;
    std::vector<int> slots;
    for (auto* trial : trials) slots.push_back(trial->slot);
    const bool has_test = data_.n_test > 0;
    const auto evaluations = has_test ? math_->evaluate(slots) : std::vector<Evaluation>(trials.size());
    for (std::size_t i = 0; i < trials.size(); ++i) {
      Trial& trial = *trials[i];
      Accumulators sums = math_->accumulators(trial.slot);
      EvalRecord record = record_now(trial);
      const double batches = double(std::max<std::int64_t>(1, sums.batches));
      record.train_loss = sums.loss_sum / batches;
      if (sums.batches > 0) record.last_batch_loss = sums.last_loss;
      if (classification_) record.train_acc = train_accuracy(trial, sums);
      if (sums.noise_steps > 0 && sums.noise_gradient_sum > 0.0) {
        record.noise_scale = sums.noise_trace_sum / sums.noise_gradient_sum;
      }
      if (has_test) {
        record.test_loss = evaluations[i].loss;
        record.test_acc = evaluations[i].accuracy;
      }
      record.elapsed_s = elapsed(trial);
      sums.loss_sum = sums.accuracy_sum = 0.0;
      sums.batches = 0;
      sums.noise_gradient_sum = sums.noise_trace_sum = 0.0;
      sums.noise_steps = 0;
      math_->set_accumulators(trial.slot, sums);
      trial.tracker->observe(record);
      trial.last = record;
      if (trial.evaluations >= 0) ++trial.evaluations;
      try {
        trial.sink->on_eval(record);
      } catch (const StorageError& e) {
        stop_for_storage(trial, e);
        continue;
      }
      if (trial.config->stop.on_target && trial.tracker->all_targets_reached()) {
        trial.outcome.stopped_at_target = true;
        trial.active = false;
        if (trial.config->checkpoint.keep_final) save_checkpoint(trial);
      }
    }
  }

  void save_checkpoint(Trial& trial) {
    if (trial.checkpoints.path.empty() || !trial.outcome.storage_error.empty()) return;
    const auto started = std::chrono::steady_clock::now();
    const Accumulators sums = math_->accumulators(trial.slot);
    CheckpointData checkpoint;
    StateText& state = checkpoint.state;
    state.put_int("format_version", kCheckpointFormatVersion);
    state.put_int("engine_version", kEngineVersion);
    state.put("config_hash", trial.config_hash);
    state.put_int("step", trial.step);
    state.put_int("samples", trial.samples);
    state.put_int("epoch", trial.epoch);
    state.put_int("batch_in_epoch", trial.batch_in_epoch);
    state.put_int("epoch_row", trial.epoch_row);
    if (trial.evaluations >= 0) state.put_int("evaluations", trial.evaluations);
    state.put_int("batches_since_eval", sums.batches);
    state.put_double("loss_sum", sums.loss_sum);
    state.put_double("accuracy_sum", sums.accuracy_sum);
    if (sums.noise_steps > 0) {
      state.put_double("noise_gradient_sum", sums.noise_gradient_sum);
      state.put_double("noise_trace_sum", sums.noise_trace_sum);
      state.put_int("noise_steps", sums.noise_steps);
    }
    state.put_double("lr", trial.lr);
    state.put_double("elapsed_s", elapsed(trial));
    state.put("tracker", trial.tracker->save());
    if (trial.last) put_record(state, *trial.last);
    // Mid-epoch the order must be re-drawn from the epoch's start; at a boundary the next draw is due.
    state.put("data_order", trial.epoch_row > 0 ? trial.order->epoch_start_state() : trial.order->state());
    checkpoint.parameters = math_->parameters(trial.slot);
    checkpoint.optimizer_state = own_state(trial);
    const std::string bytes = checkpoint_bytes(checkpoint);
    ++trial.outcome.checkpoints_written;
    faults::before_checkpoint_write(trial.outcome.checkpoints_written, trial.b0, trial.checkpoints.path, bytes);
    try {
      write_checkpoint(trial.checkpoints.path, bytes);
      trial.checkpointed_here = true;
      trial.last_checkpoint = std::chrono::steady_clock::now();
    } catch (const StorageError& e) {  // this trial stops; the others of the group go on
      stop_for_storage(trial, e);
    }
    trial.outcome.checkpoint_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }

  // Once per trial: the final checkpoint, the outcome, and the sink told.
  void finish(Trial& trial) {
    if (trial.finished) return;
    trial.finished = true;
    TrialOutcome& outcome = trial.outcome;
    if (!outcome.not_trained.empty()) {
      trial.sink->on_finish(outcome);
      return;
    }
    const bool trained_now = trial.step > outcome.resumed_from_step;
    // A completed trial's checkpoint lets a larger budget continue it (unless checkpoint.keep_final says no one will);
    // an interrupted one's lets the next run resume it.
    const bool keep_going = outcome.status == TrialStatus::Interrupted ||
                            (outcome.status == TrialStatus::Completed && trial.config->checkpoint.keep_final);
    if (trained_now && keep_going && !trial.checkpointed_here && !outcome.stopped_at_target) save_checkpoint(trial);
    outcome.final = trial.last;
    outcome.best = trial.tracker->best();
    outcome.targets = trial.tracker->targets();
    outcome.steps = trial.step;
    outcome.samples = trial.samples;
    outcome.epochs = trial.epoch;
    outcome.wall_time_s = elapsed(trial);
    outcome.engine_version = kEngineVersion;
    const auto parameters = math_->parameters(trial.slot);
    outcome.weights_digest =
        full_hash(std::string_view(reinterpret_cast<const char*>(parameters.data()), parameters.size() * sizeof(float)));
    trial.sink->on_finish(outcome);
  }

  const TaskData& data_;  // dataset_of's, kept until the next group's; the backend trains on it as it is
  MlpShape shape_;
  std::unique_ptr<GroupMath> math_;
  int slots_ = 1;  // trials the backend holds at once
  bool classification_ = true;
  std::int64_t target_width_ = 1;            // values per row of y: outputs (regression) or one label
  std::unique_ptr<OnlineRows> online_rows_;  // task.online: the group's stream (one task per group)
  std::vector<std::unique_ptr<Trial>> trials_;
};

}  // namespace

void set_online_rows_for_tests(OnlineRowsFactory factory) { online_rows_factory() = std::move(factory); }

std::string cuda_problem() {
  try {
    return torch_plugin().cuda_problem();
  } catch (const InternalError& e) {
    return std::string("training.device: cuda, but ") + e.what();
  }
}

std::vector<TrialOutcome> train_group(const std::vector<GroupMember>& members, std::size_t max_at_once) {
  if (members.empty()) return {};
  limit_threads(members.front().config->training.threads);
  check_device(members.front().config->training.device);
  // Reinforcement learning has its own loop (src/engine/rl_trial.cpp and its learners, in the LibTorch plugin): one
  // trial at a time, never fused.
  if (is_reinforcement_task(members.front().config->task.name)) return torch_plugin().train_reinforcement_group(members);
  GroupRun run(members, max_at_once);
  return run.run();
}

TrialOutcome train_trial(const Config& config, TrialSink& sink, const CheckpointOptions& checkpoints) {
  return train_group({GroupMember{&config, &sink, checkpoints}}).front();
}

}  // namespace sweeplab
