#include "sweeplab/config/applies.hpp"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <vector>

#include "sweeplab/config/schema.hpp"

namespace sweeplab {
namespace {

using Rule = std::function<bool(const Config&)>;

bool is_optimizer_adam(const Config& c) { return c.optimizer.name == "adam" || c.optimizer.name == "adamw"; }
bool is_task(const Config& c, const char* name) { return c.task.name == name; }
bool is_teacher(const Config& c, const char* kind) { return c.task.name == "teacher" && c.task.teacher == kind; }
bool ramps(const Config& c) { return c.batch_schedule.name == "linear" || c.batch_schedule.name == "geometric"; }
bool is_rl(const Config& c) { return is_reinforcement_task(c.task.name); }
bool is_supervised(const Config& c) { return !is_reinforcement_task(c.task.name); }
bool is_dqn(const Config& c) { return is_rl(c) && c.rl.algorithm == "dqn"; }
bool is_actor_critic(const Config& c) { return is_rl(c) && c.rl.algorithm == "actor_critic"; }
bool is_modular(const Config& c) {
  return c.task.name == "x_plus_y" || c.task.name == "x_minus_y" || c.task.name == "x_div_y";
}

// Keys missing here apply to every config. Each rule reads only the keys in kDeciding below.
const std::map<std::string, Rule>& rules() {
  static const std::map<std::string, Rule> table = {
      // budget: samples replaces steps, steps replaces epochs; doublegoal counts environment steps
      {"training.epochs",
       [](const Config& c) { return is_supervised(c) && c.training.steps == 0 && c.training.samples == 0; }},
      {"training.steps", [](const Config& c) { return c.training.samples == 0 || is_rl(c); }},
      {"training.samples", is_supervised},
      {"training.drop_last", [](const Config& c) { return !c.task.online && is_supervised(c); }},  // a stream has no epochs
      {"training.device", is_supervised},  // doublegoal: cpu
      {"model.parameterization", is_supervised},
      {"optimizer.lr", [](const Config& c) { return c.optimizer.temperature == 0.0; }},
      {"optimizer.momentum", [](const Config& c) { return c.optimizer.name == "sgd"; }},
      {"optimizer.nesterov", [](const Config& c) { return c.optimizer.name == "sgd"; }},
      {"optimizer.betas", is_optimizer_adam},
      {"optimizer.eps", is_optimizer_adam},
      {"lr_schedule.step_size", [](const Config& c) { return c.lr_schedule.name == "step"; }},
      {"lr_schedule.gamma", [](const Config& c) { return c.lr_schedule.name == "step"; }},
      {"lr_schedule.final_lr_factor", [](const Config& c) { return c.lr_schedule.name == "cosine"; }},
      {"batch_schedule.name", [](const Config& c) { return c.batch_schedule.name != "constant"; }},
      // doublegoal: the actor-critic learns from one transition a step, without a replay buffer, epsilon or target
      {"training.batch_size", [](const Config& c) { return !is_actor_critic(c); }},
      {"rl.algorithm", is_rl},
      {"rl.discount", is_rl},
      {"rl.replay_capacity", is_dqn},
      {"rl.epsilon_start", is_dqn},
      {"rl.epsilon_end", is_dqn},
      {"rl.epsilon_decay", is_dqn},
      {"rl.target_update_every", [](const Config& c) { return is_dqn(c) && c.rl.tau == 0.0; }},
      {"rl.tau", is_dqn},
      {"rl.loss", is_dqn},
      {"rl.return_window", is_rl},
      {"rl.critic_lr", is_actor_critic},
      {"batch_schedule.initial_batch_size", [](const Config& c) { return c.batch_schedule.name != "constant"; }},
      {"batch_schedule.final_batch_size", ramps},
      {"batch_schedule.ramp_steps", ramps},
      {"batch_schedule.at_steps", [](const Config& c) { return c.batch_schedule.name == "steps"; }},
      {"batch_schedule.sizes", [](const Config& c) { return c.batch_schedule.name == "steps"; }},
      {"model.activation", [](const Config& c) { return !c.model.hidden.empty(); }},
      {"model.gamma", [](const Config& c) { return c.model.parameterization != "standard"; }},
      {"model.init_std", [](const Config& c) { return c.model.parameterization != "standard"; }},
      {"model.centered", [](const Config& c) { return c.model.parameterization != "standard"; }},
      {"optimizer.scale_lr_by_gamma", [](const Config& c) { return c.model.parameterization != "standard"; }},
      {"task.samples",
       [](const Config& c) {
         return !is_task(c, "csv") && !is_task(c, "npz") && !is_task(c, "idx") && !is_algorithmic_task(c.task.name) &&
                is_supervised(c);
       }},
      {"task.test_fraction",  // idx: the test set is its own file
       [](const Config& c) { return !is_algorithmic_task(c.task.name) && !is_task(c, "idx") && is_supervised(c); }},
      {"task.data_seed", is_supervised},  // doublegoal: no data, the environment is deterministic
      {"task.noise", [](const Config& c) { return is_task(c, "doughnuts") || is_task(c, "sine2"); }},
      {"task.radii", [](const Config& c) { return is_task(c, "doughnuts"); }},
      {"task.x_range", [](const Config& c) { return is_task(c, "sine2"); }},
      {"task.features", [](const Config& c) { return is_task(c, "synthetic") || is_task(c, "teacher"); }},
      {"task.classes", [](const Config& c) { return is_task(c, "synthetic"); }},
      {"task.path", [](const Config& c) { return is_task(c, "csv") || is_task(c, "npz"); }},
      {"task.label_column", [](const Config& c) { return is_task(c, "csv"); }},
      {"task.inputs_key", [](const Config& c) { return is_task(c, "npz"); }},
      {"task.labels_key", [](const Config& c) { return is_task(c, "npz"); }},
      // two classes only: doughnuts, synthetic with classes 2, and the files (their labels decide)
      {"task.binary_loss",
       [](const Config& c) {
         return is_task(c, "doughnuts") || (is_task(c, "synthetic") && c.task.classes == 2) || is_task(c, "csv") ||
                is_task(c, "npz");
       }},
      {"task.modulus", is_modular},
      {"task.train_fraction", [](const Config& c) { return is_algorithmic_task(c.task.name); }},
      {"task.teacher", [](const Config& c) { return is_task(c, "teacher"); }},
      {"task.teacher_seed", [](const Config& c) { return is_task(c, "teacher"); }},
      {"task.online", [](const Config& c) { return is_task(c, "teacher"); }},
      {"task.degree", [](const Config& c) { return is_teacher(c, "poly"); }},
      {"task.teacher_hidden", [](const Config& c) { return is_teacher(c, "mlp"); }},
      {"task.teacher_activation", [](const Config& c) { return is_teacher(c, "mlp"); }},
      {"task.teacher_parameterization", [](const Config& c) { return is_teacher(c, "mlp"); }},
      {"task.teacher_gamma", [](const Config& c) { return is_teacher(c, "mlp"); }},
      {"task.alpha", [](const Config& c) { return is_teacher(c, "linear"); }},
      {"task.beta", [](const Config& c) { return is_teacher(c, "linear"); }},
      {"task.label_noise", [](const Config& c) { return is_teacher(c, "linear"); }},
      {"task.train_images", [](const Config& c) { return is_task(c, "idx"); }},
      {"task.train_labels", [](const Config& c) { return is_task(c, "idx"); }},
      {"task.test_images", [](const Config& c) { return is_task(c, "idx"); }},
      {"task.test_labels", [](const Config& c) { return is_task(c, "idx"); }},
      {"task.subset", [](const Config& c) { return is_task(c, "idx"); }},
      {"task.pixels", [](const Config& c) { return is_task(c, "idx"); }},
      {"task.class_loss", [](const Config& c) { return is_task(c, "idx"); }},
      {"stop.on_target", [](const Config& c) { return !c.targets.empty(); }},
      {"metrics.noise_scale", is_supervised},
  };
  return table;
}

// The keys the rules above read: a sweep's axes over these change which keys its trials use.
const std::vector<std::string> kDeciding = {
    "training.steps", "training.samples", "optimizer.name",        "optimizer.temperature", "lr_schedule.name",
    "batch_schedule.name", "model.hidden", "model.parameterization", "task.name",           "task.classes",
    "task.teacher",   "task.online",      "targets",              "rl.tau",                "rl.algorithm"};

// More combinations of deciding values than this: every key counts as applying (no sweep comes near).
constexpr std::size_t kMaxCombinations = 4096;

}  // namespace

bool key_applies(const std::string& key, const Config& config) {
  const auto it = rules().find(key);
  return it == rules().end() || it->second(config);
}

bool key_applies(const std::string& key, const SweepSpec& sweep) {
  const auto it = rules().find(key);
  if (it == rules().end()) return true;
  std::vector<const Axis*> deciding;
  std::size_t combinations = 1;
  std::vector<const Axis*> axes;  // the grid's and the sample's (its values as if they were a grid: a superset)
  for (const auto& axis : sweep.axes) axes.push_back(&axis);
  for (const auto& axis : sweep.sampled) axes.push_back(&axis);
  for (const Axis* axis : axes) {
    if (axis->key == key) return true;
    if (std::find(kDeciding.begin(), kDeciding.end(), axis->key) == kDeciding.end() || axis->values.empty()) continue;
    deciding.push_back(axis);
    combinations *= axis->values.size();
    if (combinations > kMaxCombinations) return true;
  }
  // Every combination of the deciding axes' values, on the base config (an odometer over the axes).
  std::vector<std::size_t> at(deciding.size(), 0);
  for (std::size_t n = 0; n < combinations; ++n) {
    Config config = sweep.base;
    for (std::size_t a = 0; a < deciding.size(); ++a) find_field(deciding[a]->key)->set(config, deciding[a]->values[at[a]]);
    if (it->second(config)) return true;
    for (std::size_t a = 0; a < deciding.size() && ++at[a] == deciding[a]->values.size(); ++a) at[a] = 0;
  }
  return false;
}

}  // namespace sweeplab
