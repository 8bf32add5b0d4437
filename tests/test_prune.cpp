// optimizer.temperature as an axis (lr = temperature x batch size per trial) and sweep.prune: above_divergence
// (trials above a diverged learning rate of their line are skipped, not run) and {below_divergence: K} (each line
// walked from its largest learning rate down, the rest skipped once K trials have completed).
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

// The sweep in `dir` run once, then again: nothing trains, not a byte is written, and the skipped trials say why
// (`reason`), as --dry-run does.
void expect_a_rerun_keeps_them_skipped(const TempDir& dir, const std::string& reason) {
  ASSERT_EQ(testing::run_in(dir, {"run", "p", "-q"}).code, 0);
  const auto before = dir.snapshot();
  const auto first = outcomes(dir);
  const auto again = testing::run_in(dir, {"run", "p", "-j", "2"});
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("nothing to train"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("  skipped already: " + reason + "\n"), std::string::npos) << again.out;
  EXPECT_EQ(dir.snapshot(), before);  // not a byte written: no trial.log grew, no summary was rewritten
  EXPECT_EQ(outcomes(dir), first);
  const auto dry = testing::run_in(dir, {"run", "p", "--dry-run"});
  ASSERT_EQ(dry.code, 0);
  EXPECT_NE(dry.out.find("skip: skipped already: " + reason), std::string::npos) << dry.out;
}

TEST(Prune, ARerunKeepsThemSkippedAndTrainsNothing) {
  TempDir dir;
  dir.write("configs/p.yaml", kSweep);
  expect_a_rerun_keeps_them_skipped(dir, "optimizer.lr=1000 diverged at step 2 (sweep.prune: above_divergence)");
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
  const auto at = result.out.find("sweep.prune  (none, above_divergence or {below_divergence: K} with K >= 1, default none)\n");
  ASSERT_NE(at, std::string::npos) << result.out;
  EXPECT_LT(result.out.find("sweep.seeds  ("), at);
  EXPECT_LT(at, result.out.find("extends  ("));
  // And show prints it with the resolved sweep.
  dir.write("configs/p.yaml", kSweep);
  EXPECT_NE(testing::run_in(dir, {"show", "p"}).out.find("prune: above_divergence"), std::string::npos);
}

// ---- below_divergence -------------------------------------------------------------------------

// The same two lines walked from the top: in each, lr 1e5 and 1000 diverge within the first epoch, 0.04 and 0.02
// complete (2 stable learning rates), and so 0.01 and 0.005 are skipped, never trained.
const std::string kBelow =
    "task: {name: doughnuts, samples: 160}\n"
    "optimizer: {name: sgd}\n"
    "training: {epochs: 2}\n"
    "stop: {divergence_loss: 100}\n"
    "sweep:\n"
    "  grid: {training.batch_size: [4, 16], optimizer.lr: [100000, 1000, 0.04, 0.02, 0.01, 0.005]}\n"
    "  prune: {below_divergence: 2}\n";

const std::string kStableReason =
    "optimizer.lr=0.04, 0.02 completed: 2 stable learning rates above it (sweep.prune: {below_divergence: 2})";

// What the walk from the top leaves in each line, by learning rate: statuses, and the reason of the skipped ones.
std::map<double, std::string> expected_below(const std::string& reason = kStableReason) {
  return {{100000, "diverged"}, {1000, "diverged"}, {0.04, "completed"}, {0.02, "completed"},
          {0.01, "skipped: " + reason}, {0.005, "skipped: " + reason}};
}

// The outcomes of the line at batch size `batch`, by learning rate (outcomes() for the whole sweep).
std::map<double, std::string> line_outcomes(const TempDir& dir, std::int64_t batch) {
  std::map<double, std::string> line;
  const auto all = outcomes(dir);
  for (const auto& trial : load_sweep(dir.str("configs"), "p").trials) {
    const Config config = trial.config.expand();
    if (config.training.batch_size == batch) line[config.optimizer.lr] = all.at(trial.id);
  }
  return line;
}

TEST(PruneBelow, TheLineIsWalkedFromTheTopAndStopsAfterKStableLearningRates) {
  TempDir dir;
  dir.write("configs/p.yaml", kBelow);
  const auto result = testing::run_in(dir, {"run", "p", "-j", "1"});
  ASSERT_EQ(result.code, 0) << result.out << result.err;
  for (const std::int64_t batch : {4, 16}) EXPECT_EQ(line_outcomes(dir, batch), expected_below()) << batch;
  EXPECT_NE(result.out.find("skipped: " + kStableReason), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("p: 4 completed, 4 diverged, 0 failed, 4 skipped"), std::string::npos) << result.out;
  // The waves went from the largest learning rate down: every trial that trained started after those above it
  // in its line had finished (trial.log's first and last lines).
  const auto trials = load_sweep(dir.str("configs"), "p").trials;
  for (const std::int64_t batch : {4, 16}) {
    std::string previous_end;
    for (const double lr : {100000.0, 1000.0, 0.04, 0.02}) {
      const auto log = lines_of(testing::read_file(trial_folder(dir, trial_at(trials, batch, lr)) / "trial.log"));
      ASSERT_GE(log.size(), 2u);
      const std::string start = log.front().substr(0, 25), end = log.back().substr(0, 25);  // "[2026-... 12:00:00.123]"
      EXPECT_LE(previous_end, start) << batch << " " << lr;
      previous_end = end;
    }
  }
  // sweep.json says how it was pruned, as YAML writes it.
  EXPECT_EQ(testing::read_json(dir.path() / "experiments/p/sweep.json")["prune"], json::parse(R"({"below_divergence": 2})"));
}

TEST(PruneBelow, OneOrTwoWorkersSkipTheSameTrials) {
  TempDir one, two;
  one.write("configs/p.yaml", kBelow);
  two.write("configs/p.yaml", kBelow);
  const auto first = testing::run_in(one, {"run", "p", "-j", "1", "-q"});
  ASSERT_EQ(first.code, 0) << first.out << first.err;
  // Two workers, and every trial of a wave fused into one group where it can be.
  const auto second = testing::run_in(two, {"run", "p", "-j", "2", "--group-size", "8", "-q"});
  ASSERT_EQ(second.code, 0) << second.out << second.err;
  EXPECT_EQ(outcomes(one), outcomes(two));
  for (const std::int64_t batch : {4, 16}) EXPECT_EQ(line_outcomes(two, batch), expected_below()) << batch;
}

TEST(PruneBelow, ARerunKeepsTheDecisionAndACountChangeDecidesAgain) {
  TempDir dir;
  dir.write("configs/p.yaml", kBelow);
  expect_a_rerun_keeps_them_skipped(dir, kStableReason);
  // Three stable learning rates: lr 0.01 trains now, and 0.005 is skipped for the new reason.
  const auto three = testing::run_in(dir, {"run", "p", "-o", "prune={below_divergence: 3}"});
  ASSERT_EQ(three.code, 0) << three.out << three.err;
  EXPECT_NE(three.out.find("p: 2 completed, 0 diverged, 0 failed, 2 skipped, 8 unchanged"), std::string::npos) << three.out;
  const std::string reason =
      "optimizer.lr=0.04, 0.02, 0.01 completed: 3 stable learning rates above it (sweep.prune: {below_divergence: 3})";
  auto expected = expected_below(reason);
  expected[0.01] = "completed";
  for (const std::int64_t batch : {4, 16}) EXPECT_EQ(line_outcomes(dir, batch), expected) << batch;
}

TEST(PruneBelow, AnInterruptedRunResumesToTheSameDecision) {
  TempDir dir, whole;
  // 20 epochs (800 steps at batch size 4): a trial stopped at step 50 is still training when the stop reaches it.
  const std::string sweep = std::regex_replace(kBelow, std::regex("epochs: 2"), "epochs: 20");
  dir.write("configs/p.yaml", sweep);
  whole.write("configs/p.yaml", sweep);
  ASSERT_EQ(testing::run_in(whole, {"run", "p", "-q"}).code, 0);
  // Ctrl-C at step 50 of the first trial of batch size 4 that gets there: lr 0.04, the third wave (lr 1e5 and 1000
  // diverge at step 2). One worker, longest first: batch size 16's lr 0.04 has not started.
  const auto interrupted = testing::run_sweeplab(dir, "run p -j 1", "sigint_at_step=50@bs=4");
  ASSERT_EQ(interrupted.code, 130) << interrupted.out << interrupted.err;
  const auto trials = load_sweep(dir.str("configs"), "p").trials;
  EXPECT_EQ(summary_of(trial_folder(dir, trial_at(trials, 4, 0.04)))["status"], "interrupted");
  for (const std::int64_t batch : {4, 16}) {
    EXPECT_EQ(summary_of(trial_folder(dir, trial_at(trials, batch, 1000)))["status"], "diverged") << batch;
    for (const double lr : {0.02, 0.01, 0.005}) {  // nothing below decided yet: not a file
      EXPECT_FALSE(fs::exists(trial_folder(dir, trial_at(trials, batch, lr)) / "summary.json")) << batch << " " << lr;
    }
  }
  // The plan from the files: what is left trains, nothing is skipped yet.
  const auto dry = testing::run_in(dir, {"run", "p", "--dry-run"});
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_EQ(dry.out.find("skip: " + kStableReason), std::string::npos) << dry.out;
  const auto resumed = testing::run_sweeplab(dir, "run p -j 2");
  ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
  EXPECT_GT(summary_of(trial_folder(dir, trial_at(trials, 4, 0.04)))["resumed_from_step"].get<int>(), 0);
  EXPECT_EQ(outcomes(dir), outcomes(whole));
  for (const std::int64_t batch : {4, 16}) EXPECT_EQ(line_outcomes(dir, batch), expected_below()) << batch;
}

TEST(PruneBelow, FreshDecidesAgainAndResultsBelowStayWithoutIt) {
  TempDir dir;
  dir.write("configs/p.yaml", kBelow);
  ASSERT_EQ(testing::run_in(dir, {"run", "p", "-q", "-o", "sweep.prune=none"}).code, 0);  // every trial trained
  // Results that are there stay as they are: nothing to train, nothing skipped.
  const auto before = dir.snapshot();
  const auto kept = testing::run_in(dir, {"run", "p"});
  ASSERT_EQ(kept.code, 0) << kept.out << kept.err;
  EXPECT_NE(kept.out.find("nothing to train"), std::string::npos) << kept.out;
  EXPECT_EQ(dir.snapshot(), before);
  // --fresh: the walk again, and the trials below 2 stable learning rates lose their results.
  const auto fresh = testing::run_in(dir, {"run", "p", "--fresh", "-j", "2"});
  ASSERT_EQ(fresh.code, 0) << fresh.out << fresh.err;
  for (const std::int64_t batch : {4, 16}) EXPECT_EQ(line_outcomes(dir, batch), expected_below()) << batch;
}

TEST(PruneBelow, WalksTheTemperatureAxis) {
  TempDir dir;
  dir.write("configs/p.yaml",
            "task: {name: doughnuts, samples: 160}\noptimizer: {name: sgd}\ntraining: {epochs: 2}\n"
            "stop: {divergence_loss: 100}\n"
            "sweep: {grid: {training.batch_size: [4, 16], optimizer.temperature: [10000, 100, 0.002, 0.001, 0.0005]}, "
            "prune: {below_divergence: 2}}\n");
  const auto result = testing::run_in(dir, {"run", "p", "-q", "-j", "2"});
  ASSERT_EQ(result.code, 0) << result.out << result.err;
  const std::map<std::int64_t, std::string> reasons = {
      {4, "optimizer.temperature=0.002, 0.001 (optimizer.lr=0.008, 0.004) completed: 2 stable learning rates above it "
          "(sweep.prune: {below_divergence: 2})"},
      {16, "optimizer.temperature=0.002, 0.001 (optimizer.lr=0.032, 0.016) completed: 2 stable learning rates above it "
           "(sweep.prune: {below_divergence: 2})"}};
  for (const auto& trial : load_sweep(dir.str("configs"), "p").trials) {
    const auto summary = summary_of(trial_folder(dir, trial));
    const Config config = trial.config.expand();
    const double t = config.optimizer.temperature;
    EXPECT_EQ(summary["status"], t > 1 ? "diverged" : t > 0.0007 ? "completed" : "skipped") << trial.id;
    if (t < 0.0007) {
      EXPECT_EQ(summary["skip_reason"], reasons.at(config.training.batch_size)) << trial.id;
    }
  }
}

TEST(PruneBelow, ShowAndOverridesSetAndPrintIt) {
  TempDir dir;
  dir.write("configs/p.yaml", kBelow);
  dir.write("configs/q.yaml", "task: {samples: 160}\ntraining: {epochs: 1}\n");
  const auto spec = load_sweep(dir.str("configs"), "p").spec;
  EXPECT_EQ(spec.prune, Prune::BelowDivergence);
  EXPECT_EQ(spec.prune_keep, 2);
  for (const std::string override_text : {"sweep.prune={below_divergence: 5}", "prune={below_divergence: 5}"}) {
    const auto q = load_sweep(dir.str("configs"), "q", {override_text}).spec;
    EXPECT_EQ(q.prune, Prune::BelowDivergence) << override_text;
    EXPECT_EQ(q.prune_keep, 5) << override_text;
  }
  // Another mode drops the count.
  const auto above = load_sweep(dir.str("configs"), "p", {"prune=above_divergence"}).spec;
  EXPECT_EQ(above.prune, Prune::AboveDivergence);
  EXPECT_EQ(above.prune_keep, 0);
  const auto shown = testing::run_in(dir, {"show", "p"});
  ASSERT_EQ(shown.code, 0) << shown.err;
  EXPECT_NE(shown.out.find("  prune: {below_divergence: 2}\n"), std::string::npos) << shown.out;
  const auto overridden = testing::run_in(dir, {"show", "q", "-o", "prune={below_divergence: 4}"});
  ASSERT_EQ(overridden.code, 0) << overridden.err;
  EXPECT_NE(overridden.out.find("# overrides applied (-o): sweep.prune={below_divergence: 4}\n"), std::string::npos)
      << overridden.out;
  // What show prints loads back as the same setting.
  dir.write("configs/r.yaml", overridden.out);
  const auto back = load_sweep(dir.str("configs"), "r").spec;
  EXPECT_EQ(back.prune, Prune::BelowDivergence);
  EXPECT_EQ(back.prune_keep, 4);
}

TEST(PruneBelow, EachBadValueIsOneLineNamingWhereAndWritesNothing) {
  TempDir dir;
  dir.write("configs/q.yaml", "task: {samples: 160}\ntraining: {epochs: 1}\n");
  dir.write("configs/bare.yaml", "task: {samples: 160}\nsweep:\n  grid: {optimizer.lr: [1, 0.1]}\n  prune: below_divergence\n");
  dir.write("configs/zero.yaml", "task: {samples: 160}\nsweep:\n  prune: {below_divergence: 0}\n");
  const std::string suggestion = "write e.g. {below_divergence: 3}";
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
      {{"run", "bare"}, {"bare.yaml:4: sweep.prune: 'below_divergence' needs a count of stable learning rates", suggestion}},
      {{"run", "zero"}, {"zero.yaml:3: sweep.prune: below_divergence: '0' is not a count >= 1", suggestion}},
      {{"run", "q", "-o", "sweep.prune={below_divergence: -2}"},
       {"-o 'sweep.prune={below_divergence: -2}': sweep.prune: below_divergence: '-2' is not a count >= 1", suggestion}},
      {{"run", "q", "-o", "prune={below_divergence: two}"}, {"sweep.prune: below_divergence: 'two' is not a count", suggestion}},
      {{"run", "q", "-o", "prune={below_divergence: 2.5}"}, {"sweep.prune: below_divergence: '2.5' is not a count", suggestion}},
      {{"run", "q", "-o", "prune={below_divergence: }"}, {"sweep.prune: below_divergence: 'null' is not a count", suggestion}},
      {{"run", "q", "-o", "prune={below_divergence: [2]}"}, {"sweep.prune: below_divergence: '[2]' is not a count", suggestion}},
      {{"run", "q", "-o", "prune=below_divergence"}, {"-o 'prune=below_divergence': sweep.prune: 'below_divergence' needs a count", suggestion}},
      {{"run", "q", "-o", "prune={below_divergense: 2}"},
       {"sweep.prune: '{below_divergense: 2}' is not one of none, above_divergence, {below_divergence: K}",
        "(did you mean 'below_divergence'?)"}},
      {{"run", "q", "-o", "prune={above_divergence: 2}"},
       {"sweep.prune: '{above_divergence: 2}': above_divergence takes no count; write sweep.prune: above_divergence"}},
      {{"run", "q", "-o", "prune={below_divergence: 2, above_divergence: 1}"},
       {"sweep.prune: '{below_divergence: 2, above_divergence: 1}' is not one of", suggestion}},
      {{"show", "q", "-o", "prune={}"}, {"sweep.prune: '{}' is not one of", suggestion}},
  };
  for (const auto& [args, expected] : cases) {
    SCOPED_TRACE(args.back());
    testing::expect_usage_error(dir, args, expected);
  }
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
