#pragma once
// The typed configuration of one trial. Defaults live in the fields; each section checks itself in
// validate(), throwing ValueError with the dotted key. Every key is documented in schema.cpp, which
// `sweeplab show --keys` prints.
#include <cstdint>
#include <string>
#include <vector>

namespace sweeplab {

// Allowed names, shared by validation, the key documentation and the factories that build them.
const std::vector<std::string>& task_names();           // doughnuts, sine2, synthetic, csv
const std::vector<std::string>& activation_names();     // relu, tanh, gelu, sigmoid
const std::vector<std::string>& output_activation_names();  // none + activation_names()
const std::vector<std::string>& optimizer_names();      // sgd, adam, adamw
const std::vector<std::string>& schedule_names();       // constant, cosine, step
const std::vector<std::string>& device_names();         // cpu, cuda
const std::vector<std::string>& metric_names();         // train_loss, test_loss, train_acc, test_acc

bool is_classification_task(const std::string& task_name);

struct TaskConfig {
  std::string name = "doughnuts";
  std::int64_t samples = 2000;          // points generated (train + test); csv: ignored
  double test_fraction = 0.2;
  std::int64_t data_seed = 0;           // the data is the same for every trial with the same data_seed
  double noise = 0.5;                   // doughnuts: radial noise sd; sine2: label noise sd
  std::vector<double> radii = {10.0, 15.0};  // doughnuts: ring radii, one class each
  std::vector<double> x_range = {0.0, 2.0};  // sine2: inputs uniform in [lo, hi]
  std::int64_t features = 10;           // synthetic: input dimension
  std::int64_t classes = 2;             // synthetic: number of classes
  std::string path;                     // csv: file of features + a label column
  std::string label_column = "label";   // csv
  std::int64_t test_samples() const;    // round(samples x test_fraction): the split every generated task uses
  std::int64_t train_samples() const { return samples - test_samples(); }
  void validate() const;
};

struct ModelConfig {
  std::vector<std::int64_t> hidden = {64, 64};
  std::string activation = "relu";
  std::string output_activation = "none";
  void validate() const;
};

struct OptimizerConfig {
  std::string name = "sgd";
  double lr = 0.001;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  std::vector<double> betas = {0.9, 0.999};
  double eps = 1e-8;
  void validate() const;
};

struct ScheduleConfig {
  std::string name = "constant";
  std::int64_t warmup_steps = 0;
  std::int64_t step_size = 1000;        // step: decay every step_size optimizer steps
  double gamma = 0.1;                   // step: multiply the lr by gamma
  double final_lr_factor = 0.0;         // cosine: lr ends at lr * final_lr_factor
  void validate() const;
};

struct TrainingConfig {
  std::int64_t batch_size = 32;
  std::int64_t epochs = 10;
  std::int64_t steps = 0;               // > 0: step budget, replaces epochs
  std::int64_t seed = 0;
  bool drop_last = false;
  std::int64_t eval_every = 1;          // in budget units (epochs, or steps when training.steps > 0)
  std::string device = "cpu";
  std::int64_t threads = 1;
  void validate() const;
};

struct CheckpointConfig {
  std::int64_t every = 25;              // in budget units; 0 = only at the end and on interrupt
  double min_interval_s = 10.0;         // a periodic checkpoint waits until this much time passed since the last
  void validate() const;
};

struct StopConfig {
  double divergence_loss = 1e6;         // a training loss above this (or non-finite) ends the trial as diverged
  bool on_target = false;               // end the trial once every target is reached
  void validate() const;
};

// "test_acc >= 0.99": the first step at which a metric reaches a value.
struct Target {
  std::string metric;
  bool at_least = true;  // >= (true) or <= (false)
  double value = 0.0;
};
Target parse_target(const std::string& text);  // throws ValueError with key "targets"

struct Config {
  std::string description;
  TaskConfig task;
  ModelConfig model;
  OptimizerConfig optimizer;
  ScheduleConfig lr_schedule;
  TrainingConfig training;
  CheckpointConfig checkpoint;
  StopConfig stop;
  std::vector<std::string> targets;
  void validate() const;  // every section, then the checks that span sections
};

}  // namespace sweeplab
