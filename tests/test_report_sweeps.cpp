// The report of named sweeps from configs/, each run cut down (fewer values, a smaller budget), asserting what its
// figures must show: the temperature sweep's panels per eta/B and its cells at their own eta/B, the grokking study's
// steps to target by batch schedule, a page that says what was run (every -o, the budgets) without pooling trials of
// different budgets; and for every named sweep, the set of figures its report draws.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "report_util.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;
using testing::between;
using testing::count;
using testing::datablock;

const fs::path kRepoConfigs = fs::path(SWEEPLAB_SOURCE_DIR) / "configs";

void copy_config(const TempDir& dir, const std::string& name) {
  dir.write("configs/" + name + ".yaml", testing::read_file(kRepoConfigs / (name + ".yaml")));
}

// `-o` for each override, after `command`.
std::vector<std::string> with_overrides(std::vector<std::string> command, const std::vector<std::string>& overrides) {
  for (const auto& item : overrides) command.insert(command.end(), {"-o", item});
  return command;
}

// The folder a report with -o went to (the only one under reports/).
fs::path report_folder_of(const TempDir& dir, const std::string& sweep) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(dir.path() / "experiments" / sweep / "reports")) found.push_back(entry.path());
  if (found.size() != 1) throw std::runtime_error(std::to_string(found.size()) + " report folders");
  return found.front();
}

// Every `set title "..."` of a script, in order.
std::vector<std::string> titles(const std::string& script) {
  std::vector<std::string> found;
  const std::regex title("\nset title \"([^\"]*)\"");
  for (std::sregex_iterator it(script.begin(), script.end(), title), end; it != end; ++it) found.push_back((*it)[1]);
  return found;
}

// `export NAME --format jsonl` with these overrides, one object per trial.
std::vector<json> exported(const TempDir& dir, const std::string& sweep, const std::vector<std::string>& overrides) {
  const auto result = testing::run_in(dir, with_overrides({"export", sweep, "--format", "jsonl"}, overrides));
  if (result.code != 0) throw std::runtime_error(result.err);
  std::vector<json> rows;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) rows.push_back(json::parse(line));
  }
  return rows;
}

// poly-teacher-batch-temperature sweeps eta/B: each trial's learning rate is eta/B x B, so over the learning rate
// its cells would be a staircase. The report draws panels per eta/B (batch size as colour), the heatmap over batch
// size and eta/B cell for cell, and SP and muP apart.
TEST(ReportOfNamedSweeps, TheTemperatureSweepIsDrawnByEtaOverB) {
  TempDir dir;
  copy_config(dir, "poly-teacher-batch-temperature");
  const std::vector<std::string> cut = {"training.batch_size=4,16,64", "optimizer.temperature=1e-4,1e-3,1e-2,0.1",
                                        "training.samples=4096", "training.eval_every=1024", "checkpoint.every=4096",
                                        "model.hidden=[32,32]"};
  const auto run = testing::run_in(dir, with_overrides({"run", "poly-teacher-batch-temperature", "-q", "-j", "2"}, cut));
  ASSERT_EQ(run.code, 0) << run.err;
  const auto report = testing::run_in(dir, with_overrides({"report", "poly-teacher-batch-temperature"}, cut));
  ASSERT_EQ(report.code, 0) << report.err;
  EXPECT_EQ(report.out.find("gnuplot failed"), std::string::npos) << report.out;
  const fs::path folder = report_folder_of(dir, "poly-teacher-batch-temperature");
  const std::string html = testing::read_file(folder / "report.html");

  // Loss curves: one figure per parameterization, one panel per eta/B, batch size as the colour.
  for (const std::string name : {"loss_curves", "loss_curves_2"}) {
    const std::string script = testing::read_file(folder / "figures" / (name + ".gp"));
    const auto panels = titles(script);
    // The panels' values in one format, as an axis writes them (1e-4 .. 1e-1, not 0.0001 beside 1e-05).
    EXPECT_EQ(std::vector<std::string>(panels.begin(), panels.end()),
              (std::vector<std::string>{"\u03b7/B = 1e-4", "\u03b7/B = 1e-3", "\u03b7/B = 1e-2", "\u03b7/B = 1e-1"}))
        << script;
    EXPECT_NE(script.find("title \"batch size B\""), std::string::npos) << script;  // the legend's title
    EXPECT_EQ(script.find("\u03b7 = "), std::string::npos) << "no panel per derived learning rate";
  }
  EXPECT_NE(html.find("(param=sp)</h2>"), std::string::npos);
  EXPECT_NE(html.find("(param=mup)</h2>"), std::string::npos);

  // Over the learning rate: not drawn, and why. Over eta/B: one cell per (B, eta/B) trial, at log2 of each, holding
  // that trial's final train loss.
  EXPECT_NE(report.out.find("the sweep varies the temperature \u03b7/B, not the learning rate"), std::string::npos) << report.out;
  EXPECT_FALSE(fs::exists(folder / "figures/heatmap_batch.svg"));
  const auto rows = exported(dir, "poly-teacher-batch-temperature", cut);
  ASSERT_EQ(rows.size(), 24u);
  for (const auto& [name, param] : std::vector<std::pair<std::string, std::string>>{{"heatmap_temperature", "sp"},
                                                                                    {"heatmap_temperature_2", "mup"}}) {
    const std::string script = testing::read_file(folder / "figures" / (name + ".gp"));
    const auto cells = datablock(script, "cells");
    std::size_t completed = 0;
    for (const auto& row : rows) {
      if (row["model.parameterization"] != param || row["status"] != "completed") continue;
      ++completed;
      const double b = row["batch_size"], t = row["temperature"];
      std::size_t found = 0;
      for (const auto& cell : cells) {
        if (std::abs(cell[0] - std::log2(b)) < 1e-9 && std::abs(cell[1] - std::log2(t)) < 1e-6) {
          ++found;
          EXPECT_DOUBLE_EQ(cell[6], row["final_train_loss"].get<double>()) << row.dump();
        }
      }
      EXPECT_EQ(found, 1u) << row.dump() << "\n" << script;
    }
    EXPECT_EQ(cells.size(), completed) << script;
    EXPECT_NE(script.find("set ylabel \"temperature \u03b7/B"), std::string::npos);
  }

  // Train loss against samples seen by eta/B: SP and muP each a figure of its own.
  EXPECT_TRUE(fs::exists(folder / "figures/loss_vs_samples.svg"));
  EXPECT_TRUE(fs::exists(folder / "figures/loss_vs_samples_2.svg"));
  EXPECT_NE(html.find("Train loss vs samples seen, by temperature \u03b7/B (param=mup)"), std::string::npos);
  EXPECT_LT(fs::file_size(folder / "report.html"), 3u << 20);
}

// grokking-batch varies the batch schedule and the task, not the batch size: steps to 99% validation accuracy are
// drawn by schedule, coloured by task, and `best` ranks by them (it stops trials at the target).
TEST(ReportOfNamedSweeps, TheGrokkingStudyGetsStepsToTargetByBatchSchedule) {
  TempDir dir;
  copy_config(dir, "grokking-batch");
  const std::vector<std::string> cut = {"task.name=x_minus_y,x_div_y", "task.modulus=23", "task.train_fraction=0.8",
                                        "training.steps=4000", "training.batch_size=64", "training.eval_every=20",
                                        "batch_schedule.initial_batch_size=8", "batch_schedule.final_batch_size=64",
                                        "batch_schedule.ramp_steps=200", "seeds=2", "checkpoint.every=4000"};
  const auto run = testing::run_in(dir, with_overrides({"run", "grokking-batch", "-q", "-j", "2"}, cut));
  ASSERT_EQ(run.code, 0) << run.err;
  const auto report = testing::run_in(dir, with_overrides({"report", "grokking-batch", "--plots", "steps_to_target"}, cut));
  ASSERT_EQ(report.code, 0) << report.err;
  const fs::path folder = report_folder_of(dir, "grokking-batch");
  const std::string script = testing::read_file(folder / "figures/steps_to_target.gp");
  EXPECT_NE(script.find("set xtics (\"constant\" 0, \"geometric\" 1)"), std::string::npos) << script;

  // Each point: the mean steps over the seeds that reached the target, from the summaries.
  std::map<std::pair<std::string, std::string>, std::vector<double>> reached;  // (schedule, task) -> steps
  std::map<std::pair<std::string, std::string>, int> seeds;
  for (const auto& row : exported(dir, "grokking-batch", cut)) {
    const std::pair<std::string, std::string> key{row["batch_schedule.name"], row["task.name"]};
    ++seeds[key];
    if (!row["steps_to_val_acc_ge_0.99"].is_null()) reached[key].push_back(row["steps_to_val_acc_ge_0.99"].get<double>());
  }
  ASSERT_FALSE(reached.empty()) << "no trial reached the target: the cut-down run is too short";
  const std::vector<std::string> tasks = {"x_minus_y", "x_div_y"}, schedules = {"constant", "geometric"};
  std::size_t points = 0;
  for (std::size_t c = 0; c < tasks.size(); ++c) {
    const auto drawn = datablock(script, "c" + std::to_string(c));
    for (const auto& point : drawn) {
      const std::string schedule = schedules.at(std::size_t(std::lround(point[0])));
      const auto& steps = reached.at({schedule, tasks[c]});
      double mean = 0;
      for (double s : steps) mean += s / double(steps.size());
      EXPECT_NEAR(point[1], mean, 1e-9) << schedule << " " << tasks[c];
      EXPECT_EQ(point[3], double(steps.size()));
      EXPECT_EQ(point[4], double(seeds.at({schedule, tasks[c]})));
      ++points;
    }
  }
  EXPECT_EQ(points, reached.size());

  // best: the trials stop at the target, so it ranks them by steps to it; the fewest (all seeds reached) wins.
  const auto best = testing::run_in(dir, with_overrides({"best", "grokking-batch", "--per", "task.name"}, cut));
  ASSERT_EQ(best.code, 0) << best.err;
  EXPECT_NE(best.out.find("by steps_to_val_acc_ge_0.99, per task.name"), std::string::npos) << best.out;
  for (const auto& task : tasks) {
    std::string winner;
    double fewest = INFINITY;
    for (const auto& schedule : schedules) {
      const auto found = reached.find({schedule, task});
      if (found == reached.end() || int(found->second.size()) < seeds.at({schedule, task})) continue;
      double mean = 0;
      for (double s : found->second) mean += s / double(found->second.size());
      if (mean < fewest) fewest = mean, winner = schedule;
    }
    const std::regex row("\n" + task + " +([a-z]+) +([^ ]+) ");
    std::smatch match;
    ASSERT_TRUE(std::regex_search(best.out, match, row)) << best.out;
    if (winner.empty()) {
      EXPECT_EQ(match[2], "never") << best.out;
    } else {
      EXPECT_EQ(match[1], winner) << best.out;
      EXPECT_NEAR(std::stod(match[2]), fewest, 0.5) << best.out;
    }
  }
}

// Trials of one configuration at two budgets are two settings, never two seeds of one; the page lists each run with
// its -o, and the budgets of what it shows.
TEST(ReportOfNamedSweeps, ThePageSaysWhatWasRunAndNeverPoolsBudgets) {
  TempDir dir;
  copy_config(dir, "doughnut-batch");  // what quickstart extends
  copy_config(dir, "quickstart");
  const std::vector<std::string> small = {"task.samples=200", "training.epochs=1", "optimizer.lr=0.01,0.1"};
  ASSERT_EQ(testing::run_in(dir, with_overrides({"run", "quickstart", "-q", "-j", "2"}, small)).code, 0);
  const std::vector<std::string> longer = {"task.samples=200", "training.epochs=2", "optimizer.lr=0.01"};
  ASSERT_EQ(testing::run_in(dir, with_overrides({"run", "quickstart", "-q", "-j", "2"}, longer)).code, 0);
  const auto report = testing::run_in(dir, {"report", "quickstart", "-o", "task.samples=200"});
  ASSERT_EQ(report.code, 0) << report.err;
  const std::string html = testing::read_file(report_folder_of(dir, "quickstart") / "report.html");
  const std::string runs = between(html, "<summary>What was run</summary>", "</details>");
  EXPECT_NE(runs.find("-o task.samples=200 -o training.epochs=1 -o optimizer.lr=0.01,0.1"), std::string::npos) << runs;
  EXPECT_NE(runs.find("-o task.samples=200 -o training.epochs=2 -o optimizer.lr=0.01"), std::string::npos) << runs;
  EXPECT_NE(runs.find("training.epochs=1 ("), std::string::npos) << runs;
  EXPECT_NE(runs.find("training.epochs=2 ("), std::string::npos) << runs;
  EXPECT_NE(runs.find("This page: sweeplab "), std::string::npos) << runs;
  EXPECT_NE(html.find("The config's description: <q>"), std::string::npos);
  // The epochs differ between the trials: they are a key of the figures, and no cell or line mixes them.
  const auto rows = exported(dir, "quickstart", {"task.samples=200"});
  std::set<std::string> epochs;
  for (const auto& row : rows) epochs.insert(row["training.epochs"].dump());
  EXPECT_EQ(epochs.size(), 2u);
  const std::string curves = testing::read_file(report_folder_of(dir, "quickstart") / "figures/loss_curves.gp");
  const std::regex block("# (?:test|train)\\d+: ([^\\n]*) \\((\\d+) trials?\\)");
  std::size_t lines = 0;
  for (std::sregex_iterator it(curves.begin(), curves.end(), block), end; it != end; ++it) {
    EXPECT_NE(std::string((*it)[1]).find("epochs="), std::string::npos) << (*it)[0];
    ++lines;
  }
  EXPECT_GT(lines, 0u) << curves;
}

// Every named sweep of configs/, cut down to a few seconds of training: its report draws exactly the figures the
// sweep supports (the others each have a line that says why), none of them fails in gnuplot, each is a whole SVG
// with a caption, and the page stays light.
struct NamedSweep {
  std::string name;
  std::vector<std::string> overrides;  // the cut
  std::vector<std::string> figures;    // the SVGs its report draws
  bool images = false;                 // reads Fashion-MNIST (dataset-fashion-mnist)
};

void PrintTo(const NamedSweep& sweep, std::ostream* out) { *out << sweep.name; }

class ReportOfEveryNamedSweep : public ::testing::TestWithParam<NamedSweep> {};

TEST_P(ReportOfEveryNamedSweep, ReportDrawsWhatTheSweepSupports) {
  const NamedSweep& sweep = GetParam();
  if (sweep.images && !fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  for (const auto& entry : fs::directory_iterator(kRepoConfigs)) {
    dir.write("configs/" + entry.path().filename().string(), testing::read_file(entry.path()));
  }
  const auto run = testing::run_in(dir, with_overrides({"run", sweep.name, "-q", "-j", "2"}, sweep.overrides));
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  const auto report = testing::run_in(dir, {"report", sweep.name});
  ASSERT_EQ(report.code, 0) << report.err;
  EXPECT_EQ(report.out.find("gnuplot failed"), std::string::npos) << report.out;
  const fs::path folder = dir.path() / "experiments" / sweep.name;
  std::set<std::string> drawn;
  for (const auto& entry : fs::directory_iterator(folder / "figures")) {
    if (entry.path().extension() == ".svg") drawn.insert(entry.path().stem().string());
  }
  EXPECT_EQ(drawn, std::set<std::string>(sweep.figures.begin(), sweep.figures.end())) << report.out;
  testing::expect_whole_svgs(folder / "figures");
  const std::string html = testing::read_file(folder / "report.html");
  for (const auto& figure : drawn) {
    const std::string caption = between(between(html, "<figure id=\"" + figure + "\">", "</figure>"), "<figcaption>", "</figcaption>");
    EXPECT_GT(caption.size(), std::string("<figcaption>").size() + 20) << figure;
  }
  // Every figure the report did not draw has its line, on the page and in the command's output.
  EXPECT_EQ(count(report.out, "  not drawn: "), count(between(html, "<section id=\"not-drawn\">", "</section>"), "<li>"));
  EXPECT_LT(fs::file_size(folder / "report.html"), 3u << 20);
  const std::string runs = between(html, "<summary>What was run</summary>", "</details>");
  for (const auto& item : sweep.overrides) EXPECT_NE(runs.find(item), std::string::npos) << item << "\n" << runs;
}

std::vector<std::string> numbered(const std::string& figure, int n) {
  std::vector<std::string> names = {figure};
  for (int i = 2; i <= n; ++i) names.push_back(figure + "_" + std::to_string(i));
  return names;
}

std::vector<std::string> all_of(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> names;
  for (const auto& part : parts) names.insert(names.end(), part.begin(), part.end());
  return names;
}

// Per facet (a third swept key, or SP and muP): test and train curves, both heatmaps, loss vs samples by eta/B.
std::vector<std::string> batch_by_lr_figures(int facets) {
  return all_of({numbered("loss_curves", facets), numbered("loss_curves_train", facets), numbered("heatmap_batch", facets),
                 numbered("heatmap_temperature", facets), numbered("loss_vs_samples", facets)});
}

INSTANTIATE_TEST_SUITE_P(
    Configs, ReportOfEveryNamedSweep,
    ::testing::Values(
        NamedSweep{"a2c-doublegoal", {"training.steps=500", "seeds=1"}, {"loss_curves", "loss_curves_train", "heatmap_batch"}},
        NamedSweep{"bss-gamma-eta",
                   {"model.gamma=0.01,1,100", "optimizer.lr={logspace: [-6, 2, 9]}", "task.subset=2000",
                    "sweep.prune={below_divergence: 4}"},
                   {"loss_curves", "loss_curves_train", "heatmap_batch"}, true},
        NamedSweep{"bss-main-poly",
                   {"training.batch_size=16,1024", "optimizer.lr={pow2: [-4, 4]}", "training.steps=100", "model.gamma=0.1,1,10"},
                   batch_by_lr_figures(3)},
        NamedSweep{"bss-main-mlp",
                   {"training.batch_size=16,1024", "optimizer.lr={pow2: [-4, 4]}", "training.steps=100", "model.gamma=0.1,1"},
                   batch_by_lr_figures(2)},
        NamedSweep{"bss-small-mup", {"model.hidden=[64,64]", "task.subset=2000", "model.gamma=0.1,10"}, batch_by_lr_figures(2), true},
        NamedSweep{"doughnut-batch", {"training.epochs=3"}, {"loss_curves", "loss_vs_samples"}},
        NamedSweep{"dqn-doublegoal", {"training.steps=500", "seeds=1"}, all_of({batch_by_lr_figures(1), {"steps_to_target"}})},
        NamedSweep{"fashion-mnist-batch",
                   {"training.batch_size=64,1024", "optimizer.lr=0.05,0.2", "training.epochs=1", "task.subset=5000"},
                   batch_by_lr_figures(1), true},
        NamedSweep{"grokking-batch", {"training.steps=30", "seeds=1"}, {"loss_curves", "loss_curves_train"}},
        NamedSweep{"poly-teacher-batch-eta", {"training.samples=2000", "seeds=1", "training.batch_size=2,16,128"},
                   batch_by_lr_figures(2)},
        NamedSweep{"poly-teacher-batch-temperature", {"training.samples=2000", "seeds=1", "training.batch_size=2,16,128"},
                   all_of({numbered("loss_curves", 2), numbered("loss_curves_train", 2), numbered("heatmap_temperature", 2),
                           numbered("loss_vs_samples", 2)})},
        NamedSweep{"poly-teacher-gamma-eta", {"training.steps=30", "training.samples=0"},
                   {"loss_curves", "loss_curves_train", "heatmap_batch"}},
        NamedSweep{"quickstart", {"training.epochs=3"}, {"loss_curves", "loss_vs_samples"}},
        NamedSweep{"sanity-overfit", {"training.steps=30", "training.samples=0"}, {"loss_curves", "loss_curves_train"}},
        NamedSweep{"sanity-relu-output", {"training.steps=30", "training.samples=0"}, {"loss_curves", "loss_curves_train"}},
        NamedSweep{"sanity-scale", {"training.steps=30", "training.samples=0"}, {"loss_curves"}},
        NamedSweep{"sine2-regression", {"training.epochs=50"}, {"loss_curves", "loss_vs_samples"}}),
    [](const ::testing::TestParamInfo<NamedSweep>& info) {
      std::string name = info.param.name;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

}  // namespace
}  // namespace sweeplab
