#pragma once
// Loading a named sweep: YAML files (with `extends`), then `-o` overrides, then typed conversion.
// Precedence, lowest first: field defaults < extended sweeps < the sweep's own file < `-o`.
#include <cstddef>
#include <string>
#include <vector>

#include "sweeplab/config/sweep.hpp"

namespace sweeplab {

// More trials than this is an error unless raised (--max-trials): a typo in a generator should not
// make millions of trial folders, nor run out of memory listing them.
constexpr std::size_t kDefaultMaxTrials = 100000;

struct LoadOptions {
  std::size_t max_trials = kDefaultMaxTrials;  // counted before any trial is built
};

struct ResolvedSweep {
  SweepSpec spec;
  std::vector<TrialSpec> trials;
};

// Throws UserError (one line: where, key, value, what is allowed, a suggestion) on any bad input.
ResolvedSweep load_sweep(const std::string& configs_dir, const std::string& name,
                         const std::vector<std::string>& overrides = {}, const LoadOptions& options = {});

// The same checks as load_sweep (every trial validated), without building the trials or their ids: for
// callers that only count them with count_trials(), like `sweeplab list`.
SweepSpec check_sweep(const std::string& configs_dir, const std::string& name,
                      const std::vector<std::string>& overrides = {}, const LoadOptions& options = {});

}  // namespace sweeplab
