#include "sweeplab/config/schema.hpp"

#include <cmath>
#include <set>

#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"

namespace sweeplab {
namespace {

template <class T>
struct TypeOf;
template <>
struct TypeOf<bool> { static constexpr ValueType value = ValueType::Bool; };
template <>
struct TypeOf<std::int64_t> { static constexpr ValueType value = ValueType::Int; };
template <>
struct TypeOf<double> { static constexpr ValueType value = ValueType::Double; };
template <>
struct TypeOf<std::string> { static constexpr ValueType value = ValueType::String; };
template <>
struct TypeOf<std::vector<std::int64_t>> { static constexpr ValueType value = ValueType::IntList; };
template <>
struct TypeOf<std::vector<double>> { static constexpr ValueType value = ValueType::DoubleList; };
template <>
struct TypeOf<std::vector<std::string>> { static constexpr ValueType value = ValueType::StringList; };

struct Options {
  std::string label;
  bool affects_training = true;
};

// A key inside a section: `key` is "section.leaf".
template <class Section, class T>
FieldSpec field(std::string key, Section Config::*section, T Section::*member, std::string doc, Options options = {}) {
  FieldSpec spec{std::move(key), TypeOf<T>::value, std::move(doc), options.label, options.affects_training, {}, {}, {}};
  spec.get = [section, member](const Config& config) -> Value { return (config.*section).*member; };
  spec.set = [section, member](Config& config, const Value& value) { (config.*section).*member = std::get<T>(value); };
  return spec;
}

// A numeric key inside a section, with the range validate() enforces.
template <class Section, class T>
FieldSpec field(std::string key, Section Config::*section, T Section::*member, Range range, std::string doc,
                Options options = {}) {
  FieldSpec spec = field(std::move(key), section, member, std::move(doc), std::move(options));
  spec.range = range;
  return spec;
}

// A top-level key.
template <class T>
FieldSpec field(std::string key, T Config::*member, std::string doc, Options options = {}) {
  FieldSpec spec{std::move(key), TypeOf<T>::value, std::move(doc), options.label, options.affects_training, {}, {}, {}};
  spec.get = [member](const Config& config) -> Value { return config.*member; };
  spec.set = [member](Config& config, const Value& value) { config.*member = std::get<T>(value); };
  return spec;
}

Range at_least(double min) {
  Range range;
  range.min = min;
  return range;
}

Range above(double min) {
  Range range = at_least(min);
  range.min_open = true;
  return range;
}

Range between(double min, double max, bool min_open, bool max_open) {
  Range range = at_least(min);
  range.max = max;
  range.min_open = min_open;
  range.max_open = max_open;
  return range;
}

Range or_infinity(Range range) {
  range.infinity_ok = true;
  return range;
}

const Range kFinite{};

std::vector<FieldSpec> make_schema() {
  const Options bookkeeping{"", false};
  using C = Config;
  return {
      field("description", &C::description, "One line saying what the sweep is for (shown by `sweeplab list`).",
            bookkeeping),
      field("training.batch_size", &C::training, &TrainingConfig::batch_size, at_least(1),
            "Mini-batch size B (at most the training set: task.samples minus the test split).",
            {"bs"}),
      field("training.epochs", &C::training, &TrainingConfig::epochs, at_least(0),
            "Budget in passes over the training set (not part of the trial id: raising it continues a trial).",
            {"epochs", false}),
      field("training.steps", &C::training, &TrainingConfig::steps, at_least(0),
            "Budget in optimizer steps; when > 0 it replaces training.epochs (0: use epochs).", {"steps", false}),
      field("training.seed", &C::training, &TrainingConfig::seed, at_least(0),
            "Seed of the model initialisation and the batch order; sweep.seeds sweeps it.", {"seed"}),
      field("training.drop_last", &C::training, &TrainingConfig::drop_last,
            "Drop the last partial batch of each epoch (false: train on it as a smaller batch)."),
      field("training.eval_every", &C::training, &TrainingConfig::eval_every, at_least(1),
            "Evaluate (one metrics.jsonl line) every this many epochs, or steps when training.steps > 0."),
      field("training.device", &C::training, &TrainingConfig::device, "cpu, or cuda where LibTorch has CUDA."),
      field("training.threads", &C::training, &TrainingConfig::threads, at_least(1),
            "LibTorch intra-op threads of a worker (the CPU engine itself uses one thread per worker: raise -j "
            "instead)."),
      field("optimizer.name", &C::optimizer, &OptimizerConfig::name, "sgd, adam or adamw.", {"opt"}),
      field("optimizer.lr", &C::optimizer, &OptimizerConfig::lr, above(0), "Peak learning rate (eta).", {"lr"}),
      field("optimizer.momentum", &C::optimizer, &OptimizerConfig::momentum, between(0, 1, false, true),
            "sgd: momentum.",
            {"mom"}),
      field("optimizer.nesterov", &C::optimizer, &OptimizerConfig::nesterov,
            "sgd: Nesterov momentum (needs momentum > 0)."),
      field("optimizer.weight_decay", &C::optimizer, &OptimizerConfig::weight_decay, at_least(0),
            "L2 penalty (sgd, adam) or decoupled weight decay (adamw).", {"wd"}),
      field("optimizer.betas", &C::optimizer, &OptimizerConfig::betas, between(0, 1, false, true),
            "adam, adamw: [beta1, beta2]."),
      field("optimizer.eps", &C::optimizer, &OptimizerConfig::eps, above(0), "adam, adamw: epsilon."),
      field("lr_schedule.name", &C::lr_schedule, &ScheduleConfig::name,
            "Learning-rate schedule after warmup: constant, cosine (to lr x final_lr_factor at the end of the "
            "budget) or step (x gamma every step_size steps).",
            {"sched"}),
      field("lr_schedule.warmup_steps", &C::lr_schedule, &ScheduleConfig::warmup_steps, at_least(0),
            "Linear warmup from 0 to lr over this many optimizer steps.", {"warmup"}),
      field("lr_schedule.step_size", &C::lr_schedule, &ScheduleConfig::step_size, at_least(1),
            "step: optimizer steps between decays."),
      field("lr_schedule.gamma", &C::lr_schedule, &ScheduleConfig::gamma, between(0, 1, true, false),
            "step: factor applied at each decay."),
      field("lr_schedule.final_lr_factor", &C::lr_schedule, &ScheduleConfig::final_lr_factor,
            between(0, 1, false, false),
            "cosine: the lr at the end of the budget, as a fraction of lr."),
      field("model.hidden", &C::model, &ModelConfig::hidden, at_least(1),
            "Widths of the hidden layers of the MLP, e.g. [64, 64]; [] is a linear model.", {"hidden"}),
      field("model.activation", &C::model, &ModelConfig::activation,
            "Activation after each hidden layer: relu, tanh, gelu, sigmoid.", {"act"}),
      field("model.output_activation", &C::model, &ModelConfig::output_activation,
            "Activation after the last layer: none (logits, the usual) or one of the activations "
            "(seed 002 breaks a model on purpose with relu here).",
            {"out_act"}),
      field("task.name", &C::task, &TaskConfig::name,
            "Dataset: doughnuts (two noisy rings, binary), sine2 (y = sin(x)^2 regression), synthetic "
            "(random-teacher classification), csv (your own file).",
            {"task"}),
      field("task.samples", &C::task, &TaskConfig::samples, at_least(2),
            "Points generated, train + test (not used by csv).",
            {"n"}),
      field("task.test_fraction", &C::task, &TaskConfig::test_fraction, between(0, 1, false, true),
            "Share of the points held out as the test set.", {"test"}),
      field("task.data_seed", &C::task, &TaskConfig::data_seed, at_least(0),
            "Seed of the data generator and the train/test split; the same for every trial unless swept.",
            {"data_seed"}),
      field("task.noise", &C::task, &TaskConfig::noise, at_least(0),
            "doughnuts: sd of the radial noise; sine2: sd of Gaussian label noise."),
      field("task.radii", &C::task, &TaskConfig::radii, above(0),
            "doughnuts: radius of the inner and outer ring, two numbers."),
      field("task.x_range", &C::task, &TaskConfig::x_range, kFinite,
            "sine2: inputs are uniform in [lo, hi], lo < hi."),
      field("task.features", &C::task, &TaskConfig::features, at_least(1), "synthetic: input dimension.",
            {"d"}),
      field("task.classes", &C::task, &TaskConfig::classes, at_least(2), "synthetic: number of classes."),
      field("task.path", &C::task, &TaskConfig::path,
            "csv: path of a CSV file with a header row, numeric feature columns and a label column."),
      field("task.label_column", &C::task, &TaskConfig::label_column, "csv: name of the label column."),
      field("checkpoint.every", &C::checkpoint, &CheckpointConfig::every, at_least(0),
            "Checkpoint every this many epochs (or steps when training.steps > 0); 0: only at the end and on "
            "interrupt.",
            bookkeeping),
      field("checkpoint.min_interval_s", &C::checkpoint, &CheckpointConfig::min_interval_s,
            or_infinity(at_least(0)),
            "Seconds of training at least between two periodic checkpoints of a trial, so fast trials do not spend "
            "their time writing them; 0: every checkpoint.every; .inf: none. The last checkpoint and the one on "
            "interrupt are always written.",
            bookkeeping),
      field("stop.divergence_loss", &C::stop, &StopConfig::divergence_loss, or_infinity(above(0)),
            "A training loss above this (or not finite) ends the trial as diverged; .inf: only non-finite."),
      field("stop.on_target", &C::stop, &StopConfig::on_target,
            "End the trial as soon as every target is reached.", bookkeeping),
      field("targets", &C::targets,
            "Goals whose first step and sample count are recorded, e.g. ['test_acc >= 0.99']; metrics: "
            "train_loss, test_loss, train_acc, test_acc.",
            bookkeeping),
  };
}

}  // namespace

bool Range::contains(double value) const {
  if (std::isnan(value)) return false;
  if (std::isinf(value)) return infinity_ok && value > 0;
  if (min && (min_open ? value <= *min : value < *min)) return false;
  if (max && (max_open ? value >= *max : value > *max)) return false;
  return true;
}

std::string Range::text() const {
  if (min && max) {
    return std::string("in ") + (min_open ? "(" : "[") + format_double_short(*min) + ", " + format_double_short(*max) +
           (max_open ? ")" : "]");
  }
  if (min) return (min_open ? "> " : ">= ") + format_double_short(*min);
  if (max) return (max_open ? "< " : "<= ") + format_double_short(*max);
  return "finite";
}

const std::vector<FieldSpec>& schema() {
  static const std::vector<FieldSpec> table = make_schema();
  return table;
}

const FieldSpec* find_field(const std::string& key) {
  for (const auto& spec : schema()) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

std::size_t field_index(const std::string& key) {
  const auto& table = schema();
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (table[i].key == key) return i;
  }
  return table.size();
}

std::vector<std::string> keys_with_leaf(const std::string& leaf) {
  std::vector<std::string> keys;
  for (const auto& spec : schema()) {
    if (spec.leaf() == leaf) keys.push_back(spec.key);
  }
  return keys;
}

const std::vector<std::string>& section_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& spec : schema()) {
      const auto dot = spec.key.find('.');
      if (dot == std::string::npos) continue;
      const std::string section = spec.key.substr(0, dot);
      if (seen.insert(section).second) out.push_back(section);
    }
    return out;
  }();
  return names;
}

const std::vector<std::string>& all_key_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& spec : schema()) out.push_back(spec.key);
    for (const auto& section : section_names()) out.push_back(section);
    out.insert(out.end(), {"sweep", "sweep.grid", "sweep.seeds", "extends"});
    return out;
  }();
  return names;
}

std::string canonical_text(const Config& config) {
  std::string text = "sweeplab-trial-v1\n";
  for (const auto& spec : schema()) {
    if (spec.affects_training) text += spec.key + "=" + to_text(spec.get(config)) + "\n";
  }
  return text;
}

}  // namespace sweeplab
