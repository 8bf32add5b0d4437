#include "sweeplab/config/config.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/core/value.hpp"

namespace sweeplab {

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = {"doughnuts", "sine2",     "synthetic", "csv",     "npz",
                                                 "x_plus_y",  "x_minus_y", "x_div_y",   "permutation", "teacher",
                                                 "doublegoal", "idx"};
  return names;
}
const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {"relu", "tanh", "gelu", "sigmoid"};
  return names;
}
const std::vector<std::string>& output_activation_names() {
  static const std::vector<std::string> names = {"none", "relu", "tanh", "gelu", "sigmoid"};
  return names;
}
const std::vector<std::string>& optimizer_names() {
  static const std::vector<std::string> names = {"sgd", "adam", "adamw"};
  return names;
}
const std::vector<std::string>& schedule_names() {
  static const std::vector<std::string> names = {"constant", "cosine", "step"};
  return names;
}
const std::vector<std::string>& device_names() {
  static const std::vector<std::string> names = {"cpu", "cuda"};
  return names;
}
const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = {"train_loss",     "test_loss", "train_acc",     "test_acc",
                                                 "val_loss",       "val_acc",   "episode_return", "greedy_return",
                                                 "greedy_length",  "greedy_optimal_fraction", "epsilon"};
  return names;
}
const std::vector<std::string>& teacher_names() {
  static const std::vector<std::string> names = {"poly", "mlp", "linear"};
  return names;
}
const std::vector<std::string>& parameterization_names() {
  static const std::vector<std::string> names = {"standard", "sp", "mup"};
  return names;
}
const std::vector<std::string>& batch_schedule_names() {
  static const std::vector<std::string> names = {"constant", "linear", "geometric", "steps"};
  return names;
}
const std::vector<std::string>& binary_loss_names() {
  static const std::vector<std::string> names = {"bce", "cross_entropy"};
  return names;
}

const std::vector<std::string>& rl_loss_names() {
  static const std::vector<std::string> names = {"mse", "huber"};
  return names;
}

const std::vector<std::string>& rl_algorithm_names() {
  static const std::vector<std::string> names = {"dqn", "actor_critic"};
  return names;
}

const std::vector<std::string>& pixel_scale_names() {
  static const std::vector<std::string> names = {"unit", "standardized"};
  return names;
}

const std::vector<std::string>& class_loss_names() {
  static const std::vector<std::string> names = {"cross_entropy", "mse"};
  return names;
}

bool is_classification_task(const std::string& task_name) {
  return task_name != "sine2" && task_name != "teacher" && !is_reinforcement_task(task_name);
}

bool is_reinforcement_task(const std::string& task_name) { return task_name == "doublegoal"; }

namespace {
bool is_rl_metric(const std::string& metric) {
  return metric == "episode_return" || metric == "greedy_return" || metric == "greedy_length" ||
         metric == "greedy_optimal_fraction" || metric == "epsilon";
}
}  // namespace

bool is_algorithmic_task(const std::string& task_name) {
  return task_name == "x_plus_y" || task_name == "x_minus_y" || task_name == "x_div_y" || task_name == "permutation";
}

namespace {

void require(bool ok, const char* key, const Value& value, const std::string& requirement) {
  if (!ok) throw ValueError(key, to_text(value), requirement);
}

void require_finite(const char* key, double value) {
  require(std::isfinite(value), key, value, "is not a finite number");
}

void require_choice(const char* key, const std::string& value, const std::vector<std::string>& choices) {
  for (const auto& choice : choices) {
    if (value == choice) return;
  }
  throw ValueError(key, "'" + value + "'",
                   "is not one of " + join(choices, ", ") + did_you_mean(value, choices));
}

bool is_prime(std::int64_t n) {
  if (n < 2) return false;
  for (std::int64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

}  // namespace


std::int64_t TaskConfig::pair_count() const {
  if (name == "permutation") return 120 * 120;
  if (name == "x_div_y") return modulus * (modulus - 1);
  return modulus * modulus;
}

std::int64_t TaskConfig::train_samples() const {
  if (is_algorithmic_task(name)) return std::llround(double(pair_count()) * train_fraction);
  if (name == "idx") return subset;
  if (name == "csv" || name == "npz" || (name == "teacher" && online) || is_reinforcement_task(name)) return 0;
  return samples - test_samples();
}

std::int64_t TaskConfig::test_samples() const {
  if (is_algorithmic_task(name)) return pair_count() - train_samples();
  return std::llround(double(samples) * test_fraction);
}

void TaskConfig::validate() const {
  require_choice("task.name", name, task_names());
  require(samples >= 2, "task.samples", samples, "is out of range: must be >= 2");
  require_finite("task.test_fraction", test_fraction);
  require(test_fraction >= 0.0 && test_fraction < 1.0, "task.test_fraction", test_fraction,
          "is out of range: must be in [0, 1), e.g. 0.2");
  require(data_seed >= 0, "task.data_seed", data_seed, "is out of range: must be >= 0");
  require_finite("task.noise", noise);
  require(noise >= 0.0, "task.noise", noise, "is out of range: must be >= 0");
  require(radii.size() == 2, "task.radii", radii, "must list exactly two radii, e.g. [10, 15]");
  for (double r : radii) {
    require(std::isfinite(r) && r > 0.0, "task.radii", radii, "must be two radii > 0, e.g. [10, 15]");
  }
  require(x_range.size() == 2 && std::isfinite(x_range[0]) && std::isfinite(x_range[1]) && x_range[0] < x_range[1],
          "task.x_range", x_range, "must be [lo, hi]: two finite numbers with lo < hi, e.g. [0, 2]");
  require(features >= 1, "task.features", features, "is out of range: must be >= 1");
  require(classes >= 2, "task.classes", classes, "is out of range: must be >= 2");
  require(name != "csv" || !path.empty(), "task.path", path, "must name a CSV file when task.name is csv");
  require(name != "npz" || !path.empty(), "task.path", path, "must name an .npz file when task.name is npz");
  require(!label_column.empty(), "task.label_column", label_column, "must not be empty");
  require(!inputs_key.empty(), "task.inputs_key", inputs_key, "must not be empty");
  require(!labels_key.empty(), "task.labels_key", labels_key, "must not be empty");
  require_choice("task.binary_loss", binary_loss, binary_loss_names());
  require(binary_loss == "bce" || is_classification_task(name), "task.binary_loss", binary_loss,
          "needs a classification task (task " + name + " is a regression)");
  require(modulus >= 2 && modulus <= 2000, "task.modulus", modulus, "is out of range: must be in [2, 2000]");
  require(!is_algorithmic_task(name) || name == "permutation" || is_prime(modulus), "task.modulus", modulus,
          "is not a prime: x_div_y needs one, and the modular tasks use a prime p, e.g. 97");
  require_finite("task.train_fraction", train_fraction);
  require(train_fraction > 0.0 && train_fraction < 1.0, "task.train_fraction", train_fraction,
          "is out of range: must be in (0, 1), e.g. 0.5");
  if (is_algorithmic_task(name)) {
    require(train_samples() >= 1 && test_samples() >= 1, "task.train_fraction", train_fraction,
            "leaves no training or no validation pairs");
  } else if (name != "csv" && name != "npz" && name != "idx" && !is_reinforcement_task(name)) {
    require(train_samples() >= 1 || (name == "teacher" && online), "task.test_fraction", test_fraction,
            "leaves no training samples");
  }
  require_choice("task.teacher", teacher, teacher_names());
  require(teacher_seed >= 0, "task.teacher_seed", teacher_seed, "is out of range: must be >= 0");
  require(degree >= 1 && degree <= 8, "task.degree", degree, "is out of range: must be in [1, 8]");
  const bool teacher_widths_ok =
      !teacher_hidden.empty() && std::all_of(teacher_hidden.begin(), teacher_hidden.end(), [](std::int64_t w) { return w >= 1; });
  require(teacher_widths_ok, "task.teacher_hidden", teacher_hidden, "must list one or more widths >= 1, e.g. [64]");
  require_choice("task.teacher_activation", teacher_activation, activation_names());
  require(teacher_parameterization == "sp" || teacher_parameterization == "mup", "task.teacher_parameterization",
          "'" + teacher_parameterization + "'", "is not one of sp, mup");
  require(std::isfinite(teacher_gamma) && teacher_gamma > 0.0, "task.teacher_gamma", teacher_gamma,
          "is out of range: must be > 0");
  require(std::isfinite(alpha) && alpha > 0.0, "task.alpha", alpha, "is out of range: must be > 0, e.g. 1.5");
  require(std::isfinite(beta) && beta > 0.0, "task.beta", beta, "is out of range: must be > 0, e.g. 1.5");
  require(std::isfinite(label_noise) && label_noise >= 0.0 && label_noise <= 1.0, "task.label_noise", label_noise,
          "is out of range: must be in [0, 1]");
  require(!online || name == "teacher", "task.online", online, "needs task.name: teacher (a generated stream)");
  if (name == "idx") {
    for (const auto& [key, path] : {std::pair<const char*, const std::string&>{"task.train_images", train_images},
                                    {"task.train_labels", train_labels},
                                    {"task.test_images", test_images},
                                    {"task.test_labels", test_labels}}) {
      require(!path.empty(), key, std::string("''"), "must name an IDX file for task idx, e.g. "
                                        "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
    }
  }
  require(subset >= 0, "task.subset", subset, "is out of range: must be >= 0 (0: every training image)");
  require_choice("task.pixels", pixels, pixel_scale_names());
  require_choice("task.class_loss", class_loss, class_loss_names());
  require(class_loss == "cross_entropy" || name == "idx", "task.class_loss", "'" + class_loss + "'",
          "is for task idx (one-hot targets of its classes); other tasks train with their own loss");
}

void ModelConfig::validate() const {
  // One require for the whole list: each call copies the list into a Value, so one per width was quadratic.
  const bool widths_ok = std::all_of(hidden.begin(), hidden.end(), [](std::int64_t width) { return width >= 1; });
  require(widths_ok, "model.hidden", hidden, "must list layer widths >= 1, e.g. [64, 64] ([] for no hidden layer)");
  require_choice("model.activation", activation, activation_names());
  require_choice("model.output_activation", output_activation, output_activation_names());
  require_choice("model.parameterization", parameterization, parameterization_names());
  require(std::isfinite(gamma) && gamma > 0.0, "model.gamma", gamma, "is out of range: must be > 0, e.g. 1");
  require(std::isfinite(init_std) && init_std > 0.0, "model.init_std", init_std, "is out of range: must be > 0, e.g. 1");
  require(parameterization != "standard" || (gamma == 1.0 && init_std == 1.0 && !centered), "model.parameterization",
          "'" + parameterization + "'",
          "has no gamma, init_std or centered output: set model.parameterization: sp or mup to use them");
  require(parameterization == "standard" || !hidden.empty(), "model.hidden", hidden,
          "must have a hidden layer for sp and mup (N, the width the output layer divides by)");
}

void OptimizerConfig::validate() const {
  require_choice("optimizer.name", name, optimizer_names());
  require_finite("optimizer.lr", lr);
  require(lr > 0.0, "optimizer.lr", lr, "is out of range: must be > 0, e.g. 0.001");
  require_finite("optimizer.momentum", momentum);
  require(momentum >= 0.0 && momentum < 1.0, "optimizer.momentum", momentum,
          "is out of range: must be in [0, 1), e.g. 0.9");
  require(!nesterov || (name == "sgd" && momentum > 0.0), "optimizer.nesterov", nesterov,
          "needs optimizer.name: sgd and optimizer.momentum > 0");
  require_finite("optimizer.weight_decay", weight_decay);
  require(weight_decay >= 0.0, "optimizer.weight_decay", weight_decay, "is out of range: must be >= 0");
  require(betas.size() == 2, "optimizer.betas", betas, "must be two numbers, e.g. [0.9, 0.999]");
  for (double beta : betas) {
    require(beta >= 0.0 && beta < 1.0, "optimizer.betas", betas, "must each be in [0, 1), e.g. [0.9, 0.999]");
  }
  require(std::isfinite(eps) && eps > 0.0, "optimizer.eps", eps, "is out of range: must be > 0, e.g. 1e-8");
  require(std::isfinite(temperature) && temperature >= 0.0, "optimizer.temperature", temperature,
          "is out of range: must be >= 0 (0: the lr is optimizer.lr)");
}

void ScheduleConfig::validate() const {
  require_choice("lr_schedule.name", name, schedule_names());
  require(warmup_steps >= 0, "lr_schedule.warmup_steps", warmup_steps, "is out of range: must be >= 0");
  require(step_size >= 1, "lr_schedule.step_size", step_size, "is out of range: must be >= 1");
  require(std::isfinite(gamma) && gamma > 0.0 && gamma <= 1.0, "lr_schedule.gamma", gamma,
          "is out of range: must be in (0, 1], e.g. 0.1");
  require(std::isfinite(final_lr_factor) && final_lr_factor >= 0.0 && final_lr_factor <= 1.0,
          "lr_schedule.final_lr_factor", final_lr_factor, "is out of range: must be in [0, 1]");
}

void TrainingConfig::validate() const {
  require(batch_size >= 1, "training.batch_size", batch_size, "is out of range: must be >= 1");
  require(epochs >= 0, "training.epochs", epochs, "is out of range: must be >= 0");
  require(steps >= 0, "training.steps", steps, "is out of range: must be >= 0 (0: use training.epochs)");
  require(samples >= 0, "training.samples", samples, "is out of range: must be >= 0 (0: use steps or epochs)");
  require(epochs > 0 || steps > 0 || samples > 0, "training.epochs", epochs,
          "leaves no budget: set training.epochs, training.steps or training.samples >= 1");
  require(seed >= 0, "training.seed", seed, "is out of range: must be >= 0");
  require(eval_every >= 1, "training.eval_every", eval_every, "is out of range: must be >= 1");
  require_choice("training.device", device, device_names());
  require(threads >= 1, "training.threads", threads, "is out of range: must be >= 1");
}

void BatchScheduleConfig::validate() const {
  require_choice("batch_schedule.name", name, batch_schedule_names());
  const bool ramp = name == "linear" || name == "geometric";
  require(initial_batch_size >= 0, "batch_schedule.initial_batch_size", initial_batch_size,
          "is out of range: must be >= 0 (0: training.batch_size)");
  require(!ramp || final_batch_size >= 1, "batch_schedule.final_batch_size", final_batch_size,
          "must be >= 1 for a " + name + " ramp (the batch size it ends at)");
  require(final_batch_size >= 0, "batch_schedule.final_batch_size", final_batch_size, "is out of range: must be >= 0");
  require(!ramp || ramp_steps >= 1, "batch_schedule.ramp_steps", ramp_steps,
          "must be >= 1 for a " + name + " ramp (the step at which it reaches final_batch_size)");
  require(ramp_steps >= 0, "batch_schedule.ramp_steps", ramp_steps, "is out of range: must be >= 0");
  bool increasing = true;
  for (std::size_t i = 0; i < at_steps.size(); ++i) increasing = increasing && at_steps[i] >= 1 && (i == 0 || at_steps[i] > at_steps[i - 1]);
  require(increasing, "batch_schedule.at_steps", at_steps, "must be increasing step numbers >= 1");
  const bool sizes_ok = std::all_of(sizes.begin(), sizes.end(), [](std::int64_t b) { return b >= 1; });
  require(sizes_ok, "batch_schedule.sizes", sizes, "must be batch sizes >= 1");
  require(at_steps.size() == sizes.size(), "batch_schedule.sizes", sizes,
          "must have one batch size per entry of batch_schedule.at_steps");
  require(name != "steps" || !at_steps.empty(), "batch_schedule.at_steps", at_steps,
          "must list the steps where the batch size changes, e.g. [1000, 2000] with sizes [64, 256]");
}

void CheckpointConfig::validate() const {
  require(every >= 0, "checkpoint.every", every, "is out of range: must be >= 0 (0: only at the end)");
  require(!std::isnan(min_interval_s) && min_interval_s >= 0.0, "checkpoint.min_interval_s", min_interval_s,
          "is out of range: must be >= 0 (0: every checkpoint.every)");
}

void RlConfig::validate() const {
  require_choice("rl.algorithm", algorithm, rl_algorithm_names());
  require(std::isfinite(discount) && discount >= 0.0 && discount <= 1.0, "rl.discount", discount,
          "is out of range: must be in [0, 1], e.g. 0.99");
  require(replay_capacity >= 1, "rl.replay_capacity", replay_capacity, "is out of range: must be >= 1, e.g. 10000");
  require(std::isfinite(epsilon_start) && epsilon_start >= 0.0 && epsilon_start <= 1.0, "rl.epsilon_start",
          epsilon_start, "is out of range: must be in [0, 1], e.g. 1.0");
  require(std::isfinite(epsilon_end) && epsilon_end >= 0.0 && epsilon_end <= 1.0, "rl.epsilon_end", epsilon_end,
          "is out of range: must be in [0, 1], e.g. 0.05");
  require(epsilon_end <= epsilon_start, "rl.epsilon_end", epsilon_end,
          "is above rl.epsilon_start (" + format_double_short(epsilon_start) + "): epsilon decays from start to end");
  require(std::isfinite(epsilon_decay) && epsilon_decay > 0.0, "rl.epsilon_decay", epsilon_decay,
          "is out of range: must be > 0 (environment steps), e.g. 300");
  require(target_update_every >= 1, "rl.target_update_every", target_update_every,
          "is out of range: must be >= 1 (environment steps), e.g. 100");
  require(std::isfinite(tau) && tau >= 0.0 && tau <= 1.0, "rl.tau", tau,
          "is out of range: must be in [0, 1] (0: copy every rl.target_update_every steps), e.g. 0.005");
  require_choice("rl.loss", loss, rl_loss_names());
  require(return_window >= 1, "rl.return_window", return_window, "is out of range: must be >= 1 (episodes), e.g. 20");
  require(std::isfinite(critic_lr) && critic_lr > 0.0, "rl.critic_lr", critic_lr,
          "is out of range: must be > 0 (the critic's learning rate), e.g. 0.005");
}

void StopConfig::validate() const {
  require(!std::isnan(divergence_loss) && divergence_loss > 0.0, "stop.divergence_loss", divergence_loss,
          "is out of range: must be > 0 (.inf: only non-finite losses diverge)");
}

// task doublegoal: DQN or the one-step actor-critic on the Intro-to-RL notebook's environment. Its budget is
// environment steps; DQN's batch is the replay minibatch, the actor-critic learns from one transition a step.
namespace {
void validate_reinforcement(const Config& config) {
  const TrainingConfig& training = config.training;
  const RlConfig& rl = config.rl;
  const bool actor_critic = rl.algorithm == "actor_critic";
  require(training.samples == 0, "training.samples", training.samples,
          "is not a budget task doublegoal knows: give environment steps in training.steps (training.samples: 0)");
  require(training.steps >= 1, "training.steps", training.steps,
          "must be >= 1 for task doublegoal: its budget is environment steps, e.g. 20000");
  require(actor_critic || training.batch_size <= rl.replay_capacity, "training.batch_size", training.batch_size,
          "is larger than the replay buffer (rl.replay_capacity " + std::to_string(rl.replay_capacity) +
              "): learning starts when the buffer holds one batch");
  require(!actor_critic || config.optimizer.temperature == 0.0, "optimizer.temperature", config.optimizer.temperature,
          "is not supported by rl.algorithm actor_critic: it learns from one transition a step, with no batch size "
          "to scale by; give its learning rate in optimizer.lr");
  const std::string& schedule = config.batch_schedule.name;
  const std::string& parameterization = config.model.parameterization;
  require(schedule == "constant", "batch_schedule.name", "'" + schedule + "'",
          "is not supported by task doublegoal: the replay batch size is training.batch_size throughout");
  require(parameterization == "standard", "model.parameterization", "'" + parameterization + "'",
          "is not supported by task doublegoal: its Q-network is the standard MLP");
  require(training.device == "cpu", "training.device", "'" + training.device + "'",
          "is not supported by task doublegoal: it trains on cpu");
  for (const auto& text : config.targets) {
    const Target target = parse_target(text);
    const bool held_out = target.metric.rfind("test_", 0) == 0 || target.metric.rfind("val_", 0) == 0;
    if (held_out || target.metric == "train_acc") {
      throw ValueError("targets", "'" + text + "'",
                       "names a metric task doublegoal does not have: use greedy_length, greedy_return, "
                       "greedy_optimal_fraction, episode_return, epsilon or train_loss, e.g. 'greedy_length <= 10'");
    }
    if (actor_critic && target.metric == "epsilon") {
      throw ValueError("targets", "'" + text + "'",
                       "names a metric rl.algorithm actor_critic does not have (it explores by sampling its policy): "
                       "use greedy_length, greedy_return, greedy_optimal_fraction, episode_return or train_loss");
    }
  }
}
}  // namespace

Target parse_target(const std::string& text) {
  std::istringstream in(text);
  Target target;
  std::string op, rest;
  in >> target.metric >> op >> target.value;
  const bool parsed = !in.fail() && !(in >> rest);
  if (!parsed || (op != ">=" && op != "<=")) {
    throw ValueError("targets", "'" + text + "'", "is not a target: write METRIC >= VALUE or METRIC <= VALUE, e.g. 'test_acc >= 0.99'");
  }
  target.at_least = op == ">=";
  bool known = false;
  for (const auto& name : metric_names()) known = known || name == target.metric;
  if (!known) {
    throw ValueError("targets", "'" + text + "'",
                     "names an unknown metric '" + target.metric + "': use one of " + join(metric_names(), ", ") +
                         (target.metric.rfind("val_", 0) == 0 ? " (the held-out set is called test here)"
                                                               : did_you_mean(target.metric, metric_names())));
  }
  return target;
}

void Config::validate() const {
  task.validate();
  model.validate();
  optimizer.validate();
  lr_schedule.validate();
  training.validate();
  batch_schedule.validate();
  checkpoint.validate();
  stop.validate();
  rl.validate();
  if (is_reinforcement_task(task.name)) validate_reinforcement(*this);
  if (metrics.noise_scale && is_reinforcement_task(task.name)) {
    throw ValueError("metrics.noise_scale", "true",
                     "measures the per-example gradients of supervised training; task " + task.name +
                         " trains on replayed transitions without them: leave it false");
  }
  if (batch_schedule.name != "constant" && training.steps == 0 && training.samples == 0) {
    throw ValueError("batch_schedule.name", batch_schedule.name,
                     "needs a budget in steps or samples (training.steps or training.samples), not epochs");
  }
  if (task.online && training.steps == 0 && training.samples == 0) {
    throw ValueError("task.online", "true", "needs a budget in steps or samples (training.steps or training.samples): "
                                            "a stream has no epochs");
  }
  for (const auto& text : targets) {
    const Target target = parse_target(text);
    if (is_rl_metric(target.metric) && !is_reinforcement_task(task.name)) {
      throw ValueError("targets", "'" + text + "'",
                       "uses a reinforcement-learning metric, but task " + task.name +
                           " has no episodes: use it with task.name: doublegoal");
    }
    if (target.metric.size() > 4 && target.metric.compare(target.metric.size() - 4, 4, "_acc") == 0 &&
        !is_classification_task(task.name)) {
      throw ValueError("targets", "'" + text + "'",
                       "uses an accuracy, but task " + task.name + " is a regression: use train_loss or test_loss");
    }
  }
  if (const std::int64_t n = task.train_samples(); n > 0) {
    const std::string what = is_algorithmic_task(task.name) ? " pairs = task.train_fraction of every pair"
                             : task.name == "idx"           ? " images = task.subset"
                                                            : " samples = task.samples minus the test split";
    if (training.batch_size > n) {
      throw ValueError("training.batch_size", std::to_string(training.batch_size),
                       "is larger than the training set (" + std::to_string(n) + what + ")");
    }
    for (const std::int64_t b : {batch_schedule.final_batch_size, batch_schedule.initial_batch_size}) {
      if (b > n) {
        throw ValueError(b == batch_schedule.final_batch_size ? "batch_schedule.final_batch_size"
                                                              : "batch_schedule.initial_batch_size",
                         std::to_string(b),
                         "is larger than the training set (" + std::to_string(n) + what + ")");
      }
    }
    for (const std::int64_t b : batch_schedule.sizes) {
      if (b > n) throw ValueError("batch_schedule.sizes", to_text(Value(batch_schedule.sizes)),
                                  "has a batch size larger than the training set (" + std::to_string(n) + what + ")");
    }
  }
}

}  // namespace sweeplab
