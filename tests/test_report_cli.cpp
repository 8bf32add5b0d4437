// The report's command line: --list-plots, --plots, --where, -o, `report A B`, where each report goes,
// and the page itself (the table of trials, its sort script, the contents line, nothing fetched from the network).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <set>

#include "sweeplab/core/text.hpp"
#include "sweeplab/report/report.hpp"
#include "report_util.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::between;
using testing::count;
using testing::expect_whole_svgs;

// 2 batch sizes x 2 learning rates, one target: every plot can be drawn.
const std::string kGrid =
    "description: a grid of batch size by learning rate\n"
    "task: {samples: 200}\ntraining: {epochs: 2}\ntargets: ['test_acc >= 0.5']\n"
    "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.01, 0.1]}}\n";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The files in a folder, by name.
std::set<std::string> files_in(const fs::path& folder) {
  std::set<std::string> names;
  if (!fs::exists(folder)) return names;
  for (const auto& entry : fs::directory_iterator(folder)) names.insert(entry.path().filename().string());
  return names;
}

// The path `report` printed ("wrote PATH (N figures)").
fs::path written(const std::string& out) {
  const std::string from = "wrote ";
  const auto start = out.find(from);
  if (start == std::string::npos) return {};
  return out.substr(start + from.size(), out.find(" (", start) - start - from.size());
}

// The text of each cell of a table's header, and of each of its rows (tags taken out).
std::string text_of(std::string html) {
  html = std::regex_replace(html, std::regex("<[^>]*>"), "");
  return html;
}
std::vector<std::string> header_of(const std::string& table) {
  std::vector<std::string> cells;
  const std::string head = between(table, "<thead>", "</thead>");
  const std::regex th("<th[^>]*>(.*?)</th>");
  for (auto it = std::sregex_iterator(head.begin(), head.end(), th); it != std::sregex_iterator(); ++it) {
    cells.push_back(text_of((*it)[1]));
  }
  return cells;
}
std::vector<std::vector<std::string>> rows_of(const std::string& table) {
  std::vector<std::vector<std::string>> rows;
  const std::string body = between(table, "<tbody>", "</tbody>");
  const std::regex tr("<tr>(.*?)</tr>"), td("<td[^>]*>(.*?)</td>");
  for (auto row = std::sregex_iterator(body.begin(), body.end(), tr); row != std::sregex_iterator(); ++row) {
    const std::string cells_html = (*row)[1];
    std::vector<std::string> cells;
    for (auto it = std::sregex_iterator(cells_html.begin(), cells_html.end(), td); it != std::sregex_iterator(); ++it) {
      cells.push_back(text_of((*it)[1]));
    }
    rows.push_back(cells);
  }
  return rows;
}

// A page that opens offline: no script or image to fetch, nothing on the network but SVG namespaces.
void expect_self_contained(const std::string& html) {
  for (auto at = html.find("http://"); at != std::string::npos; at = html.find("http://", at + 7)) {
    EXPECT_EQ(html.compare(at, 17, "http://www.w3.org"), 0) << html.substr(at, 80);  // SVG namespaces only
  }
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.rfind("</html>\n"), html.size() - 8);
  // Every figure scales to the page's width: a viewBox, and the style that lets it shrink.
  for (auto at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 4)) {
    EXPECT_NE(html.substr(at, html.find('>', at) - at).find("viewBox="), std::string::npos) << html.substr(at, 200);
  }
  EXPECT_NE(html.find("svg{display:block;max-width:100%;height:auto}"), std::string::npos);
}

TEST(ReportCli, ListPlotsNamesEveryPlotWithoutASweep) {
  TempDir dir;
  const auto before = dir.snapshot();
  const auto result = testing::run_in(dir, {"report", "--list-plots"});
  ASSERT_EQ(result.code, 0) << result.err;
  const auto lines = lines_of(result.out);
  const auto kinds = plot_kinds();
  ASSERT_EQ(lines.size(), kinds.size()) << result.out;
  ASSERT_EQ(kinds.size(), 6u);
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    EXPECT_EQ(lines[i].rfind(kinds[i].name + " ", 0), 0u) << lines[i];
    EXPECT_NE(lines[i].find(kinds[i].description), std::string::npos) << lines[i];
  }
  EXPECT_EQ(dir.snapshot(), before);
}

TEST(ReportCli, WithoutANameIsAnError) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  const auto result = testing::run_in(dir, {"report"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("report: name a sweep"), std::string::npos) << result.err;
}

TEST(ReportCli, PlotsDrawsExactlyThoseIntoAFolderOfTheirOwn) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto result = testing::run_in(dir, {"report", "s", "--plots", "heatmap_batch", "--plots", "loss_curves"});
  ASSERT_EQ(result.code, 0) << result.err;
  const fs::path folder = dir.path() / "experiments/s/reports/plots-loss_curves,heatmap_batch";
  EXPECT_EQ(written(result.out), folder / "report.html") << result.out;
  EXPECT_FALSE(fs::exists(dir.path() / "experiments/s/report.html"));  // the plain report is not this one
  const std::string html = testing::read_file(folder / "report.html");
  expect_self_contained(html);
  EXPECT_NE(html.find("<figure id=\"loss_curves\">"), std::string::npos);
  EXPECT_NE(html.find("<figure id=\"heatmap_batch\">"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"#heatmap_batch\">"), std::string::npos);  // in the contents line
  for (const std::string other : {"heatmap_temperature", "loss_vs_samples", "steps_to_target"}) {
    EXPECT_EQ(html.find("id=\"" + other), std::string::npos) << other;
  }
  EXPECT_EQ(html.find("Figures not drawn"), std::string::npos);  // what was not asked for is not "missing"
  EXPECT_EQ(files_in(folder / "figures"),
            (std::set<std::string>{"heatmap_batch.gp", "heatmap_batch.svg", "loss_curves.gp", "loss_curves.svg",
                                   "loss_curves_train.gp", "loss_curves_train.svg"}));  // a 2-D grid: test, then train
  expect_whole_svgs(folder / "figures");
  // The same plots in another order, comma-separated: the same report.
  const auto again = testing::run_in(dir, {"report", "s", "--plots", "loss_curves,heatmap_batch"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(written(again.out), folder / "report.html");
  // Only the steps to the target: the heatmap's table of numbers goes with the heatmap.
  const auto target = testing::run_in(dir, {"report", "s", "--plots", "steps_to_target"});
  ASSERT_EQ(target.code, 0) << target.err;
  const std::string target_html = testing::read_file(written(target.out));
  EXPECT_EQ(target_html.find("<figure id=\"loss_curves\">"), std::string::npos);
  EXPECT_EQ(target_html.find("id=\"grid\""), std::string::npos);
}

TEST(ReportCli, AnUnknownPlotIsOneLineWithASuggestionAndWritesNothing) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto before = dir.snapshot();
  auto result = testing::run_in(dir, {"report", "s", "--plots", "loss_curves,heatmap_bach"});
  EXPECT_EQ(result.code, 2);
  EXPECT_EQ(result.err,
            "sweeplab: report: unknown plot 'heatmap_bach' (did you mean 'heatmap_batch'? see sweeplab report --list-plots)\n");
  EXPECT_EQ(result.out, "");
  result = testing::run_in(dir, {"report", "s", "--plots", "scatter"});  // nothing close: still where to look
  EXPECT_EQ(result.code, 2);
  EXPECT_EQ(result.err, "sweeplab: report: unknown plot 'scatter' (see sweeplab report --list-plots)\n");
  result = testing::run_in(dir, {"report", "s", "--plots", ","});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("--plots names no plot"), std::string::npos) << result.err;
  EXPECT_EQ(dir.snapshot(), before);
}

TEST(ReportCli, WhereOnAnUnknownKeySuggestsOneAndWritesNothing) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto before = dir.snapshot();
  const auto result = testing::run_in(dir, {"report", "s", "--where", "lrr=0.1"});
  EXPECT_EQ(result.code, 2);
  EXPECT_EQ(lines_of(result.err).size(), 1u) << result.err;
  EXPECT_NE(result.err.find("unknown key 'lrr' (did you mean 'optimizer.lr'?)"), std::string::npos) << result.err;
  EXPECT_EQ(dir.snapshot(), before);
}

TEST(ReportCli, WhereThatKeepsNoTrialSaysWhatThereIsAndWritesNothing) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto before = dir.snapshot();
  auto result = testing::run_in(dir, {"report", "s", "--where", "lr=0.3"});
  EXPECT_EQ(result.code, 2);
  EXPECT_EQ(result.err, "sweeplab: report: --where lr=0.3: no trial of sweep s matches (optimizer.lr is 0.01, 0.1)\n");
  // Two filters: the values there are of each key.
  result = testing::run_in(dir, {"report", "s", "--where", "lr=0.1", "--where", "batch_size=32"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("training.batch_size is 8, 16"), std::string::npos) << result.err;
  EXPECT_EQ(dir.snapshot(), before);
}

TEST(ReportCli, WhereDrawsOneConfigurationOverItsSeeds) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 200}\ntraining: {epochs: 2}\n"
                              "sweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.01, 0.1]}, seeds: 2}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q", "-j", "2"}).code, 0);
  const auto result = testing::run_in(dir, {"report", "s", "--where", "lr=0.1", "--where", "bs=8"});
  ASSERT_EQ(result.code, 0) << result.err;
  // The filters by their full keys, in a fixed order: --where bs=8 --where lr=0.1 is the same report.
  const fs::path folder = dir.path() / "experiments/s/reports/where-optimizer.lr=0.1+where-training.batch_size=8";
  EXPECT_EQ(written(result.out), folder / "report.html") << result.out;
  const std::string html = testing::read_file(folder / "report.html");
  expect_self_contained(html);
  const auto swapped = testing::run_in(dir, {"report", "s", "--where", "training.batch_size=8", "--where", "lr=0.1"});
  EXPECT_EQ(written(swapped.out), folder / "report.html") << swapped.out;
  EXPECT_NE(html.find("<figure id=\"loss_curves\">"), std::string::npos);
  EXPECT_NE(html.find("2 of 8 trials have lr=0.1, bs=8"), std::string::npos);
  // The table: the two seeds of that configuration, and no other trial.
  const std::string table = between(html, "<h2>Trials</h2>", "</table>");
  const auto header = header_of(table);
  const auto rows = rows_of(table);
  ASSERT_EQ(rows.size(), 2u) << table;
  const auto column = [&](const std::string& name) {
    return std::size_t(std::find(header.begin(), header.end(), name) - header.begin());
  };
  ASSERT_LT(column("training.batch_size"), header.size());
  ASSERT_LT(column("optimizer.lr"), header.size());
  ASSERT_LT(column("training.seed"), header.size());
  std::set<std::string> seeds;
  for (const auto& row : rows) {
    EXPECT_EQ(row[column("training.batch_size")], "8");
    EXPECT_EQ(row[column("optimizer.lr")], "0.1");
    seeds.insert(row[column("training.seed")]);
  }
  EXPECT_EQ(seeds.size(), 2u);
  // The grid of final losses: the one cell kept, the others marked as left out by the filters (they have trials).
  const std::string grid = between(html, "id=\"grid\"", "</table>");
  EXPECT_EQ(count(grid, "<td class=\"completed\""), 1u) << grid;
  EXPECT_EQ(count(grid, ">left out (--where)<"), 3u) << grid;
  EXPECT_EQ(grid.find("no trial"), std::string::npos) << grid;
  // One line (the mean over the seeds) in the curves, not one per configuration of the sweep.
  const std::string script = testing::read_file(folder / "figures/loss_curves.gp");
  EXPECT_FALSE(testing::datablock(script, "train0").empty()) << script;
  EXPECT_EQ(script.find("$train1"), std::string::npos) << script;
}

TEST(ReportCli, ReportsWithDifferentOverridesNeverOverwriteEachOther) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const fs::path plain = dir.path() / "experiments/s/report.html";
  const std::string plain_html = testing::read_file(plain);
  const auto three = testing::run_in(dir, {"report", "s", "-o", "epochs=3"});
  ASSERT_EQ(three.code, 0) << three.err;
  const auto five = testing::run_in(dir, {"report", "s", "-o", "training.epochs=5", "--plots", "loss_curves"});
  ASSERT_EQ(five.code, 0) << five.err;
  EXPECT_EQ(written(three.out), dir.path() / "experiments/s/reports/training.epochs=3/report.html") << three.out;
  EXPECT_EQ(written(five.out), dir.path() / "experiments/s/reports/training.epochs=5+plots-loss_curves/report.html")
      << five.out;
  // Each report is there with its own content; the plain one is as it was.
  EXPECT_EQ(testing::read_file(plain), plain_html);
  const std::string three_html = testing::read_file(written(three.out));
  const std::string five_html = testing::read_file(written(five.out));
  EXPECT_NE(three_html.find("<figure id=\"heatmap_batch\">"), std::string::npos);
  EXPECT_EQ(five_html.find("<figure id=\"heatmap_batch\">"), std::string::npos);
  EXPECT_NE(five_html.find("<figure id=\"loss_curves\">"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir.path() / "experiments/s/reports/training.epochs=3/figures/heatmap_batch.svg"));
  EXPECT_TRUE(fs::exists(dir.path() / "experiments/s/figures/heatmap_batch.svg"));
  // The leaf name and the full key are the same override: the same folder.
  const auto again = testing::run_in(dir, {"report", "s", "-o", "training.epochs=3"});
  EXPECT_EQ(written(again.out), written(three.out));
}

TEST(ReportCli, FolderNamesAreSafeAndDistinct) {
  const fs::path root = fs::path("exp") / "s";
  EXPECT_EQ(report_folder("exp", "s", {}), root.string());
  ReportChoices every_plot;
  for (const auto& kind : plot_kinds()) every_plot.plots.push_back(kind.name);
  EXPECT_EQ(report_folder("exp", "s", every_plot), root.string());  // every plot is the plain report
  ReportChoices choices;
  choices.overrides = {"epochs=30"};
  choices.where = {"training.seed=1", "optimizer.lr=0.1"};
  choices.plots = {"heatmap_batch", "loss_curves", "loss_curves"};
  choices.versus = "t";
  EXPECT_EQ(report_folder("exp", "s", choices),
            (root / "reports/vs-t+epochs=30+where-optimizer.lr=0.1+where-training.seed=1+plots-loss_curves,heatmap_batch")
                .string());
  // Characters a folder name should not have: replaced, and the name ends with a hash of the whole.
  ReportChoices odd, odder;
  odd.overrides = {"model.hidden=[8, 8]"};
  odder.overrides = {"model.hidden=[8,_8]"};
  const std::string odd_name = fs::path(report_folder("exp", "s", odd)).filename().string();
  EXPECT_EQ(odd_name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._=,+-"),
            std::string::npos) << odd_name;
  EXPECT_EQ(odd_name.rfind("model.hidden=_8,_8_-", 0), 0u) << odd_name;
  EXPECT_NE(report_folder("exp", "s", odd), report_folder("exp", "s", odder));
  // Long ones: cut, and still distinct.
  ReportChoices a, b;
  a.overrides = b.overrides = {"task.name=doughnuts", "task.samples=2000", "task.noise=0.5", "task.radii=[10,15]",
                                "optimizer.name=sgd", "optimizer.momentum=0.9", "model.activation=tanh"};
  a.overrides.push_back("training.epochs=30");
  b.overrides.push_back("training.epochs=31");
  const std::string long_a = fs::path(report_folder("exp", "s", a)).filename().string();
  const std::string long_b = fs::path(report_folder("exp", "s", b)).filename().string();
  EXPECT_LE(long_a.size(), 120u) << long_a;
  EXPECT_EQ(long_a.rfind("task.name=doughnuts+task.samples=2000+", 0), 0u) << long_a;  // it still reads
  EXPECT_NE(long_a, long_b);
  // A '+' inside a value cannot make two different sets of choices share a folder.
  ReportChoices forged, real;
  forged.overrides = {"description=x+where-training.batch_size=8"};
  forged.plots = {"heatmap_batch"};
  real.overrides = {"description=x"};
  real.where = {"training.batch_size=8"};
  real.plots = {"heatmap_batch"};
  EXPECT_NE(report_folder("exp", "s", forged), report_folder("exp", "s", real));
}

// A value the user wrote reaches the figures' scripts as text only: gnuplot runs a backquoted command inside a
// double-quoted string. Here a swept label column is named with one.
TEST(ReportCli, AValueWithABackquoteIsDrawnAsTextAndRunsNothing) {
  TempDir dir;
  const std::string marker = dir.str("PWNED");
  std::string csv = "x1,x2,label,`touch " + marker + "`\n";
  for (int i = 0; i < 40; ++i) csv += std::to_string(i % 7) + "," + std::to_string(i % 5) + "," + std::to_string(i % 2) + "," + std::to_string((i / 2) % 2) + "\n";
  dir.write("data.csv", csv);
  dir.write("configs/s.yaml", "task: {name: csv, path: " + dir.str("data.csv") + "}\ntraining: {batch_size: 4, epochs: 2}\n"
                              "sweep: {grid: {task.label_column: [label, \"`touch " + marker + "`\"], training.batch_size: [4, 8]}}\n");
  const auto run = testing::run_in(dir, {"run", "s", "-q"});
  ASSERT_EQ(run.code, 0) << run.err;
  const auto report = testing::run_in(dir, {"report", "s"});
  ASSERT_EQ(report.code, 0) << report.err;
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_EQ(report.out.find("gnuplot failed"), std::string::npos) << report.out;
  const std::string script = testing::read_file(dir.path() / "experiments/s/figures/loss_curves.gp");
  EXPECT_NE(script.find("\\`touch"), std::string::npos) << script;  // escaped wherever it is quoted
  // Running the kept script again (as its first line says to) runs nothing either.
  const std::string again = "cd " + dir.str("experiments/s/figures") + " && gnuplot loss_curves.gp > /dev/null 2>&1";
  EXPECT_EQ(std::system(again.c_str()), 0);
  EXPECT_FALSE(fs::exists(marker));
}

// With --where, a heatmap's blank cells are those the filter left out, and its title says which trials it shows.
TEST(ReportCli, AHeatmapUnderWhereSaysItsBlankCellsAreLeftOut) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto result = testing::run_in(dir, {"report", "s", "--where", "batch_size=8", "--plots", "heatmap_batch"});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::string html = testing::read_file(written(result.out));
  const std::string figure = between(html, "<figure id=\"heatmap_batch\">", "</figure>");
  EXPECT_NE(figure.find("(where batch_size=8)</h2>"), std::string::npos) << figure.substr(0, 300);
  EXPECT_NE(figure.find("A blank cell has no trial with batch_size=8 (left out by --where)"), std::string::npos);
  EXPECT_EQ(figure.find("A blank cell is not part of the sweep."), std::string::npos);
}

TEST(ReportCli, TwoSweepsSideBySide) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  dir.write("configs/t.yaml", "extends: s\ndescription: the same grid, wider\nmodel: {hidden: [32]}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "t", "-q"}).code, 0);
  const auto result = testing::run_in(dir, {"report", "s", "t"});
  ASSERT_EQ(result.code, 0) << result.err;
  const fs::path folder = dir.path() / "experiments/s/reports/vs-t";
  EXPECT_EQ(written(result.out), folder / "report.html") << result.out;
  const std::string html = testing::read_file(folder / "report.html");
  expect_self_contained(html);
  EXPECT_NE(html.find("<h2>s</h2>"), std::string::npos);
  EXPECT_NE(html.find("<h2>t</h2>"), std::string::npos);
  EXPECT_NE(html.find("a grid of batch size by learning rate"), std::string::npos);
  EXPECT_NE(html.find("the same grid, wider"), std::string::npos);
  // Each figure of s next to the same figure of t, each drawn into its sweep's folder.
  for (const std::string figure : {"loss_curves", "heatmap_batch", "heatmap_temperature", "loss_vs_samples"}) {
    const std::string row = between(html, "<section id=\"" + figure + "\">", "</section>");
    EXPECT_EQ(count(row, "<figure>"), 2u) << figure;
    EXPECT_EQ(count(row, "<svg"), 2u) << figure;
    EXPECT_TRUE(fs::exists(folder / "s" / (figure + ".svg"))) << figure;
    EXPECT_TRUE(fs::exists(folder / "t" / (figure + ".svg"))) << figure;
    EXPECT_NE(html.find("href=\"#" + figure + "\""), std::string::npos) << figure;  // in the contents
  }
  expect_whole_svgs(folder / "s");
  expect_whole_svgs(folder / "t");
  // The numbers behind the heatmaps side by side, each grid's table with an id of its own.
  EXPECT_NE(html.find("id=\"s-grid\""), std::string::npos);
  EXPECT_NE(html.find("id=\"t-grid\""), std::string::npos);
  // The tables one after the other, each with its own trials.
  const std::string s_table = between(html, "<h2>Trials of s</h2>", "</table>");
  const std::string t_table = between(html, "<h2>Trials of t</h2>", "</table>");
  EXPECT_EQ(rows_of(s_table).size(), 4u);
  EXPECT_EQ(rows_of(t_table).size(), 4u);
  EXPECT_LT(html.find("<h2>Trials of s</h2>"), html.find("<h2>Trials of t</h2>"));
  EXPECT_FALSE(fs::exists(dir.path() / "experiments/s/report.html"));
  EXPECT_FALSE(fs::exists(dir.path() / "experiments/t/reports"));
}

TEST(ReportCli, SideBySideNeedsTwoSweepsWithResults) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  dir.write("configs/u.yaml", kGrid);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  const auto before = dir.snapshot();
  for (const auto& names : std::vector<std::vector<std::string>>{{"s", "u"}, {"u", "s"}}) {
    const auto result = testing::run_in(dir, {"report", names[0], names[1]});
    EXPECT_EQ(result.code, 2);
    EXPECT_NE(result.err.find("report: no results for sweep 'u'"), std::string::npos) << result.err;
  }
  auto result = testing::run_in(dir, {"report", "s", "s"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("report: s is named twice"), std::string::npos) << result.err;
  result = testing::run_in(dir, {"report", "s", "u", "s"});
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("3 sweeps named"), std::string::npos) << result.err;
  EXPECT_EQ(dir.snapshot(), before);
}

// lr 10 on 100 wide inputs diverges: rows without a final loss, and a diverged_at_step column.
const std::string kDiverging =
    "task: {name: synthetic, samples: 200, features: 100}\nmodel: {hidden: [16]}\noptimizer: {name: sgd}\n"
    "training: {epochs: 2}\nsweep: {grid: {training.batch_size: [8, 16], optimizer.lr: [0.01, 0.1, 10]}}\n";

TEST(ReportCli, TheTableOfTrialsFitsThePageAndSortsInline) {
  TempDir dir;
  dir.write("configs/s.yaml", kDiverging);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q", "-j", "2"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  const std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  expect_self_contained(html);
  const std::string table = between(html, "<table class=\"trials\">", "</table>");
  // The swept values, the status and the key results; no targets here, so no steps to one; the rest is in export.
  EXPECT_EQ(header_of(table),
            (std::vector<std::string>{"trial_id", "training.batch_size", "optimizer.lr", "status", "temperature",
                                      "final_train_loss", "final_test_loss", "final_test_acc", "best_test_acc",
                                      "diverged_at_step"}));
  EXPECT_EQ(rows_of(table).size(), 6u);
  EXPECT_EQ(count(table, "<td class=\"diverged\">diverged</td>"), 2u) << table;
  EXPECT_NE(html.find("<code>sweeplab export s</code>"), std::string::npos);
  // The sort script, inline, once; the contents line links to the table.
  EXPECT_EQ(count(html, "<script>"), 1u);
  EXPECT_NE(html.find("querySelectorAll('table.trials')"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"#trials\">Trials</a>"), std::string::npos);
  EXPECT_NE(html.find("<section id=\"trials\">"), std::string::npos);

  // A table where every trial is completed and the sweep has one value of lr: no temperature column (it does not
  // vary), no diverged_at_step (empty in every row).
  TempDir plain;
  plain.write("configs/p.yaml", "task: {samples: 200}\ntraining: {epochs: 2}\nsweep: {grid: {model.hidden: [[8], [16]]}}\n");
  ASSERT_EQ(testing::run_in(plain, {"run", "p", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(plain, {"report", "p"}).code, 0);
  const std::string plain_html = testing::read_file(plain.path() / "experiments/p/report.html");
  const auto header = header_of(between(plain_html, "<h2>Trials</h2>", "</table>"));
  EXPECT_EQ(std::count(header.begin(), header.end(), "temperature"), 0) << join(header, " ");
  EXPECT_EQ(std::count(header.begin(), header.end(), "diverged_at_step"), 0);
  EXPECT_EQ(std::count(header.begin(), header.end(), "final_train_loss"), 1);
}

// Runs the page's script in a browser when one is installed: a click on a column sorts the rows by it, numbers as
// numbers, empty cells last; a second click, the other way (empty cells still last).
TEST(ReportCli, TheSortScriptSortsInABrowser) {
  if (std::system("command -v chromium > /dev/null 2>&1") != 0) GTEST_SKIP() << "chromium is not installed";
  TempDir dir;
  dir.write("configs/s.yaml", kDiverging);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q", "-j", "2"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  std::string html = testing::read_file(dir.path() / "experiments/s/report.html");
  const auto header = header_of(between(html, "<table class=\"trials\">", "</table>"));
  const auto loss = std::size_t(std::find(header.begin(), header.end(), "final_train_loss") - header.begin());
  ASSERT_LT(loss, header.size());
  for (const std::string clicks : {"1", "2"}) {
    std::string page = html;
    page.insert(page.rfind("</body>"), "<script>var h = document.querySelectorAll('table.trials th');for (var i = 0; i < " +
                                           clicks + "; ++i) h[" + std::to_string(loss) + "].click();</script>");
    dir.write("click.html", page);
    const std::string command = "cd " + dir.str() + " && timeout 60 chromium --headless --no-sandbox --disable-gpu "
                                "--dump-dom click.html > dom.html 2> /dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0);
    const std::string dom = testing::read_file(dir.path() / "dom.html");
    const std::string table = between(dom, "<table class=\"trials\">", "</table>");
    EXPECT_NE(table.find(clicks == "1" ? "class=\"ascending\"" : "class=\"descending\""), std::string::npos);
    const auto rows = rows_of(table);
    ASSERT_EQ(rows.size(), 6u) << dom.substr(0, 2000);
    std::vector<double> losses;
    std::size_t empty = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (rows[i][loss].empty()) {
        ++empty;
        continue;
      }
      EXPECT_EQ(empty, 0u) << "a number after an empty cell, row " << i;
      losses.push_back(std::stod(rows[i][loss]));
    }
    EXPECT_EQ(empty, 2u);  // the diverged trials
    ASSERT_EQ(losses.size(), 4u);
    if (clicks == "1") {
      EXPECT_TRUE(std::is_sorted(losses.begin(), losses.end()));
    } else {
      EXPECT_TRUE(std::is_sorted(losses.rbegin(), losses.rend()));
    }
  }
}

// ---- completion --------------------------------------------------------------------------------------

TEST(ReportCli, BashCompletesPlotsWhereKeysAndTwoSweeps) {
  TempDir dir;
  dir.write("configs/alpha.yaml", "task: {samples: 100}\n");
  dir.write("configs/beta.yaml", "task: {samples: 100}\n");
  const auto list = testing::run_in(dir, {"completion", "--list", "plots"});
  ASSERT_EQ(list.code, 0) << list.err;
  std::vector<std::string> names;
  for (const auto& kind : plot_kinds()) names.push_back(kind.name);
  EXPECT_EQ(lines_of(list.out), names);
  dir.write("completion.bash", testing::run_in(dir, {"completion", "bash"}).out);
  dir.write("try.sh", "source ./completion.bash\n"
                      "t() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _sweeplab;"
                      " echo \"${COMPREPLY[*]}\"; }\n"
                      "P=" SWEEPLAB_BINARY "\n"
                      "t $P report alpha --plots heat\n"
                      "t $P report alpha --plots loss_curves,heat\n"
                      "t $P report alpha --plots loss_curves --where optimizer.l\n"
                      "t $P report alpha --li\n"
                      "t $P report alpha b\n"
                      "t $P report alpha --plots steps_to_target b\n");
  ASSERT_EQ(std::system(("cd " + dir.str() + " && bash --norc --noprofile try.sh > out.txt 2> err.txt").c_str()), 0)
      << testing::read_file(dir.path() / "err.txt");
  EXPECT_EQ(lines_of(testing::read_file(dir.path() / "out.txt")),
            (std::vector<std::string>{"heatmap_batch heatmap_temperature",
                                      "loss_curves,heatmap_batch loss_curves,heatmap_temperature", "optimizer.lr=",
                                      "--list-plots", "beta", "beta"}));
  const std::string zsh = testing::run_in(dir, {"completion", "zsh"}).out;
  EXPECT_NE(zsh.find("completion --list plots"), std::string::npos);
  EXPECT_NE(zsh.find("-o|--override|--where)"), std::string::npos);
  if (std::system("command -v zsh > /dev/null 2>&1") != 0) GTEST_SKIP() << "zsh is not installed: its script was checked as text only";
  // compadd replaced by a function printing what zsh would offer: each match after its -p prefix, if it fits the word.
  dir.write("completion.zsh", zsh);
  dir.write("try.zsh", "compdef() { :; }\nsource ./completion.zsh\n"
                       "compadd() { local p=''; while [[ $1 == -* && $1 != -- ]]; do case $1 in -S) shift ;; -p) p=$2; shift ;; esac;"
                       " shift; done; [[ $1 == -- ]] && shift; local -a w; local x;"
                       " for x in \"$@\"; do [[ $p$x == ${cur}* ]] && w+=($p$x); done; echo \"$w\"; }\n"
                       "t() { words=(\"$@\"); CURRENT=$#; _sweeplab; }\n"
                       "P=" SWEEPLAB_BINARY "\n"
                       "t $P report alpha --plots heat\nt $P report alpha --plots loss_curves,heat\n"
                       "t $P report alpha --where optimizer.l\nt $P report alpha b\n");
  ASSERT_EQ(std::system(("cd " + dir.str() + " && zsh -f try.zsh > out.txt 2> err.txt").c_str()), 0)
      << testing::read_file(dir.path() / "err.txt");
  EXPECT_EQ(lines_of(testing::read_file(dir.path() / "out.txt")),
            (std::vector<std::string>{"heatmap_batch heatmap_temperature",
                                      "loss_curves,heatmap_batch loss_curves,heatmap_temperature", "optimizer.lr", "beta"}));
}

// --format pdf: each figure as a PDF too, beside its SVG, drawn from the same script; a later report without it
// leaves no PDF that no longer matches its SVG. An unknown format is one line and exit 2.
TEST(ReportCli, FormatPdfWritesAPdfBesideEachSvg) {
  TempDir dir;
  dir.write("configs/s.yaml", kGrid);
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  testing::expect_usage_error(dir, {"report", "s", "--format", "png"}, {"--format png: unknown format", "svg", "pdf"});
  const auto result = testing::run_in(dir, {"report", "s", "--format", "pdf"});
  ASSERT_EQ(result.code, 0) << result.err;
  const fs::path figures = dir.path() / "experiments/s/figures";
  std::size_t svgs = 0;
  for (const auto& name : files_in(figures)) {
    if (fs::path(name).extension() != ".svg") continue;
    ++svgs;
    const fs::path pdf = figures / fs::path(name).replace_extension(".pdf");
    ASSERT_TRUE(fs::exists(pdf)) << pdf;
    EXPECT_EQ(testing::read_file(pdf).rfind("%PDF-", 0), 0u) << pdf;
    EXPECT_GT(fs::file_size(pdf), 1000u) << pdf;
  }
  EXPECT_GE(svgs, 4u);
  EXPECT_NE(result.out.find(std::to_string(svgs) + " PDFs beside the SVGs"), std::string::npos) << result.out;
  for (const auto& name : files_in(figures)) {  // no temporary left: a name with .pdf in it ends with it
    if (name.find(".pdf") != std::string::npos) {
      EXPECT_EQ(name.find(".pdf"), name.size() - 4) << name;
    }
  }
  ASSERT_EQ(testing::run_in(dir, {"report", "s"}).code, 0);
  for (const auto& name : files_in(figures)) EXPECT_NE(fs::path(name).extension(), ".pdf") << name;
}

// More figures of one plot than a page is read for: the first 12 are drawn, the rest summed up in one line that says
// how to draw them.
TEST(ReportCli, ManyFiguresOfOnePlotAreCutWithALineThatSaysHowToDrawThem) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 60}\ntraining: {epochs: 1}\n"
                              "sweep: {grid: {model.hidden: [[2], [3], [4], [5], [6], [7], [8], [9], [10], [11], [12], [13], [14], [15]], "
                              "training.batch_size: [8, 16], optimizer.lr: [0.01, 0.1]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q", "-j", "2"}).code, 0);
  const auto result = testing::run_in(dir, {"report", "s", "--plots", "heatmap_batch"});
  ASSERT_EQ(result.code, 0) << result.err;
  const fs::path folder = dir.path() / "experiments/s/reports/plots-heatmap_batch";
  std::size_t drawn = 0;
  for (const auto& name : files_in(folder / "figures")) drawn += fs::path(name).extension() == ".svg";
  EXPECT_EQ(drawn, 12u);
  EXPECT_NE(result.out.find("2 more figures of heatmap_batch: only the first 12 are drawn"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("--where"), std::string::npos) << result.out;
  // With --where picking one hidden size, its figure is drawn.
  const auto one = testing::run_in(dir, {"report", "s", "--plots", "heatmap_batch", "--where", "hidden=[15]"});
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(one.out.find("more figures"), std::string::npos) << one.out;
}

// Accuracy curves carry the target as a dashed line; a key whose values are names (the task) is coloured from a
// qualitative palette, one that is a number (the batch size) from a sequential one.
TEST(ReportCli, CurvesShowTheTargetAndCategoricalColours) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {name: doughnuts, samples: 200}\ntraining: {epochs: 2}\ntargets: ['test_acc >= 0.75']\n"
                              "sweep: {grid: {task.name: [doughnuts, synthetic], optimizer.lr: [0.01, 0.1]}}\n");
  ASSERT_EQ(testing::run_in(dir, {"run", "s", "-q"}).code, 0);
  ASSERT_EQ(testing::run_in(dir, {"report", "s", "--plots", "loss_curves"}).code, 0);
  const fs::path figures = dir.path() / "experiments/s/reports/plots-loss_curves/figures";
  const std::string test = testing::read_file(figures / "loss_curves.gp");
  EXPECT_EQ(count(test, "first 0.75 to graph 1, first 0.75 nohead dt 2"), 2u) << test;  // each panel (per lr)
  EXPECT_EQ(testing::read_file(figures / "loss_curves_train.gp").find("nohead dt 2"), std::string::npos);  // train accuracy: no target
  EXPECT_NE(test.find("lc rgb '#0072b2' title \"doughnuts\""), std::string::npos) << test;
  EXPECT_NE(test.find("lc rgb '#d55e00' title \"synthetic\""), std::string::npos) << test;
  const std::string html = testing::read_file(dir.path() / "experiments/s/reports/plots-loss_curves/report.html");
  EXPECT_NE(html.find("Dashed red line: the target (test_acc &gt;= 0.75)"), std::string::npos);
}

}  // namespace
}  // namespace sweeplab
