#pragma once
// --where KEY=VALUE: the trials whose config has VALUE at KEY (status, logs, best, ...). KEY is a full key, a
// leaf name that only one key has, as for -o ("lr", "batch_size"), or the short name trial ids use ("bs"); VALUE is compared as the key's type (a number
// numerically: 1e-3 matches 0.001). Several --where must all hold. Internal to apps/sweeplab.
#include <string>
#include <vector>

#include "sweeplab/config/config.hpp"
#include "sweeplab/store/sweep_state.hpp"

namespace CLI {
class App;
}

namespace sweeplab {

struct WhereFilter {
  std::string key;   // the full key
  std::string text;  // the value as given
};

// Adds --where (repeatable) to a command.
void add_where_option(CLI::App& command, std::vector<std::string>& items);

// Checks each KEY=VALUE: an unknown key, an ambiguous leaf, or a value the key cannot hold is a UserError (one
// line, with a suggestion).
std::vector<WhereFilter> parse_where(const std::vector<std::string>& items);

// Every filter holds for the config.
bool matches(const CompactConfig& config, const std::vector<WhereFilter>& filters);

// For a --where that matched nothing: the values each filtered key has in the trials, "optimizer.lr is 0.01, 0.1;
// training.batch_size is 8" (in the trials' order).
std::string values_there_are(const std::vector<WhereFilter>& filters, const std::vector<TrialState>& trials);

}  // namespace sweeplab
