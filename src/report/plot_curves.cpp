// Curves over training: loss_curves (accuracy or loss against epoch or step) and loss_vs_samples.
#include <cmath>
#include <set>

#include "figure.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"

namespace sweeplab::report_detail {
namespace {

// 1. Train and test accuracy (loss for regression) against epoch or step, one line per setting.
Figure curves_figure(const ResolvedSweep& sweep, const std::vector<Group>& groups) {
  const auto& base = sweep.spec.base;
  const bool classification = is_classification_task(base.task.name);
  const bool in_steps = base.training.steps > 0;
  const XAxis x_axis = in_steps ? XAxis::Step : XAxis::Epoch;
  const std::string what = classification ? "accuracy" : "loss";
  Figure figure{"loss_curves.svg", "Train and test " + what + " vs " + (in_steps ? "step" : "epoch"), "", "", "", ""};
  std::string data, train_plot, test_plot;
  int drawn = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto train = mean_curve(groups[g], classification ? "train_acc" : "train_loss", x_axis);
    const auto test = mean_curve(groups[g], classification ? "test_acc" : "test_loss", x_axis);
    if (train.empty()) continue;
    ++drawn;
    const std::string color = "lc " + std::to_string(g % 8 + 1);
    const bool band = groups[g].trials.size() > 1;
    data += datablock("train" + std::to_string(g), train);
    if (!test.empty()) data += datablock("test" + std::to_string(g), test);
    for (const auto& [prefix, plot] : {std::pair<std::string, std::string*>{"train", &train_plot}, {"test", &test_plot}}) {
      if (prefix == "test" && test.empty()) continue;
      const std::string block = "$" + prefix + std::to_string(g);
      if (!plot->empty()) *plot += ", ";
      if (band) *plot += block + " using 1:($2-$3):($2+$3) with filledcurves fs transparent solid 0.2 noborder " + color + " notitle, ";
      *plot += block + " using 1:2 with lines lw 2 " + color + " title " + gp_quote(groups[g].label);
    }
  }
  if (drawn == 0) {
    figure.why_not = "no trial has an evaluation yet";
    return figure;
  }
  const std::string axis = classification ? "set yrange [*:1.0]\n" : "set logscale y\n";
  // A few settings: the key inside the train panel; many: one key to the right of the test panel.
  const bool many = drawn > 8;
  const std::string inside = classification ? "set key top left font ',9'\n" : "set key top right font ',9'\n";
  const std::string x_label = std::string("set xlabel '") + (in_steps ? "step" : "epoch") + "'\nset ylabel '" + what + "'\n";
  figure.script = data + (test_plot.empty() ? "" : "set multiplot layout 1,2\n") + axis + (many ? "unset key\n" : inside) +
                  x_label + "set title 'train " + what + " (mean over the batches since the last evaluation)'\nplot " +
                  train_plot + "\n";
  if (!test_plot.empty()) {
    figure.script += "set title 'test " + what + "'\n" + (many ? "set key outside right font ',8'\n" : "unset key\n") +
                     "plot " + test_plot + "\nunset multiplot\n";
  }
  figure.caption = several_seeds(groups) ? "One line per setting: the mean over its seeds that have an evaluation at that "
                                           "point, with a band of one standard error."
                   : drawn > 1           ? "One line per trial."
                                         : "One trial.";
  figure.caption += drawn_notes(groups);
  return figure;
}

// 3. Train loss against samples seen, one line per setting, coloured by the temperature eta/B.
Figure temperature_curves_figure(const std::vector<Group>& groups) {
  Figure figure{"loss_vs_samples.svg", "Train loss vs samples seen, by temperature eta/B", "", "", "", ""};
  std::set<double> temperatures;
  for (const auto& group : groups) {
    const auto& config = group.trials.front()->spec.config;
    temperatures.insert(config.optimizer.lr / double(config.training.batch_size));
  }
  if (temperatures.size() < 2) {
    figure.why_not = "every trial has the same temperature eta/B (vary training.batch_size or optimizer.lr)";
    return figure;
  }
  std::string data, plot;
  const std::string cbrange = "set cbrange [" + num(std::log2(*temperatures.begin())) + ":" +
                              num(std::log2(*temperatures.rbegin())) + "]\n";
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto points = mean_curve(groups[g], "train_loss", XAxis::Samples);
    if (points.empty()) continue;
    const auto& config = groups[g].trials.front()->spec.config;
    const double t = std::log2(config.optimizer.lr / double(config.training.batch_size));
    data += datablock("g" + std::to_string(g), points);
    plot += std::string(plot.empty() ? "" : ", ") + "$g" + std::to_string(g) + " using 1:2 with lines lw 2 lc palette cb " +
            num(t) + " title " + gp_quote(groups[g].label);
  }
  if (plot.empty()) {
    figure.why_not = "no trial has an evaluation yet";
    return figure;
  }
  figure.script = data + cbrange + "set logscale xy\nset xlabel 'samples seen'\nset ylabel 'train loss'\n"
                                   "set cblabel 'log2 temperature (lr / batch size)'\nset palette rgb 33,13,10\n"
                                   "set key outside right font ',8'\nset title 'train loss vs samples seen'\nplot " + plot + "\n";
  figure.caption = std::string(several_seeds(groups) ? "One line per setting (the mean over its seeds)" : "One line per trial") +
                   "; lines of equal colour share the temperature eta/B." + drawn_notes(groups);
  return figure;
}

}  // namespace

std::vector<Figure> loss_curves(const ReportData& data) { return {curves_figure(data.sweep, data.groups)}; }

std::vector<Figure> loss_vs_samples(const ReportData& data) { return {temperature_curves_figure(data.groups)}; }

}  // namespace sweeplab::report_detail
