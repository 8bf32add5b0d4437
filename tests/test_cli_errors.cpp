// Every kind of bad input: exit code 2, one line on stderr naming where, the key, the value and a
// suggestion, and nothing written.
#include <gtest/gtest.h>

#include <map>

#include "test_util.hpp"

namespace sweeplab {
namespace {

using testing::TempDir;

struct BadInput {
  std::string name;
  std::map<std::string, std::string> configs;  // file name under configs/ -> content
  std::vector<std::string> args;
  std::vector<std::string> expected;  // substrings of the one error line
};

const std::string kGood = "training: {epochs: 2, batch_size: 4}\ntask: {samples: 100}\n";

std::vector<BadInput> bad_inputs() {
  return {
      {"typo_key", {{"c.yaml", "training:\n  epochs: 2\noptimizer:\n  lrr: 0.1\n"}}, {"show", "c"},
       {"c.yaml:4: unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)"}},
      {"typo_section", {{"c.yaml", "optimiser:\n  lr: 0.1\n"}}, {"show", "c"},
       {"c.yaml:1: unknown key 'optimiser' (did you mean 'optimizer'?)"}},
      {"typo_sweep_key", {{"c.yaml", "sweep:\n  grids: {}\n"}}, {"show", "c"},
       {"c.yaml:2: unknown key 'sweep.grids' (did you mean 'sweep.grid'?)"}},
      {"wrong_type_int", {{"c.yaml", "training:\n  batch_size: eight\n"}}, {"show", "c"},
       {"c.yaml:2: training.batch_size: 'eight' is not an integer, e.g. 8"}},
      {"quoted_number", {{"c.yaml", "optimizer:\n  lr: \"0.1\"\n"}}, {"show", "c"},
       {"c.yaml:2: optimizer.lr: \"0.1\" (quoted, so a string) is not a number"}},
      {"float_for_int", {{"c.yaml", "training:\n  epochs: 2.5\n"}}, {"show", "c"},
       {"c.yaml:2: training.epochs: '2.5' is not an integer"}},
      {"scalar_for_list", {{"c.yaml", "model:\n  hidden: 64\n"}}, {"show", "c"},
       {"c.yaml:2: model.hidden: '64' is not a list of integers, e.g. [64, 64]"}},
      {"bool_typo", {{"c.yaml", "training:\n  drop_last: ture\n"}}, {"show", "c"},
       {"c.yaml:2: training.drop_last: 'ture' is not true or false"}},
      {"no_value", {{"c.yaml", "training:\n  epochs:\n"}}, {"show", "c"},
       {"c.yaml:2: training.epochs: no value given; expected an integer"}},
      {"negative_lr", {{"c.yaml", "training: {batch_size: 4}\noptimizer:\n  lr: -0.1\n"}}, {"show", "c"},
       {"c.yaml:3: optimizer.lr: -0.1 is out of range: must be > 0"}},
      {"batch_size_zero", {{"c.yaml", "training:\n  batch_size: 0\n"}}, {"show", "c"},
       {"c.yaml:2: training.batch_size: 0 is out of range: must be >= 1"}},
      {"batch_larger_than_data", {{"c.yaml", "task: {samples: 100}\ntraining:\n  batch_size: 500\n"}}, {"show", "c"},
       {"c.yaml:3: training.batch_size: 500 is larger than the training set (80 samples"}},
      {"test_fraction_one", {{"c.yaml", "task:\n  test_fraction: 1.0\n"}}, {"show", "c"},
       {"c.yaml:2: task.test_fraction: 1.0 is out of range: must be in [0, 1)"}},
      {"enum_typo", {{"c.yaml", "training: {batch_size: 4}\noptimizer:\n  name: adma\n"}}, {"show", "c"},
       {"c.yaml:3: optimizer.name: 'adma' is not one of sgd, adam, adamw (did you mean 'adam'?)"}},
      {"nesterov_without_momentum", {{"c.yaml", "optimizer:\n  nesterov: true\n"}}, {"show", "c"},
       {"c.yaml:2: optimizer.nesterov: true needs optimizer.name: sgd and optimizer.momentum > 0"}},
      {"bad_target", {{"c.yaml", "targets: ['test_acc > 0.9']\n"}}, {"show", "c"},
       {"c.yaml:1: targets: 'test_acc > 0.9' is not a target: write METRIC >= VALUE"}},
      {"target_unknown_metric", {{"c.yaml", "targets: ['val_accuracy >= 0.9']\n"}}, {"show", "c"},
       {"targets: 'val_accuracy >= 0.9' names an unknown metric 'val_accuracy'", "(the held-out set is called test here)"}},
      {"target_metric_typo", {{"c.yaml", "targets: ['test_acc >= 0.9', 'trian_loss <= 0.1']\n"}}, {"show", "c"},
       {"c.yaml:1: targets: 'trian_loss <= 0.1' names an unknown metric", "(did you mean 'train_loss'?)"}},
      {"accuracy_target_on_regression", {{"c.yaml", "task: {name: sine2}\ntraining: {batch_size: 4}\ntargets: ['test_acc >= 0.9']\n"}},
       {"show", "c"}, {"c.yaml:3: targets: 'test_acc >= 0.9' uses an accuracy, but task sine2 is a regression"}},
      {"yaml_syntax", {{"c.yaml", "training:\n  batch_size: [1, 2\n  epochs: 3\n"}}, {"show", "c"},
       {"c.yaml:", "YAML syntax error"}},
      {"empty_file", {{"c.yaml", ""}}, {"show", "c"}, {"c.yaml:1: empty config"}},
      {"section_not_mapping", {{"c.yaml", "training: 5\n"}}, {"show", "c"},
       {"c.yaml:1: 'training' must be a mapping of keys"}},
      {"duplicate_key", {{"c.yaml", "training:\n  epochs: 2\n  epochs: 3\n"}}, {"show", "c"},
       {"c.yaml:3: duplicate key 'training.epochs'"}},
      {"unknown_extends", {{"c.yaml", "extends: doughnut\n"}, {"doughnuts.yaml", kGood}}, {"show", "c"},
       {"c.yaml:1: extends: unknown sweep 'doughnut' (did you mean 'doughnuts'?)"}},
      {"extends_cycle", {{"a.yaml", "extends: b\n"}, {"b.yaml", "extends: c\n"}, {"c.yaml", "extends: a\n"}}, {"show", "a"},
       {"c.yaml:1: extends: cycle a -> b -> c -> a"}},
      {"empty_axis", {{"c.yaml", kGood + "sweep:\n  grid:\n    optimizer.lr: []\n"}}, {"show", "c"},
       {"c.yaml:5: sweep.grid.optimizer.lr: the axis has no values"}},
      {"axis_scalar", {{"c.yaml", kGood + "sweep:\n  grid:\n    optimizer.lr: 0.1\n"}}, {"show", "c"},
       {"c.yaml:5: sweep.grid.optimizer.lr: '0.1' is not a list of values or a generator"}},
      {"axis_unknown_key", {{"c.yaml", kGood + "sweep:\n  grid:\n    training.batchsize: [2, 4]\n"}}, {"show", "c"},
       {"c.yaml:5: sweep.grid: unknown key 'training.batchsize' (did you mean 'training.batch_size'?)"}},
      {"axis_budget_key", {{"c.yaml", kGood + "sweep:\n  grid:\n    training.epochs: [2, 4]\n"}}, {"show", "c"},
       {"c.yaml:5: sweep.grid: training.epochs cannot be swept", "it is the budget"}},
      {"axis_bad_value", {{"c.yaml", kGood + "sweep:\n  grid:\n    training.batch_size: [8, 0]\n"}}, {"show", "c"},
       {"c.yaml:5: training.batch_size: 0 is out of range: must be >= 1"}},
      {"axis_duplicate_value", {{"c.yaml", kGood + "sweep:\n  grid:\n    training.batch_size: [8, 8]\n"}}, {"show", "c"},
       {"c.yaml:5: sweep.grid.training.batch_size: 8 appears twice"}},
      {"unknown_generator", {{"c.yaml", kGood + "sweep:\n  grid:\n    training.batch_size: {pow3: [1, 3]}\n"}}, {"show", "c"},
       {"c.yaml:5: sweep.grid.training.batch_size: unknown generator 'pow3' (did you mean 'pow2'?)"}},
      {"generator_arity", {{"c.yaml", kGood + "sweep:\n  grid:\n    training.batch_size: {pow2: [3]}\n"}}, {"show", "c"},
       {"c.yaml:5: sweep.grid.training.batch_size: pow2 takes 2 numbers, got '[3]'; write {pow2: [1, 6]}"}},
      {"generator_type", {{"c.yaml", kGood + "sweep:\n  grid:\n    training.batch_size: {logspace: [-3, -1, 3]}\n"}},
       {"show", "c"}, {"c.yaml:5: sweep.grid.training.batch_size: logspace makes 0.001, but training.batch_size expects an integer"}},
      {"pow2_fraction_for_integer_key", {{"c.yaml", kGood + "sweep:\n  grid:\n    training.batch_size: {pow2: [-1, 2]}\n"}},
       {"show", "c"}, {"c.yaml:5: sweep.grid.training.batch_size: pow2 makes 0.5, but training.batch_size expects an integer"}},
      {"pow2_exponent_out_of_range", {{"c.yaml", kGood + "sweep:\n  grid:\n    optimizer.lr: {pow2: [-63, 0]}\n"}},
       {"show", "c"}, {"c.yaml:5: sweep.grid.optimizer.lr: pow2 needs integer exponents -62 <= a <= b <= 62, got '[-63, 0]'"}},
      {"scale_lr_by_gamma_not_bool", {{"c.yaml", kGood + "optimizer:\n  scale_lr_by_gamma: sometimes\n"}}, {"show", "c"},
       {"c.yaml:4: optimizer.scale_lr_by_gamma: 'sometimes' is not true or false"}},
      {"idx_without_files",
       {{"c.yaml", "task:\n  name: idx\n  train_labels: l.gz\n  test_images: t.gz\n  test_labels: u.gz\n"}},
       {"show", "c"}, {"task.train_images: ", "must name an IDX file for task idx", "train-images-idx3-ubyte.gz"}},
      {"idx_pixels_typo", {{"c.yaml", "task:\n  pixels: standardised\n"}}, {"show", "c"},
       {"c.yaml:2: task.pixels: 'standardised' is not one of unit, standardized (did you mean 'standardized'?)"}},
      {"class_loss_not_idx", {{"c.yaml", "training: {batch_size: 4}\ntask: {samples: 100, class_loss: mse}\n"}},
       {"show", "c"},
       {"task.class_loss: 'mse' is for task idx"}},
      {"idx_subset_negative", {{"c.yaml", "task:\n  subset: -5\n"}}, {"show", "c"},
       {"c.yaml:2: task.subset: -5 is out of range: must be >= 0"}},
      {"invalid_utf8", {{"c.yaml", kGood + "description: \"caf\xe9\"\n"}}, {"show", "c"},
       {"c.yaml:3: not valid UTF-8: byte 0xe9 at column 18 in 'description: \"caf\\xe9\"'; save the file as UTF-8"}},
      {"override_invalid_utf8", {{"c.yaml", kGood}}, {"show", "c", "-o", "description=caf\xe9"},
       {"-o 'description=caf\\xe9': not valid UTF-8: byte 0xe9 at position 16"}},
      {"x_range_infinite", {{"c.yaml", "task:\n  name: sine2\n  x_range: [0, .inf]\n"}}, {"show", "c"},
       {"c.yaml:3: task.x_range: [0.0, .inf] must be [lo, hi]: two finite numbers with lo < hi"}},
      {"too_many_trials", {{"c.yaml", kGood + "sweep:\n  grid:\n    optimizer.lr: {logspace: [-5, 0, 1000]}\n  seeds: 101\n"}},
       {"show", "c"},
       {"c.yaml: 101000 trials = optimizer.lr (1000 values, ", "x sweep.seeds (101), more than the limit of 100000",
        "--max-trials 101000"}},
      {"seeds_zero", {{"c.yaml", kGood + "sweep:\n  seeds: 0\n"}}, {"show", "c"},
       {"c.yaml:4: sweep.seeds: 0 is out of range: give a count >= 1"}},
      {"seeds_twice", {{"c.yaml", kGood + "sweep:\n  grid:\n    training.seed: [1, 2]\n  seeds: 2\n"}}, {"show", "c"},
       {"c.yaml:5: sweep.grid: training.seed is swept by both sweep.grid and sweep.seeds"}},
      {"override_no_equals", {{"c.yaml", kGood}}, {"show", "c", "-o", "epochs"},
       {"-o 'epochs': expected KEY=VALUE, e.g. -o training.epochs=5"}},
      {"override_empty_value", {{"c.yaml", kGood}}, {"show", "c", "-o", "lr="}, {"-o 'lr=': optimizer.lr: no value given"}},
      {"override_unknown_key", {{"c.yaml", kGood}}, {"show", "c", "-o", "optimizer.lrr=0.1"},
       {"-o 'optimizer.lrr=0.1': unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)"}},
      {"override_ambiguous_leaf", {{"c.yaml", kGood}}, {"show", "c", "-o", "name=adam"},
       {"-o 'name=adam': 'name' is ambiguous: it could be optimizer.name, lr_schedule.name, batch_schedule.name, task.name; write the full key"}},
      {"override_wrong_type", {{"c.yaml", kGood}}, {"show", "c", "-o", "epochs=five"},
       {"-o 'epochs=five': training.epochs: 'five' is not an integer"}},
      {"override_out_of_range", {{"c.yaml", kGood}}, {"show", "c", "-o", "lr=-1"},
       {"-o 'lr=-1': optimizer.lr: -1.0 is out of range: must be > 0"}},
      {"override_bad_axis_value", {{"c.yaml", kGood}}, {"show", "c", "-o", "batch_size=8,0"},
       {"-o 'batch_size=8,0': training.batch_size: 0 is out of range"}},
      {"override_bad_yaml", {{"c.yaml", kGood}}, {"show", "c", "-o", "model.hidden=[64,"},
       {"-o 'model.hidden=[64,': cannot read '[64,' as a YAML value"}},
      // sweep.sample (random search): kGood is two lines, so "sweep:" is line 3, "sample:" 4, "n:" 5, "keys:" 6.
      {"sample_not_a_mapping", {{"c.yaml", kGood + "sweep:\n  sample: 5\n"}}, {"run", "c"},
       {"c.yaml:4: sweep.sample: '5' is not a mapping; write e.g. {n: 20"}},
      {"sample_without_n", {{"c.yaml", kGood + "sweep:\n  sample:\n    keys: {optimizer.lr: {uniform: [0.1, 0.2]}}\n"}},
       {"show", "c"}, {"c.yaml:4: sweep.sample: no n; write e.g."}},
      {"sample_zero_points", {{"c.yaml", kGood + "sweep:\n  sample:\n    n: 0\n    keys: {optimizer.lr: {uniform: [0.1, 0.2]}}\n"}},
       {"run", "c"}, {"c.yaml:5: sweep.sample.n: '0' is not a count of points from 1 to 100000"}},
      {"sample_typo_entry", {{"c.yaml", kGood + "sweep:\n  sample:\n    nn: 3\n"}}, {"show", "c"},
       {"c.yaml:5: sweep.sample: unknown key 'nn' (did you mean 'n'?); it takes n, seed and keys"}},
      {"sample_unknown_key", {{"c.yaml", kGood + "sweep:\n  sample:\n    n: 3\n    keys:\n      optimizer.lrr: {uniform: [0.1, 0.2]}\n"}},
       {"show", "c"}, {"c.yaml:7: sweep.sample.keys: unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)"}},
      {"sample_key_also_in_grid",
       {{"c.yaml", kGood + "sweep:\n  grid: {optimizer.lr: [0.1, 0.2]}\n  sample:\n    n: 3\n    keys:\n      optimizer.lr: {uniform: [0.1, 0.2]}\n"}},
       {"show", "c"}, {"c.yaml:8: sweep.sample.keys: optimizer.lr is swept by sweep.grid too (", "c.yaml:4); keep one"}},
      {"sample_seed_key", {{"c.yaml", kGood + "sweep:\n  sample:\n    n: 3\n    keys:\n      training.seed: {choice: [1, 2]}\n"}},
       {"show", "c"}, {"c.yaml:7: sweep.sample.keys: training.seed is not sampled; use sweep.seeds"}},
      {"sample_budget_key", {{"c.yaml", kGood + "sweep:\n  sample:\n    n: 3\n    keys:\n      training.epochs: {choice: [1, 2]}\n"}},
       {"show", "c"}, {"c.yaml:7: sweep.sample.keys: training.epochs cannot be sampled: it does not change what is trained"}},
      {"sample_log_uniform_from_zero", {{"c.yaml", kGood + "sweep:\n  sample:\n    n: 3\n    keys:\n      optimizer.lr: {log_uniform: [0, 1]}\n"}},
       {"run", "c"}, {"c.yaml:7: sweep.sample.keys.optimizer.lr: log_uniform takes two finite numbers a < b, a > 0, got '[0, 1]'"}},
      {"sample_bounds_reversed", {{"c.yaml", kGood + "sweep:\n  sample:\n    n: 3\n    keys:\n      optimizer.momentum: {uniform: [0.9, 0.1]}\n"}},
       {"show", "c"}, {"c.yaml:7: sweep.sample.keys.optimizer.momentum: uniform takes two finite numbers a < b, got '[0.9, 0.1]'"}},
      {"sample_uniform_on_an_integer_key", {{"c.yaml", kGood + "sweep:\n  sample:\n    n: 3\n    keys:\n      training.batch_size: {uniform: [2, 64]}\n"}},
       {"show", "c"}, {"c.yaml:7: sweep.sample.keys.training.batch_size: uniform draws numbers, but training.batch_size expects an integer; list its values with {choice: [...]}"}},
      {"sample_distribution_typo", {{"c.yaml", kGood + "sweep:\n  sample:\n    n: 3\n    keys:\n      optimizer.lr: {loguniform: [0.1, 1]}\n"}},
       {"show", "c"}, {"c.yaml:7: sweep.sample.keys.optimizer.lr: unknown distribution 'loguniform' (did you mean 'log_uniform'?)"}},
      {"sample_empty_choice", {{"c.yaml", kGood + "sweep:\n  sample:\n    n: 3\n    keys:\n      model.activation: {choice: []}\n"}},
       {"show", "c"}, {"c.yaml:7: sweep.sample.keys.model.activation: choice needs a list of one or more values"}},
      {"sample_choice_of_the_wrong_type", {{"c.yaml", kGood + "sweep:\n  sample:\n    n: 3\n    keys:\n      training.batch_size: {choice: [8, eight]}\n"}},
       {"show", "c"}, {"c.yaml:7: training.batch_size: 'eight' is not an integer"}},
      {"sample_draws_out_of_range", {{"c.yaml", kGood + "sweep:\n  sample:\n    n: 3\n    keys:\n      optimizer.lr: {uniform: [-2.0, -1.0]}\n"}},
       {"run", "c"}, {"c.yaml:4: optimizer.lr: -1.", "is out of range: must be > 0"}},
      {"sample_override_without_keys", {{"c.yaml", kGood}}, {"run", "c", "-o", "sweep.sample={n: 2}"},
       {"-o 'sweep.sample={n: 2}': sweep.sample: no keys; write e.g."}},
      {"noise_scale_on_reinforcement",
       {{"c.yaml", "task: {name: doublegoal}\ntraining: {steps: 100, batch_size: 8}\nmetrics:\n  noise_scale: true\n"}},
       {"run", "c"}, {"c.yaml:4: metrics.noise_scale: true measures the per-example gradients", "trains on replayed transitions", "leave it false"}},
      {"noise_scale_not_a_bool", {{"c.yaml", kGood + "metrics: {noise_scale: 1}\n"}}, {"show", "c"},
       {"c.yaml:3: metrics.noise_scale: '1' is not true or false"}},
      // sweep.refine: kGood is two lines, so "sweep:" is line 3, "grid:" 4, "refine:" 5.
      {"refine_not_a_mapping", {{"c.yaml", kGood + "sweep:\n  grid: {optimizer.lr: [0.1, 1]}\n  refine: 1.19\n"}},
       {"run", "c"}, {"c.yaml:5: sweep.refine: '1.19' is not a mapping (nor none); write e.g. {boundary: 1.19"}},
      {"refine_without_a_learning_rate_axis", {{"c.yaml", kGood + "sweep:\n  grid: {training.batch_size: [2, 4]}\n  refine: {boundary: 1.19}\n"}},
       {"run", "c"}, {"c.yaml:5: sweep.refine: optimizer.lr (or optimizer.temperature) is not a sweep.grid axis"}},
      {"refine_one_learning_rate", {{"c.yaml", kGood + "sweep:\n  grid: {optimizer.lr: [0.1]}\n  refine: {boundary: 1.19}\n"}},
       {"show", "c"}, {"c.yaml:5: sweep.refine: the sweep.grid axis optimizer.lr (", "c.yaml:4) has 1 positive value; refining needs at least 2"}},
      {"refine_ratio_not_above_one", {{"c.yaml", kGood + "sweep:\n  grid: {optimizer.lr: [0.1, 1]}\n  refine: {boundary: 1.0}\n"}},
       {"run", "c"}, {"c.yaml:5: sweep.refine.boundary: '1.0' is not a ratio > 1 of neighbouring learning rates; write e.g. 1.19"}},
      {"refine_key_typo", {{"c.yaml", kGood + "sweep:\n  grid: {optimizer.lr: [0.1, 1]}\n  refine: {bondary: 1.19}\n"}},
       {"run", "c"}, {"c.yaml:5: sweep.refine: unknown key 'bondary' (did you mean 'boundary'?)"}},
      {"refine_unknown_metric", {{"c.yaml", kGood + "sweep:\n  grid: {optimizer.lr: [0.1, 1]}\n  refine:\n    best: {metric: test_los, ratio: 1.19}\n"}},
       {"run", "c"}, {"c.yaml:6: sweep.refine.best.metric: 'test_los' is not a metric of task", "(did you mean 'test_loss'?)"}},
      {"refine_best_without_ratio", {{"c.yaml", kGood + "sweep:\n  grid: {optimizer.lr: [0.1, 1]}\n  refine:\n    best: {metric: test_loss}\n"}},
       {"run", "c"}, {"c.yaml:6: sweep.refine.best: no ratio; write e.g. {metric: test_loss, ratio: 1.19}"}},
      {"refine_zero_waves", {{"c.yaml", kGood + "sweep:\n  grid: {optimizer.lr: [0.1, 1]}\n  refine: {boundary: 1.19, waves: 0}\n"}},
       {"run", "c"}, {"c.yaml:5: sweep.refine.waves: '0' is not a count of waves from 1 to 100"}},
      {"refine_nothing_to_refine", {{"c.yaml", kGood + "sweep:\n  grid: {optimizer.lr: [0.1, 1]}\n  refine: {waves: 3}\n"}},
       {"run", "c"}, {"c.yaml:5: sweep.refine: neither boundary nor best is given"}},
      {"refine_with_prune", {{"c.yaml", kGood + "sweep:\n  grid: {optimizer.lr: [0.1, 1]}\n  prune: above_divergence\n"}},
       {"run", "c", "-o", "sweep.refine={boundary: 1.19}"},
       {"-o 'sweep.refine={boundary: 1.19}': sweep.refine cannot be combined with sweep.prune: above_divergence"}},
      {"refine_no_save", {{"c.yaml", kGood + "sweep:\n  grid: {optimizer.lr: [0.1, 1]}\n  refine: {boundary: 1.19}\n"}},
       {"run", "c", "--no-save"}, {"c.yaml:5: sweep.refine: each wave is computed from the results of the one before", "run without --no-save"}},
      {"refine_submit", {{"c.yaml", kGood + "sweep:\n  grid: {optimizer.lr: [0.1, 1]}\n  refine: {boundary: 1.19}\n"}},
       {"submit", "c", "--slurm"}, {"c.yaml:5: sweep.refine is not supported by submit", "-o sweep.refine=none"}},
      {"unknown_sweep", {{"doughnuts.yaml", kGood}}, {"show", "doughnut"},
       {"unknown sweep 'doughnut'", "(did you mean 'doughnuts'?); known: doughnuts"}},
      {"no_configs_dir", {}, {"list"}, {"configs directory", "not found"}},
      {"show_without_name", {{"c.yaml", kGood}}, {"show"}, {"show: name a sweep"}},
      {"unknown_option", {{"c.yaml", kGood}}, {"show", "c", "--frobnicate"}, {"--frobnicate"}},
      {"unknown_subcommand", {{"c.yaml", kGood}}, {"shwo", "c"}, {"unknown command 'shwo' (did you mean 'show'?)"}},
  };
}

class BadInputTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(BadInputTest, ExitsTwoWithOneClearLineAndWritesNothing) {
  const auto& param = GetParam();
  TempDir dir;
  for (const auto& [file, content] : param.configs) dir.write("configs/" + file, content);
  const auto before = dir.snapshot();
  const auto result = testing::run_in(dir, param.args);
  EXPECT_EQ(result.code, 2) << result.err;
  EXPECT_EQ(result.err.rfind("sweeplab: ", 0), 0u) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << "not one line: " << result.err;
  for (const auto& expected : param.expected) EXPECT_NE(result.err.find(expected), std::string::npos) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(dir.snapshot(), before) << "something was written";
}

INSTANTIATE_TEST_SUITE_P(Cases, BadInputTest, ::testing::ValuesIn(bad_inputs()),
                         [](const auto& info) { return info.param.name; });

TEST(BadInputs, ThereAreAtLeastTwentyDistinctCases) { EXPECT_GE(bad_inputs().size(), 20u); }

}  // namespace
}  // namespace sweeplab
