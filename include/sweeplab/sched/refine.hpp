#pragma once
// sweep.refine: the waves of learning rates a run adds after the grid (config/sweep.hpp Refine). Each wave is a pure
// function of the settled trials: new points depend only on finished results, taken in a fixed order, so any -j and
// any number of interruptions give the same trials, and a later run (or `status`) finds them again from the files.
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {

// One learning rate of a line, its seeds taken together.
struct LinePoint {
  double eta = 0.0;
  bool diverged = false;          // any of its seeds diverged
  std::optional<double> metric;   // the mean over its seeds of Refine::metric (none when diverged or absent)
};

// The rates to add to one line (`points`: its rates, any order, each once), ascending, each rounded to 4 significant
// digits and none already in the line:
//  - boundary: between the largest stable rate below the smallest diverged one and that diverged one, when their
//    ratio is above refine.boundary: their geometric midpoint;
//  - best: the best stable rate by the metric (higher_is_better decides the direction) and each neighbour of it in the
//    line further than refine.best_ratio away: their geometric midpoint.
std::vector<double> refine_line_points(const std::vector<LinePoint>& points, const Refine& refine);

// What a settled trial says for sweep.refine; nullopt for a trial that has not settled (pending, running,
// interrupted, failed): its line waits.
struct SettledTrial {
  bool diverged = false;
  std::optional<double> metric;
};

// The next wave of `sweep` (its grid and the refined points so far): for each line (refine_line) whose trials have all
// settled and that has had fewer than refine.waves waves, the points refine_line_points adds, once per seed (based on
// the line's first trial with that seed). Lines in order of their first trial. `settled`: one per trial of `sweep`.
std::vector<RefinedPoint> next_refine_wave(const ResolvedSweep& sweep, const std::vector<std::optional<SettledTrial>>& settled);

// What `state` (a read of the sweep's folder) says of each trial of `sweep`, for next_refine_wave.
std::vector<std::optional<SettledTrial>> settled_trials(const ResolvedSweep& sweep, const SweepState& state);

// `sweep` with `points` added (its spec's refined points and its trials).
ResolvedSweep with_refined(ResolvedSweep sweep, const std::vector<RefinedPoint>& points);

// The sweep with every wave that the files on disk decide already: waves are added while the trials they rest on have
// settled. The trials of the last wave added may not be run yet. Without sweep.refine: `sweep` as it is.
ResolvedSweep refine_from_files(const ResolvedSweep& sweep, const std::string& experiments_dir);

// The number of grid trials of `sweep` (the refined ones follow them).
inline std::size_t grid_trials(const ResolvedSweep& sweep) { return sweep.trials.size() - sweep.spec.refined.size(); }

// "1:0.0316:1,4:0.0316:1": refined points as a worker process is told them; parse_refined reads them back
// (throws std::invalid_argument).
std::string refined_text(const std::vector<RefinedPoint>& points);
std::vector<RefinedPoint> parse_refined(const std::string& text);

}  // namespace sweeplab
