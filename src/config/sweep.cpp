#include "sweeplab/config/sweep.hpp"

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/hash.hpp"

namespace sweeplab {
namespace {

// Characters kept in trial ids as they are; anything else becomes '_' (ids are directory names).
std::string id_safe(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '-' || c == '+' || c == '_';
    if (!keep) c = '_';
  }
  return out;
}

[[noreturn]] void rethrow_with_source(const SweepSpec& sweep, const ValueError& error, const std::string& axis_source) {
  std::string where = axis_source;
  if (where.empty()) {
    const auto it = sweep.sources.find(error.key());
    where = it != sweep.sources.end() ? it->second : sweep.file;
  }
  throw UserError(where + ": " + error.key() + ": " + error.value() + " " + error.requirement());
}

}  // namespace

std::string make_trial_id(const Config& config, const std::vector<std::pair<std::string, Value>>& swept) {
  std::string readable;
  for (const auto& [key, value] : swept) {
    const FieldSpec* field = find_field(key);
    if (!field) throw InternalError("make_trial_id: unknown key " + key);
    if (!readable.empty()) readable += "_";
    readable += field->id_label() + "=" + id_safe(to_short_text(value));
  }
  return (readable.empty() ? std::string("trial") : readable) + "-" + short_hash(canonical_text(config));
}

std::vector<std::string> swept_keys(const SweepSpec& sweep) {
  std::vector<std::string> keys;
  for (const auto& axis : sweep.axes) keys.push_back(axis.key);
  if (!sweep.seeds.empty()) keys.push_back("training.seed");
  return keys;
}

std::vector<TrialSpec> expand(const SweepSpec& sweep) {
  std::vector<Axis> axes = sweep.axes;
  if (!sweep.seeds.empty()) {
    Axis seeds{"training.seed", {}, sweep.sources.count("sweep.seeds") ? sweep.sources.at("sweep.seeds") : sweep.file};
    for (auto seed : sweep.seeds) seeds.values.emplace_back(seed);
    axes.push_back(std::move(seeds));
  }
  std::size_t total = 1;
  for (const auto& axis : axes) total *= axis.values.size();

  std::vector<TrialSpec> trials;
  trials.reserve(total);
  std::vector<std::size_t> index(axes.size(), 0);  // an odometer: the last axis turns fastest
  for (std::size_t n = 0; n < total; ++n) {
    TrialSpec trial;
    trial.config = sweep.base;
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const Value& value = axes[a].values[index[a]];
      find_field(axes[a].key)->set(trial.config, value);
      trial.swept.emplace_back(axes[a].key, value);
    }
    try {
      trial.config.validate();
    } catch (const ValueError& error) {
      std::string axis_source;
      for (const auto& axis : axes) {
        if (axis.key == error.key()) axis_source = axis.source;
      }
      rethrow_with_source(sweep, error, axis_source);
    }
    trial.id = make_trial_id(trial.config, trial.swept);
    trials.push_back(std::move(trial));
    for (std::size_t a = axes.size(); a-- > 0;) {
      if (++index[a] < axes[a].values.size()) break;
      index[a] = 0;
    }
  }
  return trials;
}

}  // namespace sweeplab
