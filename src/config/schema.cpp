#include "sweeplab/config/schema.hpp"

#include <cmath>
#include <set>
#include <unordered_map>

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
  bool since_v2 = false;  // added after trial ids were first made: in the id's hash only when not at its default
};

// A key inside a section: `key` is "section.leaf".
template <class Section, class T>
FieldSpec field(std::string key, Section Config::*section, T Section::*member, std::string doc, Options options = {}) {
  FieldSpec spec{std::move(key), TypeOf<T>::value, std::move(doc), options.label, options.affects_training,
                 !options.since_v2, {}, {}, {}};
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
  FieldSpec spec{std::move(key), TypeOf<T>::value, std::move(doc), options.label, options.affects_training,
                 !options.since_v2, {}, {}, {}};
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
  const Options added{"", true, true};
  const auto added_as = [](std::string label) { return Options{std::move(label), true, true}; };
  using C = Config;
  return {
      field("description", &C::description, "One line saying what the sweep is for (shown by `sweeplab list`).",
            bookkeeping),
      field("training.batch_size", &C::training, &TrainingConfig::batch_size, at_least(1),
            "Mini-batch size B (at most the training set: task.samples minus the test split; doublegoal: dqn's "
            "replay minibatch, at most rl.replay_capacity; not used by actor_critic, which learns from one "
            "transition a step).",
            {"bs"}),
      field("training.epochs", &C::training, &TrainingConfig::epochs, at_least(0),
            "Budget in passes over the training set (not part of the trial id: raising it continues a trial).",
            {"epochs", false}),
      field("training.steps", &C::training, &TrainingConfig::steps, at_least(0),
            "Budget in optimizer steps; when > 0 it replaces training.epochs (0: use epochs). doublegoal: the budget "
            "in environment steps (required); step counts environment steps, samples the transitions replayed "
            "(batch size x updates) and epoch the episodes finished.",
            {"steps", false}),
      field("training.samples", &C::training, &TrainingConfig::samples, at_least(0),
            "Budget in training samples, the same for every batch size (fixed samples: steps = samples / B, rounded "
            "up); when > 0 it replaces training.steps and training.epochs. training.eval_every and checkpoint.every "
            "then count samples too.",
            {"samples", false, true}),
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
      field("optimizer.temperature", &C::optimizer, &OptimizerConfig::temperature, at_least(0),
            "The 'temperature' eta/B: when > 0 the learning rate is temperature x training.batch_size, so a grid can "
            "sweep eta/B directly (B x temperature heatmaps); leave optimizer.lr unset then. 0: use optimizer.lr.",
            added_as("T")),
      field("optimizer.scale_lr_by_gamma", &C::optimizer, &OptimizerConfig::scale_lr_by_gamma,
            "sp, mup: true (the default): the optimizer's rate is eta g(gamma) m(N), compensated for the richness, "
            "so the divergence boundary in eta stays put as gamma moves (see model.parameterization). false: eta "
            "m(N), the width factor alone, as batch_size_studies' gamma x eta sweep trains ('we do not adjust eta in "
            "terms of gamma by design'): the boundary then moves as g(gamma), gamma^2 below gamma = 1 and "
            "gamma^(2/L) above (sgd). effective_lr in metrics.jsonl is the rate used either way.",
            added_as("scale_lr")),
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
      field("batch_schedule.name", &C::batch_schedule, &BatchScheduleConfig::name,
            "How the batch size changes while training (the batch-size grokking study), from B0 (initial_batch_size, else "
            "training.batch_size): constant (training.batch_size throughout); "
            "linear or geometric ramp to final_batch_size (B1) over ramp_steps steps, then B1; steps: the sizes given "
            "from the steps given on. Needs a budget in training.steps or training.samples.",
            added_as("bsched")),
      field("batch_schedule.initial_batch_size", &C::batch_schedule, &BatchScheduleConfig::initial_batch_size,
            at_least(0),
            "linear, geometric, steps: B0, the batch size at step 0; 0: training.batch_size. (So one sweep can compare "
            "a constant batch size, training.batch_size, with a ramp from a smaller B0: batch_schedule.name as an axis.)",
            added_as("bs0")),
      field("batch_schedule.final_batch_size", &C::batch_schedule, &BatchScheduleConfig::final_batch_size, at_least(0),
            "linear, geometric: the batch size B1 the ramp ends at.", added_as("bs1")),
      field("batch_schedule.ramp_steps", &C::batch_schedule, &BatchScheduleConfig::ramp_steps, at_least(0),
            "linear, geometric: the step at which the batch size reaches B1 (B rounds B0 + (B1 - B0) t / ramp_steps, "
            "or B0 (B1 / B0)^(t / ramp_steps), at step t).",
            added_as("ramp")),
      field("batch_schedule.at_steps", &C::batch_schedule, &BatchScheduleConfig::at_steps, at_least(1),
            "steps: increasing step numbers at which the batch size changes, e.g. [1000, 2000].", added),
      field("batch_schedule.sizes", &C::batch_schedule, &BatchScheduleConfig::sizes, at_least(1),
            "steps: the batch size from each of at_steps on, e.g. [64, 256].", added),
      field("model.hidden", &C::model, &ModelConfig::hidden, at_least(1),
            "Widths of the hidden layers of the MLP, e.g. [64, 64]; [] is a linear model.", {"hidden"}),
      field("model.activation", &C::model, &ModelConfig::activation,
            "Activation after each hidden layer: relu, tanh, gelu, sigmoid.", {"act"}),
      field("model.output_activation", &C::model, &ModelConfig::output_activation,
            "Activation after the last layer: none (logits, the usual) or one of the activations "
            "(the sanity checks break a model on purpose with relu here).",
            {"out_act"}),
      field("model.parameterization", &C::model, &ModelConfig::parameterization,
            "standard: PyTorch's nn.Linear (uniform init, biases). sp or mup (batch_size_studies): a bias-free MLP with weights "
            "N(0, init_std^2); each hidden layer computes h W / sqrt(fan_in) and the output layer divides by "
            "gamma sqrt(N) (sp) or gamma N (mup), N the last hidden width. The optimizer then uses the effective "
            "learning rate eta g(gamma) m(N): sgd g = gamma^2 (gamma <= 1) or gamma^(2/L), adam g = gamma or "
            "gamma^(1/L), L the number of layers; m = N (sgd) or sqrt(N) (adam) under mup, 1 under sp; g = 1 with "
            "optimizer.scale_lr_by_gamma: false. metrics.jsonl records both lr (eta) and effective_lr.",
            added_as("param")),
      field("model.gamma", &C::model, &ModelConfig::gamma, above(0),
            "sp, mup: the richness gamma (the output layer divides by it; larger is richer, 'feature learning').",
            added_as("gamma")),
      field("model.init_std", &C::model, &ModelConfig::init_std, above(0), "sp, mup: sigma_w, the weights' initial sd.",
            added_as("init_std")),
      field("model.centered", &C::model, &ModelConfig::centered,
            "sp, mup: train the centred output f(theta) - f(theta_0), which is 0 at initialisation.", added_as("centered")),
      field("task.name", &C::task, &TaskConfig::name,
            "Dataset: doughnuts (two noisy rings, binary), sine2 (y = sin(x)^2 regression), synthetic "
            "(random-teacher classification), csv or npz (your own file); the grokking study's algorithmic tasks x_plus_y, "
            "x_minus_y, x_div_y (mod task.modulus) and permutation (composition in S5), two operand tokens in, "
            "one class per result out; teacher (batch_size_studies: regression on a poly, mlp or linear teacher); doublegoal "
            "(the Intro-to-RL notebook: DQN or the actor-critic (rl.algorithm) on DoubleGoalEnv, a track from -1 to +1 walked in steps of 0.1 from 0, reward 1 at "
            "either end, at most 50 steps an episode; rl.* keys; budget training.steps = environment steps); idx "
            "(images and labels in IDX files, MNIST's format: task.train_images and the three other paths, one "
            "class per label value, the pixels flattened into the inputs).",
            {"task"}),
      field("task.samples", &C::task, &TaskConfig::samples, at_least(2),
            "Points generated, train + test (not used by csv, npz and the algorithmic tasks; task.online: the test set "
            "is its test_fraction share).",
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
      field("task.features", &C::task, &TaskConfig::features, at_least(1), "synthetic, teacher: input dimension D.",
            {"d"}),
      field("task.classes", &C::task, &TaskConfig::classes, at_least(2), "synthetic: number of classes."),
      field("task.path", &C::task, &TaskConfig::path,
            "csv: path of a CSV file with a header row, numeric feature columns and a label column."),
      field("task.label_column", &C::task, &TaskConfig::label_column, "csv: name of the label column."),
      field("task.inputs_key", &C::task, &TaskConfig::inputs_key,
            "npz: the array of inputs, N rows of features (float or integer; more dimensions are flattened).", added),
      field("task.labels_key", &C::task, &TaskConfig::labels_key,
            "npz: the array of labels, N entries: integers are classes, floats a regression ([N, k]: k outputs).",
            added),
      field("task.binary_loss", &C::task, &TaskConfig::binary_loss,
            "Two classes: bce (one logit, binary cross-entropy) or cross_entropy (two logits and multi-class "
            "cross-entropy, like the sanity checks' Linear(500, 2) + CrossEntropyLoss).",
            added_as("loss")),
      field("task.modulus", &C::task, &TaskConfig::modulus, between(2, 2000, false, false),
            "x_plus_y, x_minus_y, x_div_y: the prime p; inputs and results are 0..p-1 (x_div_y: y != 0, division is "
            "multiplication by y's inverse mod p).",
            added_as("p")),
      field("task.train_fraction", &C::task, &TaskConfig::train_fraction, between(0, 1, true, true),
            "Algorithmic tasks: the share of all pairs trained on (split with task.data_seed); the rest is the "
            "validation set (test_* metrics; targets may call them val_*).",
            added_as("frac")),
      field("task.teacher", &C::task, &TaskConfig::teacher,
            "teacher: poly (y = (x.w)^degree, w ~ N(0, I/D)), mlp (a random MLP: teacher_hidden, teacher_activation, "
            "teacher_parameterization, teacher_gamma) or linear (power-law spectrum: x_i scaled by i^(-alpha/2), "
            "weights ~ i^(-theta), theta = 1/2 + alpha (beta - 1) / 2, y of unit variance, label_noise rho). "
            "Inputs x ~ N(0, I_D).",
            added_as("teacher")),
      field("task.teacher_seed", &C::task, &TaskConfig::teacher_seed, at_least(0),
            "teacher: seed of the teacher's weights (task.data_seed draws the inputs).", added),
      field("task.degree", &C::task, &TaskConfig::degree, between(1, 8, false, false), "teacher poly: the power k.",
            added_as("k")),
      field("task.teacher_hidden", &C::task, &TaskConfig::teacher_hidden, at_least(1),
            "teacher mlp: hidden widths, e.g. [64].", added),
      field("task.teacher_activation", &C::task, &TaskConfig::teacher_activation,
            "teacher mlp: relu, tanh, gelu or sigmoid.", added),
      field("task.teacher_parameterization", &C::task, &TaskConfig::teacher_parameterization,
            "teacher mlp: sp or mup (weights N(0, 1), layers scaled as model.parameterization says).", added),
      field("task.teacher_gamma", &C::task, &TaskConfig::teacher_gamma, above(0), "teacher mlp: its richness gamma.",
            added),
      field("task.alpha", &C::task, &TaskConfig::alpha, above(0), "teacher linear: input spectrum exponent alpha.",
            added_as("alpha")),
      field("task.beta", &C::task, &TaskConfig::beta, above(0), "teacher linear: target exponent beta.",
            added_as("beta")),
      field("task.label_noise", &C::task, &TaskConfig::label_noise, between(0, 1, false, false),
            "teacher linear: rho, y = sqrt(1 - rho) clean + sqrt(rho) N(0, 1).", added_as("rho")),
      field("task.online", &C::task, &TaskConfig::online,
            "teacher: online (fixed time) training: a fresh batch every step, never a sample twice (budget "
            "training.steps or training.samples; the same samples in the same order for every batch size). false: "
            "a fixed training set of task.samples minus the test split, trained for epochs.",
            added_as("online")),
      field("task.train_images", &C::task, &TaskConfig::train_images,
            "idx: the training images, an IDX file of unsigned bytes [N, rows, cols] (MNIST's "
            "train-images-idx3-ubyte, gzipped or not), e.g. Debian's dataset-fashion-mnist: "
            "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz.",
            added),
      field("task.train_labels", &C::task, &TaskConfig::train_labels,
            "idx: the training labels, an IDX file of unsigned bytes [N] (train-labels-idx1-ubyte), one per image; "
            "the classes are 0 .. the largest label.",
            added),
      field("task.test_images", &C::task, &TaskConfig::test_images,
            "idx: the test images (t10k-images-idx3-ubyte), the same rows x cols as the training images.", added),
      field("task.test_labels", &C::task, &TaskConfig::test_labels, "idx: the test labels (t10k-labels-idx1-ubyte).",
            added),
      field("task.subset", &C::task, &TaskConfig::subset, at_least(0),
            "idx: train on this many of the training images, chosen at random by task.data_seed (the same images "
            "for every trial with that seed); 0: all of them. The test set is always the whole test file.",
            added_as("subset")),
      field("task.pixels", &C::task, &TaskConfig::pixels,
            "idx: unit (each byte / 255, in [0, 1], as batch_size_studies reads MNIST) or standardized (then minus "
            "the mean and over the sd of every pixel of the training images used, test images alike).",
            added_as("pixels")),
      field("task.class_loss", &C::task, &TaskConfig::class_loss,
            "idx: cross_entropy over one logit per class, or mse: the mean over the batch and the classes of "
            "(f(x)_c - onehot(y)_c)^2, batch_size_studies' MNIST loss. Accuracy is the argmax's either way.",
            added_as("class_loss")),
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
      field("checkpoint.keep_final", &C::checkpoint, &CheckpointConfig::keep_final,
            "Keep the final checkpoint of a completed or diverged trial (true), so that raising the budget continues "
            "it. false: none is kept (about 26 KB a tiny trial, most of its disk); raising the budget then trains it "
            "again from scratch. An interrupted or failed trial keeps its checkpoint either way.",
            bookkeeping),
      field("stop.divergence_loss", &C::stop, &StopConfig::divergence_loss, or_infinity(above(0)),
            "A training batch's loss above this (or not finite) ends the trial as diverged. .inf: only a non-finite "
            "loss does, the rule of batch_size_studies (its runs fail only on nan or inf)."),
      field("stop.on_target", &C::stop, &StopConfig::on_target,
            "End the trial as soon as every target is reached.", bookkeeping),
      field("metrics.noise_scale", &C::metrics, &MetricsConfig::noise_scale,
            "Write noise_scale in metrics.jsonl: the simple gradient noise scale B_simple = tr(Sigma) / |G|^2 of "
            "McCandlish et al. 2018 (the batch size where the gradient's noise and signal are equal), from the "
            "unbiased per-step estimates of its steps of two rows or more since the previous evaluation, the "
            "per-example gradient norms coming from the backward pass. Changes no other number; supervised tasks.",
            added_as("noise_scale")),
      field("rl.algorithm", &C::rl, &RlConfig::algorithm,
            "doublegoal: what learns. dqn: the Intro-to-RL notebook's DQN (Q-network of model.*, replay buffer, "
            "epsilon-greedy exploration, target network; training.batch_size is the replay minibatch). actor_critic: "
            "the notebook's one-step TD(0) actor-critic: a softmax policy (the actor, an MLP of model.* with 2 "
            "outputs) samples each action, a value network (the critic, an MLP of model.* with 1 output) learns V(s) "
            "from td_target = r + gamma V(s') (0 once the episode ended), and after every environment step the critic "
            "takes one step on (V(s) - td_target)^2 at rl.critic_lr and the actor one on -log pi(a|s) (td_target - "
            "V(s)) at optimizer.lr, each with the config's optimizer; train_loss is the mean critic loss. The "
            "replay, epsilon and target-network keys and training.batch_size are dqn's only.",
            added_as("algo")),
      field("rl.discount", &C::rl, &RlConfig::discount, between(0, 1, false, false),
            "doublegoal: the discount gamma of the TD target r + gamma (1 - done) max_a' Q_target(s', a') (dqn), "
            "r + gamma V(s') (actor_critic).",
            added_as("discount")),
      field("rl.replay_capacity", &C::rl, &RlConfig::replay_capacity, at_least(1),
            "doublegoal, dqn: transitions the replay buffer keeps (the oldest go first). Learning starts once it holds "
            "one batch (training.batch_size transitions); each environment step then replays one minibatch of "
            "training.batch_size transitions drawn without replacement.",
            added_as("replay")),
      field("rl.epsilon_start", &C::rl, &RlConfig::epsilon_start, between(0, 1, false, false),
            "doublegoal, dqn: epsilon-greedy exploration, epsilon = end + (start - end) exp(-t / decay) at environment "
            "step t (the notebook's schedule); this is start.",
            added_as("eps0")),
      field("rl.epsilon_end", &C::rl, &RlConfig::epsilon_end, between(0, 1, false, false),
            "doublegoal, dqn: the epsilon the schedule decays to (at most rl.epsilon_start).", added_as("eps1")),
      field("rl.epsilon_decay", &C::rl, &RlConfig::epsilon_decay, above(0),
            "doublegoal, dqn: the schedule's time constant, in environment steps (higher decays slower).",
            added_as("eps_decay")),
      field("rl.target_update_every", &C::rl, &RlConfig::target_update_every, at_least(1),
            "doublegoal, dqn: environment steps between copies of the Q-network into the target network (when rl.tau "
            "is 0).",
            added_as("target_every")),
      field("rl.tau", &C::rl, &RlConfig::tau, between(0, 1, false, false),
            "doublegoal, dqn: > 0: Polyak averaging, target = tau Q + (1 - tau) target after every update, instead of "
            "copies every rl.target_update_every steps.",
            added_as("tau")),
      field("rl.loss", &C::rl, &RlConfig::loss, "doublegoal, dqn: the TD loss, mse (the notebook's) or huber (delta 1).",
            added_as("td_loss")),
      field("rl.return_window", &C::rl, &RlConfig::return_window, at_least(1),
            "doublegoal: episode_return in metrics.jsonl is the mean return of this many last finished episodes.",
            added_as("window")),
      field("rl.critic_lr", &C::rl, &RlConfig::critic_lr, above(0),
            "doublegoal, actor_critic: the critic's learning rate (the actor's is optimizer.lr; both follow "
            "lr_schedule). The notebook's: 0.005, with the actor at 0.001.",
            added_as("critic_lr")),
      field("targets", &C::targets,
            "Goals whose first step and sample count are recorded, e.g. ['test_acc >= 0.99']; metrics: "
            "train_loss, test_loss, train_acc, test_acc (val_loss and val_acc name the test metrics too, as the grokking study "
            "calls its held-out set); doublegoal: episode_return, greedy_return, greedy_length (of a greedy episode "
            "from the start; lower is better, 10 is optimal: 'greedy_length <= 10'), greedy_optimal_fraction (the "
            "share of the 19 positions -0.9..0.9 from which the greedy policy walks straight to the nearer goal: "
            "'greedy_optimal_fraction >= 1'), epsilon (dqn), train_loss (the mean TD loss; actor_critic: the "
            "critic's).",
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
  const std::size_t index = field_index(key);
  return index < schema().size() ? &schema()[index] : nullptr;
}

std::size_t field_index(const std::string& key) {
  static const std::unordered_map<std::string, std::size_t> index = [] {
    std::unordered_map<std::string, std::size_t> out;
    for (std::size_t i = 0; i < schema().size(); ++i) out.emplace(schema()[i].key, i);
    return out;
  }();
  const auto found = index.find(key);
  return found == index.end() ? schema().size() : found->second;
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
    out.insert(out.end(), {"sweep", "sweep.grid", "sweep.seeds", "sweep.prune", "sweep.refine", "extends"});
    return out;
  }();
  return names;
}

std::string canonical_text(const Config& config) {
  static const Config defaults;
  std::string text = kCanonicalTextHeader;
  for (const auto& spec : schema()) {
    if (!spec.affects_training) continue;
    const std::string value = to_text(spec.get(config));
    // Keys added later leave the ids of trials that do not use them as they were.
    if (!spec.hashed_at_default && value == to_text(spec.get(defaults))) continue;
    text += spec.key + "=" + value + "\n";
  }
  return text;
}

}  // namespace sweeplab
