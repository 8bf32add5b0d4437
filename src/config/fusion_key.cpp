#include "sweeplab/config/fusion_key.hpp"

#include <algorithm>

#include "sweeplab/config/schema.hpp"

namespace sweeplab {

std::string fusion_key(const CompactConfig& config) {
  // batch_schedule.*: the trials of a group take steps of one batch size at a time.
  static const std::vector<std::size_t> shared = [] {
    // metrics.*: what the backward pass measures is the group's.
    const std::vector<std::string> prefixes = {"task.", "model.", "batch_schedule.", "metrics."};
    const std::vector<std::string> keys = {"training.batch_size", "training.drop_last", "training.device",
                                           "training.threads", "optimizer.name"};
    std::vector<std::size_t> fields;
    for (std::size_t field = 0; field < schema().size(); ++field) {
      const std::string& key = schema()[field].key;
      if (std::find(keys.begin(), keys.end(), key) != keys.end() ||
          std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return key.rfind(p, 0) == 0; })) {
        fields.push_back(field);
      }
    }
    return fields;
  }();
  static const std::size_t task = field_index("task.name");
  // Reinforcement learning trains one trial at a time (the DQN trainer): every key in the fusion key, so only a
  // trial with itself would share one.
  if (is_reinforcement_task(config.text(task))) return "one trial at a time\n" + config.serialize();
  std::string key;
  for (const std::size_t field : shared) key += schema()[field].key + "=" + config.text(field) + "\n";
  return key;
}

std::string fusion_key(const Config& config) { return fusion_key(CompactConfig::of(config)); }

}  // namespace sweeplab
