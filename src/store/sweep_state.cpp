#include "sweeplab/store/sweep_state.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/store/lock.hpp"

namespace fs = std::filesystem;

namespace sweeplab {
namespace {

bool path_exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// A trial directory holds results once anything but its lock file is in it (a lock alone is left by
// a process that only looked, e.g. one that found the trial busy).
bool has_results(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename() != "lock") return true;
  }
  return false;
}

}  // namespace

// The config.yaml read back as a sweep of one trial.
std::optional<Config> read_trial_config(const std::string& trial_dir, std::string* problem) {
  const fs::path path = fs::path(trial_dir) / "config.yaml";
  std::string why;
  if (!path_exists(path)) {
    why = "config.yaml is missing";
  } else {
    try {
      auto sweep = load_sweep(trial_dir, "config");
      if (sweep.trials.size() == 1) return std::move(sweep.trials.front().config);
      why = "config.yaml holds a sweep, not one trial";
    } catch (const std::exception& e) {
      why = std::string("config.yaml is unreadable: ") + e.what();
    }
  }
  if (problem) *problem = why;
  return std::nullopt;
}

namespace {

void read_files(TrialState& state, const fs::path& dir, const ReadOptions& options) {
  state.summary = read_summary(dir.string());
  MetricsScan scan = scan_metrics((dir / "metrics.jsonl").string());
  state.unreadable_lines = scan.damaged_lines.size();
  if (options.metrics) {
    state.metrics = std::move(scan.records);
  } else if (!scan.records.empty()) {
    state.metrics.push_back(scan.records.back());
  }
  if (const auto holder = lock_holder(dir.string())) {
    state.status = "running";
    state.running_pid = *holder;
  } else if (state.summary) {
    state.status = state.summary->status;
    if (state.status == "unreadable") state.problem = "summary.json is unreadable";
  } else {
    state.status = "partial";
  }
}

// Widens the axes to every key (that affects training) in which the trials differ, in schema order, and
// sets each trial's swept values over them.
void widen_axes(SweepState& state) {
  SweepSpec& spec = state.sweep.spec;
  std::vector<Axis> axes;
  for (const auto& field : schema()) {
    const auto current = std::find_if(spec.axes.begin(), spec.axes.end(), [&](const Axis& a) { return a.key == field.key; });
    const bool seed_axis = field.key == "training.seed" && !spec.seeds.empty();
    if (current == spec.axes.end() && (!field.affects_training || seed_axis)) continue;
    Axis axis = current != spec.axes.end() ? *current : Axis{field.key, {}, "the trials on disk"};
    std::set<Value> seen(axis.values.begin(), axis.values.end());
    for (const auto& trial : state.trials) {
      Value value = field.get(trial.spec.config);
      if (seen.insert(value).second) axis.values.push_back(std::move(value));
    }
    if (current != spec.axes.end() || axis.values.size() > 1) axes.push_back(std::move(axis));
  }
  spec.axes = std::move(axes);
  const auto keys = swept_keys(spec);
  for (auto& trial : state.trials) {
    trial.spec.swept.clear();
    for (const auto& key : keys) trial.spec.swept.emplace_back(key, find_field(key)->get(trial.spec.config));
  }
}

}  // namespace

std::optional<EvalRecord> TrialState::last() const {
  if (summary && summary->final) return summary->final;
  if (!metrics.empty()) return metrics.back();
  return std::nullopt;
}

// The budget in the unit that decides it: training.samples, else training.steps, else training.epochs.
std::string budget_text(const Config& config) {
  if (config.training.samples > 0) return std::to_string(config.training.samples) + " samples";
  return config.training.steps > 0 ? std::to_string(config.training.steps) + " steps"
                                   : std::to_string(config.training.epochs) + " epochs";
}

std::string done_text(const StoredSummary& summary, const Config& config) {
  if (config.training.samples > 0) return std::to_string(summary.samples) + " samples";
  return config.training.steps > 0 ? std::to_string(summary.steps) + " steps" : std::to_string(summary.epochs) + " epochs";
}

bool budget_raised(const StoredSummary& summary, const Config& planned) {
  const bool larger = planned.training.samples > 0 ? planned.training.samples > summary.samples
                      : planned.training.steps > 0 ? planned.training.steps > summary.steps
                                                   : planned.training.epochs > summary.epochs;
  return larger && !summary.stopped_at_target;
}

SweepState read_sweep_state(const ResolvedSweep& current, const std::string& experiments_dir,
                            const ReadOptions& options) {
  SweepState state;
  state.sweep.spec = current.spec;
  const fs::path root = sweep_dir(experiments_dir, current.spec.name);
  state.runs = read_run_records(root.string());

  std::set<std::string> on_disk;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root / "trials", ec)) {
    if (entry.is_directory(ec) && has_results(entry.path())) on_disk.insert(entry.path().filename().string());
  }

  const auto add = [&](const TrialSpec& spec, bool in_current) {
    TrialState trial;
    trial.spec = spec;
    trial.in_current = in_current;
    trial.status = "pending";
    if (on_disk.count(spec.id)) {
      const fs::path dir = root / "trials" / spec.id;
      read_files(trial, dir, options);
      std::string problem;
      if (auto config = read_trial_config(dir.string(), &problem)) {
        if (in_current) trial.planned = spec.config;
        trial.spec.config = std::move(*config);
      } else if (in_current) {  // its files still say what happened; the current config stands in
        trial.problem = problem + "; shown with the current config";
      } else {
        trial.status = "unreadable";
        trial.problem = problem;
      }
    }
    state.trials.push_back(std::move(trial));
  };
  std::set<std::string> current_ids;
  for (const auto& trial : current.trials) {
    current_ids.insert(trial.id);
    add(trial, true);
  }
  for (const auto& id : on_disk) {
    if (current_ids.count(id)) continue;
    TrialSpec spec;
    spec.id = id;
    spec.config = current.spec.base;  // replaced by its config.yaml when that reads
    add(spec, false);
  }
  widen_axes(state);
  for (const auto& trial : state.trials) state.sweep.trials.push_back(trial.spec);
  return state;
}

}  // namespace sweeplab
