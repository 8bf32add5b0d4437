#include "checkpoint.hpp"

#include "sweeplab/core/hash.hpp"

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace sweeplab {

void StateText::put_double(const std::string& key, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%a", value);
  put(key, buffer);
}

std::string StateText::str() const {
  std::string out;
  for (const auto& [key, value] : values_) out += key + "=" + value + "\n";
  return out;
}

StateText StateText::parse(const std::string& text) {
  StateText state;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto equals = line.find('=');
    if (equals == std::string::npos) throw std::runtime_error("malformed state line '" + line.substr(0, 40) + "'");
    state.values_[line.substr(0, equals)] = line.substr(equals + 1);
  }
  return state;
}

const std::string& StateText::get(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) throw std::runtime_error("the state has no '" + key + "'");
  return it->second;
}

std::int64_t StateText::get_int(const std::string& key) const { return std::stoll(get(key)); }

double StateText::get_double(const std::string& key) const { return std::strtod(get(key).c_str(), nullptr); }

namespace {

torch::Tensor tensor_of(const std::vector<float>& values) {
  return torch::from_blob(const_cast<float*>(values.data()), {std::int64_t(values.size())}, torch::kFloat32);
}

std::vector<float> floats_of(const torch::Tensor& tensor) {
  if (tensor.scalar_type() != torch::kFloat32 || tensor.dim() != 1) throw std::runtime_error("a tensor of the wrong kind");
  const auto values = tensor.contiguous();
  return std::vector<float>(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
}

std::string digest_of(const std::vector<float>& parameters, const std::vector<float>& optimizer_state) {
  std::string bytes(reinterpret_cast<const char*>(parameters.data()), parameters.size() * sizeof(float));
  bytes.append(reinterpret_cast<const char*>(optimizer_state.data()), optimizer_state.size() * sizeof(float));
  return full_hash(bytes);
}

}  // namespace

std::string checkpoint_bytes(const CheckpointData& data) {
  StateText state = data.state;
  state.put("tensors_digest", digest_of(data.parameters, data.optimizer_state));
  torch::serialize::OutputArchive archive;
  archive.write("state", c10::IValue(state.str()));
  archive.write("parameters", tensor_of(data.parameters));
  archive.write("optimizer_state", tensor_of(data.optimizer_state));
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

CheckpointData read_checkpoint(const std::string& path) {
  torch::serialize::InputArchive archive;
  archive.load_from(path);
  c10::IValue text;
  archive.read("state", text);
  CheckpointData data;
  data.state = StateText::parse(text.toStringRef());
  if (data.state.get_int("format_version") != kCheckpointFormatVersion) return data;
  torch::Tensor parameters, optimizer_state;
  archive.read("parameters", parameters);
  archive.read("optimizer_state", optimizer_state);
  data.parameters = floats_of(parameters);
  data.optimizer_state = floats_of(optimizer_state);
  if (digest_of(data.parameters, data.optimizer_state) != data.state.get("tensors_digest")) {
    throw std::runtime_error("its tensors do not match their digest (damaged)");
  }
  return data;
}

}  // namespace sweeplab
