// steps_to_target: steps and samples to the sweep's first target against batch size, with McCandlish et al.'s fit.
#include <cmath>
#include <set>

#include "figure.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"

namespace sweeplab::report_detail {
namespace {

// 4. Steps and samples to the first target against batch size, with McCandlish et al.'s fit.
Figure target_figure(const ResolvedSweep& sweep, const std::vector<TrialState>& results, std::string& fit_text) {
  const auto& targets = sweep.spec.base.targets;
  Figure figure{"steps_to_target.svg", "Steps and samples to target vs batch size", "", "", "", ""};
  if (targets.empty()) {
    figure.why_not = "the sweep has no targets (add e.g. targets: ['test_acc >= 0.99'])";
    return figure;
  }
  const std::string& target = targets.front();
  figure.title = "Steps and samples to '" + target + "' vs batch size";
  if (!swept(sweep.spec, "training.batch_size")) {
    figure.why_not = "the sweep does not vary training.batch_size";
    return figure;
  }
  // Per batch size and other setting: the steps and samples of the seeds that reached the target, and how
  // many seeds there are.
  struct Setting {
    std::vector<double> steps, samples;
    int seeds = 0;
  };
  std::map<std::int64_t, std::map<std::string, Setting>> settings;
  bool other_settings = false, several = false;
  for (const auto& data : results) {
    std::string name;
    for (const auto& [key, value] : data.spec.swept) {
      if (key != "training.seed" && key != "training.batch_size") name += key + "=" + to_text(value) + ";";
    }
    other_settings = other_settings || !name.empty();
    auto& setting = settings[data.spec.config.training.batch_size][name];
    several = several || ++setting.seeds > 1;
    if (!data.summary) continue;
    for (const auto& result : data.summary->targets) {
      if (result.target != target || !result.reached) continue;
      setting.steps.push_back(double(result.step));
      setting.samples.push_back(double(result.samples));
    }
  }
  // The fewest mean steps over the other settings (the best learning rate).
  std::vector<double> batch_sizes, best_steps;
  std::vector<std::string> not_reached;
  std::string points = "$points << EOD\n";
  for (const auto& [batch, by_setting] : settings) {
    const Setting* best = nullptr;
    double best_mean = INFINITY;
    for (const auto& [name, setting] : by_setting) {
      if (setting.steps.empty()) continue;
      const double mean = mean_stderr(setting.steps).mean;
      if (mean < best_mean) {
        best_mean = mean;
        best = &setting;
      }
    }
    if (!best) {
      not_reached.push_back(std::to_string(batch));
      continue;
    }
    const auto steps = mean_stderr(best->steps), samples = mean_stderr(best->samples);
    batch_sizes.push_back(double(batch));
    best_steps.push_back(steps.mean);
    points += num(double(batch)) + " " + num(steps.mean) + " " + num(steps.stderr_.value_or(0.0)) + " " + num(samples.mean) +
              " " + num(samples.stderr_.value_or(0.0)) + "\n";
  }
  points += "EOD\n";
  if (batch_sizes.size() < 2) {
    figure.why_not = "fewer than 2 batch sizes reached the target '" + target + "'";
    return figure;
  }
  const auto fit = fit_noise_scale(batch_sizes, best_steps);
  std::string fit_plot, fit_plot_samples;
  if (fit) {
    // A fitted estimate, not data: rounded for reading.
    fit_text = "Fit for '" + target + "': S_min \u2248 " + format_double_short(fit->s_min, 4) + " steps, E_min \u2248 " +
               format_double_short(fit->e_min, 4) + " samples, B_noise \u2248 " + format_double_short(fit->b_noise, 4) + ".";
    fit_plot = ", " + num(fit->s_min) + "*(1+" + num(fit->b_noise) + "/x) with lines dt 2 lw 2 lc rgb '#b2182b' title " +
               gp_quote("S_min (1 + B_noise / B)");
    fit_plot_samples = ", " + num(fit->e_min) + "*(1+x/" + num(fit->b_noise) + ") with lines dt 2 lw 2 lc rgb '#b2182b' title " +
                       gp_quote("E_min (1 + B / B_noise)");
  } else {
    fit_text = "No fit for '" + target + "': the steps do not fall with batch size as S_min (1 + B_noise/B) needs.";
  }
  figure.script = points + "set multiplot layout 1,2\nset logscale xy\nset xlabel 'batch size'\nset key top center font ',9'\n"
                           "set ylabel 'steps to target'\nset title " + gp_quote("steps to " + target) + "\n"
                           "plot $points using 1:2:3 with yerrorbars pt 7 ps 1.2 lc rgb '#2166ac' title 'measured'" + fit_plot + "\n"
                           "set ylabel 'samples to target'\nset title " + gp_quote("samples to " + target) + "\n"
                           "plot $points using 1:4:5 with yerrorbars pt 7 ps 1.2 lc rgb '#2166ac' title 'measured'" +
                           fit_plot_samples + "\nunset multiplot\n";
  figure.caption = std::string(several ? "The mean over the seeds that reached the target (not over all seeds), with one "
                                         "standard error. "
                                       : "") +
                   (other_settings ? "Per batch size, the setting (e.g. learning rate) that reached it in the fewest steps. " : "") +
                   (not_reached.empty() ? "" : "No trial of batch size " + join(not_reached, ", ") + " reached it. ") + fit_text;
  return figure;
}

}  // namespace

std::vector<Figure> steps_to_target(const ReportData& data) {
  std::string fit_text;
  return {target_figure(data.sweep, data.results, fit_text)};
}

}  // namespace sweeplab::report_detail
