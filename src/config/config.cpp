#include "sweeplab/config/config.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/core/value.hpp"

namespace sweeplab {

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = {"doughnuts", "sine2", "synthetic", "csv"};
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
  static const std::vector<std::string> names = {"train_loss", "test_loss", "train_acc", "test_acc"};
  return names;
}

bool is_classification_task(const std::string& task_name) { return task_name != "sine2"; }

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

}  // namespace

std::int64_t TaskConfig::test_samples() const { return std::llround(double(samples) * test_fraction); }

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
  require(train_samples() >= 1, "task.test_fraction", test_fraction, "leaves no training samples");
  require(features >= 1, "task.features", features, "is out of range: must be >= 1");
  require(classes >= 2, "task.classes", classes, "is out of range: must be >= 2");
  require(name != "csv" || !path.empty(), "task.path", path, "must name a CSV file when task.name is csv");
  require(!label_column.empty(), "task.label_column", label_column, "must not be empty");
}

void ModelConfig::validate() const {
  // One require for the whole list: each call copies the list into a Value, so one per width was quadratic.
  const bool widths_ok = std::all_of(hidden.begin(), hidden.end(), [](std::int64_t width) { return width >= 1; });
  require(widths_ok, "model.hidden", hidden, "must list layer widths >= 1, e.g. [64, 64] ([] for no hidden layer)");
  require_choice("model.activation", activation, activation_names());
  require_choice("model.output_activation", output_activation, output_activation_names());
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
  require(epochs > 0 || steps > 0, "training.epochs", epochs,
          "leaves no budget: set training.epochs >= 1 or training.steps >= 1");
  require(seed >= 0, "training.seed", seed, "is out of range: must be >= 0");
  require(eval_every >= 1, "training.eval_every", eval_every, "is out of range: must be >= 1");
  require_choice("training.device", device, device_names());
  require(threads >= 1, "training.threads", threads, "is out of range: must be >= 1");
}

void CheckpointConfig::validate() const {
  require(every >= 0, "checkpoint.every", every, "is out of range: must be >= 0 (0: only at the end)");
  require(!std::isnan(min_interval_s) && min_interval_s >= 0.0, "checkpoint.min_interval_s", min_interval_s,
          "is out of range: must be >= 0 (0: every checkpoint.every)");
}

void StopConfig::validate() const {
  require(!std::isnan(divergence_loss) && divergence_loss > 0.0, "stop.divergence_loss", divergence_loss,
          "is out of range: must be > 0 (.inf: only non-finite losses diverge)");
}

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
  checkpoint.validate();
  stop.validate();
  for (const auto& text : targets) {
    const Target target = parse_target(text);
    if (target.metric.size() > 4 && target.metric.compare(target.metric.size() - 4, 4, "_acc") == 0 &&
        !is_classification_task(task.name)) {
      throw ValueError("targets", "'" + text + "'",
                       "uses an accuracy, but task " + task.name + " is a regression: use train_loss or test_loss");
    }
  }
  if (task.name != "csv") {
    if (training.batch_size > task.train_samples()) {
      throw ValueError("training.batch_size", std::to_string(training.batch_size),
                       "is larger than the training set (" + std::to_string(task.train_samples()) +
                           " samples = task.samples minus the test split)");
    }
  }
}

}  // namespace sweeplab
