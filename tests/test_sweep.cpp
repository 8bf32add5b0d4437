// Sweep expansion: golden trial lists (order, generators, seeds, axis override/collapse, ids) and
// trial-id stability.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <set>
#include <map>
#include <fstream>

#include "sweeplab/config/emit.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

using testing::TempDir;

const std::string kGolden = std::string(SWEEPLAB_TEST_DATA) + "/golden";

std::string render(const ResolvedSweep& sweep) {
  std::string out;
  for (const auto& trial : sweep.trials) {
    out += trial.id;
    for (const auto& [key, value] : swept_values(trial.config, swept_keys(sweep.spec))) out += "  " + key + "=" + to_text(value);
    out += "\n";
  }
  return out;
}

struct GoldenCase {
  std::string sweep;
  std::vector<std::string> overrides;
  std::string expected;  // file under tests/data/golden
};

class GoldenExpansion : public ::testing::TestWithParam<GoldenCase> {};

// Set SWEEPLAB_UPDATE_GOLDEN=1 to rewrite the expected files; then read the diff before committing it.
TEST_P(GoldenExpansion, MatchesTheExpectedTrials) {
  const auto& param = GetParam();
  const std::string actual = render(load_sweep(kGolden, param.sweep, param.overrides));
  const std::string path = kGolden + "/" + param.expected;
  if (std::getenv("SWEEPLAB_UPDATE_GOLDEN")) std::ofstream(path) << actual;
  EXPECT_EQ(actual, testing::read_file(path)) << "golden file " << path;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GoldenExpansion,
    ::testing::Values(GoldenCase{"two-axes", {}, "two-axes.trials"},
                      GoldenCase{"generators-a", {}, "generators-a.trials"},
                      GoldenCase{"generators-b", {}, "generators-b.trials"},
                      GoldenCase{"lists-and-seeds", {}, "lists-and-seeds.trials"},
                      GoldenCase{"single", {}, "single.trials"},
                      GoldenCase{"two-axes", {"lr=0.1,0.2,0.3"}, "two-axes.replace-axis.trials"},
                      GoldenCase{"two-axes", {"batch_size=16", "seeds=[5]"}, "two-axes.collapse.trials"},
                      GoldenCase{"single", {"training.batch_size={pow2: [2, 3]}", "model.hidden=[[8],[16]]"},
                                 "single.new-axes.trials"}),
    [](const auto& info) {
      std::string name = info.param.expected.substr(0, info.param.expected.size() - 7);
      for (char& c : name) if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

// Independent of the golden files: what the order rules say.
TEST(Expansion, OrderIsSchemaOrderWithTheLastAxisFastestAndSeedsInnermost) {
  const auto sweep = load_sweep(kGolden, "two-axes");
  const auto& trials = sweep.trials;
  ASSERT_EQ(trials.size(), 8u);  // 2 batch sizes x 2 lrs x 2 seeds
  std::vector<std::tuple<std::int64_t, double, std::int64_t>> seen;
  for (const auto& t : trials) seen.emplace_back(t.config.expand().training.batch_size, t.config.expand().optimizer.lr, t.config.expand().training.seed);
  const std::vector<std::tuple<std::int64_t, double, std::int64_t>> expected = {
      {8, 0.01, 0}, {8, 0.01, 1}, {8, 0.001, 0}, {8, 0.001, 1}, {16, 0.01, 0}, {16, 0.01, 1}, {16, 0.001, 0}, {16, 0.001, 1}};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(swept_keys(sweep.spec), (std::vector<std::string>{"training.batch_size", "optimizer.lr", "training.seed"}));
}

TEST(Expansion, GeneratorsMakeTheDocumentedValues) {
  const auto a = load_sweep(kGolden, "generators-a").spec;
  ASSERT_EQ(a.axes.size(), 2u);
  EXPECT_EQ(a.axes[0].values, (std::vector<Value>{std::int64_t{2}, std::int64_t{4}, std::int64_t{8}}));
  ASSERT_EQ(a.axes[1].values.size(), 3u);
  EXPECT_NEAR(std::get<double>(a.axes[1].values[0]), 1e-3, 1e-15);
  EXPECT_NEAR(std::get<double>(a.axes[1].values[1]), 1e-2, 1e-15);
  EXPECT_NEAR(std::get<double>(a.axes[1].values[2]), 1e-1, 1e-15);
  const auto b = load_sweep(kGolden, "generators-b").spec;
  EXPECT_EQ(b.axes[0].key, "optimizer.momentum");  // schema order: optimizer before task
  EXPECT_EQ(b.axes[1].values, (std::vector<Value>{std::int64_t{100}, std::int64_t{200}, std::int64_t{300}}));
  ASSERT_EQ(b.axes[0].values.size(), 4u);
  EXPECT_NEAR(std::get<double>(b.axes[0].values[3]), 0.9, 1e-15);
}

TEST(Expansion, SeedsCountFromTrainingSeedAndListsAreKeptInOrder) {
  TempDir dir;
  dir.write("configs/s.yaml", "training: {seed: 10, batch_size: 4}\nsweep: {seeds: 3}\n");
  auto spec = load_sweep(dir.str("configs"), "s").spec;
  EXPECT_EQ(spec.seeds, (std::vector<std::int64_t>{10, 11, 12}));
  spec = load_sweep(kGolden, "lists-and-seeds").spec;
  EXPECT_EQ(spec.seeds, (std::vector<std::int64_t>{7, 3}));
}

TEST(Expansion, PrecedenceIsDefaultsThenExtendsThenFileThenOverrides) {
  TempDir dir;
  dir.write("configs/parent.yaml", "optimizer: {lr: 0.5, momentum: 0.5}\nmodel: {hidden: [8, 8, 8]}\n");
  dir.write("configs/child.yaml", "extends: parent\noptimizer: {lr: 0.25}\nmodel: {hidden: [4]}\n");
  auto config = load_sweep(dir.str("configs"), "child").spec.base;
  EXPECT_EQ(config.optimizer.lr, 0.25);                             // file beats extends
  EXPECT_EQ(config.optimizer.momentum, 0.5);                        // deep merge keeps the parent's other keys
  EXPECT_EQ(config.model.hidden, (std::vector<std::int64_t>{4}));   // lists replace
  EXPECT_EQ(config.training.epochs, TrainingConfig{}.epochs);       // defaults fill the rest
  config = load_sweep(dir.str("configs"), "child", {"optimizer.lr=0.125", "momentum=0.75"}).spec.base;
  EXPECT_EQ(config.optimizer.lr, 0.125);                            // -o beats the file
  EXPECT_EQ(config.optimizer.momentum, 0.75);
}

// A single value on a swept key removes its axis; the axes after it keep their own values (yaml-cpp's node
// assignment once wrote each moved axis's values into the one before it).
TEST(Expansion, CollapsingAnAxisLeavesTheOthersTheirValues) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 100}\nsweep: {grid: {training.batch_size: [4, 8]}}\n");
  const auto spec = load_sweep(dir.str("configs"), "s",
                               {"model.parameterization=sp,mup", "model.centered=true,false", "training.batch_size=8"})
                        .spec;
  ASSERT_EQ(spec.axes.size(), 2u);
  EXPECT_EQ(spec.axes[0].key, "model.parameterization");
  ASSERT_EQ(spec.axes[0].values.size(), 2u);
  EXPECT_EQ(std::get<std::string>(spec.axes[0].values[0]), "sp");
  EXPECT_EQ(std::get<std::string>(spec.axes[0].values[1]), "mup");
  EXPECT_EQ(spec.axes[1].key, "model.centered");
  ASSERT_EQ(spec.axes[1].values.size(), 2u);
  EXPECT_TRUE(std::get<bool>(spec.axes[1].values[0]));
  EXPECT_FALSE(std::get<bool>(spec.axes[1].values[1]));
  EXPECT_EQ(spec.base.training.batch_size, 8);
}

// ---- trial ids ----

std::vector<std::string> ids_of(const TempDir& dir, const std::string& name, const std::vector<std::string>& overrides = {}) {
  std::vector<std::string> ids;
  for (const auto& trial : load_sweep(dir.str("configs"), name, overrides).trials) ids.push_back(trial.id);
  return ids;
}

TEST(TrialId, DoesNotChangeWithKeyOrderFormattingOrBudget) {
  TempDir dir;
  dir.write("configs/a.yaml",
            "optimizer:\n  name: sgd\n  lr: 0.001\nmodel:\n  hidden: [64, 64]\ntraining:\n  epochs: 5\n"
            "sweep:\n  grid:\n    training.batch_size: [8, 16]\n");
  dir.write("configs/b.yaml",
            "# same sweep, written differently\ntraining: {epochs: 500}\nmodel: {hidden: [64,   64]}\n"
            "sweep: {grid: {training.batch_size: {pow2: [3, 4]}}}\noptimizer: {lr: 1e-3, name: sgd}\n"
            "checkpoint: {every: 3}\ndescription: another text\ntargets: ['test_acc >= 0.5']\n");
  const auto ids = ids_of(dir, "a");
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids, ids_of(dir, "b"));
  EXPECT_EQ(ids, ids_of(dir, "a", {"epochs=1000"}));
  EXPECT_EQ(ids, ids_of(dir, "a", {"training.steps=50"}));
  EXPECT_EQ(ids[0].substr(0, 5), "bs=8-");
}

TEST(TrialId, ChangesWhenAnyValueThatAffectsTrainingChanges) {
  const Config base;
  const std::string base_id = make_trial_id(CompactConfig::of(base), CompactConfig::of(base).hash(), {});
  for (const auto& field : schema()) {
    Config changed = base;
    Value value = field.get(changed);
    std::visit(
        [](auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, bool>) v = !v;
          else if constexpr (std::is_same_v<T, std::int64_t>) v += 1;
          else if constexpr (std::is_same_v<T, double>) v = v * 2 + 1;
          else if constexpr (std::is_same_v<T, std::string>) v += "x";
          else v.emplace_back();
        },
        value);
    field.set(changed, value);
    const CompactConfig compact = CompactConfig::of(changed);
    const std::string id = make_trial_id(compact, compact.hash(), {});
    EXPECT_EQ(compact.canonical_text(), canonical_text(changed)) << field.key;
    if (field.affects_training) {
      EXPECT_NE(id, base_id) << field.key << " changes training but not the trial id";
    } else {
      EXPECT_EQ(id, base_id) << field.key << " does not change training but changes the trial id";
    }
  }
}

// A sweep's trials are hashed from their compact configs in a stream: the same hash as the canonical text of each
// whole config, and an id that ends with its first 8 hex digits.
TEST(TrialId, EachTrialsHashIsThatOfItsWholeConfigsCanonicalText) {
  for (const std::string name : {"two-axes", "generators-a", "generators-b", "lists-and-seeds"}) {
    const auto sweep = load_sweep(kGolden, name);
    ASSERT_FALSE(sweep.trials.empty()) << name;
    for (const auto& trial : sweep.trials) {
      const Config whole = trial.config.expand();
      EXPECT_EQ(trial.hash, TrialHash::of(canonical_text(whole))) << trial.id;
      EXPECT_EQ(trial.config, CompactConfig::of(whole)) << trial.id;
      EXPECT_EQ(trial.id.substr(trial.id.size() - 8), trial.hash.short_hex()) << trial.id;
    }
  }
}

TEST(CompactConfig, HoldsOnlyWhatDiffersFromTheDefaultsAndReadsBackFromItsText) {
  EXPECT_TRUE(CompactConfig::of(Config{}).entries().empty());
  Config config;
  config.training.batch_size = 8;
  config.model.hidden = {128, 128};
  config.task.name = "sine2";
  config.optimizer.lr = 0.03;
  const CompactConfig compact = CompactConfig::of(config);
  EXPECT_EQ(compact.entries().size(), 4u);
  EXPECT_EQ(std::get<std::int64_t>(compact.get("training.batch_size")), 8);
  EXPECT_EQ(std::get<std::int64_t>(compact.get("training.epochs")), Config{}.training.epochs);  // a default
  EXPECT_EQ(compact.expand().model.hidden, config.model.hidden);
  EXPECT_EQ(CompactConfig::parse(compact.serialize()), compact);
  EXPECT_EQ(compact.canonical_text(), canonical_text(config));
  // Setting a key back to its default removes its entry; equal configs have equal entries.
  CompactConfig other = compact;
  other.set(field_index("training.batch_size"), Value(Config{}.training.batch_size));
  EXPECT_EQ(other.entries().size(), 3u);
  other.set(field_index("training.batch_size"), Value(std::int64_t{8}));
  EXPECT_EQ(other, compact);
  EXPECT_EQ(compact.without(field_index("optimizer.lr")).entries().size(), 3u);
  for (const std::string bad : {"nosuch.key i:1\n", "training.batch_size\n", "training.batch_size d:1.5\n",
                                "training.batch_size i:8\ntraining.batch_size i:9\n"}) {
    EXPECT_THROW(CompactConfig::parse(bad), std::invalid_argument) << bad;
  }
}

// Negative exponents: batch_size_studies' learning rates 2^-12 .. 2^12 as one generator.
TEST(Generators, Pow2TakesNegativeExponents) {
  TempDir dir;
  dir.write("configs/p.yaml", "task: {samples: 100}\nsweep: {grid: {optimizer.lr: {pow2: [-3, 1]}}}\n");
  const auto sweep = load_sweep(dir.str("configs"), "p");
  ASSERT_EQ(sweep.spec.axes.size(), 1u);
  EXPECT_EQ(sweep.spec.axes[0].values, (std::vector<Value>{0.125, 0.25, 0.5, 1.0, 2.0}));
  EXPECT_EQ(sweep.trials.size(), 5u);
  const auto wide = load_sweep(dir.str("configs"), "p", {"optimizer.lr={pow2: [-12, 12]}"});
  ASSERT_EQ(wide.trials.size(), 25u);
  ASSERT_EQ(wide.spec.axes.size(), 1u);
  EXPECT_EQ(wide.spec.axes[0].values.front(), Value(1.0 / 4096.0));
  EXPECT_EQ(wide.spec.axes[0].values.back(), Value(4096.0));
}

TEST(TrialId, ShowOutputLoadsBackToTheSameTrials) {
  TempDir dir;
  for (const std::string name : {"two-axes", "generators-a", "generators-b", "lists-and-seeds"}) {
    const auto original = load_sweep(kGolden, name);
    dir.write("configs/" + name + ".yaml", to_yaml(original.spec));
    const auto reloaded = load_sweep(dir.str("configs"), name);
    EXPECT_EQ(render(reloaded), render(original)) << name << ":\n" << to_yaml(original.spec);
  }
}

const std::string kSampled =
    "task: {name: doughnuts, samples: 200}\n"
    "training: {epochs: 2}\n"
    "sweep:\n"
    "  grid: {training.batch_size: [8, 32]}\n"
    "  sample:\n"
    "    n: 5\n"
    "    seed: 7\n"
    "    keys:\n"
    "      model.activation: {choice: [relu, tanh, gelu]}\n"
    "      optimizer.lr: {log_uniform: [1.0e-4, 1.0]}\n"
    "      optimizer.momentum: {uniform: [0.0, 0.99]}\n"
    "  seeds: 2\n";

TEST(Sample, PointsAreCrossedWithTheGridAndSeedsInTheDocumentedOrder) {
  TempDir dir;
  dir.write("configs/r.yaml", kSampled);
  const auto sweep = load_sweep(dir.str("configs"), "r");
  ASSERT_EQ(sweep.trials.size(), 2u * 5u * 2u);
  EXPECT_EQ(count_trials(sweep.spec), 20u);
  EXPECT_EQ(swept_keys(sweep.spec), (std::vector<std::string>{"training.batch_size", "optimizer.lr", "optimizer.momentum",
                                                              "model.activation", "training.seed"}));
  std::set<std::string> ids;
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    const Config c = sweep.trials[i].config.expand();
    ids.insert(sweep.trials[i].id);
    EXPECT_EQ(c.training.batch_size, i < 10 ? 8 : 32) << i;  // the grid outermost
    EXPECT_EQ(c.training.seed, std::int64_t(i % 2)) << i;     // seeds innermost
    const Config same_point_other_batch = sweep.trials[(i + 10) % 20].config.expand();
    EXPECT_EQ(c.optimizer.lr, same_point_other_batch.optimizer.lr) << "every batch size tries the same points";
    EXPECT_EQ(c.model.activation, same_point_other_batch.model.activation);
    EXPECT_GE(c.optimizer.lr, 1e-4);
    EXPECT_LE(c.optimizer.lr, 1.0);
    EXPECT_GE(c.optimizer.momentum, 0.0);
    EXPECT_LE(c.optimizer.momentum, 0.99);
    EXPECT_TRUE(c.model.activation == "relu" || c.model.activation == "tanh" || c.model.activation == "gelu");
    char four[32];
    std::snprintf(four, sizeof four, "%.4g", c.optimizer.lr);
    EXPECT_EQ(std::strtod(four, nullptr), c.optimizer.lr) << "4 significant digits";
  }
  EXPECT_EQ(ids.size(), 20u);
  std::set<double> lrs;
  for (const auto& value : sweep.spec.sampled.at(0).values) lrs.insert(std::get<double>(value));
  EXPECT_EQ(lrs.size(), 5u) << "five different points";
}

TEST(Sample, TheSameSeedDrawsTheSameTrialsAndAnotherSeedOthers) {
  TempDir dir;
  dir.write("configs/r.yaml", kSampled);
  const auto first = load_sweep(dir.str("configs"), "r");
  const auto again = load_sweep(dir.str("configs"), "r");
  EXPECT_EQ(render(first), render(again));
  const auto other = load_sweep(dir.str("configs"), "r", {"sweep.sample={n: 5, seed: 8, keys: {optimizer.lr: {log_uniform: [1.0e-4, 1.0]}}}"});
  ASSERT_EQ(other.trials.size(), 20u);
  EXPECT_NE(other.trials[0].config.expand().optimizer.lr, first.trials[0].config.expand().optimizer.lr);
  EXPECT_EQ(other.trials[0].config.expand().model.activation, "relu") << "the override replaced the whole sample";
  // Over many points the draws fill their ranges: log_uniform about equally per decade, choice every value.
  const auto many = load_sweep(dir.str("configs"), "r",
                               {"sweep.sample={n: 4000, seed: 1, keys: {optimizer.lr: {log_uniform: [1.0e-4, 1.0]}, "
                                "model.activation: {choice: [relu, tanh]}}}",
                                "training.batch_size=8", "sweep.seeds=[0]"});
  std::map<int, int> decades;
  std::map<std::string, int> activations;
  for (const auto& trial : many.trials) {
    const Config c = trial.config.expand();
    ++decades[int(std::floor(std::log10(c.optimizer.lr)))];
    ++activations[c.model.activation];
  }
  ASSERT_EQ(decades.size(), 4u);
  for (const auto& [decade, count] : decades) EXPECT_NEAR(count, 1000, 150) << decade;
  EXPECT_NEAR(activations["relu"], 2000, 200);
}

TEST(Sample, ShowWritesTheKeysThatItsPointsMakeUsed) {
  TempDir dir;
  dir.write("configs/g.yaml",
            "model: {hidden: [16]}\n"
            "sweep:\n"
            "  sample:\n"
            "    n: 6\n"
            "    keys:\n"
            "      model.parameterization: {choice: [sp, mup]}\n");
  const auto spec = load_sweep(dir.str("configs"), "g").spec;
  // The base is standard, which has no init_std; every sampled point is sp or mup, which use it.
  EXPECT_NE(to_yaml(spec).find("init_std:"), std::string::npos) << to_yaml(spec);
}

TEST(Sample, ShowOutputLoadsBackToTheSameTrials) {
  TempDir dir;
  dir.write("configs/r.yaml", kSampled);
  const auto original = load_sweep(dir.str("configs"), "r");
  dir.write("configs/again.yaml", to_yaml(original.spec));
  const auto reloaded = load_sweep(dir.str("configs"), "again");
  EXPECT_EQ(render(reloaded), render(original)) << to_yaml(original.spec);
}

}  // namespace
}  // namespace sweeplab
