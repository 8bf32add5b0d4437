#pragma once
// checkpoint.pt: a LibTorch archive with the model's parameters, the optimizer's state (a nested
// archive: momentum buffers, Adam moments and step counts) and "state", a text of key=value lines
// holding everything else exactly (doubles as hex floats): counters, accumulators, the tracker, the
// last evaluation, the data-order generator as of the epoch's start. Versioned; never mutates.
#include <torch/torch.h>

#include <map>
#include <string>

namespace sweeplab {

constexpr int kCheckpointFormatVersion = 1;

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

std::string checkpoint_bytes(torch::nn::Module& model, torch::optim::Optimizer& optimizer, const StateText& state);

// Reads the state only (cheap to validate before touching the model).
StateText read_checkpoint_state(torch::serialize::InputArchive& archive);
void read_checkpoint_tensors(torch::serialize::InputArchive& archive, torch::nn::Module& model,
                             torch::optim::Optimizer& optimizer);

}  // namespace sweeplab
