#pragma once
// checkpoint.pt: a LibTorch archive with "parameters" and "optimizer_state" (flat float tensors in the
// engine's layout, src/engine/group_math.hpp) and "state", a text of key=value lines holding everything
// else exactly (doubles as hex floats): versions, counters, accumulators, the tracker, the last
// evaluation, the data-order generator as of the epoch's start, and a digest of the two tensors that is
// checked on load. Versioned; never mutates. Format 1 (engine 1) held LibTorch nn/optim archives.
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace sweeplab {

constexpr int kCheckpointFormatVersion = 2;

// key=value lines; doubles in hex-float notation, which reads back bit for bit.
class StateText {
 public:
  void put(const std::string& key, const std::string& value) { values_[key] = value; }
  void put_int(const std::string& key, std::int64_t value) { put(key, std::to_string(value)); }
  void put_double(const std::string& key, double value);
  std::string str() const;

  static StateText parse(const std::string& text);
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  const std::string& get(const std::string& key) const;  // throws std::runtime_error when missing
  std::int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;

 private:
  std::map<std::string, std::string> values_;
};

struct CheckpointData {
  StateText state;
  std::vector<float> parameters, optimizer_state;
};

std::string checkpoint_bytes(const CheckpointData& data);

// Reads a checkpoint. Format 2: all of it, the digest checked; older formats: the state only (its
// format_version says which). Throws std::runtime_error for anything unreadable or inconsistent.
CheckpointData read_checkpoint(const std::string& path);

}  // namespace sweeplab
