#pragma once
// submit --wait: the progress display of `run` for the trials submitted (and those queued already), fed from their
// files and squeue, until none of their tasks is in the queue but held ones. No LibTorch.
#include <cstddef>
#include <iosfwd>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/slurm/submissions.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab::slurm {

struct WaitOutcome {
  bool interrupted = false;                 // Ctrl-C stopped the waiting (the jobs go on)
  SweepState trials;                        // the current config's trials at the end (read_current_trials)
  std::map<std::string, TrialTask> tasks;   // trial folder -> its newest task
  std::set<std::string> held;               // tasks Slurm holds, not waited for: "12_3 (PENDING, JobHeldUser)"
  std::size_t failed = 0, unfinished = 0;   // of the watched trials
};

// Waits for the trials `watched` (indexes into sweep.trials), asking squeue every poll_s seconds (patiently: a busy
// controller is asked again for up to 10 minutes). As a task leaves the queue, what became of it is asked at once
// (the controller forgets ended jobs after MinJobAge) and the trials of a task that died are recorded failed.
// Progress goes to `out` (live on a terminal, one line per trial otherwise, nothing when quiet).
WaitOutcome wait_for_jobs(const ResolvedSweep& sweep, const std::string& experiments_dir, const std::vector<std::size_t>& watched,
                          int poll_s, bool quiet, std::ostream& out, std::ostream& err);

}  // namespace sweeplab::slurm
