#pragma once
// The one reader of a sweep's trials as they are on disk. The experiment directory is the source of
// truth for what was run: each trial's config.yaml holds the config (and budget) it was last run with,
// summary.json and metrics.jsonl what it did. The YAML (+ -o) only says what to run next. `status`,
// `export`, `report`, `show --trials`, `run --dry-run` and the end-of-run table all read through here.
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/store/history.hpp"
#include "sweeplab/store/layout.hpp"

namespace sweeplab {

struct TrialState {
  // id (the directory name), swept values (over SweepState::sweep.spec's axes) and the config: as it was
  // run (the trial's config.yaml) when the trial has files, else as the current config plans it.
  TrialSpec spec;
  // pending (no files), partial (started, no summary.json), running (another process holds its lock),
  // completed, diverged, failed, interrupted, skipped, or unreadable (a damaged summary.json or config.yaml).
  std::string status;
  std::optional<long> running_pid;        // when running
  std::optional<StoredSummary> summary;
  std::vector<EvalRecord> metrics;        // metrics.jsonl's readable lines (empty when not asked for)
  std::size_t unreadable_lines = 0;       // metrics.jsonl lines that do not parse (torn by a crash)
  bool in_current = true;                 // part of the sweep the YAML (+ -o) defines now
  // When in_current and the trial has files: the config the YAML (+ -o) asks for now. Its budget may
  // differ from spec.config's (a run with -o epochs=50, then status without it).
  std::optional<Config> planned;
  std::string problem;                    // why unreadable

  // The last evaluation: summary.json's final record, else metrics.jsonl's last line.
  std::optional<EvalRecord> last() const;
  bool has_files() const { return status != "pending"; }
};

struct SweepState {
  // The current spec, its axes widened to every key in which the trials differ (so that trials of an
  // earlier version of the config stay distinguishable); trials: the current ones in sweep order, then
  // those on disk that the current config does not have, by id. Parallel to `trials`.
  ResolvedSweep sweep;
  std::vector<TrialState> trials;
  std::vector<RunRecord> runs;            // runs.jsonl, oldest first
};

struct ReadOptions {
  bool metrics = true;                    // read every metrics.jsonl (status and the run table need only the last line)
};

// Reads experiments_dir/NAME. Never writes. A missing directory is a sweep with every trial pending.
SweepState read_sweep_state(const ResolvedSweep& current, const std::string& experiments_dir,
                            const ReadOptions& options = {});

// The config a trial was last run with (its config.yaml); nullopt, with `problem` saying why, when there is
// none or it does not read.
std::optional<Config> read_trial_config(const std::string& trial_dir, std::string* problem = nullptr);

// "50 epochs" or "2000 steps": a config's budget in its own unit.
std::string budget_text(const Config& config);

// How far a trial with this summary got, in the unit of `config`'s budget: "50 epochs", "2000 steps".
std::string done_text(const StoredSummary& summary, const Config& config);

// A completed trial that `planned` asks to train further: its budget is larger than what the trial did,
// and the trial did not stop at its targets.
bool budget_raised(const StoredSummary& summary, const Config& planned);

}  // namespace sweeplab
