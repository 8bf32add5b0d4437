// Units: step = environment step (the budget is training.steps of them); samples = transitions learned from
// (the learner's batch size per update); epoch = episodes finished.
#include "rl_trial.hpp"

#include <cmath>
#include <filesystem>
#include <limits>

#include "faults.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/hash.hpp"
#include "sweeplab/training/schedule.hpp"

namespace sweeplab {
namespace {

// Environment steps between looks at interrupts (a few milliseconds of training).
constexpr std::int64_t kPollSteps = 256;

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

RlTrial::RlTrial(const GroupMember& member, std::string kind, std::string name, std::int64_t batch_size)
    : config_(*member.config),
      sink_(*member.sink),
      checkpoints_(member.checkpoints),
      config_hash_(short_hash(canonical_text(config_))),
      kind_(std::move(kind)),
      name_(std::move(name)),
      batch_size_(batch_size),
      total_steps_(config_.training.steps),
      episodes_(config_.rl.return_window) {}

const std::vector<float>& RlTrial::extra_floats(const CheckpointData& checkpoint, const std::string& name,
                                                const std::string& what) {
  for (const auto& [key, values] : checkpoint.extra) {
    if (key == name) return values;
  }
  throw std::runtime_error("it lacks " + what);
}

TrialOutcome RlTrial::run() {
  started_ = last_checkpoint_ = std::chrono::steady_clock::now();
  start_fresh();
  resume_if_possible();
  if (!outcome_.not_trained.empty()) {
    sink_.on_finish(outcome_);
    return outcome_;
  }
  start_sink();
  while (active_ && step_ < total_steps_) {
    if (sink_.stop_requested()) {
      outcome_.status = TrialStatus::Interrupted;
      break;
    }
    advance();
  }
  finish();
  return outcome_;
}

double RlTrial::elapsed() const {
  return elapsed_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

void RlTrial::start_fresh() {
  start_learner(static_cast<std::uint64_t>(config_.training.seed));
  env_.reset();
  episodes_ = rl::EpisodeLog(config_.rl.return_window);
  tracker_ = std::make_unique<MetricsTracker>(config_.targets, reinforcement_metrics());
  step_ = samples_ = updates_since_eval_ = evaluations_ = 0;
  loss_sum_ = elapsed_before_ = 0.0;
  lr_ = config_.optimizer.lr;
  last_.reset();
  active_ = true;
}

// One environment step and the learner's update after it. False when the update's loss diverged: the
// parameters stay as they were before it.
bool RlTrial::environment_step() {
  const std::int64_t t = step_;
  const float observation = env_.observation();
  const int action = act(observation, t);
  const rl::StepResult result = env_.step(action);
  episodes_.add_step(result.reward);
  if (result.done) {
    episodes_.end_episode();
    env_.reset();
  }
  lr_ = learning_rate(config_.optimizer, config_.lr_schedule, t, total_steps_);
  const rl::Transition transition{observation, action, float(result.reward), result.observation, result.done};
  if (const std::optional<double> loss = prepare_update(transition, t, lr_)) {
    const double value = *loss;
    if (!std::isfinite(value) || value > config_.stop.divergence_loss) {
      step_ = t + 1;
      diverge(value);
      return false;
    }
    apply_update();
    loss_sum_ += value;
    ++updates_since_eval_;
    samples_ += batch_size_;
  }
  step_ = t + 1;
  after_step(step_);
  faults::after_step(step_, batch_size_, sink_);
  return true;
}

// Steps up to the next evaluation, checkpoint, poll for interrupts, end of budget or injected fault.
std::int64_t RlTrial::segment_length() const {
  const auto until_multiple = [&](std::int64_t every) { return every - step_ % every; };
  std::int64_t steps = std::min({kPollSteps, total_steps_ - step_, until_multiple(config_.training.eval_every)});
  if (checkpoints_.every > 0) steps = std::min(steps, until_multiple(checkpoints_.every));
  if (const auto fault = faults::fault_step(batch_size_); fault > step_) steps = std::min(steps, fault - step_);
  return steps;
}

void RlTrial::advance() {
  checkpointed_here_ = false;
  const std::int64_t steps = segment_length();
  for (std::int64_t j = 0; j < steps; ++j) {
    if (!environment_step()) return;
  }
  if (step_ % config_.training.eval_every == 0 || step_ == total_steps_) evaluate();
  const auto every = checkpoints_.every;
  const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_checkpoint_).count();
  if (active_ && every > 0 && step_ % every == 0 && since >= checkpoints_.min_interval_s) save_checkpoint();
}

EvalRecord RlTrial::record_now() const {
  EvalRecord record;
  record.epoch = episodes_.episodes();
  record.step = step_;
  record.samples = samples_;
  record.lr = lr_;
  record.batch_size = batch_size_;
  record.elapsed_s = elapsed();
  return record;
}

void RlTrial::diverge(double loss) {
  outcome_.status = TrialStatus::Diverged;
  outcome_.diverged_at_step = step_;
  if (std::isfinite(loss)) outcome_.diverged_loss = loss;
  active_ = false;
  EvalRecord record = record_now();
  record.train_loss = loss;
  record.diverged = true;
  try {
    sink_.on_diverged(record);
  } catch (const StorageError& e) {
    stop_for_storage(e);
  }
}

void RlTrial::stop_for_storage(const StorageError& e) {
  outcome_.status = TrialStatus::Interrupted;
  outcome_.storage_error = first_line(e.what());
  active_ = false;
}

void RlTrial::evaluate() {
  EvalRecord record = record_now();
  // Before the first update there is no loss to average: null in metrics.jsonl.
  record.train_loss = updates_since_eval_ > 0 ? loss_sum_ / double(updates_since_eval_)
                                              : std::numeric_limits<double>::quiet_NaN();
  record.episode_return = episodes_.mean_return();
  describe(record);
  // The greedy policy as a table over the positions an episode passes through.
  const std::vector<int> table = greedy_actions(rl::interior_positions());
  const auto policy = [&](float observation) { return table.at(std::size_t(std::llround(observation * 10.0f) + 9)); };
  const rl::EpisodeResult greedy = rl::run_episode(policy);
  record.greedy_return = greedy.total_return;
  record.greedy_length = greedy.length;
  record.greedy_optimal_fraction = rl::optimal_start_fraction(policy);
  record.elapsed_s = elapsed();
  loss_sum_ = 0.0;
  updates_since_eval_ = 0;
  tracker_->observe(record);
  last_ = record;
  if (evaluations_ >= 0) ++evaluations_;
  try {
    sink_.on_eval(record);
  } catch (const StorageError& e) {
    stop_for_storage(e);
    return;
  }
  if (config_.stop.on_target && tracker_->all_targets_reached()) {
    outcome_.stopped_at_target = true;
    active_ = false;
    if (config_.checkpoint.keep_final) save_checkpoint();
  }
}

// ---- checkpoints ----------------------------------------------------------------------------------------

void RlTrial::save_checkpoint() {
  if (checkpoints_.path.empty() || !outcome_.storage_error.empty()) return;
  const auto started = std::chrono::steady_clock::now();
  CheckpointData checkpoint;
  StateText& state = checkpoint.state;
  state.put_int("format_version", kCheckpointFormatVersion);
  state.put_int("engine_version", kEngineVersion);
  state.put("config_hash", config_hash_);
  state.put("kind", kind_);
  state.put_int("step", step_);
  state.put_int("samples", samples_);
  state.put_int("evaluations", evaluations_);
  state.put_int("updates_since_eval", updates_since_eval_);
  state.put_double("loss_sum", loss_sum_);
  state.put_double("lr", lr_);
  state.put_double("elapsed_s", elapsed());
  state.put("tracker", tracker_->save());
  if (last_) put_record(state, *last_);
  state.put_double("env.position", env_.position());
  state.put_int("env.steps", env_.steps());
  state.put("episodes", episodes_.save());
  save_learner(checkpoint);
  const std::string bytes = checkpoint_bytes(checkpoint);
  ++outcome_.checkpoints_written;
  faults::before_checkpoint_write(outcome_.checkpoints_written, batch_size_, checkpoints_.path, bytes);
  try {
    write_checkpoint(checkpoints_.path, bytes);
    checkpointed_here_ = true;
    last_checkpoint_ = std::chrono::steady_clock::now();
  } catch (const StorageError& e) {
    stop_for_storage(e);
  }
  outcome_.checkpoint_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

// As the supervised engine: checkpoint.pt, else checkpoint.prev.pt, else from scratch; a damaged or foreign
// checkpoint is renamed aside with one warning line.
void RlTrial::resume_if_possible() {
  namespace fs = std::filesystem;
  const std::string& path = checkpoints_.path;
  if (path.empty()) return;
  std::vector<std::string> set_aside;
  bool resumed = false;
  for (const std::string& candidate : {path, previous_checkpoint_path(path)}) {
    if (!fs::exists(candidate)) continue;
    const std::string problem = resume_from(candidate);
    if (problem.empty()) {
      resumed = true;
      if (!set_aside.empty()) {
        set_aside.back() += "; continued from " + fs::path(candidate).filename().string() + " at step " +
                            std::to_string(step_);
      }
      break;
    }
    set_aside.push_back("checkpoint unreadable (" + problem + "); kept as " + sweeplab::set_aside(candidate));
    start_fresh();
  }
  if (!set_aside.empty() && !resumed) set_aside.back() += "; started over";
  for (auto& warning : set_aside) outcome_.warnings.push_back(std::move(warning));
}

std::string RlTrial::resume_from(const std::string& path) {
  try {
    const CheckpointData checkpoint = read_checkpoint(path);
    const StateText& state = checkpoint.state;
    const auto version = state.get_int("format_version");
    const auto engine = state.has("engine_version") ? state.get_int("engine_version") : 1;
    if (version < kOldestContinuedFormat || version > kCheckpointFormatVersion || engine != kEngineVersion) {
      throw std::runtime_error("format version " + std::to_string(version) + ", engine " + std::to_string(engine) +
                               "; this sweeplab reads formats " + std::to_string(kOldestContinuedFormat) + " to " +
                               std::to_string(kCheckpointFormatVersion) + " of engine " + std::to_string(kEngineVersion));
    }
    if (state.get("config_hash") != config_hash_) throw std::runtime_error("it was written for another config");
    if (!state.has("kind") || state.get("kind") != kind_) throw std::runtime_error("it is not a " + name_ + " checkpoint");
    restore_learner(checkpoint);
    episodes_.restore(state.get("episodes"));
    env_.restore(state.get_double("env.position"), state.get_int("env.steps"));
    step_ = state.get_int("step");
    samples_ = state.get_int("samples");
    evaluations_ = state.get_int("evaluations");
    updates_since_eval_ = state.get_int("updates_since_eval");
    loss_sum_ = state.get_double("loss_sum");
    lr_ = state.get_double("lr");
    elapsed_before_ = state.get_double("elapsed_s");
    tracker_->restore(state.get("tracker"));
    if (state.has("last.step")) last_ = get_record(state);
    if (config_.stop.on_target && tracker_->all_targets_reached()) {
      outcome_.stopped_at_target = true;
      active_ = false;
    }
    return "";
  } catch (const std::exception& e) {
    return first_line(e.what());
  }
}

void RlTrial::start_sink() {
  try {
    if (!sink_.on_start(ResumePoint{step_, evaluations_, last_})) {
      start_fresh();
      outcome_.stopped_at_target = false;
      sink_.on_start(ResumePoint{});
    }
  } catch (const StorageError& e) {
    stop_for_storage(e);
  }
  outcome_.resumed_from_step = step_;
}

void RlTrial::finish() {
  const bool trained_now = step_ > outcome_.resumed_from_step;
  // As a group trainer's trial: checkpointed to continue (a larger budget, unless checkpoint.keep_final is false) or
  // to resume.
  const bool keep_going = outcome_.status == TrialStatus::Interrupted ||
                          (outcome_.status == TrialStatus::Completed && config_.checkpoint.keep_final);
  if (trained_now && keep_going && !checkpointed_here_ && !outcome_.stopped_at_target) save_checkpoint();
  outcome_.final = last_;
  outcome_.best = tracker_->best();
  outcome_.targets = tracker_->targets();
  outcome_.steps = step_;
  outcome_.samples = samples_;
  outcome_.epochs = episodes_.episodes();
  outcome_.wall_time_s = elapsed();
  outcome_.engine_version = kEngineVersion;
  const auto parameters = final_parameters();
  outcome_.weights_digest =
      full_hash(std::string_view(reinterpret_cast<const char*>(parameters.data()), parameters.size() * sizeof(float)));
  sink_.on_finish(outcome_);
}

}  // namespace sweeplab
