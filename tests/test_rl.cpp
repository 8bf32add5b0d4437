// Reinforcement learning (the Intro-to-RL notebook's DQN and one-step actor-critic): DoubleGoalEnv against the notebook's
// rules, the epsilon schedule, the replay buffer's sampling and its checkpointed state, the rl.* keys and their
// errors, and DQN and actor-critic trials run by the real binary: metrics, divergence, learning, and kill/resume
// mid-episode ending bit-identical.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "engine/checkpoint.hpp"
#include "sweeplab/config/applies.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/config/fusion_key.hpp"
#include "sweeplab/sched/plan.hpp"
#include "sweeplab/rl/double_goal.hpp"
#include "sweeplab/rl/exploration.hpp"
#include "sweeplab/rl/replay.hpp"
#include "sweeplab/training/tracker.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;

// ---- the environment ------------------------------------------------------------------------------------

TEST(DoubleGoalEnv, TenStepsRightOrLeftReachAGoalWithRewardOne) {
  for (const int action : {0, 1}) {
    rl::DoubleGoalEnv env;
    EXPECT_EQ(env.reset(), 0.0f);
    for (int i = 1; i <= 9; ++i) {
      const auto step = env.step(action);
      EXPECT_FALSE(step.done) << i;
      EXPECT_EQ(step.reward, 0.0);
      // Rounded to 5 decimals: 0.1 added i times is exactly the decimal i/10 (0.30000000000000004 is not).
      EXPECT_EQ(env.position(), (action == 1 ? 1 : -1) * double(i) / 10.0) << i;
      EXPECT_EQ(step.observation, float(env.position()));
    }
    const auto goal = env.step(action);
    EXPECT_TRUE(goal.done);
    EXPECT_EQ(goal.reward, 1.0);
    EXPECT_EQ(goal.observation, action == 1 ? 1.0f : -1.0f);
    EXPECT_EQ(env.steps(), 10);
  }
}

TEST(DoubleGoalEnv, FiftyStepsWithoutAGoalEndTheEpisodeWithRewardZero) {
  rl::DoubleGoalEnv env;
  env.reset();
  for (int i = 1; i <= 50; ++i) {
    const auto step = env.step(i % 2);  // left, right, left, ...: between -0.1 and 0
    EXPECT_EQ(step.reward, 0.0) << i;
    EXPECT_EQ(step.done, i == 50) << i;
  }
  EXPECT_EQ(env.position(), 0.0);
  // A goal on the 50th step is a goal: reward 1 (40 steps back and forth, then 10 to the right).
  env.reset();
  for (int i = 0; i < 40; ++i) env.step(i % 2);
  for (int i = 1; i <= 9; ++i) EXPECT_FALSE(env.step(1).done);
  const auto last = env.step(1);
  EXPECT_EQ(env.steps(), 50);
  EXPECT_TRUE(last.done);
  EXPECT_EQ(last.reward, 1.0);
}

TEST(DoubleGoalEnv, RoundingAndBadActions) {
  EXPECT_EQ(rl::round5(0.1 + 0.1 + 0.1), 0.3);
  EXPECT_EQ(rl::round5(-0.30000000000000004), -0.3);
  EXPECT_EQ(rl::round5(0.123456), 0.12346);
  rl::DoubleGoalEnv env;
  env.reset();
  EXPECT_THROW(env.step(2), std::invalid_argument);
  EXPECT_THROW(env.step(-1), std::invalid_argument);
}

TEST(DoubleGoalEnv, GreedyEpisodesOfScriptedPolicies) {
  const auto right = rl::run_episode([](float) { return 1; });
  EXPECT_EQ(right.length, 10);
  EXPECT_EQ(right.total_return, 1.0);
  // Towards 0 from either side: stuck at 0 and 0.1 (or -0.1) until the limit.
  const auto stuck = rl::run_episode([](float x) { return x <= 0.0f ? 1 : 0; });
  EXPECT_EQ(stuck.length, 50);
  EXPECT_EQ(stuck.total_return, 0.0);
}

TEST(DoubleGoalEnv, OptimalLengthsAndTheShareOfStartsAPolicyWalksOptimallyFrom) {
  EXPECT_EQ(rl::interior_positions().size(), 19u);
  EXPECT_EQ(rl::interior_positions().front(), -0.9);
  EXPECT_EQ(rl::interior_positions()[12], 0.3);
  EXPECT_EQ(rl::optimal_length(0.0), 10);
  EXPECT_EQ(rl::optimal_length(0.3), 7);
  EXPECT_EQ(rl::optimal_length(-0.9), 1);
  EXPECT_EQ(rl::run_episode([](float) { return 0; }, 0.3).length, 13);
  // Always right is optimal from 0.0 and the 9 starts right of it, not from the 9 left of it.
  EXPECT_DOUBLE_EQ(rl::optimal_start_fraction([](float) { return 1; }), 10.0 / 19.0);
  EXPECT_EQ(rl::optimal_start_fraction([](float x) { return x < 0.0f ? 0 : 1; }), 1.0);
  EXPECT_EQ(rl::optimal_start_fraction([](float x) { return x <= 0.0f ? 1 : 0; }), 0.0);
  EXPECT_TRUE(higher_is_better("greedy_optimal_fraction"));
}

// ---- exploration and episodes ---------------------------------------------------------------------------

TEST(Exploration, EpsilonFollowsTheSeedsExponentialSchedule) {
  RlConfig rl;  // start 1.0, end 0.05, decay 300 (the notebook's)
  EXPECT_DOUBLE_EQ(rl::epsilon_at(rl, 0), 1.0);
  EXPECT_DOUBLE_EQ(rl::epsilon_at(rl, 300), 0.05 + 0.95 * std::exp(-1.0));  // one time constant
  EXPECT_NEAR(rl::epsilon_at(rl, 300), 0.39949, 1e-5);
  EXPECT_NEAR(rl::epsilon_at(rl, 6000), 0.05, 1e-8);  // 20 time constants: 0.95 e^-20 ~ 2e-9
  for (std::int64_t t = 1; t < 2000; t += 37) EXPECT_LT(rl::epsilon_at(rl, t), rl::epsilon_at(rl, t - 1));
  rl.epsilon_start = rl.epsilon_end = 0.2;
  EXPECT_EQ(rl::epsilon_at(rl, 12345), 0.2);
}

TEST(Exploration, EpisodeLogAveragesTheLastWindowAndSavesExactly) {
  rl::EpisodeLog log(3);
  EXPECT_FALSE(log.mean_return());
  for (double r : {1.0, 0.0, 1.0, 1.0}) {
    log.add_step(0.0);
    log.add_step(r);
    log.end_episode();
  }
  EXPECT_EQ(log.episodes(), 4);
  EXPECT_DOUBLE_EQ(*log.mean_return(), 2.0 / 3.0);  // the last three: 0, 1, 1
  log.add_step(0.5);
  rl::EpisodeLog copy(3);
  copy.restore(log.save());
  EXPECT_EQ(copy.save(), log.save());
  EXPECT_EQ(copy.current_length(), 1);
  EXPECT_EQ(copy.current_return(), 0.5);
  EXPECT_EQ(*copy.mean_return(), *log.mean_return());
}

// ---- the replay buffer ----------------------------------------------------------------------------------

rl::Transition numbered(int i) { return {float(i), i % 2, float(i % 3 == 0), float(i + 1), i % 5 == 0}; }

std::vector<float> states_of(const std::vector<rl::Transition>& batch) {
  std::vector<float> out;
  for (const auto& t : batch) out.push_back(t.state);
  return out;
}

TEST(Replay, KeepsTheLastCapacityTransitionsOldestFirst) {
  rl::ReplayBuffer buffer(5, 0);
  for (int i = 0; i < 12; ++i) buffer.push(numbered(i));
  ASSERT_EQ(buffer.size(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(buffer.at(i).state, float(7 + i));
  EXPECT_THROW(buffer.sample(6), std::invalid_argument);
}

TEST(Replay, SamplingIsDeterministicPerSeedDistinctAndCoversTheBuffer) {
  rl::ReplayBuffer a(100, 42), b(100, 42), c(100, 43);
  for (int i = 0; i < 100; ++i) {
    a.push(numbered(i));
    b.push(numbered(i));
    c.push(numbered(i));
  }
  std::map<float, int> counts;
  bool differs = false;
  for (int draw = 0; draw < 200; ++draw) {
    const auto batch = states_of(a.sample(32));
    EXPECT_EQ(batch, states_of(b.sample(32)));
    differs = differs || batch != states_of(c.sample(32));
    EXPECT_EQ(std::set<float>(batch.begin(), batch.end()).size(), 32u);  // without replacement
    for (float s : batch) ++counts[s];
  }
  EXPECT_TRUE(differs);
  // 6400 draws over 100 transitions: 64 each on average; all of them drawn, none wildly often.
  EXPECT_EQ(counts.size(), 100u);
  for (const auto& [state, count] : counts) EXPECT_TRUE(count > 30 && count < 110) << state << " " << count;
  // The whole buffer: every transition once.
  const auto all = states_of(a.sample(100));
  EXPECT_EQ(std::set<float>(all.begin(), all.end()).size(), 100u);
}

TEST(Replay, RestoredBufferSamplesAndEvictsAsTheOriginal) {
  rl::ReplayBuffer original(7, 5);
  for (int i = 0; i < 19; ++i) original.push(numbered(i));  // wrapped around: the oldest is not at storage 0
  original.sample(4);
  rl::ReplayBuffer restored(7, 999);
  restored.restore(original.contents(), original.generator_state());
  EXPECT_EQ(restored.contents(), original.contents());
  for (int i = 19; i < 40; ++i) {
    original.push(numbered(i));
    restored.push(numbered(i));
    EXPECT_EQ(states_of(restored.sample(3)), states_of(original.sample(3))) << i;
  }
  EXPECT_EQ(restored.contents(), original.contents());
  EXPECT_THROW(restored.restore(std::vector<float>(41, 0.0f), original.generator_state()), std::runtime_error);
  EXPECT_THROW(restored.restore({}, "not a state"), std::runtime_error);
}

// ---- metrics: directions, targets, best values ----------------------------------------------------------

EvalRecord rl_record(std::int64_t step, std::int64_t length, double episode_return) {
  EvalRecord record;
  record.step = step;
  record.samples = step * 8;
  record.train_loss = 0.01;
  record.episode_return = episode_return;
  record.greedy_length = length;
  record.greedy_return = length < 50 ? 1.0 : 0.0;
  record.epsilon = 0.1;
  return record;
}

TEST(RlMetrics, LowerLengthAndHigherReturnAreBetterAndTargetsRecordTheFirstStep) {
  EXPECT_TRUE(higher_is_better("episode_return"));
  EXPECT_TRUE(higher_is_better("greedy_return"));
  EXPECT_FALSE(higher_is_better("greedy_length"));
  EXPECT_FALSE(higher_is_better("train_loss"));
  MetricsTracker tracker({"greedy_length <= 10", "episode_return >= 0.9"},
                         std::vector<std::string>{"train_loss", "episode_return", "greedy_return", "greedy_length"});
  tracker.observe(rl_record(100, 50, 0.2));
  tracker.observe(rl_record(200, 12, 0.95));
  tracker.observe(rl_record(300, 10, 0.5));
  tracker.observe(rl_record(400, 14, 0.7));
  std::map<std::string, BestMetric> best;
  for (const auto& b : tracker.best()) best[b.metric] = b;
  EXPECT_EQ(best.at("greedy_length").value, 10.0);
  EXPECT_EQ(best.at("greedy_length").step, 300);
  EXPECT_EQ(best.at("episode_return").value, 0.95);
  EXPECT_EQ(best.at("episode_return").step, 200);
  ASSERT_EQ(tracker.targets().size(), 2u);
  EXPECT_TRUE(tracker.targets()[0].reached);
  EXPECT_EQ(tracker.targets()[0].step, 300);
  EXPECT_EQ(tracker.targets()[0].samples, 2400);
  EXPECT_EQ(tracker.targets()[1].step, 200);
  // A record without a TD loss yet (not a number) is no best train_loss.
  EvalRecord early = rl_record(50, 50, 0.0);
  early.train_loss = NAN;
  EXPECT_FALSE(metric_value(early, "train_loss"));
  EXPECT_EQ(*metric_value(early, "greedy_length"), 50.0);
}

// ---- config: keys, applies, fusion, errors ------------------------------------------------------------

const std::string kDoubleGoal =
    "task: {name: doublegoal}\n"
    "model: {hidden: [32, 32]}\n"
    "optimizer: {name: adam, lr: 0.001}\n"
    "training: {steps: 600, batch_size: 8, eval_every: 100}\n";

Config loaded(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  TempDir dir;
  dir.write("configs/c.yaml", yaml);
  return load_sweep(dir.str("configs"), "c", overrides).trials.at(0).config.expand();
}

TEST(RlConfig, KeysApplyOnlyToDoublegoalAndItsTrialsNeverFuse) {
  const Config rl = loaded(kDoubleGoal);
  const Config supervised = loaded("training: {epochs: 2, batch_size: 4}\ntask: {samples: 100}\n");
  for (const std::string key : {"rl.discount", "rl.replay_capacity", "rl.epsilon_decay", "rl.loss", "rl.target_update_every"}) {
    EXPECT_TRUE(key_applies(key, rl)) << key;
    EXPECT_FALSE(key_applies(key, supervised)) << key;
  }
  for (const std::string key : {"task.samples", "task.test_fraction", "training.epochs", "training.samples"}) {
    EXPECT_FALSE(key_applies(key, rl)) << key;
  }
  EXPECT_TRUE(key_applies("training.steps", rl));
  Config polyak = rl;
  polyak.rl.tau = 0.01;
  EXPECT_FALSE(key_applies("rl.target_update_every", polyak));
  // Two seeds of one configuration: fused for a supervised task, never for doublegoal.
  Config other_seed = rl, supervised_seed = supervised;
  other_seed.training.seed = 1;
  supervised_seed.training.seed = 1;
  EXPECT_EQ(fusion_key(supervised), fusion_key(supervised_seed));
  EXPECT_NE(fusion_key(rl), fusion_key(other_seed));
  EXPECT_FALSE(is_classification_task("doublegoal"));
}

const std::string kActorCritic =
    "task: {name: doublegoal}\n"
    "model: {hidden: [32]}\n"
    "optimizer: {name: adam, lr: 0.001}\n"
    "training: {steps: 600, eval_every: 100}\n"
    "rl: {algorithm: actor_critic, critic_lr: 0.005}\n";

TEST(RlConfig, TheActorCriticUsesItsCriticRateAndNoneOfDqnsKeys) {
  const Config dqn = loaded(kDoubleGoal);
  const Config actor_critic = loaded(kActorCritic);
  EXPECT_EQ(dqn.rl.algorithm, "dqn");  // the default
  EXPECT_EQ(actor_critic.rl.algorithm, "actor_critic");
  EXPECT_EQ(actor_critic.rl.critic_lr, 0.005);
  for (const std::string key : {"rl.replay_capacity", "rl.epsilon_start", "rl.epsilon_end", "rl.epsilon_decay",
                                "rl.target_update_every", "rl.tau", "rl.loss", "training.batch_size"}) {
    EXPECT_TRUE(key_applies(key, dqn)) << key;
    EXPECT_FALSE(key_applies(key, actor_critic)) << key;
  }
  for (const std::string key : {"rl.algorithm", "rl.discount", "rl.return_window", "training.steps", "optimizer.lr"}) {
    EXPECT_TRUE(key_applies(key, dqn)) << key;
    EXPECT_TRUE(key_applies(key, actor_critic)) << key;
  }
  EXPECT_TRUE(key_applies("rl.critic_lr", actor_critic));
  EXPECT_FALSE(key_applies("rl.critic_lr", dqn));
  EXPECT_FALSE(key_applies("rl.algorithm", loaded("training: {epochs: 2, batch_size: 4}\ntask: {samples: 100}\n")));
  // A sweep over the algorithm uses the keys of both.
  TempDir dir;
  dir.write("configs/both.yaml", kDoubleGoal + "sweep: {grid: {rl.algorithm: [dqn, actor_critic]}}\n");
  const ResolvedSweep both = load_sweep(dir.str("configs"), "both");
  EXPECT_TRUE(key_applies("rl.critic_lr", both.spec));
  EXPECT_TRUE(key_applies("rl.replay_capacity", both.spec));
  // Each trial trains alone, and the two algorithms are two trials.
  EXPECT_EQ(both.trials.size(), 2u);
  EXPECT_NE(both.trials[0].id, both.trials[1].id);
}

TEST(RlConfig, ShowListsTheActorCriticsKeysAndLoadsBackTheSameTrials) {
  TempDir dir;
  dir.write("configs/ac.yaml", kActorCritic + "sweep: {grid: {rl.critic_lr: [0.001, 0.02]}}\n");
  const auto show = testing::run_in(dir, {"show", "ac"});
  ASSERT_EQ(show.code, 0) << show.err;
  for (const std::string key : {"algorithm: actor_critic", "critic_lr:", "discount:", "return_window:"}) {
    EXPECT_NE(show.out.find(key), std::string::npos) << key << "\n" << show.out;
  }
  for (const std::string key : {"replay_capacity:", "epsilon_decay:", "target_update_every:", "batch_size:"}) {
    EXPECT_EQ(show.out.find(key), std::string::npos) << key << "\n" << show.out;
  }
  dir.write("configs/copy.yaml", show.out);
  const auto original = load_sweep(dir.str("configs"), "ac"), copy = load_sweep(dir.str("configs"), "copy");
  ASSERT_EQ(copy.trials.size(), 2u);
  for (std::size_t i = 0; i < copy.trials.size(); ++i) EXPECT_EQ(copy.trials[i].id, original.trials[i].id);
}

TEST(RlConfig, AddingTheRlKeysLeavesExistingTrialIdsAsTheyWere) {
  // rl.* keys at their defaults are not in the hash (keys added later): a supervised config hashes as before.
  const Config supervised = loaded("training: {epochs: 2, batch_size: 4}\ntask: {samples: 100}\n");
  EXPECT_EQ(canonical_text(supervised).find("rl."), std::string::npos);
  Config changed = supervised;
  changed.rl.discount = 0.9;
  EXPECT_NE(canonical_text(changed), canonical_text(supervised));
  // rl.algorithm and rl.critic_lr came after DQN: a DQN trial hashes as before them.
  const Config dqn = loaded(kDoubleGoal);
  EXPECT_EQ(canonical_text(dqn).find("rl.algorithm"), std::string::npos);
  EXPECT_EQ(canonical_text(dqn).find("rl.critic_lr"), std::string::npos);
  Config critic = dqn;
  critic.rl.critic_lr = 0.02;  // not used by DQN, but part of what the trial is
  EXPECT_NE(canonical_text(critic), canonical_text(dqn));
  EXPECT_NE(canonical_text(loaded(kActorCritic)).find("rl.algorithm=actor_critic"), std::string::npos);
}

TEST(RlConfig, ShowListsTheRlKeysOfDoublegoalOnly) {
  TempDir dir;
  dir.write("configs/rl.yaml", kDoubleGoal);
  dir.write("configs/sup.yaml", "training: {epochs: 2, batch_size: 4}\ntask: {samples: 100}\n");
  const auto rl = testing::run_in(dir, {"show", "rl"});
  ASSERT_EQ(rl.code, 0) << rl.err;
  for (const std::string key : {"rl:", "discount:", "replay_capacity:", "epsilon_decay:", "target_update_every:"}) {
    EXPECT_NE(rl.out.find(key), std::string::npos) << key << "\n" << rl.out;
  }
  for (const std::string key : {"epochs:", "test_fraction:", "data_seed:", "drop_last:"}) {
    EXPECT_EQ(rl.out.find(key), std::string::npos) << key << "\n" << rl.out;
  }
  const auto sup = testing::run_in(dir, {"show", "sup"});
  ASSERT_EQ(sup.code, 0) << sup.err;
  EXPECT_EQ(sup.out.find("discount:"), std::string::npos) << sup.out;
}

struct BadRl {
  std::string name, yaml;
  std::vector<std::string> expected;  // substrings of the one error line
};

class BadRlConfigTest : public ::testing::TestWithParam<BadRl> {};

TEST_P(BadRlConfigTest, IsOneLineNamingFileLineKeyValueAndWhatToDoExitTwo) {
  const auto& p = GetParam();
  TempDir dir;
  dir.write("configs/c.yaml", p.yaml);
  const auto before = dir.snapshot();
  const auto result = testing::run_in(dir, {"run", "c"});
  EXPECT_EQ(result.code, 2) << result.out << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  for (const auto& text : p.expected) EXPECT_NE(result.err.find(text), std::string::npos) << result.err;
  EXPECT_EQ(dir.snapshot(), before);
}

const std::string kTask = "task: {name: doublegoal}\n";  // line 1

INSTANTIATE_TEST_SUITE_P(
    Cases, BadRlConfigTest,
    ::testing::Values(
        BadRl{"discount_above_one", kTask + "training: {steps: 100}\nrl:\n  discount: 1.5\n",
              {"c.yaml:4: rl.discount: 1.5 is out of range: must be in [0, 1]"}},
        BadRl{"replay_capacity_zero", kTask + "training: {steps: 100}\nrl:\n  replay_capacity: 0\n",
              {"c.yaml:4: rl.replay_capacity: 0 is out of range: must be >= 1"}},
        BadRl{"epsilon_end_above_start", kTask + "training: {steps: 100}\nrl:\n  epsilon_start: 0.5\n  epsilon_end: 0.6\n",
              {"c.yaml:5: rl.epsilon_end: 0.6 is above rl.epsilon_start (0.5)"}},
        BadRl{"epsilon_start_above_one", kTask + "training: {steps: 100}\nrl:\n  epsilon_start: 1.2\n",
              {"c.yaml:4: rl.epsilon_start: 1.2 is out of range: must be in [0, 1]"}},
        BadRl{"epsilon_decay_zero", kTask + "training: {steps: 100}\nrl:\n  epsilon_decay: 0\n",
              {"c.yaml:4: rl.epsilon_decay: 0.0 is out of range: must be > 0"}},
        BadRl{"target_update_every_zero", kTask + "training: {steps: 100}\nrl:\n  target_update_every: 0\n",
              {"c.yaml:4: rl.target_update_every: 0 is out of range: must be >= 1"}},
        BadRl{"tau_above_one", kTask + "training: {steps: 100}\nrl:\n  tau: 2\n",
              {"c.yaml:4: rl.tau: 2.0 is out of range: must be in [0, 1]"}},
        BadRl{"loss_typo", kTask + "training: {steps: 100}\nrl:\n  loss: hubr\n",
              {"c.yaml:4: rl.loss: 'hubr' is not one of mse, huber (did you mean 'huber'?)"}},
        BadRl{"return_window_zero", kTask + "training: {steps: 100}\nrl:\n  return_window: 0\n",
              {"c.yaml:4: rl.return_window: 0 is out of range: must be >= 1"}},
        BadRl{"no_step_budget", kTask + "training:\n  epochs: 5\n",
              {"training.steps: 0 must be >= 1 for task doublegoal: its budget is environment steps"}},
        BadRl{"samples_budget", kTask + "training:\n  steps: 100\n  samples: 1000\n",
              {"c.yaml:4: training.samples: 1000 is not a budget task doublegoal knows"}},
        BadRl{"batch_larger_than_replay", kTask + "training:\n  steps: 100\n  batch_size: 64\nrl:\n  replay_capacity: 32\n",
              {"c.yaml:4: training.batch_size: 64 is larger than the replay buffer (rl.replay_capacity 32)"}},
        BadRl{"batch_schedule", kTask + "training: {steps: 100}\nbatch_schedule:\n  name: linear\n  final_batch_size: 64\n  ramp_steps: 10\n",
              {"c.yaml:4: batch_schedule.name: 'linear' is not supported by task doublegoal"}},
        BadRl{"test_metric_target", kTask + "training: {steps: 100}\ntargets: ['test_loss <= 0.1']\n",
              {"c.yaml:3: targets: 'test_loss <= 0.1' names a metric task doublegoal does not have",
               "greedy_length"}},
        BadRl{"rl_metric_on_supervised", "training: {epochs: 2, batch_size: 4}\ntask: {samples: 100}\ntargets: ['greedy_length <= 10']\n",
              {"c.yaml:3: targets: 'greedy_length <= 10' uses a reinforcement-learning metric, but task doughnuts"}},
        BadRl{"cuda", kTask + "training:\n  steps: 100\n  device: cuda\n",
              {"c.yaml:4: training.device: 'cuda' is not supported by task doublegoal"}},
        BadRl{"algorithm_typo", kTask + "training: {steps: 100}\nrl:\n  algorithm: actor-critic\n",
              {"c.yaml:4: rl.algorithm: 'actor-critic' is not one of dqn, actor_critic (did you mean 'actor_critic'?)"}},
        BadRl{"critic_lr_zero", kTask + "training: {steps: 100}\nrl:\n  algorithm: actor_critic\n  critic_lr: 0\n",
              {"c.yaml:5: rl.critic_lr: 0.0 is out of range: must be > 0", "e.g. 0.005"}},
        BadRl{"critic_lr_not_a_number", kTask + "training: {steps: 100}\nrl:\n  algorithm: actor_critic\n  critic_lr: fast\n",
              {"c.yaml:5: rl.critic_lr", "fast"}},
        BadRl{"actor_critic_temperature",
              kTask + "training: {steps: 100}\nrl: {algorithm: actor_critic}\noptimizer:\n  temperature: 0.0001\n",
              {"c.yaml:5: optimizer.temperature: 0.0001 is not supported by rl.algorithm actor_critic",
               "give its learning rate in optimizer.lr"}},
        BadRl{"actor_critic_epsilon_target",
              kTask + "training: {steps: 100}\nrl: {algorithm: actor_critic}\ntargets: ['epsilon <= 0.1']\n",
              {"c.yaml:4: targets: 'epsilon <= 0.1' names a metric rl.algorithm actor_critic does not have",
               "greedy_optimal_fraction"}}),
    [](const auto& info) { return info.param.name; });

TEST(RlConfig, ABadOverrideIsOneLineToo) {
  TempDir dir;
  dir.write("configs/c.yaml", kDoubleGoal);
  const auto before = dir.snapshot();
  const auto result = testing::run_in(dir, {"run", "c", "-o", "rl.discount=-0.5"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("-o 'rl.discount=-0.5': rl.discount: -0.5 is out of range: must be in [0, 1]"),
            std::string::npos)
      << result.err;
  const auto critic = testing::run_in(dir, {"run", "c", "-o", "rl.algorithm=actor_critic", "-o", "rl.critic_lr=-1"});
  EXPECT_EQ(critic.code, 2);
  EXPECT_EQ(std::count(critic.err.begin(), critic.err.end(), '\n'), 1) << critic.err;
  EXPECT_NE(critic.err.find("-o 'rl.critic_lr=-1': rl.critic_lr: -1.0 is out of range: must be > 0"),
            std::string::npos)
      << critic.err;
  EXPECT_EQ(dir.snapshot(), before);
}

// ---- DQN trials run by the real binary ----------------------------------------------------------------

fs::path only_trial(const TempDir& dir, const std::string& experiments = "experiments") {
  std::vector<fs::path> trials;
  for (const auto& entry : fs::directory_iterator(dir.path() / experiments / "r" / "trials")) trials.push_back(entry.path());
  EXPECT_EQ(trials.size(), 1u);
  return trials.at(0);
}

std::vector<json> lines_of(const fs::path& trial) {
  std::vector<json> lines;
  std::ifstream in(trial / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

// Runs `yaml` as configs/r.yaml (one trial; diverged is a result, not a failure) and returns the trial's folder.
fs::path run_only_trial(TempDir& dir, const std::string& yaml) {
  dir.write("configs/r.yaml", yaml);
  const auto run = testing::run_sweeplab(dir, "run r -q");
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  return only_trial(dir);
}

// What every evaluation of the greedy policy must satisfy, whatever learned it.
void expect_consistent_greedy_episode(const json& line) {
  const auto length = line["greedy_length"].get<std::int64_t>();
  EXPECT_TRUE(length >= 10 && length <= 50) << line;
  // A greedy episode earns 1 exactly when it ends before the limit.
  EXPECT_EQ(line["greedy_return"].get<double>(), length < 50 ? 1.0 : 0.0) << line;
  const double optimal = line["greedy_optimal_fraction"].get<double>() * 19.0;  // a count of the 19 starts
  EXPECT_NEAR(optimal, std::round(optimal), 1e-9) << line;
  EXPECT_TRUE(optimal >= 0.0 && optimal <= 19.0) << line;
  // A 10-step episode from 0.0 walks straight to one end, so the policy is optimal from 0.0 and from every
  // position on its way (10 of the 19 starts); more than 10 steps from 0.0 means 0.0 itself is not optimal.
  if (length == 10) {
    EXPECT_GE(optimal, 10.0 - 1e-9) << line;
  }
  if (length > 10) {
    EXPECT_LE(optimal, 18.0 + 1e-9) << line;
  }
}

TEST(Dqn, MetricsCarryTheRlFieldsStepsAreEnvironmentStepsSamplesAreReplayedTransitions) {
  TempDir dir;
  const auto trial = run_only_trial(dir, kDoubleGoal + "targets: ['greedy_length <= 10']\n");
  const auto lines = lines_of(trial);
  ASSERT_EQ(lines.size(), 6u);
  RlConfig defaults;
  double best_length = 1e9, best_return = -1e9;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    const std::int64_t step = 100 * std::int64_t(i + 1);
    EXPECT_EQ(line["step"], step);
    // Updates start at the 8th step, when the buffer holds one batch of 8; each replays 8 transitions.
    EXPECT_EQ(line["samples"], 8 * (step - 7));
    EXPECT_EQ(line["batch_size"], 8);
    EXPECT_DOUBLE_EQ(line["epsilon"].get<double>(), rl::epsilon_at(defaults, step - 1));
    ASSERT_TRUE(line["train_loss"].is_number()) << line;
    EXPECT_GE(line["train_loss"].get<double>(), 0.0);
    expect_consistent_greedy_episode(line);
    const auto length = line["greedy_length"].get<std::int64_t>();
    if (line.contains("episode_return")) {
      EXPECT_GE(line["episode_return"].get<double>(), 0.0);
      EXPECT_LE(line["episode_return"].get<double>(), 1.0);
      best_return = std::max(best_return, line["episode_return"].get<double>());
    }
    EXPECT_GE(line["epoch"].get<std::int64_t>(), i == 0 ? 1 : lines[i - 1]["epoch"].get<std::int64_t>());
    EXPECT_FALSE(line.contains("test_loss") && !line["test_loss"].is_null());
    best_length = std::min(best_length, double(length));
  }
  const auto summary = testing::read_json(trial / "summary.json");
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(summary["steps"], 600);
  EXPECT_EQ(summary["samples"], 8 * (600 - 7));
  EXPECT_EQ(summary["best"]["greedy_length"]["value"].get<double>(), best_length);
  EXPECT_EQ(summary["best"]["episode_return"]["value"].get<double>(), best_return);
  const bool reached = best_length <= 10;
  EXPECT_EQ(summary["targets"][0]["reached"], reached);
  // Deterministic: the same trial again gives the same numbers.
  const auto again = testing::run_sweeplab(dir, "run r -q --experiments again");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(testing::metric_values(only_trial(dir, "again")), testing::metric_values(trial));
}

TEST(Dqn, ATdLossAboveTheDivergenceLimitEndsTheTrialAsDivergedAtTheFirstUpdate) {
  TempDir dir;
  const auto trial = run_only_trial(dir, kDoubleGoal + "stop: {divergence_loss: 1e-12}\n");
  const auto summary = testing::read_json(trial / "summary.json");
  EXPECT_EQ(summary["status"], "diverged");
  EXPECT_EQ(summary["diverged_at_step"], 8);  // the first update: the buffer holds one batch of 8
  const auto lines = lines_of(trial);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["diverged"], true);
  EXPECT_EQ(lines[0]["step"], 8);
}

struct Interruption {
  std::string name, settings;
  std::string kind = "dqn";  // the learner rl.algorithm picks, as its checkpoints name it
  // Checkpoints every this many steps: the last before the kill at step 170 must land mid-episode, which a policy
  // that walks 10-step episodes from step 100 on does not do at 150.
  std::int64_t checkpoint_every = 50;
};

class DqnResumeTest : public ::testing::TestWithParam<Interruption> {};

// 600 environment steps, evaluations every 50 and checkpoints every 50 (or checkpoint_every); killed at step 170,
// so the second run continues from the checkpoint at step 150 (or the last multiple before 170), which lands
// mid-episode (asserted from its state).
TEST_P(DqnResumeTest, KilledMidEpisodeAndResumedEndsBitIdenticalToAnUninterruptedRun) {
  const auto& p = GetParam();
  TempDir dir;
  dir.write("configs/r.yaml", "task: {name: doublegoal}\nmodel: {hidden: [32, 32]}\n" + p.settings +
                                  "training: {steps: 600, batch_size: 16, eval_every: 50}\n"
                                  "checkpoint: {every: " + std::to_string(p.checkpoint_every) + ", min_interval_s: 0}\n");
  const std::int64_t resumed_at = 170 / p.checkpoint_every * p.checkpoint_every;
  ASSERT_EQ(testing::run_sweeplab(dir, "run r --experiments whole -q").code, 0);
  const auto reference = only_trial(dir, "whole");

  const auto broken = testing::run_sweeplab(dir, "run r", "kill_at_step=170");
  EXPECT_EQ(broken.code, 137) << broken.out << broken.err;
  const auto trial = only_trial(dir);
  const auto checkpoint = read_checkpoint((trial / "checkpoint.pt").string());
  EXPECT_EQ(checkpoint.state.get_int("step"), resumed_at);
  EXPECT_GT(checkpoint.state.get_int("env.steps"), 0) << "the checkpoint is not mid-episode";
  EXPECT_EQ(checkpoint.state.get("kind"), p.kind);
  EXPECT_GE(checkpoint.state.get_int("optimizer.has_state"), 1);
  EXPECT_EQ(checkpoint.extra.size(), 2u);  // DQN: the target network, the replay; the actor-critic: the critic, its optimizer
  if (p.kind == "actor_critic") {
    EXPECT_GE(checkpoint.state.get_int("critic_optimizer.has_state"), 1);
    EXPECT_EQ(checkpoint.extra.at(0).first, "critic_parameters");
    EXPECT_EQ(checkpoint.extra.at(1).first, "critic_optimizer_state");
    EXPECT_FALSE(checkpoint.extra.at(1).second.empty());
  }

  const auto resumed = testing::run_sweeplab(dir, "run r");
  ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
  const auto summary = testing::read_json(trial / "summary.json");
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(summary["resumed_from_step"], resumed_at);
  EXPECT_EQ(testing::metric_values(trial), testing::metric_values(reference));
  EXPECT_EQ(testing::metric_values(trial).size(), 12u);
  EXPECT_EQ(summary["weights_digest"], testing::read_json(reference / "summary.json")["weights_digest"]);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DqnResumeTest,
    ::testing::Values(Interruption{"adam_mse_target_copies", "optimizer: {name: adam, lr: 0.001}\n"},
                      Interruption{"sgd_momentum_huber_polyak",
                                   "optimizer: {name: sgd, lr: 0.01, momentum: 0.9}\nrl: {loss: huber, tau: 0.01}\n"},
                      Interruption{"adamw_cosine_small_replay",
                                   "optimizer: {name: adamw, lr: 0.003, weight_decay: 0.01}\n"
                                   "lr_schedule: {name: cosine}\nrl: {replay_capacity: 100}\n"},
                      Interruption{"actor_critic_adam", "optimizer: {name: adam, lr: 0.001}\nrl: {algorithm: actor_critic}\n",
                                   "actor_critic", 45},
                      Interruption{"actor_critic_sgd_momentum_cosine",
                                   "optimizer: {name: sgd, lr: 0.01, momentum: 0.9}\nlr_schedule: {name: cosine}\n"
                                   "rl: {algorithm: actor_critic, critic_lr: 0.02}\n",
                                   "actor_critic"}),
    [](const auto& info) { return info.param.name; });

// Raising training.steps continues a completed trial from its final checkpoint (mid-episode, buffer and all) to the
// numbers of a trial run with the larger budget from the start.
TEST(Dqn, RaisingTheBudgetContinuesACompletedTrialBitIdentically) {
  TempDir dir;
  dir.write("configs/r.yaml", kDoubleGoal);
  ASSERT_EQ(testing::run_sweeplab(dir, "run r -q -o training.steps=900 --experiments whole").code, 0);
  ASSERT_EQ(testing::run_sweeplab(dir, "run r -q -o training.steps=500").code, 0);
  const auto extended = testing::run_sweeplab(dir, "run r -q -o training.steps=900");
  ASSERT_EQ(extended.code, 0) << extended.err;
  const auto trial = only_trial(dir), reference = only_trial(dir, "whole");
  const auto summary = testing::read_json(trial / "summary.json");
  EXPECT_EQ(summary["resumed_from_step"], 500);
  EXPECT_EQ(summary["steps"], 900);
  EXPECT_EQ(testing::metric_values(trial), testing::metric_values(reference));
  EXPECT_EQ(summary["weights_digest"], testing::read_json(reference / "summary.json")["weights_digest"]);
}

// ---- actor-critic trials run by the real binary ---------------------------------------------------------

TEST(ActorCritic, MetricsAreDqnsButEpsilonEachStepLearnsFromOneTransition) {
  TempDir dir;
  const auto trial = run_only_trial(dir, kActorCritic + "targets: ['greedy_length <= 10']\n");
  const auto lines = lines_of(trial);
  ASSERT_EQ(lines.size(), 6u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    const std::int64_t step = 100 * std::int64_t(i + 1);
    EXPECT_EQ(line["step"], step);
    EXPECT_EQ(line["samples"], step);  // one update a step, from its own transition
    EXPECT_EQ(line["batch_size"], 1);
    EXPECT_EQ(line["lr"], 0.001);      // the actor's
    EXPECT_FALSE(line.contains("epsilon") && !line["epsilon"].is_null()) << line;
    ASSERT_TRUE(line["train_loss"].is_number()) << line;  // the critic's squared TD error
    EXPECT_GE(line["train_loss"].get<double>(), 0.0);
    expect_consistent_greedy_episode(line);
    ASSERT_TRUE(line["episode_return"].is_number()) << line;  // 600 steps finish at least 12 episodes
    EXPECT_GE(line["episode_return"].get<double>(), 0.0);
    EXPECT_LE(line["episode_return"].get<double>(), 1.0);
  }
  const auto summary = testing::read_json(trial / "summary.json");
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_EQ(summary["steps"], 600);
  EXPECT_EQ(summary["samples"], 600);
  EXPECT_GE(summary["epochs"].get<std::int64_t>(), 12);  // episodes, 50 steps at most each
  // Deterministic: the same trial again gives the same numbers; another seed other ones.
  const auto again = testing::run_sweeplab(dir, "run r -q --experiments again");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(testing::metric_values(only_trial(dir, "again")), testing::metric_values(trial));
  const auto other = testing::run_sweeplab(dir, "run r -q -o training.seed=1 --experiments other");
  ASSERT_EQ(other.code, 0) << other.err;
  EXPECT_NE(testing::read_json(only_trial(dir, "other") / "summary.json")["weights_digest"], summary["weights_digest"]);
  // export says so too: batch size 1 (not training.batch_size, which only DQN uses), temperature lr / 1.
  const auto exported = testing::run_in(dir, {"export", "r", "--format", "jsonl"});
  ASSERT_EQ(exported.code, 0) << exported.err;
  const auto row = json::parse(exported.out.substr(0, exported.out.find('\n')));
  EXPECT_EQ(row["batch_size"], 1) << row;
  EXPECT_EQ(row["temperature"], 0.001) << row;
}

TEST(ActorCritic, ACriticLossAboveTheDivergenceLimitEndsTheTrialAsDivergedAtTheFirstStep) {
  TempDir dir;
  const auto trial = run_only_trial(dir, kActorCritic + "stop: {divergence_loss: 1e-12}\n");
  const auto summary = testing::read_json(trial / "summary.json");
  EXPECT_EQ(summary["status"], "diverged");
  EXPECT_EQ(summary["diverged_at_step"], 1);  // every step updates, the first included
  const auto lines = lines_of(trial);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["diverged"], true);
  EXPECT_GT(summary["diverged_loss"].get<double>(), 1e-12);  // the critic's, of the first step
}

// The notebook's rates (actor 0.001, critic 0.005, Adam, one hidden layer of 32): the sampled policy learns to walk
// to a goal. An episode walked straight to one takes 10 steps, so 500 steps hold at most 50 of them (a uniformly
// random walk finishes about a dozen); the last 500 of 2000 steps finish nearly 50, more than the first 500 did.
// (The greedy share of optimal starts is no measure here: an untrained policy that heads one way everywhere is
// already optimal from 10 of the 19 starts, and the actor-critic, exploring only by its own policy, keeps to the
// goal it found first.)
TEST(ActorCritic, LearnsToWalkStraightToAGoalWithTheNotebooksRates) {
  TempDir dir;
  dir.write("configs/r.yaml", kActorCritic + "sweep: {seeds: 4}\n");
  const auto run = testing::run_sweeplab(dir, "run r -q -j 2 -o training.steps=2000 -o training.eval_every=500");
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  int trials = 0;
  for (const auto& entry : fs::directory_iterator(dir.path() / "experiments" / "r" / "trials")) {
    ++trials;
    const auto lines = lines_of(entry.path());
    ASSERT_EQ(lines.size(), 4u);
    const auto first = lines[0]["epoch"].get<std::int64_t>();
    const auto last = lines[3]["epoch"].get<std::int64_t>() - lines[2]["epoch"].get<std::int64_t>();
    EXPECT_GE(last, 45) << entry.path();
    EXPECT_GT(last, first) << entry.path();
    EXPECT_EQ(lines[3]["episode_return"], 1.0) << entry.path();
    EXPECT_EQ(lines[3]["greedy_length"], 10) << entry.path();
  }
  EXPECT_EQ(trials, 4);
}

// ---- the named sweep ------------------------------------------------------------------------------------

const fs::path kRepoConfigs = fs::path(SWEEPLAB_SOURCE_DIR) / "configs";

// configs/dqn-doublegoal.yaml cut down to 1000 environment steps, two seeds and lr 0.001: at that rate the
// greedy policy becomes optimal from every start within a few hundred steps, so most trials reach the target.
TEST(DqnNamedSweep, ReachesTheOptimalGreedyPolicyAndShowRoundTrips) {
  TempDir dir;
  dir.write("configs/dqn-doublegoal.yaml", testing::read_file(kRepoConfigs / "dqn-doublegoal.yaml"));
  const auto run = testing::run_in(dir, {"run", "dqn-doublegoal", "-q", "-o", "training.steps=1000", "-o",
                                         "sweep.seeds=2", "-o", "optimizer.lr=0.001"});
  ASSERT_EQ(run.code, 0) << run.err;
  int trials = 0, reached = 0;
  for (const auto& entry : fs::directory_iterator(dir.path() / "experiments" / "dqn-doublegoal" / "trials")) {
    const auto summary = testing::read_json(entry.path() / "summary.json");
    ++trials;
    EXPECT_EQ(summary["status"], "completed");
    EXPECT_EQ(summary["targets"][0]["target"], "greedy_optimal_fraction >= 1");
    reached += summary["steps_to_target"]["greedy_optimal_fraction >= 1"].is_number();
  }
  EXPECT_EQ(trials, 6);  // batch sizes 8, 32, 128 x 2 seeds
  EXPECT_GE(reached, 4);
  // export, best, status and report speak DQN's metrics: the final greedy evaluation as summary.json has it.
  const std::vector<std::string> cut = {"-o", "training.steps=1000", "-o", "sweep.seeds=2", "-o", "optimizer.lr=0.001"};
  const auto with_cut = [&](std::vector<std::string> args) {
    args.insert(args.end(), cut.begin(), cut.end());
    return testing::run_in(dir, args);
  };
  const auto exported = with_cut({"export", "dqn-doublegoal", "--format", "jsonl"});
  ASSERT_EQ(exported.code, 0) << exported.err;
  std::istringstream rows(exported.out);
  int exported_rows = 0;
  for (std::string line; std::getline(rows, line); ++exported_rows) {
    const auto row = json::parse(line);
    const auto summary = testing::read_json(dir.path() / "experiments/dqn-doublegoal/trials" /
                                            row["trial_id"].get<std::string>() / "summary.json");
    EXPECT_EQ(row["final_greedy_length"], summary["final"]["greedy_length"]) << line;
    EXPECT_EQ(row["final_greedy_optimal_fraction"], summary["final"]["greedy_optimal_fraction"]) << line;
    EXPECT_FALSE(row.contains("final_test_acc")) << line;  // no test set
  }
  EXPECT_EQ(exported_rows, 6);
  const auto best = with_cut({"best", "dqn-doublegoal", "--per", "batch_size"});
  ASSERT_EQ(best.code, 0) << best.err;
  EXPECT_NE(best.out.find("by greedy_optimal_fraction"), std::string::npos) << best.out;
  EXPECT_NE(best.out.find("higher is better"), std::string::npos) << best.out;
  const auto status = with_cut({"status", "dqn-doublegoal"});
  EXPECT_NE(status.out.find("greedy_length"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("test_acc"), std::string::npos) << status.out;
  const auto report = with_cut({"report", "dqn-doublegoal"});
  ASSERT_EQ(report.code, 0) << report.err;
  const std::string html = testing::read_file(dir.path() / "experiments/dqn-doublegoal/reports" /
                                              "training.steps=1000+sweep.seeds=2+optimizer.lr=0.001/report.html");
  EXPECT_NE(html.find("Steps and samples to 'greedy_optimal_fraction &gt;= 1' vs batch size"), std::string::npos);
  EXPECT_NE(html.find("final_<wbr>greedy_<wbr>optimal_<wbr>fraction"), std::string::npos);  // in the trials table
  // The curves are DQN's: the TD loss and the greedy policy's share of optimal starts (not a test loss it has not).
  EXPECT_NE(html.find("<figure id=\"loss_curves\"><h2>1. Greedy share of optimal starts vs step</h2>"), std::string::npos);
  EXPECT_NE(html.find("<figure id=\"loss_curves_train\"><h2>2. TD loss vs step</h2>"), std::string::npos);
  const std::string curves = testing::read_file(dir.path() / "experiments/dqn-doublegoal/reports" /
                                                "training.steps=1000+sweep.seeds=2+optimizer.lr=0.001/figures/loss_curves.gp");
  EXPECT_NE(curves.find("$test0 << EOD"), std::string::npos) << curves;  // greedy_optimal_fraction, drawn as "test"
  // `show` prints only the keys doublegoal uses; loaded back, the same trials.
  const auto show = testing::run_in(dir, {"show", "dqn-doublegoal"});
  ASSERT_EQ(show.code, 0) << show.err;
  dir.write("configs/copy.yaml", show.out);
  const auto original = load_sweep(dir.str("configs"), "dqn-doublegoal");
  const auto copy = load_sweep(dir.str("configs"), "copy");
  ASSERT_EQ(copy.trials.size(), original.trials.size());
  for (std::size_t i = 0; i < copy.trials.size(); ++i) EXPECT_EQ(copy.trials[i].id, original.trials[i].id);
}

}  // namespace
}  // namespace sweeplab
