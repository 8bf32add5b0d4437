#pragma once
#include <string>

#include "sweeplab/config/sweep.hpp"

namespace sweeplab {

// Which keys to_yaml writes: those some trial uses (config/applies.hpp; a key set away from its default is
// always written), or every key.
enum class Keys { Applying, All };

// The resolved sweep as YAML that loads back to the same trials (what `sweeplab show` prints).
std::string to_yaml(const SweepSpec& sweep, Keys keys = Keys::Applying);

// One trial's config as YAML, every key (a trial folder's config.yaml).
std::string to_yaml(const Config& config);

// Every key with its type, default and documentation (what `sweeplab show --keys` prints).
std::string keys_reference();

}  // namespace sweeplab
