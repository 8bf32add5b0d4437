// sweeplab best (the best configuration, seeds averaged, overall or per value of a swept key) and sweeplab logs
// (a trial's trial.log by id, prefix or --where; -f until it settles). Expected winners are computed here from
// the trials' summary.json files, not taken from the command.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <thread>

#include "sweeplab/config/loader.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;

// Two batch sizes x three learning rates x two seeds; lr 1000 diverges within the first epoch (as in
// test_prune). Doughnuts, plain SGD, 2 short epochs: the whole sweep trains in a few seconds.
const std::string kSweep =
    "task: {name: doughnuts, samples: 160}\n"
    "optimizer: {name: sgd}\n"
    "training: {epochs: 2}\n"
    "stop: {divergence_loss: 100}\n"
    "sweep:\n"
    "  grid: {training.batch_size: [4, 16], optimizer.lr: [0.01, 0.1, 1000]}\n"
    "  seeds: 2\n";

// The sweep, run once for the whole file; each test works on a copy.
const TempDir& ran_sweep() {
  static TempDir dir;  // removed at exit
  static const bool ran = [] {
    dir.write("configs/t.yaml", kSweep);
    const auto run = testing::run_in(dir, {"run", "t", "-q"});
    if (run.code != 0) throw std::runtime_error("the test sweep did not run: " + run.out + run.err);
    return true;
  }();
  (void)ran;
  return dir;
}

void copy_sweep(const TempDir& to) {
  fs::copy(ran_sweep().path() / "configs", to.path() / "configs", fs::copy_options::recursive);
  fs::copy(ran_sweep().path() / "experiments", to.path() / "experiments", fs::copy_options::recursive);
}

fs::path trials_dir(const TempDir& dir) { return dir.path() / "experiments/t/trials"; }

// The trial folder whose id begins with `prefix` (exactly one).
fs::path trial_with(const TempDir& dir, const std::string& prefix) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(trials_dir(dir))) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) found.push_back(entry.path());
  }
  if (found.size() != 1) throw std::runtime_error(std::to_string(found.size()) + " trials begin with " + prefix);
  return found.front();
}

void edit_summary(const fs::path& trial, const std::function<void(json&)>& edit) {
  json summary = testing::read_json(trial / "summary.json");
  edit(summary);
  std::ofstream(trial / "summary.json") << summary.dump(2);
  fs::remove(trial.parent_path().parent_path() / "index.sqlite");  // written behind sweeplab's back: read it again
}

// A configuration's winner as computed here: the completed trials grouped by (batch size, lr), the mean of
// final.METRIC over each group's seeds, the best mean.
struct Expected {
  std::int64_t batch_size = 0;
  double lr = 0.0, mean = 0.0;
  std::vector<std::string> ids;
};
Expected expected_best(const TempDir& dir, const std::string& metric, bool higher,
                       const std::function<bool(std::int64_t, double)>& keep = {}) {
  std::map<std::pair<std::int64_t, double>, std::vector<std::pair<std::string, double>>> groups;
  for (const auto& entry : fs::directory_iterator(trials_dir(dir))) {
    if (!fs::exists(entry.path() / "summary.json")) continue;
    const json summary = testing::read_json(entry.path() / "summary.json");
    if (summary["status"] != "completed") continue;
    const auto bs = summary["swept"]["training.batch_size"].get<std::int64_t>();
    const auto lr = summary["swept"]["optimizer.lr"].get<double>();
    if (keep && !keep(bs, lr)) continue;
    groups[{bs, lr}].push_back({summary["trial_id"], summary["final"][metric].get<double>()});
  }
  std::optional<Expected> best;
  for (const auto& [config, members] : groups) {
    double sum = 0.0;
    for (const auto& member : members) sum += member.second;
    const double mean = sum / double(members.size());
    if (!best || (higher ? mean > best->mean : mean < best->mean)) {
      best = Expected{config.first, config.second, mean, {}};
      for (const auto& member : members) best->ids.push_back(member.first);
    }
  }
  if (!best) throw std::runtime_error("no completed trial");
  return *best;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// The table's data rows (between its header, which begins with `first_column`, and the totals line).
std::vector<std::string> table_rows(const std::string& out, const std::string& first_column) {
  std::vector<std::string> rows;
  bool inside = false;
  for (const auto& line : lines_of(out)) {
    if (line.rfind(first_column + " ", 0) == 0) {
      inside = true;
    } else if (inside && line.find(" trials in ") != std::string::npos) {
      break;
    } else if (inside) {
      rows.push_back(line);
    }
  }
  return rows;
}

// A row shows the expected winner: its batch size and lr (in the order of `bs_first`), the mean (4 significant
// digits) and every one of its trial ids.
void expect_row(const std::string& row, const Expected& expected, bool bs_first = true) {
  const auto words = words_of(row);
  ASSERT_GE(words.size(), 5u) << row;
  EXPECT_EQ(std::stoll(words[bs_first ? 0 : 1]), expected.batch_size) << row;
  EXPECT_DOUBLE_EQ(std::stod(words[bs_first ? 1 : 0]), expected.lr) << row;
  EXPECT_NEAR(std::stod(words[2]), expected.mean, 1e-3 * std::fabs(expected.mean)) << row;
  for (const auto& id : expected.ids) EXPECT_NE(row.find(id), std::string::npos) << id << " in " << row;
}

TEST(Best, TheWinnerIsTheBestSeedMeanOfCompletedTrials) {
  TempDir dir;
  copy_sweep(dir);
  const auto result = testing::run_in(dir, {"best", "t"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_TRUE(result.err.empty()) << result.err;
  // doughnuts is a classification task: test_acc, higher is better.
  EXPECT_NE(result.out.find("by test_acc"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("higher is better"), std::string::npos) << result.out;
  const auto rows = table_rows(result.out, "training.batch_size");
  ASSERT_EQ(rows.size(), 1u) << result.out;
  expect_row(rows[0], expected_best(dir, "test_acc", true));
  EXPECT_NE(rows[0].find(" 2 "), std::string::npos) << "two seeds: " << rows[0];
  EXPECT_NE(result.out.find("12 trials in 6 configurations: 8 completed, 4 diverged"), std::string::npos) << result.out;
}

TEST(Best, LossesAreLowerIsBetter) {
  TempDir dir;
  copy_sweep(dir);
  const auto result = testing::run_in(dir, {"best", "t", "--metric", "test_loss"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("lower is better"), std::string::npos) << result.out;
  const auto rows = table_rows(result.out, "training.batch_size");
  ASSERT_EQ(rows.size(), 1u) << result.out;
  expect_row(rows[0], expected_best(dir, "test_loss", false));
}

TEST(Best, SeedsAreAveragedAndOnlyCompletedTrialsWin) {
  TempDir dir;
  copy_sweep(dir);
  // bs 4, lr 0.01 has the single best completed trial (0.99) but a mean of 0.5; bs 16, lr 0.01 averages 0.7.
  // A diverged and a failed trial claim 1.0: they must not win, only be counted.
  for (const auto& entry : fs::directory_iterator(trials_dir(dir))) {
    edit_summary(entry.path(), [](json& s) {
      if (s["status"] == "completed") s["final"]["test_acc"] = 0.1;
    });
  }
  const json final_record = testing::read_json(trial_with(dir, "bs=4_lr=0.01_seed=0") / "summary.json")["final"];
  edit_summary(trial_with(dir, "bs=4_lr=0.01_seed=0"), [](json& s) { s["final"]["test_acc"] = 0.99; });
  edit_summary(trial_with(dir, "bs=4_lr=0.01_seed=1"), [](json& s) { s["final"]["test_acc"] = 0.01; });
  edit_summary(trial_with(dir, "bs=16_lr=0.01_seed=0"), [](json& s) { s["final"]["test_acc"] = 0.7; });
  edit_summary(trial_with(dir, "bs=16_lr=0.01_seed=1"), [](json& s) { s["final"]["test_acc"] = 0.7; });
  edit_summary(trial_with(dir, "bs=4_lr=1000_seed=0"), [&](json& s) {
    s["final"] = final_record;
    s["final"]["test_acc"] = 1.0;
  });
  edit_summary(trial_with(dir, "bs=16_lr=0.1_seed=0"), [](json& s) {
    s["status"] = "failed";
    s["final"]["test_acc"] = 1.0;
  });
  const auto result = testing::run_in(dir, {"best", "t"});
  ASSERT_EQ(result.code, 0) << result.err;
  const auto rows = table_rows(result.out, "training.batch_size");
  ASSERT_EQ(rows.size(), 1u) << result.out;
  const auto words = words_of(rows[0]);
  ASSERT_GE(words.size(), 6u) << rows[0];
  EXPECT_EQ(words[0], "16") << rows[0];
  EXPECT_EQ(words[1], "0.01") << rows[0];
  EXPECT_EQ(words[2], "0.7") << rows[0];
  EXPECT_EQ(words[3], "0") << "the stderr of two equal seeds: " << rows[0];
  EXPECT_EQ(words[4], "2") << rows[0];
  EXPECT_NE(result.out.find("7 completed, 4 diverged, 1 failed"), std::string::npos) << result.out;

  // The failed seed's configuration (bs 16, lr 0.1): its other seed alone, "1 of 2" seeds.
  const auto per_lr = testing::run_in(dir, {"best", "t", "--per", "lr", "--where", "batch_size=16"});
  ASSERT_EQ(per_lr.code, 0) << per_lr.err;
  const auto lr_rows = table_rows(per_lr.out, "optimizer.lr");
  ASSERT_EQ(lr_rows.size(), 3u) << per_lr.out;
  EXPECT_EQ(words_of(lr_rows[1])[0], "0.1") << lr_rows[1];
  EXPECT_NE(lr_rows[1].find("1 of 2"), std::string::npos) << lr_rows[1];
  EXPECT_NE(lr_rows[1].find(trial_with(dir, "bs=16_lr=0.1_seed=1").filename().string()), std::string::npos) << lr_rows[1];
  EXPECT_EQ(lr_rows[1].find(trial_with(dir, "bs=16_lr=0.1_seed=0").filename().string()), std::string::npos) << lr_rows[1];
}

TEST(Best, PerBatchSizeGivesTheBestLearningRateForEach) {
  TempDir dir;
  copy_sweep(dir);
  for (const std::string per : {"batch_size", "training.batch_size"}) {
    const auto result = testing::run_in(dir, {"best", "t", "--per", per});
    ASSERT_EQ(result.code, 0) << result.err;
    EXPECT_NE(result.out.find("per training.batch_size"), std::string::npos) << result.out;
    const auto rows = table_rows(result.out, "training.batch_size");
    ASSERT_EQ(rows.size(), 2u) << result.out;
    expect_row(rows[0], expected_best(dir, "test_acc", true, [](std::int64_t bs, double) { return bs == 4; }));
    expect_row(rows[1], expected_best(dir, "test_acc", true, [](std::int64_t bs, double) { return bs == 16; }));
  }
  // Per learning rate: lr 1000 diverged everywhere, a row that says so and names no configuration.
  const auto per_lr = testing::run_in(dir, {"best", "t", "--per", "optimizer.lr"});
  ASSERT_EQ(per_lr.code, 0) << per_lr.err;
  const auto rows = table_rows(per_lr.out, "optimizer.lr");
  ASSERT_EQ(rows.size(), 3u) << per_lr.out;
  expect_row(rows[0], expected_best(dir, "test_acc", true, [](std::int64_t, double lr) { return lr == 0.01; }), false);
  expect_row(rows[1], expected_best(dir, "test_acc", true, [](std::int64_t, double lr) { return lr == 0.1; }), false);
  EXPECT_EQ(words_of(rows[2])[0], "1000") << rows[2];
  EXPECT_NE(rows[2].find("0 of 4"), std::string::npos) << rows[2];
  EXPECT_NE(rows[2].find("none completed (4 diverged)"), std::string::npos) << rows[2];
}

TEST(Best, WhereAndBestOverTheEvaluations) {
  TempDir dir;
  copy_sweep(dir);
  const auto result = testing::run_in(dir, {"best", "t", "--where", "batch_size=16", "--metric", "test_loss"});
  ASSERT_EQ(result.code, 0) << result.err;
  const auto rows = table_rows(result.out, "training.batch_size");
  ASSERT_EQ(rows.size(), 1u) << result.out;
  expect_row(rows[0], expected_best(dir, "test_loss", false, [](std::int64_t bs, double) { return bs == 16; }));
  EXPECT_NE(result.out.find("6 trials in 3 configurations: 4 completed, 2 diverged"), std::string::npos) << result.out;

  // best_train_acc: summary.json's best value, not the final one. Make them differ for one configuration.
  for (const auto& entry : fs::directory_iterator(trials_dir(dir))) {
    edit_summary(entry.path(), [](json& s) {
      if (s["status"] == "completed") s["best"]["train_acc"]["value"] = 0.2;
    });
  }
  for (const char* prefix : {"bs=4_lr=0.01_seed=0", "bs=4_lr=0.01_seed=1"}) {
    edit_summary(trial_with(dir, prefix), [](json& s) {
      s["best"]["train_acc"]["value"] = 0.95;
      s["final"]["train_acc"] = 0.0;
    });
  }
  const auto best = testing::run_in(dir, {"best", "t", "--metric", "best_train_acc"});
  ASSERT_EQ(best.code, 0) << best.err;
  const auto best_rows = table_rows(best.out, "training.batch_size");
  ASSERT_EQ(best_rows.size(), 1u) << best.out;
  EXPECT_EQ(words_of(best_rows[0])[0], "4") << best_rows[0];
  EXPECT_EQ(words_of(best_rows[0])[1], "0.01") << best_rows[0];
  EXPECT_EQ(words_of(best_rows[0])[2], "0.95") << best_rows[0];
  EXPECT_NE(best.out.find("the best over the evaluations"), std::string::npos) << best.out;
}

TEST(Best, PendingTrialsAreCountedAndASweepWithNoResultSaysSo) {
  TempDir dir;
  copy_sweep(dir);
  for (const auto& entry : fs::directory_iterator(trials_dir(dir))) {
    if (entry.path().filename().string().find("_lr=0.01_") == std::string::npos) fs::remove_all(entry.path());
  }
  const auto result = testing::run_in(dir, {"best", "t"});
  ASSERT_EQ(result.code, 0) << result.err;
  // The four trials of lr 0.01 on disk are the sweep: the learning rate is no column; the YAML's other eight are
  // one line.
  const auto rows = table_rows(result.out, "training.batch_size");
  ASSERT_EQ(rows.size(), 1u) << result.out;
  const auto expected = expected_best(dir, "test_acc", true);
  const auto words = words_of(rows[0]);
  ASSERT_GE(words.size(), 4u) << rows[0];
  EXPECT_EQ(std::stoll(words[0]), expected.batch_size) << rows[0];
  EXPECT_NEAR(std::stod(words[1]), expected.mean, 1e-3 * std::fabs(expected.mean)) << rows[0];
  EXPECT_NE(result.out.find("4 trials in 2 configurations: 4 completed; only completed trials compete\n"
                            "8 trials of the current config not run yet: sweeplab run t (--pending lists them)"),
            std::string::npos)
      << result.out;

  TempDir empty;
  empty.write("configs/t.yaml", kSweep);
  const auto none = testing::run_in(empty, {"best", "t"});
  ASSERT_EQ(none.code, 0) << none.err;
  EXPECT_NE(none.out.find("no trial of sweep t has run yet\n12 trials of the current config not run yet: sweeplab run t"),
            std::string::npos)
      << none.out;
  EXPECT_FALSE(fs::exists(empty.path() / "experiments")) << "best writes nothing";
}

TEST(Best, ARegressionTaskDefaultsToTestLoss) {
  TempDir dir;
  dir.write("configs/r.yaml",
            "task: {name: sine2, samples: 160}\noptimizer: {name: sgd}\ntraining: {epochs: 2}\n"
            "sweep: {grid: {optimizer.lr: [0.01, 0.05]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "r", "-q"}).code, 0);
  const auto result = testing::run_in(dir, {"best", "r"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("by test_loss"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("lower is better"), std::string::npos) << result.out;
  double lowest = INFINITY;
  std::string winner;
  for (const auto& entry : fs::directory_iterator(dir.path() / "experiments/r/trials")) {
    const json summary = testing::read_json(entry.path() / "summary.json");
    if (summary["final"]["test_loss"].get<double>() < lowest) {
      lowest = summary["final"]["test_loss"];
      winner = summary["trial_id"];
    }
  }
  const auto rows = table_rows(result.out, "optimizer.lr");
  ASSERT_EQ(rows.size(), 1u) << result.out;
  EXPECT_NE(rows[0].find(winner), std::string::npos) << rows[0];
}

// Bad input: one line on stderr naming the value, with the fix; exit 2; nothing written.
struct BadCase {
  std::vector<std::string> args;
  std::vector<std::string> says;
};

void expect_bad(const TempDir& dir, const BadCase& bad) {
  const auto before = dir.snapshot();
  const auto result = testing::run_in(dir, bad.args);
  std::string command;
  for (const auto& arg : bad.args) command += arg + " ";
  EXPECT_EQ(result.code, 2) << command << result.out << result.err;
  EXPECT_TRUE(result.out.empty()) << command << result.out;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << command << result.err;
  for (const auto& text : bad.says) EXPECT_NE(result.err.find(text), std::string::npos) << command << ": " << result.err;
  EXPECT_EQ(dir.snapshot(), before) << command;
}

TEST(Best, BadInputIsOneLineAndExitTwo) {
  TempDir dir;
  copy_sweep(dir);
  const std::vector<BadCase> cases = {
      {{"best", "t", "--metric", "tst_acc"},
       {"--metric tst_acc: unknown metric", "did you mean 'test_acc'", "test_acc, test_loss, train_acc, train_loss"}},
      {{"best", "t", "--metric", "test_acc", "-o", "task.name=sine2"},
       {"--metric test_acc: task sine2 is a regression", "test_loss, train_loss"}},
      {{"best", "t", "--per", "batch"}, {"--per batch: unknown key", "did you mean 'training.batch_size'"}},
      {{"best", "t", "--per", "bach_size"}, {"did you mean 'training.batch_size'"}},
      {{"best", "t", "--per", "epochs"},
       {"--per epochs: training.epochs is not swept in sweep t", "training.batch_size, optimizer.lr",
        "try --per training.batch_size"}},
      {{"best", "t", "--per", "seed"}, {"--per seed: the seeds of a configuration are averaged"}},
      {{"best", "t", "--where", "lx=0.1"}, {"--where lx=0.1: unknown key 'lx'", "did you mean 'optimizer.lr'"}},
      {{"best", "t", "--where", "lr=0.3"}, {"--where lr=0.3: no trial of sweep t matches", "optimizer.lr is 0.01, 0.1, 1000"}},
      {{"best", "nope"}, {"nope"}},
  };
  for (const auto& bad : cases) expect_bad(dir, bad);
}

// --metric steps_to_<target>: fewest steps to the target wins; a configuration with a seed that never reached it
// counts as never and loses to every one whose seeds all reached it. The steps are set here, in the summaries.
TEST(Best, StepsToATargetFewestWinsAndNeverLoses) {
  TempDir dir;
  copy_sweep(dir);
  const std::string target = "train_loss <= 100";
  for (const auto& entry : fs::directory_iterator(trials_dir(dir))) {
    edit_summary(entry.path(), [&](json& summary) {
      const auto bs = summary["swept"]["training.batch_size"].get<std::int64_t>();
      const auto lr = summary["swept"]["optimizer.lr"].get<double>();
      const auto seed = summary["swept"]["training.seed"].get<std::int64_t>();
      // lr 0.01: 50 and 100 steps at B=4, 30 and 60 at B=16; lr 0.1: 10 steps for seed 0, never for seed 1.
      std::optional<std::int64_t> steps;
      if (lr == 0.01) steps = (bs == 4 ? 50 : 30) * (seed + 1);
      if (lr == 0.1 && seed == 0) steps = 10;
      summary["targets"] = json::array({steps ? json{{"target", target}, {"reached", true}, {"step", *steps},
                                                     {"samples", *steps * bs}, {"epoch", 1}}
                                              : json{{"target", target}, {"reached", false}}});
    });
  }
  const std::vector<std::string> with_target = {"-o", "targets=['" + target + "']"};
  auto best = [&](std::vector<std::string> args) {
    args.insert(args.end(), with_target.begin(), with_target.end());
    return testing::run_in(dir, args);
  };
  const auto overall = best({"best", "t", "--metric", "steps_to_train_loss_le_100"});
  ASSERT_EQ(overall.code, 0) << overall.err;
  EXPECT_NE(overall.out.find("fewer is better"), std::string::npos) << overall.out;
  auto rows = table_rows(overall.out, "training.batch_size");
  ASSERT_EQ(rows.size(), 1u) << overall.out;
  EXPECT_EQ(words_of(rows[0])[0], "16") << rows[0];
  EXPECT_EQ(words_of(rows[0])[1], "0.01") << rows[0];
  EXPECT_EQ(words_of(rows[0])[2], "45") << rows[0];  // the mean of 30 and 60, not lr 0.1's lucky 10
  // Per batch size, by the first target's short name: B=4 is won by lr 0.01 at 75.
  const auto per = best({"best", "t", "--metric", "steps_to_target", "--per", "batch_size"});
  ASSERT_EQ(per.code, 0) << per.err;
  rows = table_rows(per.out, "training.batch_size");
  ASSERT_EQ(rows.size(), 2u) << per.out;
  EXPECT_EQ(words_of(rows[0])[2], "75") << rows[0];
  // Nobody reached it: the row says never, and no configuration is named the winner.
  for (const auto& entry : fs::directory_iterator(trials_dir(dir))) {
    edit_summary(entry.path(), [&](json& summary) {
      summary["targets"] = json::array({json{{"target", target}, {"reached", false}}});
    });
  }
  const auto none = best({"best", "t", "--metric", "steps_to_target"});
  ASSERT_EQ(none.code, 0) << none.err;
  rows = table_rows(none.out, "training.batch_size");
  ASSERT_EQ(rows.size(), 1u) << none.out;
  EXPECT_EQ(words_of(rows[0])[0], "-") << rows[0];
  EXPECT_NE(rows[0].find("never"), std::string::npos) << rows[0];
  EXPECT_NE(rows[0].find("no configuration had every completed seed reach it"), std::string::npos) << rows[0];
  // A target the config does not have, or a config without targets: one line, exit 2.
  testing::expect_usage_error(dir, {"best", "t", "--metric", "steps_to_test_acc_ge_0.9", "-o", "targets=['" + target + "']"},
                              {"--metric steps_to_test_acc_ge_0.9: no such target", "steps_to_train_loss_le_100"});
  testing::expect_usage_error(dir, {"best", "t", "--metric", "steps_to_target"}, {"sweep t has no targets"});
}

// --- logs ---

TEST(Logs, PrintsTheTrialLogByIdPrefixOrWhere) {
  TempDir dir;
  copy_sweep(dir);
  const fs::path trial = trial_with(dir, "bs=4_lr=0.1_seed=1");
  const std::string log = testing::read_file(trial / "trial.log");
  ASSERT_NE(log.find("trial ends: "), std::string::npos) << log;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"logs", "t", trial.filename().string()},
        std::vector<std::string>{"logs", "t", "bs=4_lr=0.1_seed=1"},
        std::vector<std::string>{"logs", "t", "--where", "lr=0.1", "--where", "batch_size=4", "--where", "seed=1"},
        std::vector<std::string>{"logs", "t", "--where", "lr=0.1", "--where", "bs=4", "--where", "seed=1"},
        std::vector<std::string>{"logs", "t", "bs=4_lr=0.1", "--where", "seed=1"}}) {
    const auto result = testing::run_in(dir, args);
    EXPECT_EQ(result.code, 0) << args.back() << result.err;
    EXPECT_EQ(result.out, log) << args.back();
    EXPECT_TRUE(result.err.empty()) << result.err;
  }
}

TEST(Logs, AmbiguousUnknownOrMissingIsOneLineAndExitTwo) {
  TempDir dir;
  copy_sweep(dir);
  const std::string id = trial_with(dir, "bs=4_lr=0.1_seed=0").filename().string();
  std::string typo = id;
  typo.back() = typo.back() == 'x' ? 'y' : 'x';
  fs::remove_all(trial_with(dir, "bs=16_lr=0.01_seed=1"));  // pending now
  const std::vector<BadCase> cases = {
      {{"logs", "t", "bs=4_lr=0.1"}, {"trial 'bs=4_lr=0.1' is ambiguous: 2 trials", id, "give more of the id"}},
      {{"logs", "t", typo}, {"no trial '" + typo + "' in sweep t", "did you mean '" + id + "'"}},
      {{"logs", "t", "zzz"}, {"no trial 'zzz' in sweep t", "bs=", "(12 in all)"}},
      {{"logs", "t"}, {"give a trial id", "(12 in all)"}},
      {{"logs", "t", "--where", "lr=0.1"},
       {"--where lr=0.1 matches 4 trials of sweep t", "add --where on training.batch_size or training.seed"}},
      {{"logs", "t", "--where", "lr=0.3"}, {"no trial of sweep t matches", "optimizer.lr is 0.01, 0.1, 1000"}},
      {{"logs", "t", "--where", "lx=1"}, {"unknown key 'lx'", "did you mean 'optimizer.lr'"}},
      {{"logs", "t", id, "--where", "seed=1"}, {"does not match --where seed=1"}},
      {{"logs", "t", "bs=16_lr=0.01_seed=1"}, {"has no trial.log (it is pending: sweeplab run t trains it)"}},
  };
  for (const auto& bad : cases) expect_bad(dir, bad);
}

// Waits for `future` at most `seconds`; false when it is still running.
template <typename T>
bool finishes(std::future<T>& future, int seconds) {
  return future.wait_for(std::chrono::seconds(seconds)) == std::future_status::ready;
}

TEST(Logs, FollowPrintsWhatIsAddedUntilSummaryJsonAppears) {
  TempDir dir;
  copy_sweep(dir);
  const fs::path trial = trial_with(dir, "bs=16_lr=0.1_seed=0");
  const std::string log = testing::read_file(trial / "trial.log");
  const std::string summary = testing::read_file(trial / "summary.json");
  const auto first_line = log.find('\n') + 1;
  ASSERT_LT(first_line, log.size());
  // As the trial is while it trains: its first line written, no summary.json.
  fs::remove(trial / "summary.json");
  std::ofstream(trial / "trial.log", std::ios::trunc) << log.substr(0, first_line);
  auto follow = std::async(std::launch::async, [&] { return testing::run_in(dir, {"logs", "t", "bs=16_lr=0.1_seed=0", "-f"}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::ofstream(trial / "trial.log", std::ios::app) << log.substr(first_line);
  EXPECT_FALSE(finishes(follow, 1)) << "-f ended before the trial settled";
  std::ofstream(trial / "summary.json") << summary;
  ASSERT_TRUE(finishes(follow, 20)) << "-f did not end when summary.json appeared";
  const auto result = follow.get();
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, log);
}

TEST(Logs, FollowWaitsForAPendingTrialThroughARealRun) {
  TempDir dir;
  dir.write("configs/t.yaml", kSweep);
  std::string id;
  for (const auto& trial : load_sweep(dir.str("configs"), "t").trials) {
    if (trial.id.rfind("bs=16_lr=0.1_seed=1", 0) == 0) id = trial.id;
  }
  ASSERT_FALSE(id.empty());
  auto follow = std::async(std::launch::async,
                           [&] { return testing::run_in(dir, {"logs", "t", "--where", "batch_size=16", "--where", "lr=0.1",
                                                              "--where", "seed=1", "-f"}); });
  EXPECT_FALSE(finishes(follow, 1)) << "-f on a pending trial waits for it";
  const auto run = testing::run_sweeplab(dir, "run t -q");
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  ASSERT_TRUE(finishes(follow, 20)) << "-f did not end after the run";
  const auto result = follow.get();
  EXPECT_EQ(result.code, 0) << result.err;
  const std::string log = testing::read_file(dir.path() / "experiments/t/trials" / id / "trial.log");
  EXPECT_NE(log.find("trial ends: "), std::string::npos) << log;
  EXPECT_EQ(result.out, log);
  EXPECT_NE(result.err.find("waiting for trial " + id + " to start (pending)"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace sweeplab
