#pragma once
// Where a sweep's results live on disk (SPEC section 5) and what state a trial is in.
#include <string>

namespace sweeplab {

std::string sweep_dir(const std::string& experiments_dir, const std::string& sweep_name);
std::string trial_dir(const std::string& experiments_dir, const std::string& sweep_name, const std::string& trial_id);

// "pending" (nothing on disk), "partial" (started, no summary yet), or summary.json's status.
std::string trial_state(const std::string& experiments_dir, const std::string& sweep_name, const std::string& trial_id);

}  // namespace sweeplab
