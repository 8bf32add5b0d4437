// The named sweeps that rerun batch_size_studies' experiments (configs/bss-*.yaml) and fashion-mnist-batch: they
// load, `show --trials` counts the reference's grids, and their axes and keys are the reference's values, which
// the expectations below take from its configs.py, experimental_mnist_training.py and run_experimental_sweep.py
// (not from the YAML files).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "sweeplab/config/loader.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

using testing::TempDir;

const std::string kRepoConfigs = std::string(SWEEPLAB_SOURCE_DIR) + "/configs";

std::vector<double> doubles_of(const Axis& axis) {
  std::vector<double> out;
  for (const auto& value : axis.values) out.push_back(std::get<double>(value));
  return out;
}

std::vector<std::int64_t> ints_of(const Axis& axis) {
  std::vector<std::int64_t> out;
  for (const auto& value : axis.values) out.push_back(std::get<std::int64_t>(value));
  return out;
}

const Axis& axis_of(const SweepSpec& spec, const std::string& key) {
  for (const auto& axis : spec.axes) {
    if (axis.key == key) return axis;
  }
  throw std::runtime_error("no axis " + key);
}

std::vector<std::string> axis_keys(const SweepSpec& spec) {
  std::vector<std::string> keys;
  for (const auto& axis : spec.axes) keys.push_back(axis.key);
  return keys;
}

// `show NAME --trials` says "# sweep NAME: N trials".
void expect_show_counts(const std::string& name, std::size_t trials) {
  TempDir dir;
  std::ostringstream out, err;
  const int code = run_cli({"--configs", kRepoConfigs, "--experiments", dir.str("experiments"), "show", name,
                            "--trials"},
                           out, err);
  ASSERT_EQ(code, 0) << err.str();
  EXPECT_NE(out.str().find("# sweep " + name + ": " + std::to_string(trials) + " trials"), std::string::npos)
      << out.str().substr(0, 2000);
}

// get_main_hyperparameter_grids(): 2 ** np.arange(0, 17) and np.power(2.0, np.arange(-12, 13)).
std::vector<std::int64_t> main_batch_sizes() {
  std::vector<std::int64_t> sizes;
  for (std::int64_t b = 1; b <= 65536; b *= 2) sizes.push_back(b);
  return sizes;
}
std::vector<double> main_etas() {
  std::vector<double> etas;
  for (double eta = 1.0 / 4096.0; eta <= 4096.0; eta *= 2.0) etas.push_back(eta);
  return etas;
}
const std::vector<double> kMainGammas = {1e-5, 0.01, 0.1, 1.0, 10.0, 100.0, 1e5};

void expect_main_suite(const std::string& name) {
  SCOPED_TRACE(name);
  const auto sweep = load_sweep(kRepoConfigs, name);
  const Config& base = sweep.spec.base;
  EXPECT_EQ(sweep.trials.size(), 7u * 17u * 25u);
  EXPECT_EQ(axis_keys(sweep.spec), (std::vector<std::string>{"training.batch_size", "optimizer.lr", "model.gamma"}));
  EXPECT_EQ(ints_of(axis_of(sweep.spec, "training.batch_size")), main_batch_sizes());
  EXPECT_EQ(doubles_of(axis_of(sweep.spec, "optimizer.lr")), main_etas());
  EXPECT_EQ(doubles_of(axis_of(sweep.spec, "model.gamma")), kMainGammas);
  EXPECT_EQ(base.task.name, "teacher");
  EXPECT_EQ(base.task.features, 25);  // D
  EXPECT_TRUE(base.task.online);      // fixed time: fresh samples every step
  EXPECT_EQ(base.training.steps, 1000);
  EXPECT_EQ(base.model.hidden, (std::vector<std::int64_t>{100}));  // L = 2, N = 100
  EXPECT_EQ(base.model.parameterization, "sp");
  EXPECT_TRUE(base.model.centered);
  EXPECT_EQ(base.optimizer.name, "sgd");
  EXPECT_TRUE(base.optimizer.scale_lr_by_gamma);  // training_utils.py eta_adjustment_fn
  EXPECT_TRUE(std::isinf(base.stop.divergence_loss));
  expect_show_counts(name, 2975);

  // Fixed data through one -o: P = 100 000 samples.
  const auto fixed = load_sweep(kRepoConfigs, name, {"training.samples=100000"});
  EXPECT_EQ(fixed.trials.size(), 2975u);
  EXPECT_EQ(fixed.spec.base.training.samples, 100000);
}

TEST(BssSweeps, MainPolyIsTheReferenceMainSuite) {
  expect_main_suite("bss-main-poly");
  const Config base = load_sweep(kRepoConfigs, "bss-main-poly").spec.base;
  EXPECT_EQ(base.task.teacher, "poly");
  EXPECT_EQ(base.task.degree, 2);  // K = 2
}

TEST(BssSweeps, MainMlpIsTheReferenceMainSuiteWithItsMlpTeacher) {
  expect_main_suite("bss-main-mlp");
  const Config base = load_sweep(kRepoConfigs, "bss-main-mlp").spec.base;
  EXPECT_EQ(base.task.teacher, "mlp");
  EXPECT_EQ(base.task.teacher_hidden, (std::vector<std::int64_t>{64}));  // teacher_N = 64, teacher_L = 2
  EXPECT_EQ(base.task.teacher_parameterization, "sp");
  EXPECT_EQ(base.task.teacher_gamma, 1.0);
  EXPECT_EQ(base.task.teacher_activation, "relu");
}

// get_small_mup_hyperparameter_grids() and get_small_mup_experiment_configs(): B = 2^7, 2^8, eta = 2^4, 2^5,
// widths 64, 128, 256 at L = 3, gammas 0.01 .. 100; 50 000 training samples, one epoch, MSE, muP.
TEST(BssSweeps, SmallMupIsTheReferenceSmallMupSuite) {
  const auto sweep = load_sweep(kRepoConfigs, "bss-small-mup");
  const Config& base = sweep.spec.base;
  EXPECT_EQ(sweep.trials.size(), 3u * 5u * 2u * 2u);
  EXPECT_EQ(ints_of(axis_of(sweep.spec, "training.batch_size")), (std::vector<std::int64_t>{128, 256}));
  EXPECT_EQ(doubles_of(axis_of(sweep.spec, "optimizer.lr")), (std::vector<double>{16, 32}));
  EXPECT_EQ(doubles_of(axis_of(sweep.spec, "model.gamma")), (std::vector<double>{0.01, 0.1, 1, 10, 100}));
  std::vector<Value> widths;
  for (const std::int64_t n : {64, 128, 256}) widths.push_back(std::vector<std::int64_t>{n, n});
  EXPECT_EQ(axis_of(sweep.spec, "model.hidden").values, widths);
  EXPECT_EQ(base.task.name, "idx");
  EXPECT_EQ(base.task.subset, 50000);
  EXPECT_EQ(base.task.class_loss, "mse");
  EXPECT_EQ(base.task.pixels, "unit");  // the reference's / 255.0
  EXPECT_EQ(base.training.epochs, 1);
  EXPECT_TRUE(base.training.drop_last);  // floor(P / B) steps
  EXPECT_EQ(base.model.parameterization, "mup");
  EXPECT_TRUE(base.model.centered);
  EXPECT_TRUE(base.optimizer.scale_lr_by_gamma);
  EXPECT_TRUE(std::isinf(base.stop.divergence_loss));
  expect_show_counts("bss-small-mup", 60);
}

// run_experimental_sweep.py's defaults: N = 128, L = 3, muP, MSE, one epoch of 50 000 samples;
// gammas = np.logspace(-5, 5, 1 + 2 * 5 * 2), etas = np.logspace(13, -13, 1 + 2 * 13 * 2); lr = eta * N.
TEST(BssSweeps, GammaEtaIsTheReferenceExperimentalSweepUncompensated) {
  const auto sweep = load_sweep(kRepoConfigs, "bss-gamma-eta");
  const Config& base = sweep.spec.base;
  EXPECT_EQ(sweep.trials.size(), 21u * 53u);
  const auto gammas = doubles_of(axis_of(sweep.spec, "model.gamma"));
  const auto etas = doubles_of(axis_of(sweep.spec, "optimizer.lr"));
  ASSERT_EQ(gammas.size(), 21u);
  ASSERT_EQ(etas.size(), 53u);
  for (std::size_t i = 0; i < gammas.size(); ++i) EXPECT_NEAR(std::log10(gammas[i]), -5.0 + 0.5 * double(i), 1e-12);
  for (std::size_t i = 0; i < etas.size(); ++i) EXPECT_NEAR(std::log10(etas[i]), -13.0 + 0.5 * double(i), 1e-12);
  EXPECT_EQ(base.model.hidden, (std::vector<std::int64_t>{128, 128}));
  EXPECT_EQ(base.model.parameterization, "mup");
  EXPECT_TRUE(base.model.centered);
  EXPECT_FALSE(base.optimizer.scale_lr_by_gamma);  // "we do not adjust eta in terms of gamma by design"
  EXPECT_EQ(base.training.batch_size, 256);
  EXPECT_EQ(base.training.epochs, 1);
  EXPECT_TRUE(base.training.drop_last);
  EXPECT_EQ(base.task.subset, 50000);
  EXPECT_EQ(base.task.class_loss, "mse");
  EXPECT_TRUE(std::isinf(base.stop.divergence_loss));
  // Walked from the largest eta down, as the reference does, stopping 3 decades (7 stable values) below the boundary.
  EXPECT_EQ(sweep.spec.prune, Prune::BelowDivergence);
  EXPECT_EQ(sweep.spec.prune_keep, 7);
  expect_show_counts("bss-gamma-eta", 1113);
}

TEST(BssSweeps, FashionMnistBatchIsBatchSizeByLearningRateOnATwoHiddenLayerMlp) {
  const auto sweep = load_sweep(kRepoConfigs, "fashion-mnist-batch");
  const Config& base = sweep.spec.base;
  EXPECT_EQ(axis_keys(sweep.spec), (std::vector<std::string>{"training.batch_size", "optimizer.lr"}));
  EXPECT_EQ(base.task.name, "idx");
  EXPECT_EQ(base.task.subset, 0);
  EXPECT_EQ(base.model.hidden.size(), 2u);
  EXPECT_EQ(base.task.class_loss, "cross_entropy");
  EXPECT_EQ(sweep.trials.size(), axis_of(sweep.spec, "training.batch_size").values.size() *
                                     axis_of(sweep.spec, "optimizer.lr").values.size());
  ASSERT_EQ(base.targets.size(), 1u);
  expect_show_counts("fashion-mnist-batch", sweep.trials.size());
}

}  // namespace
}  // namespace sweeplab
