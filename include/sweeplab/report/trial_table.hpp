#pragma once
// The table of a sweep's trials: id, swept values, state, progress against the budget each was run with,
// final metrics, a note; then totals. `status` prints it, and so does `run` when it ends.
#include <map>
#include <string>
#include <vector>

#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {

// `current`: the config state was read with (its budgets: a trial run with another says what the config asks for
// now). `slurm` (trial id -> its Slurm array task and state, "12_3 RUNNING"): a "slurm" column when not empty.
// `rows` (indexes into state.trials): only those rows, each with its own number, and totals over them; empty: all.
std::string trial_table(const SweepState& state, const ResolvedSweep& current,
                        const std::map<std::string, std::string>& slurm = {}, const std::vector<std::size_t>& rows = {});

}  // namespace sweeplab
