#include "sweeplab/engine/fusion.hpp"

#include <algorithm>
#include <map>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/value.hpp"

namespace sweeplab {

std::string fusion_key(const Config& config) {
  // batch_schedule.*: the trials of a group take steps of one batch size at a time.
  static const std::vector<std::string> shared_prefixes = {"task.", "model.", "batch_schedule."};
  static const std::vector<std::string> shared_keys = {"training.batch_size", "training.drop_last", "training.device",
                                                       "training.threads", "optimizer.name"};
  std::string key;
  // Reinforcement learning trains one trial at a time (src/engine/dqn_trainer.cpp): every key in the fusion key,
  // so only a trial with itself would share one.
  if (is_reinforcement_task(config.task.name)) {
    key = "one trial at a time\n";
    for (const auto& spec : schema()) key += spec.key + "=" + to_text(spec.get(config)) + "\n";
    return key;
  }
  for (const auto& spec : schema()) {
    const bool shared = std::find(shared_keys.begin(), shared_keys.end(), spec.key) != shared_keys.end() ||
                        std::any_of(shared_prefixes.begin(), shared_prefixes.end(),
                                    [&](const std::string& prefix) { return spec.key.rfind(prefix, 0) == 0; });
    if (shared) key += spec.key + "=" + to_text(spec.get(config)) + "\n";
  }
  return key;
}

std::vector<std::vector<std::size_t>> form_groups(const std::vector<const Config*>& configs,
                                                  const std::vector<std::size_t>& order, std::size_t largest,
                                                  std::size_t workers) {
  std::map<std::string, std::vector<std::size_t>> by_key;
  std::vector<std::string> keys;  // in order of first appearance
  for (const std::size_t index : order) {
    const std::string key = fusion_key(*configs.at(index));
    if (!by_key.count(key)) keys.push_back(key);
    by_key[key].push_back(index);
  }
  std::size_t total = order.size();
  // Enough groups for every worker, when there are trials enough: cap the size at ceil(total / workers).
  const std::size_t fair = workers > 0 ? (total + workers - 1) / workers : total;
  const std::size_t size = std::max<std::size_t>(1, std::min(largest, fair));
  std::vector<std::vector<std::size_t>> groups;
  for (const auto& key : keys) {
    const auto& members = by_key[key];
    const std::size_t count = (members.size() + size - 1) / size;  // balanced: sizes differ by at most one
    for (std::size_t g = 0; g < count; ++g) {
      const std::size_t begin = members.size() * g / count, end = members.size() * (g + 1) / count;
      groups.emplace_back(members.begin() + std::ptrdiff_t(begin), members.begin() + std::ptrdiff_t(end));
    }
  }
  return groups;
}

}  // namespace sweeplab
