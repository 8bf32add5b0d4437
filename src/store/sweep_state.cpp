#include "sweeplab/store/sweep_state.hpp"

#include <dirent.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_set>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"
#include "sweeplab/store/lock.hpp"
#include "sweeplab/store/trial_index.hpp"

namespace fs = std::filesystem;

namespace sweeplab {

// ---- one trial's files ----

std::optional<Config> read_trial_config(const std::string& trial_dir, std::string* problem) {
  const fs::path path = fs::path(trial_dir) / "config.yaml";
  std::string why;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    why = "config.yaml is missing";
  } else {
    try {
      auto sweep = load_sweep(trial_dir, "config");
      if (sweep.trials.size() == 1) return sweep.trials.front().config.expand();
      why = "config.yaml holds a sweep, not one trial";
    } catch (const std::exception& e) {
      why = std::string("config.yaml is unreadable: ") + e.what();
    }
  }
  if (problem) *problem = why;
  return std::nullopt;
}

std::optional<EvalRecord> TrialState::last() const {
  if (summary && summary->final) return summary->final;
  if (!metrics.empty()) return metrics.back();
  if (last_record) return *last_record;
  return std::nullopt;
}

std::int64_t TrialState::steps_done() const {
  if (summary && summary->status != TrialStatus::Unreadable) return summary->steps;
  const auto record = last();
  return record ? record->step : 0;
}

bool TrialState::further_than(const TrialState& other) const {
  if (settled(status) != settled(other.status)) return settled(status);
  return steps_done() > other.steps_done();
}

TrialState read_trial_files(const std::string& trial_dir, const TrialRead& read, const TrialState* fallback) {
  TrialState trial;
  trial.id = fs::path(trial_dir).filename().string();
  trial.has_files = true;
  std::string problem;
  const auto config = read.config ? read_trial_config(trial_dir, &problem) : std::nullopt;
  if (config) {
    trial.config = CompactConfig::of(*config);
    trial.hash = trial.config.hash();
  } else if (fallback) {  // its files still say what happened; the config it was looked up by stands in
    trial.config = fallback->config;
    trial.hash = fallback->hash;
    if (read.config) trial.problem = problem + "; shown with the current config";
  } else {
    trial.problem = problem;
  }
  const bool all_metrics = read.all_metrics;
  if (auto summary = read_summary(trial_dir)) trial.summary = std::make_shared<const StoredSummary>(std::move(*summary));
  MetricsScan scan = scan_metrics((fs::path(trial_dir) / "metrics.jsonl").string());
  trial.unreadable_lines = scan.damaged_lines.size();
  if (all_metrics) {
    trial.metrics = std::move(scan.records);
  } else if (!scan.records.empty() && !(trial.summary && trial.summary->final)) {
    trial.last_record = std::make_shared<const EvalRecord>(scan.records.back());
  }
  if (const auto holder = read.lock ? lock_holder(trial_dir) : std::nullopt) {
    trial.status = TrialStatus::Running;
    trial.running_pid = *holder;
  } else if (trial.summary) {
    trial.status = trial.summary->status;
    if (trial.status == TrialStatus::Unreadable) trial.problem = "summary.json is unreadable";
  } else {
    trial.status = TrialStatus::Partial;
  }
  if (read.config && !config && !fallback && trial.status != TrialStatus::Running) trial.status = TrialStatus::Unreadable;
  return trial;
}

std::vector<std::pair<std::string, Value>> swept_values(const TrialState& trial, const std::vector<std::string>& keys) {
  return swept_values(trial.config, keys);
}

// ---- budgets ----

// The budget in the unit that decides it: training.samples, else training.steps, else training.epochs.
std::string budget_text(const Config& config) {
  if (config.training.samples > 0) return std::to_string(config.training.samples) + " samples";
  return config.training.steps > 0 ? std::to_string(config.training.steps) + " steps"
                                   : std::to_string(config.training.epochs) + " epochs";
}

std::string budget_text(const CompactConfig& config) {
  static const std::size_t samples = field_index("training.samples"), steps = field_index("training.steps"),
                           epochs = field_index("training.epochs");
  const auto number = [&](std::size_t field) { return std::get<std::int64_t>(config.get(field)); };
  if (number(samples) > 0) return std::to_string(number(samples)) + " samples";
  return number(steps) > 0 ? std::to_string(number(steps)) + " steps" : std::to_string(number(epochs)) + " epochs";
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

std::string folder_for(const TrialSpec& trial, const std::unordered_map<std::string, TrialHash>& taken) {
  const auto found = taken.find(trial.id);
  if (found == taken.end() || found->second == trial.hash) return trial.id;
  return trial.id.substr(0, trial.id.size() - 8) + trial.hash.hex();
}

std::string set_aside_trial(const std::string& sweep_dir, const std::string& folder) {
  const fs::path root(sweep_dir), dir = root / "trials" / folder;
  auto lock = TrialLock::try_acquire(dir.string());
  if (!lock) return "";
  lock->keep_file();  // it moves with the folder
  create_folders((root / "set-aside").string());
  std::string name = folder;
  std::error_code ec;
  for (int n = 2; fs::exists(root / "set-aside" / name, ec); ++n) name = folder + "." + std::to_string(n);
  fs::rename(dir, root / "set-aside" / name, ec);
  if (ec) throw StorageError("cannot move " + dir.string() + " to " + (root / "set-aside" / name).string() + ": " + ec.message());
  if (auto index = TrialIndex::open(sweep_dir, /*create=*/false)) {
    try {
      index->remove({folder});
    } catch (const StorageError&) {  // the next read finds the folder gone
    }
  }
  return "set-aside/" + name;
}

// ---- the sweep ----

std::optional<std::size_t> SweepState::of_current(std::size_t i) const {
  const auto found = current_to_row.find(i);
  return found == current_to_row.end() ? std::nullopt : std::optional<std::size_t>(found->second);
}

std::optional<std::size_t> SweepState::current_of(std::size_t row) const {
  if (row >= row_to_current.size() || row_to_current[row] == SIZE_MAX) return std::nullopt;
  return row_to_current[row];
}

namespace {

// The folders under trials/ (names only: one readdir, no stat per folder).
std::vector<std::string> trial_folders(const fs::path& trials) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(trials.c_str());
  if (!dir) return names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.empty() || name[0] == '.') continue;  // ., .., and hidden temporaries
    if (entry->d_type == DT_DIR || entry->d_type == DT_UNKNOWN) names.push_back(name);
  }
  ::closedir(dir);
  return names;
}

// A folder holds a trial once anything but its lock file is in it (a lock alone is left by a process that only
// looked, e.g. one that found the trial busy), and it is a folder.
bool has_results(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename() != "lock") return true;
  }
  return false;
}

// The keys the rows are told apart by: every key that affects training or is a budget, in schema order, whose
// value differs between rows; the seed last. Each axis's values are those the rows have: in the order the current
// config lists them, then the others ascending. With no rows, the current config's axes.
std::vector<Axis> axes_of(const std::vector<TrialState>& trials, const SweepSpec& current) {
  if (trials.empty()) return current.axes;
  const auto& fields = schema();
  static const std::set<std::string> budget = {"training.epochs", "training.steps", "training.samples"};
  // A field varies when two rows have different entries for it, or some rows have one and some none (the default):
  // one pass over the rows' entries, then the values of the fields that vary.
  std::vector<std::size_t> count(fields.size(), 0);
  std::vector<std::uint32_t> first(fields.size(), CompactConfig::kDefaultEntry);
  std::vector<bool> varies(fields.size(), false);
  for (const auto& trial : trials) {
    for (const auto entry : trial.config.entries()) {
      const std::size_t field = CompactConfig::entry_field(entry);
      if (count[field]++ == 0) first[field] = entry;
      else if (first[field] != entry) varies[field] = true;
    }
  }
  std::vector<std::set<std::uint32_t>> seen(fields.size());  // entry ids (kDefaultEntry: at the default)
  for (std::size_t field = 0; field < fields.size(); ++field) {
    if (count[field] > 0 && count[field] < trials.size()) varies[field] = true;
    if (varies[field] && count[field] < trials.size()) seen[field].insert(CompactConfig::kDefaultEntry);
  }
  for (const auto& trial : trials) {
    for (const auto entry : trial.config.entries()) {
      const std::size_t field = CompactConfig::entry_field(entry);
      if (varies[field]) seen[field].insert(entry);
    }
  }
  std::vector<Axis> axes;
  std::optional<Axis> seed;
  for (std::size_t field = 0; field < fields.size(); ++field) {
    if (seen[field].size() < 2) continue;
    if (!fields[field].affects_training && !budget.count(fields[field].key)) continue;
    Axis axis{fields[field].key, {}, "the trials on disk"};
    std::set<Value> values;
    for (const auto entry : seen[field]) {
      if (entry == CompactConfig::kDefaultEntry) {
        values.insert(CompactConfig().get(field));
      } else {
        values.insert(CompactConfig::from_entries({entry}).get(field));
      }
    }
    std::vector<Value> listed;  // the current config's order: "sweep: {grid: {model.parameterization: [sp, mup]}}"
    for (const auto& current_axis : current.axes) {
      if (current_axis.key != axis.key) continue;
      axis.source = current_axis.source;
      for (const auto& value : current_axis.values) {
        if (values.erase(value)) listed.push_back(value);
      }
    }
    if (axis.key == "training.seed") {
      for (const auto seed : current.seeds) {
        if (values.erase(Value(seed))) listed.push_back(Value(seed));
      }
    }
    axis.values = std::move(listed);
    axis.values.insert(axis.values.end(), values.begin(), values.end());
    if (axis.key == "training.seed") seed = std::move(axis);
    else axes.push_back(std::move(axis));
  }
  if (seed) axes.push_back(std::move(*seed));
  return axes;
}

// The rows in the order of their values on the axes (ascending, the first axis slowest).
void sort_rows(std::vector<TrialState>& trials, const std::vector<Axis>& axes) {
  std::vector<std::size_t> fields;
  for (const auto& axis : axes) fields.push_back(field_index(axis.key));
  // Each row's rank of its value on every axis, found through its entry id (values compared once per entry).
  std::vector<std::map<std::uint32_t, std::size_t>> rank_of(axes.size());
  for (std::size_t a = 0; a < axes.size(); ++a) {
    std::map<Value, std::size_t> rank_of_value;
    for (std::size_t r = 0; r < axes[a].values.size(); ++r) rank_of_value[axes[a].values[r]] = r;
    for (const auto& trial : trials) {
      const auto& entries = trial.config.entries();
      const auto at = std::find_if(entries.begin(), entries.end(),
                                   [&](std::uint32_t e) { return CompactConfig::entry_field(e) == fields[a]; });
      const std::uint32_t entry = at == entries.end() ? CompactConfig::kDefaultEntry : *at;
      if (!rank_of[a].count(entry)) rank_of[a][entry] = rank_of_value[trial.config.get(fields[a])];
    }
  }
  std::vector<std::pair<std::vector<std::size_t>, std::size_t>> keys(trials.size());
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const auto& entries = trials[i].config.entries();
    keys[i].second = i;
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const auto at = std::find_if(entries.begin(), entries.end(),
                                   [&](std::uint32_t e) { return CompactConfig::entry_field(e) == fields[a]; });
      keys[i].first.push_back(rank_of[a][at == entries.end() ? CompactConfig::kDefaultEntry : *at]);
    }
  }
  std::stable_sort(keys.begin(), keys.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return trials[a.second].id < trials[b.second].id;
  });
  std::vector<TrialState> sorted;
  sorted.reserve(trials.size());
  for (const auto& key : keys) sorted.push_back(std::move(trials[key.second]));
  trials = std::move(sorted);
}

// -o KEY=VALUE on a key that affects training narrows a reading command to the trials that have VALUE (or one of
// the values of an axis it made): the entries each such key may have.
std::vector<std::pair<std::size_t, std::set<std::uint32_t>>> narrowing(const ResolvedSweep& current) {
  std::vector<std::pair<std::size_t, std::set<std::uint32_t>>> allowed;
  const auto& fields = schema();
  for (std::size_t field = 0; field < fields.size(); ++field) {
    if (!fields[field].affects_training) continue;
    const auto source = current.spec.sources.find(fields[field].key);
    bool from_override = source != current.spec.sources.end() && source->second.rfind("-o", 0) == 0;
    for (const auto& axis : current.spec.axes) {
      if (axis.key == fields[field].key) from_override = axis.source.rfind("-o", 0) == 0;
    }
    if (!from_override) continue;
    std::set<std::uint32_t> entries;
    for (const auto& trial : current.trials) {
      const auto& ids = trial.config.entries();
      const auto at = std::find_if(ids.begin(), ids.end(), [&](std::uint32_t e) { return CompactConfig::entry_field(e) == field; });
      entries.insert(at == ids.end() ? CompactConfig::kDefaultEntry : *at);
    }
    allowed.emplace_back(field, std::move(entries));
  }
  return allowed;
}

bool passes(const TrialState& trial, const std::vector<std::pair<std::size_t, std::set<std::uint32_t>>>& allowed) {
  for (const auto& [field, entries] : allowed) {
    const auto& ids = trial.config.entries();
    const auto at = std::find_if(ids.begin(), ids.end(), [&](std::uint32_t e) { return CompactConfig::entry_field(e) == field; });
    if (!entries.count(at == ids.end() ? CompactConfig::kDefaultEntry : *at)) return false;
  }
  return true;
}

}  // namespace

SweepState current_view(const SweepState& state, const ResolvedSweep& current) {
  SweepState view;
  view.spec = current.spec;
  view.runs = state.runs;
  view.duplicates = state.duplicates;
  std::unordered_map<std::string, TrialHash> taken;
  for (const auto& trial : state.trials) taken.emplace(trial.id, trial.hash);
  view.row_to_current.reserve(current.trials.size());
  for (std::size_t i = 0; i < current.trials.size(); ++i) {
    if (const auto row = state.of_current(i)) {
      view.trials.push_back(state.trials[*row]);
    } else {
      TrialState pending;
      pending.id = folder_for(current.trials[i], taken);
      pending.hash = current.trials[i].hash;
      pending.config = current.trials[i].config;
      view.trials.push_back(std::move(pending));
    }
    view.row_to_current.push_back(i);
    view.current_to_row.emplace(i, i);
  }
  return view;
}

SweepState read_current_trials(const ResolvedSweep& current, const std::string& experiments_dir) {
  ReadOptions read;
  read.narrow = false;
  return current_view(read_sweep_state(current, experiments_dir, read), current);
}

SweepState read_sweep_state(const ResolvedSweep& current, const std::string& experiments_dir, const ReadOptions& options) {
  SweepState state;
  state.spec = current.spec;
  const fs::path root = sweep_dir(experiments_dir, current.spec.name);
  state.runs = read_run_records(root.string());

  // The current config's trials by hash.
  std::unordered_map<TrialHash, std::size_t, TrialHashHasher> current_by_hash;
  current_by_hash.reserve(current.trials.size());
  for (std::size_t i = 0; i < current.trials.size(); ++i) current_by_hash.emplace(current.trials[i].hash, i);
  // For a folder whose config.yaml does not read: the current config's trial whose hash begins with the 8 hex digits
  // that end the folder's name (rare: looked for one by one).
  const auto fallback_for = [&](const std::string& folder) -> std::optional<TrialState> {
    if (folder.size() < 9) return std::nullopt;
    const std::string suffix = folder.substr(folder.size() - 8);
    for (const auto& trial : current.trials) {
      if (trial.hash.short_hex() != suffix) continue;
      TrialState stand_in;
      stand_in.config = trial.config;
      stand_in.hash = trial.hash;
      return stand_in;
    }
    return std::nullopt;
  };
  // `known`: what the index last knew of the trial, which stands in for a config.yaml that no longer reads.
  const auto read_folder = [&](const std::string& folder, bool all_metrics, const TrialState* known = nullptr) {
    const auto stand_in = fallback_for(folder);
    const TrialState* fallback = known && known->hash.value != 0 ? known : stand_in ? &*stand_in : nullptr;
    return read_trial_files((root / "trials" / folder).string(), TrialRead{all_metrics, true, true}, fallback);
  };

  // What the index knows, what the folder holds, and the difference read from the files.
  std::error_code ec;
  const bool exists = fs::is_directory(root / "trials", ec);
  std::unique_ptr<TrialIndex> index;
  if (exists) {
    bool rebuilt = false;
    if (options.rescan) fs::remove(root / TrialIndex::kFileName, ec);
    index = TrialIndex::open(root.string(), /*create=*/true, &rebuilt);
  }
  std::vector<IndexedTrial> rows;
  if (index) {
    try {
      rows = index->load();
    } catch (const StorageError&) {
      index.reset();
      rows.clear();
    }
  }
  state.without_index = exists && !index;
  std::vector<std::string> folders = exists ? trial_folders(root / "trials") : std::vector<std::string>{};
  std::sort(folders.begin(), folders.end());  // looked up by binary search: 100 000 names, no set to build
  std::vector<bool> known(folders.size(), false);  // the folders the index has a row for
  const auto on_disk = [&](const std::string& name) {  // marks the folder known
    const auto at = std::lower_bound(folders.begin(), folders.end(), name);
    if (at == folders.end() || *at != name) return false;
    known[std::size_t(at - folders.begin())] = true;
    return true;
  };

  std::vector<TrialState> trials;
  trials.reserve(std::max(rows.size(), folders.size()));
  std::vector<std::string> gone;
  std::vector<std::size_t> reread;                 // indexes into `trials` of rows read from their files now
  std::vector<std::int64_t> reread_generations;    // ... and the generation their row had (-1: none)
  for (auto& row : rows) {
    if (!on_disk(row.trial.id)) {
      if (row.planned) {
        row.trial.has_files = false;
        row.trial.status = TrialStatus::Pending;
        trials.push_back(std::move(row.trial));
      } else {
        gone.push_back(row.trial.id);  // removed (clean, or by hand): no longer a trial
      }
      continue;
    }
    if (row.dirty) {
      reread.push_back(trials.size());
      reread_generations.push_back(row.generation);
      trials.push_back(read_folder(row.trial.id, options.metrics, &row.trial));
      continue;
    }
    if (options.metrics) {
      MetricsScan scan = scan_metrics((root / "trials" / row.trial.id / "metrics.jsonl").string());
      row.trial.metrics = std::move(scan.records);
    }
    trials.push_back(std::move(row.trial));
  }
  for (std::size_t f = 0; f < folders.size(); ++f) {
    const std::string& folder = folders[f];
    if (known[f] || !has_results(root / "trials" / folder)) continue;
    reread.push_back(trials.size());
    reread_generations.push_back(-1);
    trials.push_back(read_folder(folder, options.metrics));
  }
  if (index) {
    std::vector<const TrialState*> to_store;
    std::vector<std::int64_t> generations;
    for (std::size_t k = 0; k < reread.size(); ++k) {
      if (trials[reread[k]].hash.value == 0) continue;  // nothing names it: read from its files each time
      to_store.push_back(&trials[reread[k]]);
      generations.push_back(reread_generations[k]);
    }
    try {
      index->store(to_store, generations, gone);
    } catch (const StorageError&) {
      // Another process held the index too long, or the disk refuses: the rows are right in memory, and the next
      // read tries again.
    }
  }

  // One trial per hash: a second folder of a hash (made by an older version) gives way to the one further along.
  {
    std::unordered_map<TrialHash, std::size_t, TrialHashHasher> first;
    first.reserve(trials.size());
    std::vector<bool> drop(trials.size(), false);
    for (std::size_t i = 0; i < trials.size(); ++i) {
      if (trials[i].hash.value == 0) continue;  // unreadable: nothing to compare
      const auto [it, inserted] = first.emplace(trials[i].hash, i);
      if (inserted) continue;
      std::size_t& kept = it->second;
      const bool newer_wins = trials[i].further_than(trials[kept]) ||
                              (!trials[kept].has_files && trials[i].has_files);
      const std::size_t loser = newer_wins ? kept : i;
      if (newer_wins) kept = i;
      drop[loser] = true;
      if (trials[loser].has_files) state.duplicates.push_back({trials[loser].id, trials[kept].id});
    }
    if (std::find(drop.begin(), drop.end(), true) != drop.end()) {
      std::vector<TrialState> unique;
      unique.reserve(trials.size());
      for (std::size_t i = 0; i < trials.size(); ++i) {
        if (!drop[i]) unique.push_back(std::move(trials[i]));
      }
      trials = std::move(unique);
    }
  }

  if (options.narrow) {
    const auto allowed = narrowing(current);
    if (!allowed.empty()) {
      trials.erase(std::remove_if(trials.begin(), trials.end(), [&](const TrialState& t) { return !passes(t, allowed); }),
                   trials.end());
    }
  }

  // The current config's trials that are neither on disk nor planned.
  std::unordered_set<TrialHash, TrialHashHasher> present;
  for (const auto& trial : trials) present.insert(trial.hash);
  for (std::size_t i = 0; i < current.trials.size(); ++i) {
    if (present.count(current.trials[i].hash)) continue;
    state.not_run.push_back(i);
    if (options.pending) {
      TrialState pending;
      pending.id = current.trials[i].id;
      pending.hash = current.trials[i].hash;
      pending.config = current.trials[i].config;
      pending.status = TrialStatus::Pending;
      trials.push_back(std::move(pending));
    }
  }

  std::vector<Axis> axes = axes_of(trials, current.spec);
  sort_rows(trials, axes);
  // Seeds are the spec's seeds, as in a sweep's YAML (swept_keys puts training.seed last), not an axis of the grid.
  if (!trials.empty()) state.spec.seeds.clear();
  if (!axes.empty() && axes.back().key == "training.seed") {
    for (const auto& seed : axes.back().values) state.spec.seeds.push_back(std::get<std::int64_t>(seed));
    axes.pop_back();
  }
  state.spec.axes = std::move(axes);
  state.spec.sampled.clear();  // the sampled keys that vary among the rows are axes above, like the grid's
  state.trials = std::move(trials);

  state.row_to_current.assign(state.trials.size(), SIZE_MAX);
  for (std::size_t r = 0; r < state.trials.size(); ++r) {
    const auto found = current_by_hash.find(state.trials[r].hash);
    if (found == current_by_hash.end()) continue;
    state.row_to_current[r] = found->second;
    state.current_to_row.emplace(found->second, r);
  }
  return state;
}

}  // namespace sweeplab
