// steps_to_target: steps and samples to the sweep's first target against batch size, with McCandlish et al.'s
// critical-batch-size fit where it means something.
//
// S(B) = S_min (1 + B_noise / B) describes the steps to a target at the best learning rate for each batch size
// (or one scaled with it). At one fixed learning rate the steps say more about that learning rate than about the
// batch size, so the fit is drawn only when the learning rate was tuned per batch size (optimizer.lr or
// optimizer.temperature swept) or scaled with it (a fixed optimizer.temperature: lr = temperature x B). Its band
// comes from the seeds: a bootstrap over each batch size's seeds, refitted.
#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "figure.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/report/results.hpp"

namespace sweeplab::report_detail {
namespace {

// The seeds of one (batch size, learning rate) setting: the steps and samples of those that reached the target.
struct Setting {
  double lr = 0;  // the learning rate, or the temperature when that is what was swept
  std::vector<double> steps, samples;
  std::vector<double> noise_scales;  // metrics.noise_scale at the evaluation where a seed reached the target
  int seeds = 0;
};


// A fitted estimate, not data: rounded for reading.
std::string rounded(double value) { return format_double_short(value, 3); }
// A number of the fit's curves in the script: 4 significant digits are more than a figure can show.
double format_short(double value) { return std::stod(format_double_short(value, 4)); }

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const double at = p * double(values.size() - 1);
  const auto below = std::size_t(std::floor(at));
  const auto above = std::min(below + 1, values.size() - 1);
  return values[below] + (at - double(below)) * (values[above] - values[below]);
}

double median(std::vector<double> values) { return percentile(std::move(values), 0.5); }

// The fit's band from the seeds: each batch size's reached seeds resampled with replacement (a fixed RNG seed, so
// the report is the same every time), the means refitted; the 16th to 84th percentile of S(B) on `grid`.
struct Band {
  std::vector<double> s_low, s_high;
  double b_noise_low = 0, b_noise_high = 0;
  int resamples = 0, failed = 0;
};
constexpr int kResamples = 1000;

Band bootstrap(const std::vector<double>& batch_sizes, const std::vector<std::vector<double>>& seeds_steps,
               const std::vector<double>& grid) {
  std::mt19937_64 rng(20180614);  // McCandlish et al., arXiv:1812.06162
  std::vector<std::vector<double>> s_at(grid.size());
  std::vector<double> b_noise;
  Band band;
  band.resamples = kResamples;
  std::vector<double> means(batch_sizes.size());
  for (int r = 0; r < kResamples; ++r) {
    for (std::size_t b = 0; b < batch_sizes.size(); ++b) {
      const auto& steps = seeds_steps[b];
      std::uniform_int_distribution<std::size_t> pick(0, steps.size() - 1);
      double sum = 0;
      for (std::size_t i = 0; i < steps.size(); ++i) sum += steps[pick(rng)];
      means[b] = sum / double(steps.size());
    }
    const auto fit = fit_noise_scale(batch_sizes, means);
    if (!fit) {
      ++band.failed;
      continue;
    }
    b_noise.push_back(fit->b_noise);
    for (std::size_t i = 0; i < grid.size(); ++i) s_at[i].push_back(fit->s_min * (1 + fit->b_noise / grid[i]));
  }
  if (b_noise.empty()) return band;
  band.b_noise_low = percentile(b_noise, 0.16);
  band.b_noise_high = percentile(b_noise, 0.84);
  for (const auto& values : s_at) {
    band.s_low.push_back(percentile(values, 0.16));
    band.s_high.push_back(percentile(values, 0.84));
  }
  return band;
}

// How the learning rate relates to the batch size in a set of trials.
struct Tuning {
  enum Kind { Tuned, Scaled, Fixed, Other } kind = Other;
  std::string key;    // optimizer.lr or optimizer.temperature: what was swept (Tuned)
  std::string value;  // the fixed learning rate (Fixed) or temperature (Scaled)
};

Tuning tuning_of(const std::vector<const TrialState*>& trials) {
  std::map<std::int64_t, std::set<double>> lrs, temperatures;
  std::set<double> all_lrs, all_temperatures;
  for (const auto* trial : trials) {
    const auto& optimizer = trial->config.expand().optimizer;
    const auto batch = trial->config.expand().training.batch_size;
    lrs[batch].insert(optimizer.lr);
    temperatures[batch].insert(optimizer.temperature);
    all_lrs.insert(optimizer.lr);
    all_temperatures.insert(optimizer.temperature);
  }
  Tuning tuning;
  for (const auto& [batch, values] : temperatures) {
    if (values.size() > 1 && *values.begin() > 0) tuning = {Tuning::Tuned, "optimizer.temperature", ""};
  }
  if (tuning.kind == Tuning::Tuned) return tuning;
  for (const auto& [batch, values] : lrs) {
    if (values.size() > 1) return {Tuning::Tuned, "optimizer.lr", ""};
  }
  if (all_temperatures.size() == 1 && *all_temperatures.begin() > 0) {
    return {Tuning::Scaled, "optimizer.temperature", format_double(*all_temperatures.begin())};
  }
  if (all_lrs.size() == 1) return {Tuning::Fixed, "optimizer.lr", format_double(*all_lrs.begin())};
  return tuning;
}

// 4. Steps and samples to the first target against batch size, for the trials of one facet.
Figure target_figure(const ReportData& report, const std::vector<const TrialState*>& trials, const std::string& facet,
                     std::size_t number) {
  const SweepSpec& spec = report.spec;
  const std::string& target = spec.base.targets.front();
  const std::string suffix = number == 0 ? "" : "_" + std::to_string(number + 1);
  Figure figure{"steps_to_target" + suffix + ".svg",
                "Steps and samples to '" + target + "' vs batch size" + (facet.empty() ? "" : " (" + facet + ")") +
                    (report.where.empty() ? "" : " (where " + report.where + ")"),
                "", "", "", ""};
  const Tuning tuning = tuning_of(trials);
  const bool by_temperature = tuning.key == "optimizer.temperature" && tuning.kind == Tuning::Tuned;
  std::map<std::int64_t, std::map<double, Setting>> settings;  // batch size -> learning rate -> seeds
  bool several = false;
  int unfinished = 0;  // trials not settled yet (or skipped): no seed of a point until they end
  for (const auto* data : trials) {
    if (!settled(data->status) || data->status == TrialStatus::Skipped) {
      unfinished += data->status != TrialStatus::Skipped;
      continue;
    }
    const auto& config = data->config.expand();
    const double lr = by_temperature ? config.optimizer.temperature : config.optimizer.lr;
    auto& setting = settings[config.training.batch_size][lr];
    setting.lr = lr;
    several = ++setting.seeds > 1 || several;
    if (!data->summary) continue;
    for (const auto& result : data->summary->targets) {
      if (result.target != target || !result.reached) continue;
      setting.steps.push_back(double(result.step));
      setting.samples.push_back(double(result.samples));
      for (const auto& record : data->metrics) {
        if (record.step == result.step && record.noise_scale && *record.noise_scale > 0) setting.noise_scales.push_back(*record.noise_scale);
      }
    }
  }
  const std::string lr_name = by_temperature ? "temperature" : "learning rate";
  // Per batch size, the learning rate to show: the fewest mean steps among those where at least half the seeds
  // reached the target (a lucky seed alone does not choose it); else the one where the most seeds reached it.
  std::vector<double> batch_sizes, best_steps;
  std::vector<std::vector<double>> best_seeds;
  std::vector<std::string> not_reached, reached_counts, at_edge, single_seed;
  std::string points = "# batch size, steps to target (mean, stderr), samples (mean, stderr), learning rate, seeds "
                       "that reached it, seeds\n$points << EOD\n";
  std::string tried = "# the other learning rates: batch size, mean steps, mean samples, learning rate\n$tried << EOD\n";
  bool any_tried = false, any_band = false;
  std::vector<double> step_values, sample_values;  // everything drawn, for the y ranges
  std::vector<double> measured_noise;  // B_simple where the chosen settings' seeds reached the target
  for (const auto& [batch, by_lr] : settings) {
    const Setting* best = nullptr;
    auto better = [](const Setting& a, const Setting* b) {
      if (!b) return true;
      const bool a_half = 2 * a.steps.size() >= std::size_t(a.seeds), b_half = 2 * b->steps.size() >= std::size_t(b->seeds);
      if (a_half != b_half) return a_half;
      if (!a_half && a.steps.size() != b->steps.size()) return a.steps.size() > b->steps.size();
      return mean_stderr(a.steps).mean < mean_stderr(b->steps).mean;
    };
    for (const auto& [lr, setting] : by_lr) {
      if (!setting.steps.empty() && better(setting, best)) best = &setting;
    }
    if (!best) {
      not_reached.push_back(std::to_string(batch));
      continue;
    }
    for (const auto& [lr, setting] : by_lr) {
      if (&setting == best || setting.steps.empty()) continue;
      any_tried = true;
      tried += num(double(batch)) + " " + num(mean_stderr(setting.steps).mean) + " " + num(mean_stderr(setting.samples).mean) +
               " " + num(lr) + "\n";
      step_values.push_back(mean_stderr(setting.steps).mean);
      sample_values.push_back(mean_stderr(setting.samples).mean);
    }
    const auto steps = mean_stderr(best->steps), samples = mean_stderr(best->samples);
    measured_noise.insert(measured_noise.end(), best->noise_scales.begin(), best->noise_scales.end());
    batch_sizes.push_back(double(batch));
    best_steps.push_back(steps.mean);
    best_seeds.push_back(best->steps);
    any_band = any_band || best->steps.size() > 1;
    for (double sign : {-1.0, 0.0, 1.0}) {
      step_values.push_back(steps.mean + sign * steps.stderr_.value_or(0.0));
      sample_values.push_back(samples.mean + sign * samples.stderr_.value_or(0.0));
    }
    if (best->steps.size() == 1) single_seed.push_back(std::to_string(batch));
    points += num(double(batch)) + " " + num(steps.mean) + " " + num(steps.stderr_.value_or(0.0)) + " " + num(samples.mean) +
              " " + num(samples.stderr_.value_or(0.0)) + " " + num(best->lr) + " " + std::to_string(best->steps.size()) + " " +
              std::to_string(best->seeds) + "\n";
    reached_counts.push_back("B=" + std::to_string(batch) + ": " + std::to_string(best->steps.size()) + " of " +
                             std::to_string(best->seeds) +
                             (tuning.kind == Tuning::Tuned ? " (" + lr_name + " " + format_double(best->lr) + ")" : ""));
    if (tuning.kind == Tuning::Tuned) {
      if (by_lr.size() < 2) at_edge.push_back("B=" + std::to_string(batch) + " (only one " + lr_name + " tried)");
      else if (best->lr == by_lr.begin()->first) at_edge.push_back("B=" + std::to_string(batch) + " (the smallest, " + format_double(best->lr) + ")");
      else if (best->lr == by_lr.rbegin()->first) at_edge.push_back("B=" + std::to_string(batch) + " (the largest, " + format_double(best->lr) + ")");
    }
  }
  points += "EOD\n";
  tried += "EOD\n";
  if (batch_sizes.size() < 2) {
    figure.why_not = batch_sizes.empty() ? "no trial reached the target '" + target + "'"
                                         : "only batch size " + std::to_string(std::llround(batch_sizes.front())) + " reached the target '" +
                                               target + "' (a curve over batch size needs at least 2)";
    return figure;
  }

  // The caption, in the order a reader asks: what a point is, which learning rate, how many seeds, the fit.
  std::string caption = std::string(several ? "Each point: the mean over the seeds that reached the target (not over all "
                                              "seeds), with one standard error. "
                                            : "Each point: one trial. ") +
                        "Steps are counted at the first evaluation that met the target. ";
  std::string no_fit;  // why there is no fit, in a few words for the figure itself
  switch (tuning.kind) {
    case Tuning::Tuned:
      caption += "The " + lr_name + " was tuned per batch size: each point is the " + lr_name +
                 " with the fewest mean steps among those where at least half the seeds reached the target (if none, the one "
                 "where the most seeds reached it)" +
                 (any_tried ? " (grey: the other " + lr_name + "s that reached it)" : "") + ". ";
      break;
    case Tuning::Scaled:
      caption += "The learning rate scales with batch size (optimizer.temperature " + tuning.value +
                 ": learning rate = temperature x batch size). ";
      break;
    case Tuning::Fixed:
      no_fit = "no fit: the learning rate is fixed at " + tuning.value;
      caption += "No critical-batch-size fit: the learning rate is the same " + tuning.value +
                 " for every batch size; steps to target at a fixed learning rate are not the optimum per batch size, so "
                 "a critical-batch-size fit would mislead (sweep optimizer.lr, or optimizer.temperature, per batch size). ";
      break;
    case Tuning::Other:
      no_fit = "no fit: the learning rate was neither tuned nor scaled with batch size";
      caption += "No critical-batch-size fit: the learning rate differs between batch sizes, but it was neither tuned per "
                 "batch size (several values each) nor scaled with it (optimizer.temperature), so a fit would mislead. ";
      break;
  }
  if (!at_edge.empty()) {
    caption += "Tuning not done: the best " + lr_name + " sits at the edge of the swept range for " + join(at_edge, ", ") +
               "; the optimum may lie beyond it, so the steps there may be overestimated. ";
  }
  caption += "Seeds that reached it" + std::string(tuning.kind == Tuning::Tuned ? " at the chosen " + lr_name : "") + ": " +
             join(reached_counts, "; ") + ". ";
  if (unfinished > 0) {
    caption += std::to_string(unfinished) + (unfinished == 1 ? " trial has" : " trials have") +
               " not finished and count in no point. ";
  }
  if (!not_reached.empty()) {
    caption += "No trial of batch size " + join(not_reached, ", ") + " reached it (not drawn" +
               (no_fit.empty() ? ", not fitted" : "") + "). ";
  }

  std::string fit_data, fit_plot, fit_plot_samples;
  if (no_fit.empty() && batch_sizes.size() < 3) {
    no_fit = "no fit: 2 batch sizes for 2 parameters";
    caption += "No fit: S_min and B_noise are 2 parameters, and only " + std::to_string(batch_sizes.size()) +
               " batch sizes reached the target; a fit through every point would show nothing (it needs at least 3). ";
  }
  // The fit stands for the optimum per batch size: with the best learning rate at the edge of the range for half
  // the batch sizes or more, the points are not that optimum.
  if (no_fit.empty() && !at_edge.empty() && 2 * at_edge.size() >= batch_sizes.size()) {
    no_fit = "no fit: tuning not done for " + std::to_string(at_edge.size()) + " of " + std::to_string(batch_sizes.size()) +
             " batch sizes";
    caption += "No fit: the best " + lr_name + " is at the edge of the range for " + std::to_string(at_edge.size()) + " of " +
               std::to_string(batch_sizes.size()) + " batch sizes, so the points are not the optimum per batch size "
               "that S_min (1 + B_noise/B) describes (widen the " + lr_name + " axis). ";
  }
  const auto fit = no_fit.empty() ? fit_noise_scale(batch_sizes, best_steps) : std::nullopt;
  if (no_fit.empty() && !fit) {
    no_fit = "no fit: the steps do not fall with batch size";
    caption += "No fit: the steps do not fall with batch size as S_min (1 + B_noise/B) needs. ";
  }
  // B_noise is where the steps stop halving with each doubling of B: a sweep resolves it only between its smallest
  // and largest batch size (give or take a quarter). Beyond them the fit says no more than "smaller" or "larger".
  if (fit && (fit->b_noise > 1.25 * batch_sizes.back() || fit->b_noise < batch_sizes.front() / 1.25)) {
    const bool above = fit->b_noise > batch_sizes.back();
    const std::string bound = std::to_string(std::llround(above ? batch_sizes.back() : batch_sizes.front()));
    no_fit = std::string("B_noise ") + (above ? "> " : "< ") + bound + ", not resolved by this sweep";
    caption += "No fit drawn: B_noise " + std::string(above ? "> " : "< ") + bound + ", not resolved by this sweep (the fit puts it at " +
               rounded(fit->b_noise) + ", " + (above ? "beyond the largest" : "below the smallest") + " batch size that reached the "
               "target; " + (above ? "larger" : "smaller") + " batch sizes would resolve it). ";
  }
  if (no_fit.empty()) {
    std::vector<double> grid;
    const double from = batch_sizes.front(), to = batch_sizes.back();  // only over the batch sizes that were run
    for (int i = 0; i <= 48; ++i) grid.push_back(format_short(from * std::pow(to / from, i / 48.0)));
    fit_data = "# the fit S(B) = S_min (1 + B_noise / B), E(B) = B S(B): batch size, steps, samples\n$fit << EOD\n";
    for (double b : grid) {
      const double s = fit->s_min * (1 + fit->b_noise / b);
      fit_data += num(b) + " " + num(format_short(s)) + " " + num(format_short(s * b)) + "\n";
      step_values.push_back(s);
      sample_values.push_back(s * b);
    }
    fit_data += "EOD\n";
    caption += "Fit (weighted least squares of the steps on 1/B): B_noise \u2248 " + rounded(fit->b_noise);
    std::string band_text;
    if (any_band) {
      const Band band = bootstrap(batch_sizes, best_seeds, grid);
      if (!band.s_low.empty()) {
        fit_data += "# its band, the 16th to 84th percentile over resamples of the seeds: batch size, steps (lower, upper), "
                    "samples (lower, upper)\n$band << EOD\n";
        for (std::size_t i = 0; i < grid.size(); ++i) {
          fit_data += num(grid[i]) + " " + num(format_short(band.s_low[i])) + " " + num(format_short(band.s_high[i])) + " " +
                      num(format_short(band.s_low[i] * grid[i])) + " " + num(format_short(band.s_high[i] * grid[i])) + "\n";
          for (double s : {band.s_low[i], band.s_high[i]}) {
            step_values.push_back(s);
            sample_values.push_back(s * grid[i]);
          }
        }
        fit_data += "EOD\n";
        fit_plot = "$band using 1:2:3 with filledcurves fs transparent solid 0.2 noborder lc rgb '#b2182b' title "
                   "'fit, 16-84% over seed resamples', ";
        fit_plot_samples = "$band using 1:4:5 with filledcurves fs transparent solid 0.2 noborder lc rgb '#b2182b' notitle, ";
        caption += " (16th\u201384th percentile " + rounded(band.b_noise_low) + "\u2013" + rounded(band.b_noise_high) + ")";
        band_text = " The band: the 16th to 84th percentile of the fit over " + std::to_string(band.resamples) +
                    " bootstrap resamples of each batch size's seeds that reached the target (with replacement), the " +
                    (tuning.kind == Tuning::Tuned ? lr_name + " chosen per batch size kept" : "batch sizes kept") + "." +
                    (single_seed.empty() ? "" : " Batch size " + join(single_seed, ", ") + " has one such seed and adds no spread.") +
                    (band.failed > 0 ? " " + std::to_string(band.failed) + " resamples gave no fit and are left out." : "");
      } else {
        band_text = " No band: no resample of the seeds gave a fit.";
      }
    } else {
      band_text = " No band: one seed per batch size reached the target, so there is no spread over seeds to show "
                  "(run more seeds: sweep.seeds).";
    }
    caption += ", S_min \u2248 " + rounded(fit->s_min) + " steps, E_min \u2248 " + rounded(fit->e_min) + " samples." + band_text;
    fit_plot += "$fit using 1:2 with lines dt 2 lw 2 lc rgb '#b2182b' title 'S_min (1 + B_noise / B)'";
    fit_plot_samples += "$fit using 1:3 with lines dt 2 lw 2 lc rgb '#b2182b' title 'E_min (1 + B / B_noise)'";
    fit_plot = ", " + fit_plot;
    fit_plot_samples = ", " + fit_plot_samples;
  }
  // The measured noise scale beside the fitted one (McCandlish et al. find B_noise ~ B_simple, equal when the
  // loss's Hessian is a multiple of the identity): vertical lines on the batch-size axis where they fall inside it.
  std::string arrows;
  // `left`: the label on the line's left (the smaller of the two), else on its right, so that the two do not overlap.
  const auto vertical = [&](double at, const std::string& style, const std::string& label, bool left) {
    if (!(at > batch_sizes.front() / 1.6 && at < batch_sizes.back() * 1.6)) return;
    arrows += "set arrow from " + num(format_short(at)) + ", graph 0 to " + num(format_short(at)) + ", graph 1 nohead " + style +
              "\nset label " + gp_quote(label) + " at " + num(format_short(at)) +
              ", graph 0.96 " + (left ? "right offset -0.4,0" : "left offset 0.4,0") +
              " font ',10' tc rgb '#555555'\n";
  };
  const double fitted_b_noise = fit && no_fit.empty() ? fit->b_noise : 0.0;  // 0: no fit drawn
  if (!measured_noise.empty()) {
    const double m = median(measured_noise);
    caption += " Measured gradient noise scale (metrics.noise_scale) at the evaluations where the chosen seeds reached the "
               "target: B_simple ≈ " + rounded(m) + " (median of " + std::to_string(measured_noise.size()) + ", range " +
               rounded(*std::min_element(measured_noise.begin(), measured_noise.end())) + "–" +
               rounded(*std::max_element(measured_noise.begin(), measured_noise.end())) + ")" +
               (fitted_b_noise > 0 ? ", beside the fit's B_noise ≈ " + rounded(fitted_b_noise) +
                                     " (dotted and dashed lines); McCandlish et al. find the two close, equal when the "
                                     "loss's curvature is the same in every direction."
                               : ".");
    vertical(m, "dt 3 lw 2 lc rgb '#1b7837'", "B_simple", fitted_b_noise > 0 && m <= fitted_b_noise);
    if (fitted_b_noise > 0) vertical(fitted_b_noise, "dt 2 lw 1 lc rgb '#b2182b'", "B_noise", fitted_b_noise < m);
  }
  const std::string others = any_tried ? ", $tried using 1:COLUMN with points pt 6 ps 0.8 lc rgb '#aaaaaa' title " +
                                             gp_quote("other " + lr_name + "s")
                                       : "";
  auto with_column = [&](std::string text, const std::string& column) {
    const auto at = text.find("COLUMN");
    if (at != std::string::npos) text.replace(at, 6, column);
    return text;
  };
  figure.width = 960;
  // Under the panels, in a line, what limits the figure: why there is no fit, or why the fit is not to be trusted.
  std::string note = no_fit;
  if (!at_edge.empty() && no_fit.rfind("no fit: tuning", 0) != 0) {
    note += (note.empty() ? "" : "; ") + std::string("tuning not done: the best ") + lr_name + " is at the edge of the swept range for " +
            std::to_string(at_edge.size()) + (at_edge.size() == 1 ? " batch size" : " batch sizes");
  }
  figure.height = note.empty() ? 450 : 480;  // the key below the panels, off the data
  // A log y range a little wider than what is drawn (an error bar to 0 is cut), with tics a reader can use.
  auto y_axis = [](const std::vector<double>& values) {
    double low = INFINITY, high = 0;
    for (double v : values) {
      if (v > 0 && std::isfinite(v)) low = std::min(low, v), high = std::max(high, v);
    }
    if (!(low <= high)) return std::string();
    const double pad = std::pow(high / low, 0.06) * (high == low ? 2.0 : 1.0);
    low = format_short(low / pad);
    high = format_short(high * pad);
    const std::string tics = log_tics(low, high);
    return "set yrange [" + num(low) + ":" + num(high) + "]\n" + (tics.empty() ? "set ytics autofreq\n" : "set ytics " + tics + "\n");
  };
  figure.script = points + (any_tried ? tried : "") + fit_data + "set multiplot layout 1,2\nset logscale xy\n" + arrows +
                  "set xtics (" + [&] {
                    std::string tics;  // at the batch sizes themselves: powers of 2 read badly on decades
                    for (const auto& entry : settings) tics += (tics.empty() ? "" : ", ") + std::to_string(entry.first);
                    return tics;
                  }() + ")\nset mxtics default\n" +
                  "set xrange [" + num(format_short(batch_sizes.front() / 1.6)) + ":" + num(format_short(batch_sizes.back() * 1.6)) + "]\n" +
                  "set xlabel 'batch size B'\nset key outside bottom center horizontal font ',11' samplen 2\n" +
                  (note.empty() ? "" : "set tmargin 4\nset label 1 " + gp_quote(note) +
                                             " at screen 0.5,0.975 center tc rgb '#b2182b'\n") +
                  y_axis(step_values) + "set ylabel 'steps to target'\nset title " + gp_quote("steps to " + target + (facet.empty() ? "" : " (" + facet + ")")) + "\n" +
                  "plot $points using 1:2:3 with yerrorbars pt 7 ps 1.2 lc rgb '#2166ac' title " +
                  gp_quote(tuning.kind == Tuning::Tuned ? "measured, best " + lr_name : "measured") + with_column(others, "2") +
                  fit_plot + "\n" + (note.empty() ? "" : "unset label 1\n") +
                  y_axis(sample_values) + "set ylabel 'samples to target'\nset title " + gp_quote("samples to " + target + (facet.empty() ? "" : " (" + facet + ")")) + "\n" +
                  "plot $points using 1:4:5 with yerrorbars pt 7 ps 1.2 lc rgb '#2166ac' notitle" + with_column(others, "3") +
                  fit_plot_samples + "\nunset multiplot\n";
  figure.caption = caption;
  return figure;
}

// Steps to the first target by the swept keys of a sweep that does not vary the batch size (a batch schedule, a
// task): the first key on x, one point per value of the others, coloured by them.
Figure category_target_figure(const ReportData& report, const std::vector<std::string>& keys) {
  const std::string& target = report.spec.base.targets.front();
  Figure figure{"steps_to_target.svg",
                "Steps to '" + target + "' by " + keys.front() + (report.where.empty() ? "" : " (where " + report.where + ")"), "",
                "", "", ""};
  struct Point {
    std::vector<double> steps;
    int seeds = 0;
  };
  std::vector<std::string> xs, colours;  // in sweep order
  std::map<std::pair<std::string, std::string>, Point> points;
  const auto add = [](std::vector<std::string>& list, const std::string& text) {
    if (std::find(list.begin(), list.end(), text) == list.end()) list.push_back(text);
  };
  for (const auto& trial : report.results) {
    if (!settled(trial.status) || trial.status == TrialStatus::Skipped) continue;
    const Config config = trial.config.expand();
    const std::string x = to_short_text(find_field(keys.front())->get(config));
    std::string colour;
    for (std::size_t k = 1; k < keys.size(); ++k) {
      colour += (colour.empty() ? "" : ", ") + symbol_of(keys[k]) + "=" + to_short_text(find_field(keys[k])->get(config));
    }
    add(xs, x);
    add(colours, colour);
    Point& point = points[{x, colour}];
    ++point.seeds;
    if (!trial.summary) continue;
    for (const auto& result : trial.summary->targets) {
      if (result.target == target && result.reached) point.steps.push_back(double(result.step));
    }
  }
  double high = 0, low = INFINITY;
  for (const auto& [key, point] : points) {
    for (double v : point.steps) high = std::max(high, v), low = std::min(low, v);
  }
  if (high == 0) {
    figure.why_not = points.empty() ? "no trial has finished yet" : "no trial reached the target '" + target + "'";
    return figure;
  }
  const double never_at = format_short(high * 1.6);  // the row of points that never reached it, above the rest
  std::string data = "# category (x), mean steps over the seeds that reached the target, stderr, seeds that reached it, "
                     "seeds, colour; one block per colour\n";
  std::string plot;
  std::vector<std::string> partial;
  for (std::size_t c = 0; c < colours.size(); ++c) {
    const std::string block = "c" + std::to_string(c);
    std::string rows, never;
    for (std::size_t x = 0; x < xs.size(); ++x) {
      const auto found = points.find({xs[x], colours[c]});
      if (found == points.end()) continue;
      const Point& point = found->second;
      const double at = double(x) + (colours.size() < 2 ? 0.0 : (double(c) - double(colours.size() - 1) / 2) * 0.5 / double(colours.size()));
      if (point.steps.empty()) {
        never += num(at) + " " + num(never_at) + "\n";
        continue;
      }
      const auto stats = mean_stderr(point.steps);
      rows += num(at) + " " + num(stats.mean) + " " + num(stats.stderr_.value_or(0.0)) + " " + std::to_string(point.steps.size()) +
              " " + std::to_string(point.seeds) + "\n";
      if (int(point.steps.size()) < point.seeds) {
        partial.push_back(xs[x] + (colours[c].empty() ? "" : " " + colours[c]) + ": " + std::to_string(point.steps.size()) + " of " +
                          std::to_string(point.seeds));
      }
    }
    const std::string colour = colours.size() < 2 ? "#2166ac" : category_colour(c);
    const std::string title = colours[c].empty() ? "measured" : colours[c];
    data += "$" + block + " << EOD\n" + rows + "EOD\n$" + block + "never << EOD\n" + never + "EOD\n";
    if (!rows.empty()) {
      plot += std::string(plot.empty() ? "" : ", \\\n  ") + "$" + block + " using 1:2:3 with yerrorbars pt 7 ps 1.2 lc rgb '" +
              colour + "' title " + gp_quote(title) + ", $" + block + " using 1:2:($4 < $5 ? sprintf('%d of %d', $4, $5) : '') "
              "with labels offset 0,1 font ',10' tc rgb '" + colour + "' notitle";
    }
    if (!never.empty()) {
      plot += std::string(plot.empty() ? "" : ", \\\n  ") + "$" + block + "never using 1:2 with points pt 6 ps 1.4 lw 2 lc rgb '" +
              colour + "' " + (rows.empty() ? "title " + gp_quote(title) : std::string("notitle"));
    }
  }
  std::string tics;
  for (std::size_t x = 0; x < xs.size(); ++x) tics += (tics.empty() ? "" : ", ") + gp_quote(xs[x]) + " " + std::to_string(x);
  const double pad = std::pow(never_at / low, 0.06);
  figure.width = std::max(720, int(120 * xs.size() * std::max<std::size_t>(colours.size(), 2) / 2 + 320));
  figure.height = 460;
  figure.script = data + "set logscale y\nset xtics (" + tics + ")\nset xrange [-0.6:" + num(double(xs.size()) - 0.4) +
                  "]\nset yrange [" + num(format_short(low / pad)) + ":" + num(format_short(never_at * pad)) + "]\n" +
                  "set ytics " + [&] {
                    const std::string fine = log_tics(format_short(low / pad), high);
                    return fine.empty() ? std::string("autofreq") : fine;
                  }() + "\nset label 1 'never reached' at graph 0.01, first " + num(never_at) + " left tc rgb '#777777'\n" +
                  "set arrow 1 from graph 0, first " + num(format_short(high * 1.25)) + " to graph 1, first " +
                  num(format_short(high * 1.25)) + " nohead dt 3 lc rgb '#bbbbbb'\n" +
                  "set xlabel " + gp_quote(axis_title(keys.front())) + "\nset ylabel 'steps to target'\n" +
                  "set key outside right top vertical samplen 1\nset title " + gp_quote("steps to " + target) + "\nplot " +
                  plot + "\n";
  figure.caption = "Steps to the first evaluation that met '" + target + "', by " + keys.front() +
                   (keys.size() > 1 ? "; colour: " + join(std::vector<std::string>(keys.begin() + 1, keys.end()), ", ") : "") +
                   ". Each point: the mean over the seeds that reached the target (not over all seeds), with one standard "
                   "error; 'k of n' beside a point when not every seed reached it. An open circle above the dotted line: no "
                   "seed reached the target within the budget." +
                   (partial.empty() ? "" : " Not every seed reached it for " + join(partial, "; ") + ".") +
                   " The batch size is not swept, so there is no critical-batch-size fit.";
  return figure;
}

}  // namespace

std::vector<Figure> steps_to_target(const ReportData& data) {
  const SweepSpec& spec = data.spec;
  Figure figure{"steps_to_target.svg", "Steps and samples to target vs batch size", "", "", "", ""};
  if (spec.base.targets.empty()) {
    figure.why_not = "the sweep has no targets (add e.g. targets: ['test_acc >= 0.99'])";
    return {figure};
  }
  figure.title = "Steps and samples to '" + spec.base.targets.front() + "' vs batch size";
  if (!swept(spec, "training.batch_size")) {
    std::vector<std::string> keys;  // what the sweep varies instead (a batch schedule, a task), the learning rate last
    for (const auto& axis : spec.axes) {
      if (axis.values.size() > 1 && axis.key != "training.seed" && axis.key != "optimizer.lr" && axis.key != "optimizer.temperature") {
        keys.push_back(axis.key);
      }
    }
    for (const std::string key : {"optimizer.lr", "optimizer.temperature"}) {
      if (swept(spec, key)) keys.push_back(key);
    }
    if (keys.empty()) {
      figure.why_not = "the sweep varies nothing but the seed";
      return {figure};
    }
    return {category_target_figure(data, keys)};
  }
  // One figure per value of the swept keys other than the batch size, the learning rate and the seed (e.g.
  // model.parameterization): a fit across unlike trials would mean nothing.
  std::vector<std::string> facet_keys;
  for (const auto& axis : spec.axes) {
    if (axis.values.size() > 1 && axis.key != "training.batch_size" && axis.key != "training.seed" &&
        axis.key != "optimizer.lr" && axis.key != "optimizer.temperature") {
      facet_keys.push_back(axis.key);
    }
  }
  std::vector<std::pair<std::string, std::vector<const TrialState*>>> facets;
  for (const auto& trial : data.results) {
    std::string facet;
    for (const auto& key : facet_keys) {
      facet += (facet.empty() ? "" : ", ") + find_field(key)->id_label() + "=" + to_short_text(find_field(key)->get(trial.config.expand()));
    }
    auto it = std::find_if(facets.begin(), facets.end(), [&](const auto& f) { return f.first == facet; });
    if (it == facets.end()) it = facets.insert(facets.end(), {facet, {}});
    it->second.push_back(&trial);
  }
  if (facets.empty()) {
    figure.why_not = "no trial to draw";
    return {figure};
  }
  std::vector<Figure> figures;
  for (std::size_t i = 0; i < facets.size(); ++i) figures.push_back(target_figure(data, facets[i].second, facets[i].first, i));
  return figures;
}

}  // namespace sweeplab::report_detail
