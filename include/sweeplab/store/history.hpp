#pragma once
// runs.jsonl: one line per `run` that trained (or tried to train) something in a sweep's directory:
// when, the command's overrides and flags, the sweeplab version, git commit, host and user. What was run;
// the YAML says what to run next.
#include <string>
#include <vector>

namespace sweeplab {

struct RunRecord {
  std::string started_at;                // ISO 8601, UTC
  std::string command;                   // "run", later "submit"
  std::vector<std::string> overrides;    // -o values, as given
  std::vector<std::string> flags;        // e.g. --fresh, --retry-failed
  std::string sweeplab_version, git_commit, host, user;
  std::size_t trials = 0;                // trials the command selected
};

// Appends one line (O_APPEND, one write: concurrent runs do not interleave). Throws StorageError.
void append_run_record(const std::string& sweep_dir, const RunRecord& record);

// The readable lines of sweep_dir/runs.jsonl, oldest first (none when there is no file).
std::vector<RunRecord> read_run_records(const std::string& sweep_dir);

// "-o epochs=50 -o lr=0.1" (or "no -o") for one line of text.
std::string overrides_text(const RunRecord& record);

}  // namespace sweeplab
