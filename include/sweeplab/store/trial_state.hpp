#pragma once
// One trial as a sweep's folder holds it (or as a run planned it): what every reading command, the trial index
// and the run's plan know of it.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/config/compact_config.hpp"
#include "sweeplab/core/hash.hpp"
#include "sweeplab/core/metrics.hpp"
#include "sweeplab/store/layout.hpp"

namespace sweeplab {

struct TrialState {
  std::string id;                 // its folder's name (a trial without files: the name it will get)
  TrialHash hash;                 // its identity
  CompactConfig config;           // as it was last run (config.yaml), or as planned when it has no files
  TrialStatus status = TrialStatus::Pending;
  std::optional<long> running_pid;           // when running
  // summary.json (status unreadable when damaged), and metrics.jsonl's last readable line when there is no summary:
  // shared, never changed once read, so that 100 000 rows stay small and copy cheaply.
  std::shared_ptr<const StoredSummary> summary;
  std::shared_ptr<const EvalRecord> last_record;
  std::vector<EvalRecord> metrics;           // every readable line, when a reader asked for them
  std::size_t unreadable_lines = 0;          // metrics.jsonl lines that do not parse (torn by a crash)
  std::string problem;                       // why unreadable, or what is odd about its files
  bool has_files = false;                    // false: pending (planned by a run, or only in the current config)

  // The last evaluation: summary.json's final record, else metrics.jsonl's last line.
  std::optional<EvalRecord> last() const;
  // How far it got, in optimizer steps: summary.json's, else the last record's.
  std::int64_t steps_done() const;
  // Which of two folders of one trial holds more: settled beats unsettled, then more steps.
  bool further_than(const TrialState& other) const;
};

// What to read of a trial's folder.
struct TrialRead {
  bool all_metrics = false;  // every metrics.jsonl line (else only the last is kept, when there is no summary)
  bool config = true;        // config.yaml (YAML: the slow part); false: `fallback`'s config stands for it
  bool lock = true;          // whether another process holds its lock (running); false for the lock's own holder
};

// Reads a trial's folder: config.yaml (the config and its hash), summary.json, metrics.jsonl and its lock. Never
// writes. A config.yaml that does not read makes the trial unreadable, unless `fallback` gives the config it
// stands for (what the caller knew of the trial: the hash it looked it up by).
TrialState read_trial_files(const std::string& trial_dir, const TrialRead& read, const TrialState* fallback = nullptr);

}  // namespace sweeplab
