#pragma once
// The checks `run` and `submit` make before anything is trained or written, and the runs.jsonl line they add.
// (What they do with each trial is sched/plan.hpp's.) Internal to apps/sweeplab.
#include <string>
#include <vector>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/store/history.hpp"
#include "sweeplab/store/trial_files.hpp"

namespace sweeplab {

// The trainer program: $SWEEPLAB_TRAINER, else sweeplab-trainer beside this program, else the one this
// build made (for tests that run the command line in-process).
std::string locate_trainer();

// Asks the trainer whether CUDA can train here. Throws UserError with its answer when not.
void check_cuda(const std::string& trainer);

// The experiments path must be a folder that is (or can be) written to, before anything is trained.
void check_experiments_path(const std::string& path, const std::string& sweep_name);

// The task inputs (files, keys) every trial of the sweeps reads, each checked once; whether any trains on CUDA.
bool check_inputs(const std::vector<ResolvedSweep>& sweeps);

// A runs.jsonl line for `command` ("run", "submit").
RunRecord run_record(const std::string& command, const std::vector<std::string>& overrides,
                     const std::vector<std::string>& flags, const RunContext& context, std::size_t trials);

}  // namespace sweeplab
