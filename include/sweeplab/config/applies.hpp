#pragma once
// Which config keys a config uses: optimizer.betas only for adam and adamw, task.modulus only for the modular
// tasks, batch_schedule.* only with a batch-size schedule, ... The one place that knows it (src/config/applies.cpp);
// `sweeplab show` prints only the keys that apply (--all: every key).
#include <string>

#include "sweeplab/config/config.hpp"
#include "sweeplab/config/sweep.hpp"

namespace sweeplab {

// Whether training with `config` reads `key` (a dotted schema key). True for keys it knows nothing of.
bool key_applies(const std::string& key, const Config& config);

// Whether any trial of the sweep reads `key`: the base config with every combination of the swept values of the
// keys that decide (task.name, optimizer.name, ...). A swept key always applies.
bool key_applies(const std::string& key, const SweepSpec& sweep);

}  // namespace sweeplab
