// noise_scale: the simple gradient noise scale B_simple = tr(Sigma) / |G|^2 (metrics.noise_scale, McCandlish et al.
// 2018) against samples seen, one line per batch size. B_simple is the batch size at which the gradient's noise
// equals its signal; it grows as the loss falls. steps_to_target sets it beside B_noise, its fit of the steps.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "figure.hpp"
#include "sweeplab/core/text.hpp"

namespace sweeplab::report_detail {
namespace {

bool has_noise_scale(const Group& group) {
  return std::any_of(group.trials.begin(), group.trials.end(), [](const TrialState* trial) {
    return std::any_of(trial->metrics.begin(), trial->metrics.end(), [](const EvalRecord& r) { return r.noise_scale.has_value(); });
  });
}

// The mean final train loss of a group's trials that ended without diverging; +inf when none did.
double final_train_loss(const Group& group) {
  double sum = 0;
  int count = 0;
  for (const auto* trial : group.trials) {
    if (trial->metrics.empty() || trial->metrics.back().diverged || !std::isfinite(trial->metrics.back().train_loss)) continue;
    sum += trial->metrics.back().train_loss;
    ++count;
  }
  return count > 0 ? sum / count : INFINITY;
}

Figure noise_figure(const ReportData& report, const std::vector<std::size_t>& only, const std::string& facet,
                    std::size_t number) {
  Figure figure{"noise_scale" + (number == 0 ? std::string() : "_" + std::to_string(number + 1)) + ".svg",
                "Gradient noise scale B_simple vs samples seen, by batch size" + (facet.empty() ? "" : " (" + facet + ")") +
                    (report.where.empty() ? "" : " (where " + report.where + ")"),
                "", "", "", ""};
  // Per batch size, the group drawn: where several learning rates were run, the one whose trials end with the
  // lowest mean train loss (the noise scale depends on where training is, which the best rate reaches furthest).
  std::map<std::int64_t, std::size_t> chosen;
  std::map<std::int64_t, int> settings;
  for (const auto g : only) {
    const Group& group = report.groups[g];
    if (!has_noise_scale(group)) continue;
    const std::int64_t batch = group.trials.front()->config.expand().training.batch_size;
    ++settings[batch];
    const auto found = chosen.find(batch);
    if (found == chosen.end() || final_train_loss(group) < final_train_loss(report.groups[found->second])) chosen[batch] = g;
  }
  if (chosen.empty()) {
    figure.why_not = "no trial measured it (metrics.noise_scale: true writes noise_scale in metrics.jsonl, for supervised tasks)";
    return figure;
  }
  std::string data, plot;
  double x_low = INFINITY, x_high = 0, y_low = INFINITY, y_high = 0;
  const bool several_lrs = std::any_of(settings.begin(), settings.end(), [](const auto& entry) { return entry.second > 1; });
  std::vector<std::string> drawn, not_positive;
  for (const auto& [batch, g] : chosen) {
    std::vector<CurvePoint> points;
    for (const auto& point : mean_curve(report.groups[g], "noise_scale", XAxis::Samples)) {
      if (point.mean > 0 && point.x > 0) points.push_back(point);  // a log axis: an estimate <= 0 says only "noise swamps it"
    }
    if (points.empty()) {
      not_positive.push_back(std::to_string(batch));
      continue;
    }
    for (const auto& point : points) {
      x_low = std::min(x_low, point.x), x_high = std::max(x_high, point.x);
      y_low = std::min(y_low, point.mean), y_high = std::max(y_high, point.mean);
    }
    const std::string name = "b" + std::to_string(batch);
    data += "# B = " + std::to_string(batch) + ": " + gp_comment(report.groups[g].label) + "\n" + datablock(name, points);
    plot += std::string(plot.empty() ? "" : ", \\\n  ") + "$" + name + " using 1:2 with " +
            (points.size() == 1 ? "points pt 7 ps 0.8" : "linespoints pt 7 ps 0.5 lw 1.5") + " lc palette cb " +
            num(std::log2(double(batch))) + " title " + gp_quote("B = " + std::to_string(batch));
    drawn.push_back(std::to_string(batch));
  }
  if (plot.empty()) {
    figure.why_not = "every measured B_simple is <= 0 (the noise swamps the gradient's estimate)";
    return figure;
  }
  const double b_low = std::log2(double(chosen.begin()->first)), b_high = std::log2(double(chosen.rbegin()->first));
  figure.width = 820;
  figure.height = 460;
  figure.script = data + "set logscale xy\nset xrange [" + num(x_low / 1.2) + ":" + num(x_high * 1.2) + "]\nset format x '%.0s%c'\nset xlabel 'samples seen'\nset ylabel 'B_simple = tr(Σ) / |G|^2'\n" +
                  (std::isfinite(y_low) && y_high > y_low && !log_tics(y_low / 1.2, y_high * 1.2).empty()
                       ? "set yrange [" + num(y_low / 1.2) + ":" + num(y_high * 1.2) + "]\nset ytics " + log_tics(y_low / 1.2, y_high * 1.2) + "\n"
                       : std::string()) +
                  "set cbrange [" + num(b_low) + ":" + num(b_high > b_low ? b_high : b_low + 1) + "]\nunset colorbox\n" +
                  "set palette defined (0 '#440154', 1 '#3b528b', 2 '#21918c', 3 '#5ec962', 4 '#d8c41c')\n" +
                  "set key outside right top font ',11'\nset title " +
                  gp_quote("gradient noise scale vs samples seen" + (facet.empty() ? "" : " (" + facet + ")")) + "\nplot " + plot + "\n";
  figure.caption =
      std::string("B_simple = tr(Σ) / |G|² (McCandlish et al. 2018): the batch size at which a batch gradient's noise equals its "
                  "signal, from the per-example gradient norms of every step since the previous evaluation (a ratio of the "
                  "means of the unbiased estimates of tr(Σ) and |G|²). One line per batch size") +
      (std::any_of(chosen.begin(), chosen.end(), [&](const auto& entry) { return report.groups[entry.second].trials.size() > 1; })
           ? ", the mean over its seeds"
           : "") +
      (several_lrs ? ", at the learning rate whose trials end with the lowest mean train loss" : "") + ". " +
      "A batch well below B_simple wastes little of each sample; well above it, most of the batch only averages noise away. "
      "steps_to_target sets the measured B_simple beside B_noise, the critical batch size fitted to the steps, where the sweep "
      "has a target and a fit." +
      (not_positive.empty() ? "" : " Not drawn (every estimate <= 0): B = " + join(not_positive, ", ") + ".") +
      drawn_notes([&] {
        std::vector<Group> groups;
        for (const auto& entry : chosen) groups.push_back(report.groups[entry.second]);
        return groups;
      }());
  return figure;
}

}  // namespace

std::vector<Figure> noise_scale(const ReportData& data) {
  std::vector<Figure> figures;
  const auto facets = facets_of(data);
  for (std::size_t f = 0; f < facets.size(); ++f) figures.push_back(noise_figure(data, facets[f].second, facets[f].first, f));
  const bool same = std::all_of(figures.begin(), figures.end(), [&](const Figure& figure) {
    return !figure.why_not.empty() && figure.why_not == figures.front().why_not;
  });
  if (figures.size() > 1 && same) {  // one line says it, not one per facet, under a title that names none
    Figure one = noise_figure(data, {}, "", 0);
    one.why_not = figures.front().why_not;
    return {one};
  }
  return figures;
}

}  // namespace sweeplab::report_detail
