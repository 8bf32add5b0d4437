#pragma once
// checkpoint.pt, format 3: sweeplab's own file, written and read without LibTorch. A first line
// "sweeplab-checkpoint 3", then sections, each a header line and its bytes:
//   state <bytes>               a text of key=value lines holding everything but the floats, exactly (doubles as
//                               hex floats): versions, counters, accumulators, the tracker, the last evaluation,
//                               the data-order generator as of the epoch's start
//   floats parameters <count>   float32, little-endian, the engine's layout (src/engine/group_math.hpp)
//   floats optimizer_state <count>
//   floats extra.<name> <count> any more (the DQN's target network and replay buffer)
//   digest <hex>                over the state text and every float, in that order: a flipped bit anywhere in
//                               them is found on load
// each section's bytes followed by a newline. Versioned; never mutates.
//
// Format 2 held the same state and floats in a LibTorch archive (a zip); format 1 (engine 1) held LibTorch nn/optim
// archives. read_checkpoint reads both through the LibTorch plugin (torch_plugin.hpp), so a trainer loads LibTorch
// for them only. Format 2 files written before the digest covered the state have only "tensors_digest" in their
// state, and are read with that check alone.
#include <map>
#include <string>
#include <vector>

#include "sweeplab/core/metrics.hpp"

namespace sweeplab {

constexpr int kCheckpointFormatVersion = 3;
// The oldest format whose trials continue (format 2 holds what format 3 holds; only the container differs).
constexpr int kOldestContinuedFormat = 2;

// key=value lines; doubles in hex-float notation, which reads back bit for bit.
class StateText {
 public:
  void put(const std::string& key, const std::string& value) { values_[key] = value; }
  void put_int(const std::string& key, std::int64_t value) { put(key, std::to_string(value)); }
  void put_double(const std::string& key, double value);
  void erase(const std::string& key) { values_.erase(key); }
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
  // More named float tensors (doublegoal: the target network, the replay buffer), covered by the digest after
  // the two above; their names go into the state as "extra_tensors". None for the supervised engine, whose
  // checkpoints stay as they were.
  std::vector<std::pair<std::string, std::vector<float>>> extra;
};

// An evaluation record as "last.*" keys of a state, exactly (the last evaluation a checkpoint had made).
void put_record(StateText& state, const EvalRecord& record);
EvalRecord get_record(const StateText& state);

// The format-3 file of `data` (its state's "digest", "tensors_digest" and "extra_tensors" are replaced).
std::string checkpoint_bytes(const CheckpointData& data);

// Reads a checkpoint. Formats 2 and 3: all of it, the digests checked; older formats: the state only (its
// format_version says which). Throws std::runtime_error for anything unreadable or inconsistent.
CheckpointData read_checkpoint(const std::string& path);

// For the reader of format-2 archives (the LibTorch plugin): the state text parsed and the floats checked against
// `digest` (over the text and the floats), or, without one, against the state's "tensors_digest" (over the floats).
// Format 3 checks its digest over the raw sections before parsing anything (checkpoint.cpp).
CheckpointData checked_checkpoint(const std::string& text, std::vector<float> parameters,
                                  std::vector<float> optimizer_state,
                                  std::vector<std::pair<std::string, std::vector<float>>> extra,
                                  const std::string* digest);

// checkpoint.prev.pt beside checkpoint.pt: the previous good checkpoint, kept while the latest replaces it.
std::string previous_checkpoint_path(const std::string& path);

// Replaces the checkpoint at `path` by `bytes`, the one there becoming the previous one: `bytes` goes to
// path.tmp (flushed to disk) first, then path is renamed to the previous path and path.tmp to path. At every
// instant path or the previous path holds a complete checkpoint; a failed write (disk full) leaves both as
// they were. Throws StorageError (sweeplab/core/fs.hpp).
void write_checkpoint(const std::string& path, const std::string& bytes);

}  // namespace sweeplab
