#pragma once
// A named sweep after loading: the base config, the swept axes and the seeds. expand() turns it into
// trials; it is a pure function (no I/O) with a fixed order:
//   - axes in schema order (the order of `sweeplab show --keys`), not the order they were written in;
//   - the Cartesian product with the last axis varying fastest;
//   - then the points of sweep.sample (one axis whose keys all change together), in the order they were drawn;
//   - seeds innermost, in the order sweep.seeds lists them.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sweeplab/config/compact_config.hpp"
#include "sweeplab/config/config.hpp"
#include "sweeplab/core/hash.hpp"
#include "sweeplab/core/value.hpp"

namespace sweeplab {

struct Axis {
  std::string key;            // dotted key, e.g. "training.batch_size"
  std::vector<Value> values;  // already expanded from generators, typed by the key
  std::string source;         // where it was defined: "configs/x.yaml:12" or "-o 'bs=8,16'"
};

// sweep.prune: what a run leaves out of each line of trials (the same config but for the learning rate, see
// prune_line). AboveDivergence: once a trial diverges, the trials of its line with a larger learning rate are
// recorded skipped, not run. BelowDivergence ({below_divergence: K}): the line is walked from its largest learning
// rate down; once K of its trials have completed (not diverged), those with a smaller learning rate are skipped.
enum class Prune { None, AboveDivergence, BelowDivergence };
std::string to_string(Prune prune);  // "none", "above_divergence", "below_divergence"
constexpr const char* kPruneValues = "none, above_divergence, {below_divergence: K}";

// sweep.sample (random search): n points, each key of each point drawn from its distribution by std::mt19937_64
// seeded with `seed`, point by point and within a point in schema order. uniform and log_uniform draw numbers
// (numeric keys), rounded to 4 significant digits (readable trial ids, and the same on every platform); choice
// draws one of its values. The points are then ordinary trials.
struct SampledKey {
  std::string key;
  std::string distribution;    // "uniform", "log_uniform", "choice"
  std::vector<Value> choices;  // choice: the values
  double low = 0.0, high = 0.0;  // uniform, log_uniform: the bounds (low < high)
};
struct Sample {
  std::int64_t n = 0;  // 0: no sample
  std::uint64_t seed = 0;
  std::vector<SampledKey> keys;  // schema order
  std::string source;            // where sweep.sample was set
};
constexpr const char* kSampleDistributions = "{uniform: [a, b]}, {log_uniform: [a, b]} (0 < a < b), {choice: [x, y, ...]}";

// sweep.refine: after the grid (wave 0), `run` trains waves of new learning rates on each line (refine_line: the
// config but for the learning rate and the seed), computed from the line's settled trials only: the geometric
// midpoint between its largest stable and smallest diverged rate until their ratio is at most `boundary`, and the
// midpoints between its best rate (by `metric`, the mean over seeds) and its neighbours until both are within
// `best_ratio`. A rate counts as diverged when any of its seeds diverged. Midpoints are rounded to 4 significant
// digits (as sweep.sample's numbers). The refined trials are ordinary trials.
struct Refine {
  std::string key;              // the refined axis: optimizer.lr or optimizer.temperature ("": no refinement)
  double boundary = 0.0;        // > 1: bisect the divergence boundary to this ratio; 0: not
  std::string metric;           // best: the metric of the final evaluation ("": not)
  double best_ratio = 0.0;      // best: refine around the best rate to this ratio
  std::int64_t waves = 8;       // at most this many waves after the grid, per line
  std::string source;           // where sweep.refine was set
  bool on() const { return !key.empty(); }
};
constexpr std::int64_t kDefaultRefineWaves = 8;

// A refined trial: sweep trial `base` (a trial of the grid, or an earlier refined one) with the refined key set to
// `eta`, made in wave `wave` (1 for the first wave after the grid).
struct RefinedPoint {
  std::size_t base = 0;
  double eta = 0.0;
  std::int64_t wave = 0;
};

struct SweepSpec {
  std::string name;
  std::string file;                          // the sweep's own YAML file
  std::vector<std::string> extends_chain;    // this sweep, then what it extends, and so on
  Config base;
  std::vector<Axis> axes;                    // schema order
  std::vector<std::int64_t> seeds;           // empty: no seed axis (training.seed as set)
  std::map<std::string, std::string> sources;  // key -> where its value was set, for error messages
  Prune prune = Prune::None;                 // sweep.prune
  std::int64_t prune_keep = 0;               // sweep.prune: {below_divergence: K}: K (0 for the other modes)
  Sample sample;                             // sweep.sample
  std::vector<Axis> sampled;                 // its points: one axis a key, sample.n values each, changing together
  Refine refine;                             // sweep.refine
  // The refined trials known so far (sched/refine.hpp): expand() appends them after the grid's, in this order.
  std::vector<RefinedPoint> refined;
};

// sweep.prune as it is written: "none", "above_divergence", "{below_divergence: 3}".
std::string prune_text(const SweepSpec& sweep);

struct TrialSpec {
  // The name of its folder: the swept values, then the first 8 hex digits of its hash ("bs=8_lr=0.001_seed=0-1a2b3c4d").
  // Only a name: a trial on disk keeps the folder it was first trained in, whatever the sweep looks like now.
  std::string id;
  TrialHash hash;          // the identity: the hash of its config without the budget
  CompactConfig config;    // the whole config, budget included (expand() for a Config)
};

// (key, value) for each key, in order: the values a trial has on a sweep's axes (swept_keys).
std::vector<std::pair<std::string, Value>> swept_values(const CompactConfig& config, const std::vector<std::string>& keys);

// Draws the points of `sample` into SweepSpec::sampled's axes (its keys as typed by the schema).
std::vector<Axis> draw_sample(const Sample& sample);

// How many trials expand() makes before the refined ones: the product of the axis lengths times the sample's points times the seeds, computed without
// building any. Saturates at SIZE_MAX instead of overflowing.
std::size_t count_trials(const SweepSpec& sweep);

// All trials, each validated; a ValueError becomes a UserError naming where the bad value was set. The refined
// points (SweepSpec::refined) come last.
std::vector<TrialSpec> expand(const SweepSpec& sweep);

// The trials of `points`, made from `trials` (the sweep's trials so far: each point's base is one of them) with the
// refined key set to the point's rate; with optimizer.temperature the learning rate is derived again.
std::vector<TrialSpec> refined_trials(const SweepSpec& sweep, const std::vector<TrialSpec>& trials,
                                      const std::vector<RefinedPoint>& points);

// A trial's line for sweep.refine: its config without the learning rate (optimizer.lr, optimizer.temperature) and
// without training.seed, as text. The seeds of one rate of a line are averaged.
std::string refine_line(const CompactConfig& config);

// sweep.refine as it is written: "{boundary: 1.19, best: {metric: test_loss, ratio: 1.19}, waves: 8}".
std::string refine_text(const Refine& refine);

// "12 trials added by sweep.refine in 3 waves" (the spec's refined points); "" when there are none.
std::string refined_summary(const SweepSpec& sweep);

// Rounded to 4 significant digits (sweep.sample's numbers, sweep.refine's midpoints).
double four_significant_digits(double x);

// Validates every trial as expand() does (the same errors), keeping none and computing no ids.
void validate_trials(const SweepSpec& sweep);

// The readable part (the values of `swept_keys`) plus the first 8 hex digits of the trial's hash.
std::string make_trial_id(const CompactConfig& config, TrialHash hash, const std::vector<std::string>& swept_keys);

// A trial's "line" for sweep.prune: its config with the learning rate (optimizer.lr, optimizer.temperature)
// taken out, as text. Trials of one line differ only in the learning rate.
std::string prune_line(const CompactConfig& config);

// The swept keys (the grid's, then the sampled ones), seed last ("training.seed" when seeds are swept): the columns
// worth showing.
std::vector<std::string> swept_keys(const SweepSpec& sweep);

}  // namespace sweeplab
