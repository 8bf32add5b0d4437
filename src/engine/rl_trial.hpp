#pragma once
// What every learner on the Intro-to-RL notebook's DoubleGoalEnv (task doublegoal) shares, whatever it learns
// with (DQN, the one-step actor-critic): the loop over environment steps, the episode log, evaluations of the
// greedy policy, divergence, and checkpoints of everything but the learner's own state, so that a resumed trial
// ends bit for bit like an uninterrupted one. A learner (dqn_trainer.cpp, actor_critic_trainer.cpp) fills in
// the hooks below. No LibTorch here: the learners hold the networks.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/engine/trainer.hpp"
#include "sweeplab/rl/double_goal.hpp"
#include "sweeplab/rl/exploration.hpp"
#include "sweeplab/rl/replay.hpp"
#include "sweeplab/training/tracker.hpp"

namespace sweeplab {

class RlTrial {
 public:
  virtual ~RlTrial() = default;
  TrialOutcome run();

 protected:
  // `kind`: the checkpoint's "kind" (a checkpoint of another kind is set aside); `name`: the learner in messages;
  // `batch_size`: transitions each update learns from (record.batch_size, samples per update, the faults' @bs).
  RlTrial(const GroupMember& member, std::string kind, std::string name, std::int64_t batch_size);

  // ---- the learner's hooks ----
  // New networks, optimizers and generators, from the trial's seed.
  virtual void start_learner(std::uint64_t seed) = 0;
  // The action taken at environment step `step` (0-based) from `observation` (the behaviour policy).
  virtual int act(float observation, std::int64_t step) = 0;
  // After that step: the loss of the update it makes, the parameters still as they were (nothing when it makes
  // none); apply_update() then makes it, unless the loss diverged. `lr` is optimizer.lr under lr_schedule.
  virtual std::optional<double> prepare_update(const rl::Transition& transition, std::int64_t step, double lr) = 0;
  virtual void apply_update() = 0;
  // Once `step` environment steps are done (DQN: the target network's copies).
  virtual void after_step(std::int64_t step) { (void)step; }
  // The greedy policy's action at each position (a tie: action 0, as torch.argmax).
  virtual std::vector<int> greedy_actions(const std::vector<double>& positions) = 0;
  // More of an evaluation's record (DQN: epsilon).
  virtual void describe(EvalRecord& record) const { (void)record; }
  // The learner's state into a checkpoint (parameters, optimizer_state, extra and state keys of its own), and back;
  // restore throws std::runtime_error (one line) for a checkpoint it cannot take.
  virtual void save_learner(CheckpointData& checkpoint) = 0;
  virtual void restore_learner(const CheckpointData& checkpoint) = 0;
  // The trained parameters whose hash is summary.json's weights_digest.
  virtual std::vector<float> final_parameters() = 0;

  // The float tensor `name` of a checkpoint's extra; throws "it lacks <what>" when it has none.
  static const std::vector<float>& extra_floats(const CheckpointData& checkpoint, const std::string& name,
                                                const std::string& what);

  const Config& config_;

 private:
  double elapsed() const;
  void start_fresh();
  bool environment_step();
  std::int64_t segment_length() const;
  void advance();
  EvalRecord record_now() const;
  void diverge(double loss);
  void stop_for_storage(const StorageError& e);
  void evaluate();
  void save_checkpoint();
  void resume_if_possible();
  std::string resume_from(const std::string& path);
  void start_sink();
  void finish();

  TrialSink& sink_;
  CheckpointOptions checkpoints_;
  std::string config_hash_, kind_, name_;
  std::int64_t batch_size_, total_steps_;
  rl::DoubleGoalEnv env_;
  rl::EpisodeLog episodes_;
  std::unique_ptr<MetricsTracker> tracker_;
  std::int64_t step_ = 0, samples_ = 0, updates_since_eval_ = 0, evaluations_ = 0;
  double loss_sum_ = 0.0, lr_ = 0.0, elapsed_before_ = 0.0;
  std::optional<EvalRecord> last_;
  TrialOutcome outcome_;
  bool active_ = true, checkpointed_here_ = false;
  std::chrono::steady_clock::time_point started_, last_checkpoint_;
};

}  // namespace sweeplab
