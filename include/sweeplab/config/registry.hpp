#pragma once
// The named sweeps: every NAME.yaml in the configs directory.
#include <string>
#include <vector>

namespace sweeplab {

// Sorted names. Throws UserError when the directory does not exist.
std::vector<std::string> sweep_names(const std::string& configs_dir);

// The file of a named sweep. Throws UserError naming the known sweeps (and the closest) when missing.
std::string sweep_file(const std::string& configs_dir, const std::string& name);

}  // namespace sweeplab
