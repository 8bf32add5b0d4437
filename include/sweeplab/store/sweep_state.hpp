#pragma once
// The one reader of a sweep's trials. The sweep's folder is the record of what was run: every trial in it, however
// it was made (any -o, any earlier version of the YAML), with the config and budget it was run with, plus the trials
// a run planned and has not started. The YAML (+ -o) only says what `run` trains next: its trials that neither
// exist nor are planned are counted (and listed when asked). A trial is found by its hash, whatever its folder's
// name. `status`, `export`, `best`, `report`, `logs`, `clean`, `show --trials`, `run` and `submit` all read through
// here; the trial index (trial_index.hpp) makes a read cost the trials changed since the last one.
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/store/history.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/trial_state.hpp"

namespace sweeplab {

// A second folder that holds a trial another folder holds already (made by a version of sweeplab whose folder
// names depended on the sweep's shape). The next run sets it aside.
struct DuplicateFolder {
  std::string folder;  // the one that gives way
  std::string kept;    // the one that holds more
};

struct SweepState {
  // The current config's spec (YAML + -o), its axes replaced by the keys in which the trials differ, in schema
  // order (with the values they have, ascending), the seed last.
  SweepSpec spec;
  // Every trial on disk and every trial a run planned that has no files yet (pending), one per hash, ordered by
  // their values on the axes; with ReadOptions::pending also the current config's trials not run yet (pending).
  std::vector<TrialState> trials;
  std::vector<RunRecord> runs;                // runs.jsonl, oldest first
  std::vector<DuplicateFolder> duplicates;
  // The current config's trials (indexes into ResolvedSweep::trials) that neither exist nor are planned.
  std::vector<std::size_t> not_run;
  bool without_index = false;                 // the index could not be used: every trial was read from its files

  // The current config's trial `i` on disk or planned: an index into `trials`; nullopt when not run (or, with
  // ReadOptions::narrow, not among the rows).
  std::optional<std::size_t> of_current(std::size_t i) const;
  // The current config's trial a row is, if it has it: an index into ResolvedSweep::trials.
  std::optional<std::size_t> current_of(std::size_t row) const;
  // The axes' keys: the columns worth showing.
  std::vector<std::string> keys() const { return swept_keys(spec); }

  std::unordered_map<std::size_t, std::size_t> current_to_row;  // current trial -> row
  std::vector<std::size_t> row_to_current;                      // row -> current trial (SIZE_MAX: none)
};

struct ReadOptions {
  bool metrics = false;   // every line of every metrics.jsonl (the report's curves); else only what the index keeps
  bool pending = false;   // also rows for the current config's trials that are not run yet (--pending)
  // Only the trials that have the values the -o overrides gave keys that affect training (status -o lr=0.1); an
  // override of a budget key only says what the config asks for now.
  bool narrow = true;
  bool rescan = false;    // read every trial's files again and rewrite the index (--rescan)
};

// Reads experiments_dir/NAME (NAME: current.spec.name). Writes nothing but the index (a cache; a read-only folder is
// read without it). A missing folder is a sweep without trials.
SweepState read_sweep_state(const ResolvedSweep& current, const std::string& experiments_dir,
                            const ReadOptions& options = {});

// The current config's trials in its own order, each as `state` has it (found by hash: the trial on disk, with the
// budget it was run with, or planned) or pending (the folder it would get); axes and columns the current config's.
// What `show --trials`, `run --dry-run` and the table at the end of a run show.
SweepState current_view(const SweepState& state, const ResolvedSweep& current);

// The current config's trials as the folder holds them (found by hash, whatever -o made them), in the current config's
// order: current_view of a read that does not narrow.
SweepState read_current_trials(const ResolvedSweep& current, const std::string& experiments_dir);

// The trials' values of `keys`, in order (rows of a table).
std::vector<std::pair<std::string, Value>> swept_values(const TrialState& trial, const std::vector<std::string>& keys);

// The config a trial was last run with (its config.yaml); nullopt, with `problem` saying why, when there is
// none or it does not read.
std::optional<Config> read_trial_config(const std::string& trial_dir, std::string* problem = nullptr);

// "50 epochs" or "2000 steps": a config's budget in its own unit.
std::string budget_text(const Config& config);
std::string budget_text(const CompactConfig& config);

// How far a trial with this summary got, in the unit of `config`'s budget: "50 epochs", "2000 steps".
std::string done_text(const StoredSummary& summary, const Config& config);

// A completed trial that `planned` asks to train further: its budget is larger than what the trial did,
// and the trial did not stop at its targets.
bool budget_raised(const StoredSummary& summary, const Config& planned);

// Moves trials/FOLDER (a second folder of a trial, DuplicateFolder) to set-aside/FOLDER (FOLDER.2, ... when taken)
// under its lock, and forgets its row in the index. Returns where it went ("set-aside/FOLDER"), or "" when a live
// process holds it. Nothing is deleted. Throws StorageError when it cannot be moved.
std::string set_aside_trial(const std::string& sweep_dir, const std::string& folder);

// The folder a new trial gets: its id, unless a folder of that name holds another trial (the 8 hex digits of two
// hashes can agree): then the id with all 16. `taken`: the folder names in use.
std::string folder_for(const TrialSpec& trial, const std::unordered_map<std::string, TrialHash>& taken);

}  // namespace sweeplab
