#pragma once
// The typed configuration of one trial. Defaults live in the fields; each section checks itself in
// validate(), throwing ValueError with the dotted key. Every key is documented in schema.cpp, which
// `sweeplab show --keys` prints.
#include <cstdint>
#include <string>
#include <vector>

namespace sweeplab {

// Allowed names, shared by validation, the key documentation and the factories that build them.
const std::vector<std::string>& task_names();           // doughnuts, sine2, synthetic, csv, x_plus_y, ...
const std::vector<std::string>& activation_names();     // relu, tanh, gelu, sigmoid
const std::vector<std::string>& output_activation_names();  // none + activation_names()
const std::vector<std::string>& optimizer_names();      // sgd, adam, adamw
const std::vector<std::string>& schedule_names();       // constant, cosine, step
const std::vector<std::string>& device_names();         // cpu, cuda
const std::vector<std::string>& metric_names();         // train_loss, test_loss, train_acc, test_acc, val_loss, val_acc
const std::vector<std::string>& teacher_names();        // poly, mlp, linear
const std::vector<std::string>& parameterization_names();  // standard, sp, mup
const std::vector<std::string>& batch_schedule_names();    // constant, linear, geometric, steps
const std::vector<std::string>& binary_loss_names();       // bce, cross_entropy
const std::vector<std::string>& rl_loss_names();           // mse, huber
const std::vector<std::string>& rl_algorithm_names();      // dqn, actor_critic
const std::vector<std::string>& pixel_scale_names();       // unit, standardized
const std::vector<std::string>& class_loss_names();        // cross_entropy, mse

// False for the regression tasks (sine2, teacher); csv and npz may be either (their labels decide).
bool is_classification_task(const std::string& task_name);
// The Intro-to-RL notebook's reinforcement learning: doublegoal (DQN on DoubleGoalEnv). No dataset: the agent's own transitions.
bool is_reinforcement_task(const std::string& task_name);
// The grokking study's algorithmic tasks: x_plus_y, x_minus_y, x_div_y (mod task.modulus) and permutation (S5).
bool is_algorithmic_task(const std::string& task_name);

struct TaskConfig {
  std::string name = "doughnuts";
  std::int64_t samples = 2000;          // points generated (train + test); csv, npz, algorithmic: ignored
  double test_fraction = 0.2;
  std::int64_t data_seed = 0;           // the data is the same for every trial with the same data_seed
  double noise = 0.5;                   // doughnuts: radial noise sd; sine2: label noise sd
  std::vector<double> radii = {10.0, 15.0};  // doughnuts: ring radii, one class each
  std::vector<double> x_range = {0.0, 2.0};  // sine2: inputs uniform in [lo, hi]
  std::int64_t features = 10;           // synthetic, teacher: input dimension (D)
  std::int64_t classes = 2;             // synthetic: number of classes
  std::string path;                     // csv, npz: the user's file
  std::string label_column = "label";   // csv
  std::string inputs_key = "x";         // npz: the array of inputs, [N, features...]
  std::string labels_key = "y";         // npz: the array of labels, [N] or [N, outputs]
  std::string binary_loss = "bce";      // two classes: one logit + BCE, or cross_entropy over two logits (the sanity checks)
  // algorithmic tasks (the batch-size grokking study): every pair (x, y) is one example
  std::int64_t modulus = 97;            // p, a prime
  double train_fraction = 0.5;          // share of the pairs trained on; the rest is the validation (test) set
  // teacher-student regression (batch_size_studies)
  std::string teacher = "poly";         // poly: (x.w)^degree; mlp; linear: power-law spectrum
  std::int64_t teacher_seed = 0;        // the teacher's weights
  std::int64_t degree = 3;              // poly: k
  std::vector<std::int64_t> teacher_hidden = {64};  // mlp: hidden widths
  std::string teacher_activation = "relu";          // mlp
  std::string teacher_parameterization = "sp";      // mlp: sp or mup
  double teacher_gamma = 1.0;           // mlp: richness
  double alpha = 1.5;                   // linear: input spectrum x_i ~ i^(-alpha/2)
  double beta = 1.5;                    // linear: target exponent, weights ~ i^(-theta), theta = 1/2 + alpha (beta - 1) / 2
  double label_noise = 0.0;             // linear: rho, y = sqrt(1 - rho) clean + sqrt(rho) noise
  bool online = false;                  // teacher: a fresh batch every step (the training set is a stream)
  // idx: images and labels in IDX files (MNIST's format, gzipped or not): the training and the test set
  std::string train_images, train_labels, test_images, test_labels;
  std::int64_t subset = 0;              // idx: train on this many training images, chosen by data_seed; 0: all
  std::string pixels = "unit";          // idx: unit (x / 255) or standardized (mean 0, sd 1 over the training pixels)
  std::string class_loss = "cross_entropy";  // idx: cross_entropy, or mse against one-hot targets
  std::int64_t test_samples() const;    // the held-out set: round(samples x test_fraction); algorithmic: the pairs not trained on
  std::int64_t train_samples() const;   // generated tasks, idx's subset; 0 when only the files or the stream know
  std::int64_t pair_count() const;      // algorithmic: every (x, y); x_div_y leaves out y = 0
  void validate() const;
};

struct ModelConfig {
  std::vector<std::int64_t> hidden = {64, 64};
  std::string activation = "relu";
  std::string output_activation = "none";
  // standard: PyTorch's nn.Linear (uniform init, biases). sp, mup (batch_size_studies): bias-free, weights N(0, init_std^2),
  // each hidden layer computes h W / sqrt(fan_in), the output layer divides by gamma sqrt(N) (sp) or gamma N (mup).
  std::string parameterization = "standard";
  double gamma = 1.0;                   // richness
  double init_std = 1.0;                // sigma_w
  bool centered = false;                // output f(theta) - f(theta_0)
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
  double temperature = 0.0;             // > 0: lr = temperature x training.batch_size (the grid sweeps eta/B)
  // sp, mup: the optimizer's rate is eta g(gamma) m(N); false leaves out g(gamma) (batch_size_studies' gamma x eta
  // sweep: "we do not adjust eta in terms of gamma by design"), so the rate is eta m(N)
  bool scale_lr_by_gamma = true;
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
  std::int64_t batch_size = 32;         // with a batch-size schedule: B at step 0
  std::int64_t epochs = 10;
  std::int64_t steps = 0;               // > 0: step budget, replaces epochs
  std::int64_t samples = 0;             // > 0: budget in training samples (the same for every batch size), replaces both
  std::int64_t seed = 0;
  bool drop_last = false;
  std::int64_t eval_every = 1;          // in budget units (epochs, or steps when training.steps > 0)
  std::string device = "cpu";
  std::int64_t threads = 1;
  void validate() const;
};

// How the batch size changes during training (the batch-size grokking study).
struct BatchScheduleConfig {
  std::string name = "constant";        // constant, linear, geometric (B0 -> final_batch_size over ramp_steps), steps
  std::int64_t initial_batch_size = 0;  // linear, geometric, steps: B0, the batch size at step 0; 0: training.batch_size
  std::int64_t final_batch_size = 0;    // linear, geometric: B1
  std::int64_t ramp_steps = 0;          // linear, geometric: B reaches B1 at this step and stays
  std::vector<std::int64_t> at_steps;   // steps: the step numbers where the batch size changes, increasing
  std::vector<std::int64_t> sizes;      // steps: the batch size from each of them on
  void validate() const;
};

// task doublegoal (the Intro-to-RL notebook): DQN. training.batch_size is the replay minibatch, training.steps the budget in
// environment steps; defaults from the notebook.
struct RlConfig {
  std::string algorithm = "dqn";          // dqn, or actor_critic (the notebook's one-step TD(0) actor-critic)
  double discount = 0.99;                 // gamma of the TD target r + gamma (1 - done) max_a' Q_target(s', a')
  std::int64_t replay_capacity = 10000;   // transitions kept; the oldest go first
  double epsilon_start = 1.0;             // epsilon(t) = end + (start - end) exp(-t / decay), t the env step
  double epsilon_end = 0.05;
  double epsilon_decay = 300.0;           // in environment steps
  std::int64_t target_update_every = 100; // environment steps between copies of the Q-network to the target
  double tau = 0.0;                       // > 0: Polyak averaging after every update instead of copies
  std::string loss = "mse";               // mse (the notebook's) or huber
  std::int64_t return_window = 20;        // episode_return: the mean over this many last episodes
  double critic_lr = 0.005;               // actor_critic: the critic's learning rate (the actor's is optimizer.lr)
  void validate() const;
};

struct CheckpointConfig {
  std::int64_t every = 25;              // in budget units; 0 = only at the end and on interrupt
  double min_interval_s = 10.0;         // a periodic checkpoint waits until this much time passed since the last
  bool keep_final = true;               // false: a settled trial keeps no checkpoint (extending it trains it again)
  void validate() const;
};

struct StopConfig {
  double divergence_loss = 1e6;         // a training loss above this (or non-finite) ends the trial as diverged
  bool on_target = false;               // end the trial once every target is reached
  void validate() const;
};

// What a trial measures besides its losses and accuracies.
struct MetricsConfig {
  bool noise_scale = false;             // the gradient noise scale B_simple in metrics.jsonl (supervised tasks)
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
  BatchScheduleConfig batch_schedule;
  CheckpointConfig checkpoint;
  StopConfig stop;
  RlConfig rl;
  MetricsConfig metrics;
  std::vector<std::string> targets;
  void validate() const;  // every section, then the checks that span sections
};

}  // namespace sweeplab
