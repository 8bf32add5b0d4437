#pragma once
// Where a trial stands: one word per state, the same on screen, in summary.json, in exports and in the index.
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace sweeplab {

enum class TrialStatus {
  Pending,      // no files yet: a run planned it, or the current config has it
  Running,      // a live process holds its lock
  Partial,      // started, no summary.json: a run is about to write it, or was killed (resumes)
  Interrupted,  // stopped by Ctrl-C, SIGTERM or a storage error, with a checkpoint (resumes)
  Completed,    // trained to its budget or its targets
  Diverged,     // a non-finite or exploding loss ended it: a result, not a failure
  Failed,       // crashed; summary.json has the error (--retry-failed trains it again)
  Skipped,      // not run because sweep.prune ruled it out; summary.json says why
  Unreadable,   // summary.json or config.yaml is damaged (the next run repairs it from the checkpoint)
};

// Every status, in the order totals and tables list them.
constexpr std::array<TrialStatus, 9> kAllStatuses = {
    TrialStatus::Completed, TrialStatus::Diverged, TrialStatus::Running, TrialStatus::Partial, TrialStatus::Interrupted,
    TrialStatus::Failed,    TrialStatus::Skipped,  TrialStatus::Pending, TrialStatus::Unreadable};

// The trainer is done with the trial and its result is on disk: completed, diverged, failed or skipped.
constexpr bool settled(TrialStatus status) {
  switch (status) {
    case TrialStatus::Completed:
    case TrialStatus::Diverged:
    case TrialStatus::Failed:
    case TrialStatus::Skipped:
      return true;
    case TrialStatus::Pending:
    case TrialStatus::Running:
    case TrialStatus::Partial:
    case TrialStatus::Interrupted:
    case TrialStatus::Unreadable:
      return false;
  }
  return false;
}

// A scientific result that stays as it is: completed or diverged.
constexpr bool has_result(TrialStatus status) {
  return status == TrialStatus::Completed || status == TrialStatus::Diverged;
}

// "completed", "diverged", ...
std::string to_string(TrialStatus status);

// The status a word names; nullopt for any other word.
std::optional<TrialStatus> parse_status(std::string_view word);

}  // namespace sweeplab
