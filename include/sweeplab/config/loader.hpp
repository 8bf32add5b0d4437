#pragma once
// Loading a named sweep: YAML files (with `extends`), then `-o` overrides, then typed conversion.
// Precedence, lowest first: field defaults < extended sweeps < the sweep's own file < `-o`.
#include <string>
#include <vector>

#include "sweeplab/config/sweep.hpp"

namespace sweeplab {

struct ResolvedSweep {
  SweepSpec spec;
  std::vector<TrialSpec> trials;
};

// Throws UserError (one line: where, key, value, what is allowed, a suggestion) on any bad input.
ResolvedSweep load_sweep(const std::string& configs_dir, const std::string& name,
                         const std::vector<std::string>& overrides = {});

}  // namespace sweeplab
