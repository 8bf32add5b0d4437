// batch_size_studies: optimizer.temperature as an axis (lr = temperature x batch size per trial) and
// sweep.prune: above_divergence (trials above a diverged learning rate of their line are skipped, not run).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;

// Two lines (batch sizes 4 and 16); in each, lr 0.01 trains, 1000 diverges within the first epoch and 1e5
// is above it. Doughnuts, plain SGD, 2 short epochs.
const std::string kSweep =
    "task: {name: doughnuts, samples: 160}\n"
    "optimizer: {name: sgd}\n"
    "training: {epochs: 2}\n"
    "stop: {divergence_loss: 100}\n"
    "sweep:\n"
    "  grid: {training.batch_size: [4, 16], optimizer.lr: [0.01, 1000, 100000]}\n"
    "  prune: above_divergence\n";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::map<std::string, std::string>> parse_csv(const std::string& text) {
  std::vector<std::map<std::string, std::string>> rows;
  const auto lines = lines_of(text);
  if (lines.empty()) return rows;
  std::vector<std::string> header;
  std::istringstream head(lines[0]);
  for (std::string cell; std::getline(head, cell, ',');) header.push_back(cell);
  for (std::size_t l = 1; l < lines.size(); ++l) {
    std::istringstream fields(lines[l]);
    std::map<std::string, std::string> row;
    std::string cell;
    for (const auto& column : header) {
      if (!std::getline(fields, cell, ',')) cell.clear();
      row[column] = cell;
    }
    rows.push_back(row);
  }
  return rows;
}

fs::path trial_folder(const TempDir& dir, const TrialSpec& trial, const std::string& sweep = "p") {
  return dir.path() / "experiments" / sweep / "trials" / trial.id;
}

json summary_of(const fs::path& folder) { return testing::read_json(folder / "summary.json"); }

// Every trial's status and, for skipped ones, the reason; the files of a skipped trial are only
// config.yaml, summary.json and trial.log (it never trained).
std::map<std::string, std::string> outcomes(const TempDir& dir) {
  std::map<std::string, std::string> result;
  for (const auto& trial : load_sweep(dir.str("configs"), "p").trials) {
    const auto folder = trial_folder(dir, trial);
    const auto summary = summary_of(folder);
    std::string text = summary["status"].get<std::string>();
    if (text == "skipped") {
      text += ": " + summary["skip_reason"].get<std::string>();
      EXPECT_FALSE(fs::exists(folder / "metrics.jsonl")) << trial.id;
      EXPECT_FALSE(fs::exists(folder / "checkpoint.pt")) << trial.id;
      EXPECT_EQ(summary["steps"], 0) << trial.id;
    }
    result[trial.id] = text;
  }
  return result;
}

// The trial of the sweep at batch size `batch` and learning rate `lr`.
const TrialSpec& trial_at(const std::vector<TrialSpec>& trials, std::int64_t batch, double lr) {
  for (const auto& trial : trials) {
    if (trial.config.expand().training.batch_size == batch && trial.config.expand().optimizer.lr == lr) return trial;
  }
  throw std::runtime_error("no such trial");
}

// The diverged trials stop where summary.json says; those above them name it.
void expect_pruned_above_divergence(const TempDir& dir) {
  const auto trials = load_sweep(dir.str("configs"), "p").trials;
  for (const std::int64_t batch : {4, 16}) {
    EXPECT_EQ(summary_of(trial_folder(dir, trial_at(trials, batch, 0.01)))["status"], "completed") << batch;
    const auto diverged = summary_of(trial_folder(dir, trial_at(trials, batch, 1000)));
    ASSERT_EQ(diverged["status"], "diverged") << batch;
    const auto pruned = summary_of(trial_folder(dir, trial_at(trials, batch, 100000)));
    EXPECT_EQ(pruned["status"], "skipped") << batch;
    EXPECT_EQ(pruned["skip_reason"], "optimizer.lr=1000 diverged at step " +
                                         std::to_string(diverged["diverged_at_step"].get<std::int64_t>()) +
                                         " (sweep.prune: above_divergence)")
        << batch;
  }
}

TEST(Prune, TrialsAboveADivergedLearningRateAreSkippedWithTheReasonWhateverTheWorkers) {
  TempDir one, two;
  one.write("configs/p.yaml", kSweep);
  two.write("configs/p.yaml", kSweep);
  const auto first = testing::run_in(one, {"run", "p", "-j", "1"});
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  expect_pruned_above_divergence(one);
  // The run says so, and its totals count them.
  EXPECT_NE(first.out.find("skipped: optimizer.lr=1000 diverged at step"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("p: 2 completed, 2 diverged, 0 failed, 2 skipped"), std::string::npos) << first.out;
  const auto second = testing::run_in(two, {"run", "p", "-j", "2"});
  ASSERT_EQ(second.code, 0) << second.out << second.err;
  EXPECT_EQ(outcomes(one), outcomes(two));
}

TEST(Prune, StatusAndExportListTheSkippedTrials) {
  TempDir dir;
  dir.write("configs/p.yaml", kSweep);
  ASSERT_EQ(testing::run_in(dir, {"run", "p", "-q"}).code, 0);
  const auto trials = load_sweep(dir.str("configs"), "p").trials;
  const auto status = testing::run_in(dir, {"status", "p"});
  ASSERT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("2 skipped"), std::string::npos) << status.out;
  for (const std::int64_t batch : {4, 16}) {
    const std::string id = trial_at(trials, batch, 100000).id;
    bool listed = false;
    for (const auto& line : lines_of(status.out)) {
      if (line.find(id) == std::string::npos) continue;
      listed = true;
      EXPECT_NE(line.find(" skipped "), std::string::npos) << line;
      EXPECT_EQ(line.find(" of 2 epochs"), std::string::npos) << line;  // never trained: no progress shown
      EXPECT_NE(line.find("(sweep.prune: above_divergence)"), std::string::npos) << line;  // the reason, in the note
    }
    EXPECT_TRUE(listed) << status.out;
  }
  const auto exported = testing::run_in(dir, {"export", "p"});
  ASSERT_EQ(exported.code, 0) << exported.err;
  std::map<std::string, std::string> by_id;
  for (const auto& row : parse_csv(exported.out)) by_id[row.at("trial_id")] = row.at("status");
  ASSERT_EQ(by_id.size(), 6u) << exported.out;
  for (const std::int64_t batch : {4, 16}) {
    EXPECT_EQ(by_id[trial_at(trials, batch, 0.01).id], "completed");
    EXPECT_EQ(by_id[trial_at(trials, batch, 1000).id], "diverged");
    EXPECT_EQ(by_id[trial_at(trials, batch, 100000).id], "skipped");
  }
}

TEST(Prune, ARerunKeepsThemSkippedAndTrainsNothing) {
  TempDir dir;
  dir.write("configs/p.yaml", kSweep);
  ASSERT_EQ(testing::run_in(dir, {"run", "p", "-q"}).code, 0);
  const auto before = dir.snapshot();
  const auto first = outcomes(dir);
  const auto again = testing::run_in(dir, {"run", "p", "-j", "2"});
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("nothing to train"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("  skipped already: optimizer.lr=1000 diverged at step 2 (sweep.prune: above_divergence)\n"),
            std::string::npos)
      << again.out;
  EXPECT_EQ(dir.snapshot(), before);  // not a byte written: no trial.log grew, no summary was rewritten
  EXPECT_EQ(outcomes(dir), first);
  // --dry-run says the same.
  const auto dry = testing::run_in(dir, {"run", "p", "--dry-run"});
  ASSERT_EQ(dry.code, 0);
  EXPECT_NE(dry.out.find("skip: skipped already: optimizer.lr=1000 diverged at step"), std::string::npos) << dry.out;
}

TEST(Prune, WithoutItEveryTrialTrains) {
  TempDir dir;
  dir.write("configs/p.yaml", kSweep);
  const auto result = testing::run_in(dir, {"run", "p", "-o", "sweep.prune=none", "-q"});
  ASSERT_EQ(result.code, 0) << result.out << result.err;
  const auto trials = load_sweep(dir.str("configs"), "p", {"sweep.prune=none"}).trials;
  for (const auto& trial : trials) {
    const auto summary = summary_of(trial_folder(dir, trial));
    EXPECT_EQ(summary["status"], trial.config.expand().optimizer.lr < 1 ? "completed" : "diverged") << trial.id;
    EXPECT_TRUE(fs::exists(trial_folder(dir, trial) / "metrics.jsonl")) << trial.id;
  }
}

TEST(Prune, SkippedTrialsTrainOnceNothingRulesThemOut) {
  TempDir dir;
  dir.write("configs/p.yaml", kSweep);
  ASSERT_EQ(testing::run_in(dir, {"run", "p", "-q"}).code, 0);
  // The same trials (the ids do not depend on sweep.prune), now without the pruning: the skipped ones train.
  const auto result = testing::run_in(dir, {"run", "p", "-o", "sweep.prune=none"});
  ASSERT_EQ(result.code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("p: 0 completed, 2 diverged, 0 failed, 0 skipped, 4 unchanged"), std::string::npos) << result.out;
  const auto trials = load_sweep(dir.str("configs"), "p").trials;
  for (const std::int64_t batch : {4, 16}) {
    const auto folder = trial_folder(dir, trial_at(trials, batch, 100000));
    EXPECT_EQ(summary_of(folder)["status"], "diverged");
    EXPECT_FALSE(summary_of(folder).contains("skip_reason"));
  }
}

TEST(Prune, FreshDecidesAgainFromThisRunsResults) {
  TempDir dir;
  dir.write("configs/p.yaml", kSweep);
  ASSERT_EQ(testing::run_in(dir, {"run", "p", "-q", "-o", "sweep.prune=none"}).code, 0);  // every trial trained
  const auto result = testing::run_in(dir, {"run", "p", "--fresh", "-j", "2"});
  ASSERT_EQ(result.code, 0) << result.out << result.err;
  expect_pruned_above_divergence(dir);
  outcomes(dir);  // the skipped ones' metrics and checkpoints went with --fresh
}

TEST(Prune, AResultAboveTheBoundaryStaysAsItIs) {
  TempDir dir;
  dir.write("configs/p.yaml", kSweep);
  ASSERT_EQ(testing::run_in(dir, {"run", "p", "-q", "-o", "sweep.prune=none"}).code, 0);
  const auto before = dir.snapshot();
  const auto result = testing::run_in(dir, {"run", "p"});
  ASSERT_EQ(result.code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("nothing to train"), std::string::npos) << result.out;
  EXPECT_EQ(dir.snapshot(), before);
  for (const auto& trial : load_sweep(dir.str("configs"), "p").trials) {
    EXPECT_NE(summary_of(trial_folder(dir, trial))["status"], "skipped") << trial.id;
  }
}

TEST(Prune, ABadValueIsOneLineAndWritesNothing) {
  TempDir dir;
  dir.write("configs/p.yaml", std::regex_replace(kSweep, std::regex("above_divergence"), "above_divergense"));
  dir.write("configs/q.yaml", "task: {samples: 160}\ntraining: {epochs: 1}\n");
  const auto before = dir.snapshot();
  for (const auto& args : std::vector<std::vector<std::string>>{{"run", "p"}, {"run", "q", "-o", "sweep.prune=sometimes"},
                                                               {"run", "q", "-o", "prune=[1]"}}) {
    const auto result = testing::run_in(dir, args);
    EXPECT_EQ(result.code, 2) << args[1] << result.out;
    EXPECT_EQ(lines_of(result.err).size(), 1u) << result.err;
    EXPECT_NE(result.err.find("sweep.prune"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("none, above_divergence"), std::string::npos) << result.err;
  }
  EXPECT_NE(testing::run_in(dir, {"run", "p"}).err.find("p.yaml:7"), std::string::npos);  // where it is written
  EXPECT_EQ(dir.snapshot(), before);
  // -o sweep.prune and the leaf name both set it.
  EXPECT_EQ(load_sweep(dir.str("configs"), "q", {"sweep.prune=above_divergence"}).spec.prune, Prune::AboveDivergence);
  EXPECT_EQ(load_sweep(dir.str("configs"), "q", {"prune=above_divergence"}).spec.prune, Prune::AboveDivergence);
  EXPECT_EQ(load_sweep(dir.str("configs"), "q").spec.prune, Prune::None);
}

TEST(Prune, ShowKeysDocumentsIt) {
  TempDir dir;
  const auto result = testing::run_in(dir, {"show", "--keys"});
  ASSERT_EQ(result.code, 0);
  const auto at = result.out.find("sweep.prune  (none or above_divergence, default none)\n");
  ASSERT_NE(at, std::string::npos) << result.out;
  EXPECT_LT(result.out.find("sweep.seeds  ("), at);
  EXPECT_LT(at, result.out.find("extends  ("));
  // And show prints it with the resolved sweep.
  dir.write("configs/p.yaml", kSweep);
  EXPECT_NE(testing::run_in(dir, {"show", "p"}).out.find("prune: above_divergence"), std::string::npos);
}

// ---- temperature ------------------------------------------------------------------------------

const std::string kTemperature =
    "task: {name: doughnuts, samples: 160}\n"
    "optimizer: {name: sgd}\n"
    "training: {epochs: 1}\n"
    "sweep: {grid: {training.batch_size: [4, 16], optimizer.temperature: [0.001, 0.01]}}\n";

TEST(Temperature, EachTrialsLearningRateIsTemperatureTimesBatchSize) {
  TempDir dir;
  dir.write("configs/t.yaml", kTemperature);
  const auto result = testing::run_in(dir, {"run", "t", "-q"});
  ASSERT_EQ(result.code, 0) << result.out << result.err;
  const auto trials = load_sweep(dir.str("configs"), "t").trials;
  ASSERT_EQ(trials.size(), 4u);
  std::set<std::string> hashes;
  for (const auto& trial : trials) {
    const double lr = trial.config.expand().optimizer.temperature * double(trial.config.expand().training.batch_size);
    EXPECT_EQ(trial.config.expand().optimizer.lr, lr) << trial.id;
    // config.yaml carries the derived lr, and reads back as the same trial.
    const auto folder = dir.path() / "experiments/t/trials" / trial.id;
    const auto own = read_trial_config(folder.string());
    ASSERT_TRUE(own) << testing::read_file(folder / "config.yaml");
    EXPECT_EQ(own->optimizer.lr, lr) << trial.id;
    EXPECT_EQ(own->optimizer.temperature, trial.config.expand().optimizer.temperature);
    // metrics.jsonl trained with it.
    const auto first = json::parse(lines_of(testing::read_file(folder / "metrics.jsonl")).at(0));
    EXPECT_DOUBLE_EQ(first["lr"].get<double>(), lr) << trial.id;
    hashes.insert(trial.id.substr(trial.id.rfind('-')));
  }
  EXPECT_EQ(hashes.size(), 4u);
  // status reads every trial back (config.yaml holds both keys, consistent): nothing unreadable.
  const auto status = testing::run_in(dir, {"status", "t"});
  ASSERT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("4 trials: 4 completed"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("unreadable"), std::string::npos) << status.out;
}

TEST(Temperature, ATemperatureOfZeroUsesTheLearningRateAsSet) {
  TempDir dir;
  dir.write("configs/t.yaml", std::regex_replace(kTemperature, std::regex("\\[0.001, 0.01\\]"), "[0.01, 0]"));
  const auto trials = load_sweep(dir.str("configs"), "t").trials;
  ASSERT_EQ(trials.size(), 4u);
  for (const auto& trial : trials) {
    const double expected = trial.config.expand().optimizer.temperature > 0
                                ? trial.config.expand().optimizer.temperature * double(trial.config.expand().training.batch_size)
                                : Config{}.optimizer.lr;
    EXPECT_EQ(trial.config.expand().optimizer.lr, expected) << trial.id;
  }
}

TEST(Temperature, AnExplicitLearningRateBesideItIsOneLineAndWritesNothing) {
  TempDir dir;
  dir.write("configs/t.yaml", kTemperature);
  dir.write("configs/both.yaml", "optimizer: {name: sgd, lr: 0.1, temperature: 0.01}\ntask: {samples: 160}\n");
  dir.write("configs/swept.yaml",
            "optimizer: {temperature: 0.01}\ntask: {samples: 160}\nsweep: {grid: {optimizer.lr: [0.1, 0.2]}}\n");
  const auto before = dir.snapshot();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"run", "t", "-o", "optimizer.lr=0.1"}, "-o 'optimizer.lr=0.1'"},
      {{"run", "t", "-o", "lr=0.1,0.2"}, "-o 'lr=0.1,0.2'"},
      {{"run", "both"}, "both.yaml:1"},
      {{"run", "swept"}, "swept.yaml:3"},
      {{"show", "t", "-o", "lr=0.5"}, "-o 'lr=0.5'"},
  };
  for (const auto& [args, where] : cases) {
    const auto result = testing::run_in(dir, args);
    EXPECT_EQ(result.code, 2) << args[1] << result.out;
    EXPECT_EQ(lines_of(result.err).size(), 1u) << result.err;
    EXPECT_NE(result.err.find("optimizer.lr and optimizer.temperature are both set; sweep one of them"), std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find(where), std::string::npos) << result.err;
  }
  EXPECT_EQ(dir.snapshot(), before);
}

TEST(Temperature, PrunesAlongTheTemperatureAxis) {
  TempDir dir;
  dir.write("configs/p.yaml",
            "task: {name: doughnuts, samples: 160}\noptimizer: {name: sgd}\ntraining: {epochs: 2}\n"
            "stop: {divergence_loss: 100}\n"
            "sweep: {grid: {training.batch_size: [4, 16], optimizer.temperature: [0.001, 100, 10000]}, "
            "prune: above_divergence}\n");
  const auto result = testing::run_in(dir, {"run", "p", "-q"});
  ASSERT_EQ(result.code, 0) << result.out << result.err;
  for (const auto& trial : load_sweep(dir.str("configs"), "p").trials) {
    const auto summary = summary_of(trial_folder(dir, trial));
    const double t = trial.config.expand().optimizer.temperature;
    EXPECT_EQ(summary["status"], t < 1 ? "completed" : t < 1000 ? "diverged" : "skipped") << trial.id;
    if (t > 1000) {
      EXPECT_EQ(summary["skip_reason"].get<std::string>().rfind(
                    "optimizer.temperature=100 (optimizer.lr=" +
                        std::to_string(100 * trial.config.expand().training.batch_size) + ") diverged at step ", 0),
                0u)
          << summary;
    }
  }
}

TEST(Temperature, TheReportDrawsBatchSizeByTemperature) {
  TempDir dir;
  dir.write("configs/t.yaml", kTemperature);
  ASSERT_EQ(testing::run_in(dir, {"run", "t", "-q"}).code, 0);
  const auto result = testing::run_in(dir, {"report", "t"});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::string html = testing::read_file(dir.path() / "experiments/t/report.html");
  EXPECT_NE(html.find("<figure id=\"heatmap_temperature\">"), std::string::npos) << html.substr(0, 4000);
  const std::string script = testing::read_file(dir.path() / "experiments/t/figures/heatmap_temperature.gp");
  EXPECT_NE(script.find("temperature"), std::string::npos);
}

}  // namespace
}  // namespace sweeplab
