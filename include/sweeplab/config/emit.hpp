#pragma once
#include <string>

#include "sweeplab/config/sweep.hpp"

namespace sweeplab {

// The resolved sweep as YAML that loads back to the same trials (what `sweeplab show` prints).
std::string to_yaml(const SweepSpec& sweep);

// One trial's config as YAML (a trial folder's config.yaml).
std::string to_yaml(const Config& config);

// Every key with its type, default and documentation (what `sweeplab show --keys` prints).
std::string keys_reference();

}  // namespace sweeplab
