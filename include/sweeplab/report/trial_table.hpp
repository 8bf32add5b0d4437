#pragma once
// The table of a sweep's trials: id, swept values, state, progress against the budget each was run with,
// final metrics, a note; then totals. `status` prints it, and so does `run` when it ends.
#include <string>

#include "sweeplab/store/sweep_state.hpp"

namespace sweeplab {

std::string trial_table(const SweepState& state);

}  // namespace sweeplab
