#pragma once
// Running a sweep's trials and writing their files. No LibTorch here: training comes in as a callable.
#include <functional>
#include <map>
#include <iosfwd>
#include <string>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/store/trial_files.hpp"
#include "sweeplab/train/trainer.hpp"

namespace sweeplab {

using TrainFunction = std::function<TrialOutcome(const Config&, TrialSink&, const CheckpointOptions&)>;

struct RunOptions {
  std::string experiments_dir = "experiments";
  bool save = true;           // false (--no-save): train and print, write nothing
  bool fresh = false;         // --fresh: discard the trials' earlier results first
  bool retry_failed = false;  // --retry-failed: train failed trials again (otherwise they are skipped)
  bool quiet = false;         // only the final totals
  std::size_t jobs = 1;       // worker processes (-j)
  RunContext context;
};

struct RunTotals {
  int completed = 0, diverged = 0, failed = 0, interrupted = 0, skipped = 0, busy = 0;
  std::map<std::size_t, std::string> states;  // trial index -> status, for trials trained now
  std::map<std::size_t, EvalRecord> finals;   // trial index -> last evaluation, for trials trained now
};

// Trials in worker processes, options.jobs at a time (SPEC section 6). Each worker is forked once and
// takes trial after trial, so LibTorch's start-up is paid per worker, not per trial; a worker that
// aborts or crashes fails only the trial it was training (summary.json: the signal and the tail of its
// stderr; its checkpoint is kept) and a new worker takes the remaining trials. Dispatch order: the
// trials with the most optimizer steps first, ties in sweep order, so small-batch trials are not the tail.
//  - completed and diverged trials are skipped, unless the budget was raised past a completed one,
//    which then continues from its final checkpoint; failed ones are skipped unless retry_failed;
//  - partial and interrupted trials continue from their checkpoint, metrics.jsonl cut back to it;
//  - a trial locked by another live process is left to it (counted busy);
//  - a trial that throws is recorded as failed (summary.json with the error) and the sweep goes on;
//  - after an interrupt, the running trials checkpoint and no further trial starts.
RunTotals run_sweep(const ResolvedSweep& sweep, const RunOptions& options, const TrainFunction& train,
                    std::ostream& out);

// "bs=8-1a2b3c4d  completed  train_loss=0.01 test_loss=0.02 test_acc=0.99  1.2s"
std::string trial_line(const std::string& trial_id, const TrialOutcome& outcome);

}  // namespace sweeplab
