#include "sweeplab/sched/refine.hpp"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/metrics.hpp"

namespace sweeplab {

std::vector<double> refine_line_points(const std::vector<LinePoint>& points, const Refine& refine) {
  std::vector<LinePoint> line;
  for (const auto& point : points) {
    if (point.eta > 0.0 && std::isfinite(point.eta)) line.push_back(point);  // a midpoint needs a positive rate
  }
  std::sort(line.begin(), line.end(), [](const LinePoint& a, const LinePoint& b) { return a.eta < b.eta; });
  std::vector<double> added;
  // The geometric midpoint of two neighbouring rates, when it is a new rate strictly between them once rounded
  // (two rates 4 significant digits apart have none).
  const auto between = [&](double low, double high) {
    const double mid = four_significant_digits(std::sqrt(low * high));
    if (!(mid > low && mid < high)) return;
    if (std::find(added.begin(), added.end(), mid) != added.end()) return;
    added.push_back(mid);
  };
  if (refine.boundary > 0.0) {
    const auto diverged = std::find_if(line.begin(), line.end(), [](const LinePoint& p) { return p.diverged; });
    if (diverged != line.end() && diverged != line.begin()) {
      const double stable = std::prev(diverged)->eta;
      if (diverged->eta / stable > refine.boundary) between(stable, diverged->eta);
    }
  }
  if (!refine.metric.empty()) {
    const bool higher = higher_is_better(refine.metric);
    std::size_t best = line.size();
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i].diverged || !line[i].metric) continue;
      // Ties go to the smaller rate (the first met): the same choice whatever order the trials came in.
      if (best == line.size() || (higher ? *line[i].metric > *line[best].metric : *line[i].metric < *line[best].metric)) {
        best = i;
      }
    }
    if (best < line.size()) {
      if (best > 0 && line[best].eta / line[best - 1].eta > refine.best_ratio) between(line[best - 1].eta, line[best].eta);
      if (best + 1 < line.size() && line[best + 1].eta / line[best].eta > refine.best_ratio) {
        between(line[best].eta, line[best + 1].eta);
      }
    }
  }
  std::sort(added.begin(), added.end());
  return added;
}

std::vector<RefinedPoint> next_refine_wave(const ResolvedSweep& sweep, const std::vector<std::optional<SettledTrial>>& settled) {
  const Refine& refine = sweep.spec.refine;
  if (!refine.on()) return {};
  const std::size_t eta_field = field_index(refine.key), seed_field = field_index("training.seed");
  struct Line {
    std::vector<std::size_t> trials;
    std::int64_t wave = 0;   // the last wave that added to it
    bool settled = true;
  };
  std::map<std::string, Line> lines;
  std::vector<std::string> order;  // lines by their first trial
  std::vector<const std::string*> line_of;
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    const std::string key = refine_line(sweep.trials[i].config);
    auto [it, added] = lines.try_emplace(key);
    if (added) order.push_back(key);
    it->second.trials.push_back(i);
    it->second.settled = it->second.settled && settled.at(i).has_value();
    line_of.push_back(&it->first);
  }
  const std::size_t grid = grid_trials(sweep);
  for (std::size_t k = 0; k < sweep.spec.refined.size(); ++k) {
    Line& line = lines[*line_of.at(grid + k)];
    line.wave = std::max(line.wave, sweep.spec.refined[k].wave);
  }
  std::vector<RefinedPoint> wave;
  for (const auto& key : order) {
    const Line& line = lines[key];
    if (!line.settled || line.wave >= refine.waves) continue;
    std::map<double, std::vector<std::size_t>> by_eta;
    std::vector<std::pair<std::int64_t, std::size_t>> seeds;  // (seed, its first trial), in order of first appearance
    for (const std::size_t i : line.trials) {
      by_eta[std::get<double>(sweep.trials[i].config.get(eta_field))].push_back(i);
      const std::int64_t seed = std::get<std::int64_t>(sweep.trials[i].config.get(seed_field));
      if (std::none_of(seeds.begin(), seeds.end(), [&](const auto& s) { return s.first == seed; })) seeds.emplace_back(seed, i);
    }
    std::vector<LinePoint> points;
    for (const auto& [eta, trials] : by_eta) {
      LinePoint point;
      point.eta = eta;
      double sum = 0.0;
      bool all = true;
      for (const std::size_t i : trials) {
        point.diverged = point.diverged || settled[i]->diverged;
        if (settled[i]->metric) sum += *settled[i]->metric;
        else all = false;
      }
      if (!point.diverged && all) point.metric = sum / double(trials.size());
      points.push_back(point);
    }
    for (const double eta : refine_line_points(points, refine)) {
      for (const auto& seed : seeds) wave.push_back(RefinedPoint{seed.second, eta, line.wave + 1});
    }
  }
  return wave;
}

std::vector<std::optional<SettledTrial>> settled_trials(const ResolvedSweep& sweep, const SweepState& state) {
  std::vector<std::optional<SettledTrial>> settled(sweep.trials.size());
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    const auto row = state.of_current(i);
    if (!row) continue;
    const TrialState& trial = state.trials[*row];
    if (trial.status == TrialStatus::Diverged) {
      settled[i] = SettledTrial{true, std::nullopt};
    } else if (trial.status == TrialStatus::Completed) {
      const auto last = trial.last();
      settled[i] = SettledTrial{false, last ? metric_value(*last, sweep.spec.refine.metric.empty() ? "train_loss"
                                                                                                   : sweep.spec.refine.metric)
                                            : std::nullopt};
    }
  }
  return settled;
}

ResolvedSweep with_refined(ResolvedSweep sweep, const std::vector<RefinedPoint>& points) {
  auto trials = refined_trials(sweep.spec, sweep.trials, points);
  sweep.spec.refined.insert(sweep.spec.refined.end(), points.begin(), points.end());
  sweep.trials.insert(sweep.trials.end(), std::make_move_iterator(trials.begin()), std::make_move_iterator(trials.end()));
  return sweep;
}

ResolvedSweep refine_from_files(const ResolvedSweep& sweep, const std::string& experiments_dir) {
  if (!sweep.spec.refine.on()) return sweep;
  ResolvedSweep current = sweep;
  ReadOptions read;
  read.narrow = false;
  while (true) {
    const SweepState state = read_sweep_state(current, experiments_dir, read);
    const auto points = next_refine_wave(current, settled_trials(current, state));
    if (points.empty()) return current;
    current = with_refined(std::move(current), points);
  }
}

std::string refined_text(const std::vector<RefinedPoint>& points) {
  std::string text;
  for (const auto& point : points) {
    char part[96];
    std::snprintf(part, sizeof part, "%zu:%.17g:%" PRId64, point.base, point.eta, point.wave);
    text += (text.empty() ? "" : ",") + std::string(part);
  }
  return text;
}

std::vector<RefinedPoint> parse_refined(const std::string& text) {
  std::vector<RefinedPoint> points;
  std::stringstream parts(text);
  for (std::string part; std::getline(parts, part, ',');) {
    const auto first = part.find(':'), second = part.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) throw std::invalid_argument("refined point " + part);
    points.push_back(RefinedPoint{std::stoull(part.substr(0, first)), std::stod(part.substr(first + 1, second - first - 1)),
                                  std::stoll(part.substr(second + 1))});
  }
  return points;
}

}  // namespace sweeplab
