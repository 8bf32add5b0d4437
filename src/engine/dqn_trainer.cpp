// DQN (the Intro-to-RL notebook): the Q-network is the product's MLP (1 input, 2 outputs), trained with torch::optim from the
// config's optimizer on minibatches of training.batch_size transitions replayed from the buffer, against a
// target network synced every rl.target_update_every environment steps (or Polyak-averaged with rl.tau).
// The environment, replay buffer, exploration schedule and episode log are plain C++ (src/rl).
//
// Units: step = environment step (the budget is training.steps of them); samples = transitions replayed
// (training.batch_size per update; updates start once the buffer holds one batch); epoch = episodes finished.
#include "dqn_trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "checkpoint.hpp"
#include "faults.hpp"
#include "model.hpp"
#include "setup.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/hash.hpp"
#include "sweeplab/rl/double_goal.hpp"
#include "sweeplab/rl/exploration.hpp"
#include "sweeplab/rl/replay.hpp"
#include "sweeplab/training/schedule.hpp"
#include "sweeplab/training/tracker.hpp"

namespace sweeplab {
namespace {

// Environment steps between looks at interrupts (a few milliseconds of training).
constexpr std::int64_t kPollSteps = 256;

// The generators of a trial: the exploration's and the replay buffer's, apart from the model's (training.seed).
constexpr std::uint64_t kExplorationSalt = 0xe4b1a7e5c0ffee01ULL, kReplaySalt = 0x7e91a4b5eedf00d5ULL;

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string optimizer_key(const torch::Tensor& parameter) {
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

void append(std::vector<float>& out, const torch::Tensor& tensor) {
  const auto values = tensor.detach().to(torch::kFloat32).contiguous();
  out.insert(out.end(), values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
}

class DqnTrial {
 public:
  explicit DqnTrial(const GroupMember& member)
      : config_(*member.config),
        sink_(*member.sink),
        checkpoints_(member.checkpoints),
        config_hash_(short_hash(canonical_text(config_))),
        batch_size_(config_.training.batch_size),
        total_steps_(config_.training.steps),
        replay_(config_.rl.replay_capacity, 0),
        explore_(0),
        episodes_(config_.rl.return_window) {}

  TrialOutcome run() {
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

 private:
  double elapsed() const {
    return elapsed_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }

  void start_fresh() {
    const std::uint64_t seed = static_cast<std::uint64_t>(config_.training.seed);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    q_ = make_model(config_.model, 1, rl::DoubleGoalEnv::kActions, gen);
    target_ = make_model(config_.model, 1, rl::DoubleGoalEnv::kActions, gen);
    sync_target();
    optimizer_ = make_optimizer(config_.optimizer, q_->parameters());
    env_.reset();
    replay_ = rl::ReplayBuffer(config_.rl.replay_capacity, seed ^ kReplaySalt);
    explore_ = rl::Generator(seed ^ kExplorationSalt);
    episodes_ = rl::EpisodeLog(config_.rl.return_window);
    tracker_ = std::make_unique<MetricsTracker>(config_.targets, reinforcement_metrics());
    step_ = samples_ = updates_since_eval_ = evaluations_ = 0;
    loss_sum_ = elapsed_before_ = 0.0;
    lr_ = config_.optimizer.lr;
    last_.reset();
    active_ = true;
  }

  // The target network becomes a copy of the Q-network.
  void sync_target() {
    torch::NoGradGuard no_grad;
    const auto from = q_->parameters(), to = target_->parameters();
    for (std::size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
  }

  void polyak_target(double tau) {
    torch::NoGradGuard no_grad;
    const auto from = q_->parameters(), to = target_->parameters();
    for (std::size_t i = 0; i < from.size(); ++i) to[i].mul_(1.0 - tau).add_(from[i], tau);
  }

  int greedy_action(float observation) {
    torch::NoGradGuard no_grad;
    const auto q = q_->forward(torch::full({1, 1}, observation, torch::kFloat32));
    return int(q.argmax(1).item<std::int64_t>());  // a tie: action 0, as torch.argmax
  }

  // The TD loss of a minibatch: (Q(s, a) - (r + gamma (1 - done) max_a' Q_target(s', a')))^2, mean (or Huber).
  torch::Tensor td_loss(const std::vector<rl::Transition>& batch) {
    const auto b = std::int64_t(batch.size());
    auto states = torch::empty({b, 1}, torch::kFloat32), next_states = torch::empty({b, 1}, torch::kFloat32);
    auto rewards = torch::empty({b}, torch::kFloat32), not_done = torch::empty({b}, torch::kFloat32);
    auto actions = torch::empty({b, 1}, torch::kInt64);
    for (std::int64_t i = 0; i < b; ++i) {
      const rl::Transition& t = batch[std::size_t(i)];
      states.data_ptr<float>()[i] = t.state;
      next_states.data_ptr<float>()[i] = t.next_state;
      rewards.data_ptr<float>()[i] = t.reward;
      not_done.data_ptr<float>()[i] = t.done ? 0.0f : 1.0f;
      actions.data_ptr<std::int64_t>()[i] = t.action;
    }
    const auto q = q_->forward(states).gather(1, actions).squeeze(1);
    torch::Tensor target;
    {
      torch::NoGradGuard no_grad;
      const auto next_q = std::get<0>(target_->forward(next_states).max(1));
      target = rewards + config_.rl.discount * not_done * next_q;
    }
    if (config_.rl.loss == "huber") return torch::huber_loss(q, target, at::Reduction::Mean, 1.0);
    return torch::mse_loss(q, target);
  }

  // One environment step (and, once the buffer holds a batch, one update). False when the update's loss
  // diverged: the parameters stay as they were before it.
  bool environment_step() {
    const std::int64_t t = step_;
    const double epsilon = rl::epsilon_at(config_.rl, t);
    const float observation = env_.observation();
    const int action = explore_.uniform() < epsilon ? int(explore_.below(rl::DoubleGoalEnv::kActions))
                                                    : greedy_action(observation);
    const rl::StepResult result = env_.step(action);
    replay_.push({observation, action, float(result.reward), result.observation, result.done});
    episodes_.add_step(result.reward);
    if (result.done) {
      episodes_.end_episode();
      env_.reset();
    }
    lr_ = learning_rate(config_.optimizer, config_.lr_schedule, t, total_steps_);
    if (replay_.size() >= batch_size_) {
      set_learning_rate(*optimizer_, lr_);
      const auto loss = td_loss(replay_.sample(batch_size_));
      const double value = double(loss.item<float>());
      if (!std::isfinite(value) || value > config_.stop.divergence_loss) {
        step_ = t + 1;
        diverge(value);
        return false;
      }
      optimizer_->zero_grad();
      loss.backward();
      optimizer_->step();
      loss_sum_ += value;
      ++updates_since_eval_;
      samples_ += batch_size_;
      if (config_.rl.tau > 0.0) polyak_target(config_.rl.tau);
    }
    step_ = t + 1;
    if (config_.rl.tau == 0.0 && step_ % config_.rl.target_update_every == 0) sync_target();
    faults::after_step(step_, batch_size_, sink_);
    return true;
  }

  // Steps up to the next evaluation, checkpoint, poll for interrupts, end of budget or injected fault.
  std::int64_t segment_length() const {
    const auto until_multiple = [&](std::int64_t every) { return every - step_ % every; };
    std::int64_t steps = std::min({kPollSteps, total_steps_ - step_, until_multiple(config_.training.eval_every)});
    if (checkpoints_.every > 0) steps = std::min(steps, until_multiple(checkpoints_.every));
    if (const auto fault = faults::fault_step(batch_size_); fault > step_) steps = std::min(steps, fault - step_);
    return steps;
  }

  void advance() {
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

  EvalRecord record_now() const {
    EvalRecord record;
    record.epoch = episodes_.episodes();
    record.step = step_;
    record.samples = samples_;
    record.lr = lr_;
    record.batch_size = batch_size_;
    record.elapsed_s = elapsed();
    return record;
  }

  void diverge(double loss) {
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

  void stop_for_storage(const StorageError& e) {
    outcome_.status = TrialStatus::Interrupted;
    outcome_.storage_error = first_line(e.what());
    active_ = false;
  }

  void evaluate() {
    EvalRecord record = record_now();
    // Before the first update there is no TD loss to average: null in metrics.jsonl.
    record.train_loss = updates_since_eval_ > 0 ? loss_sum_ / double(updates_since_eval_)
                                                : std::numeric_limits<double>::quiet_NaN();
    record.episode_return = episodes_.mean_return();
    record.epsilon = rl::epsilon_at(config_.rl, step_ - 1);
    // The greedy policy as a table over the positions an episode passes through (one forward for all of them).
    const std::vector<double> positions = rl::interior_positions();
    auto inputs = torch::empty({std::int64_t(positions.size()), 1}, torch::kFloat32);
    for (std::size_t i = 0; i < positions.size(); ++i) inputs.data_ptr<float>()[i] = float(positions[i]);
    std::vector<int> table(positions.size());
    {
      torch::NoGradGuard no_grad;
      const auto actions = q_->forward(inputs).argmax(1).contiguous();  // a tie: action 0, as torch.argmax
      for (std::size_t i = 0; i < table.size(); ++i) table[i] = int(actions.data_ptr<std::int64_t>()[i]);
    }
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

  // ---- checkpoints --------------------------------------------------------------------------------------

  // Adam, AdamW: exp_avg and exp_avg_sq of each parameter in order (their step count in the state); SGD with
  // momentum: the momentum buffers. Nothing before the first update.
  std::vector<float> optimizer_floats(StateText& state) {
    std::vector<float> out;
    auto& states = optimizer_->state();
    const auto parameters = q_->parameters();
    const bool has_state = !parameters.empty() && states.count(optimizer_key(parameters.front())) > 0;
    state.put_int("optimizer.has_state", has_state);
    if (!has_state) return out;
    for (const auto& p : parameters) {
      auto& entry = *states.at(optimizer_key(p));
      if (config_.optimizer.name == "adam") {
        auto& s = static_cast<torch::optim::AdamParamState&>(entry);
        append(out, s.exp_avg());
        append(out, s.exp_avg_sq());
        state.put_int("optimizer.step", s.step());
      } else if (config_.optimizer.name == "adamw") {
        auto& s = static_cast<torch::optim::AdamWParamState&>(entry);
        append(out, s.exp_avg());
        append(out, s.exp_avg_sq());
        state.put_int("optimizer.step", s.step());
      } else {
        append(out, static_cast<torch::optim::SGDParamState&>(entry).momentum_buffer());
      }
    }
    return out;
  }

  void restore_optimizer(const StateText& state, const std::vector<float>& values) {
    optimizer_->state().clear();
    if (!state.get_int("optimizer.has_state")) {
      if (!values.empty()) throw std::runtime_error("optimizer state without its flag");
      return;
    }
    std::size_t at = 0;
    const auto take = [&](const torch::Tensor& like) {
      const auto n = std::size_t(like.numel());
      if (at + n > values.size()) throw std::runtime_error("too little optimizer state");
      auto tensor = torch::from_blob(const_cast<float*>(values.data() + at), like.sizes(), torch::kFloat32).clone();
      at += n;
      return tensor;
    };
    for (const auto& p : q_->parameters()) {
      std::unique_ptr<torch::optim::OptimizerParamState> entry;
      if (config_.optimizer.name == "adam") {
        auto s = std::make_unique<torch::optim::AdamParamState>();
        s->exp_avg(take(p));
        s->exp_avg_sq(take(p));
        s->step(state.get_int("optimizer.step"));
        entry = std::move(s);
      } else if (config_.optimizer.name == "adamw") {
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->exp_avg(take(p));
        s->exp_avg_sq(take(p));
        s->step(state.get_int("optimizer.step"));
        entry = std::move(s);
      } else {
        auto s = std::make_unique<torch::optim::SGDParamState>();
        s->momentum_buffer(take(p));
        entry = std::move(s);
      }
      optimizer_->state()[optimizer_key(p)] = std::move(entry);
    }
    if (at != values.size()) throw std::runtime_error("too much optimizer state");
  }

  void save_checkpoint() {
    if (checkpoints_.path.empty() || !outcome_.storage_error.empty()) return;
    const auto started = std::chrono::steady_clock::now();
    CheckpointData checkpoint;
    StateText& state = checkpoint.state;
    state.put_int("format_version", kCheckpointFormatVersion);
    state.put_int("engine_version", kEngineVersion);
    state.put("config_hash", config_hash_);
    state.put("kind", "dqn");
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
    state.put("exploration_generator", explore_.state());
    state.put("replay_generator", replay_.generator_state());
    checkpoint.parameters = flatten_parameters(q_);
    checkpoint.optimizer_state = optimizer_floats(state);
    checkpoint.extra.emplace_back("target_parameters", flatten_parameters(target_));
    checkpoint.extra.emplace_back("replay", replay_.contents());
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
  void resume_if_possible() {
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

  std::string resume_from(const std::string& path) {
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
      if (!state.has("kind") || state.get("kind") != "dqn") throw std::runtime_error("it is not a DQN checkpoint");
      const std::vector<float>* target = nullptr;
      const std::vector<float>* replay = nullptr;
      for (const auto& [name, values] : checkpoint.extra) {
        if (name == "target_parameters") target = &values;
        if (name == "replay") replay = &values;
      }
      if (!target || !replay) throw std::runtime_error("it lacks the target network or the replay buffer");
      unflatten_parameters(checkpoint.parameters, q_);
      unflatten_parameters(*target, target_);
      restore_optimizer(state, checkpoint.optimizer_state);
      replay_.restore(*replay, state.get("replay_generator"));
      explore_.set_state(state.get("exploration_generator"));
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

  void start_sink() {
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

  void finish() {
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
    const auto parameters = flatten_parameters(q_);
    outcome_.weights_digest =
        full_hash(std::string_view(reinterpret_cast<const char*>(parameters.data()), parameters.size() * sizeof(float)));
    sink_.on_finish(outcome_);
  }

  const Config& config_;
  TrialSink& sink_;
  CheckpointOptions checkpoints_;
  std::string config_hash_;
  std::int64_t batch_size_, total_steps_;
  torch::nn::Sequential q_{nullptr}, target_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  rl::DoubleGoalEnv env_;
  rl::ReplayBuffer replay_;
  rl::Generator explore_;
  rl::EpisodeLog episodes_;
  std::unique_ptr<MetricsTracker> tracker_;
  std::int64_t step_ = 0, samples_ = 0, updates_since_eval_ = 0, evaluations_ = 0;
  double loss_sum_ = 0.0, lr_ = 0.0, elapsed_before_ = 0.0;
  std::optional<EvalRecord> last_;
  TrialOutcome outcome_;
  bool active_ = true, checkpointed_here_ = false;
  std::chrono::steady_clock::time_point started_, last_checkpoint_;
};

}  // namespace

std::vector<TrialOutcome> train_dqn_group(const std::vector<GroupMember>& members) {
  std::vector<TrialOutcome> outcomes;
  for (const auto& member : members) outcomes.push_back(DqnTrial(member).run());
  return outcomes;
}

}  // namespace sweeplab
