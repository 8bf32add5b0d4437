#include "checkpoint.hpp"

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

std::string checkpoint_bytes(torch::nn::Module& model, torch::optim::Optimizer& optimizer, const StateText& state) {
  torch::serialize::OutputArchive archive;
  archive.write("state", c10::IValue(state.str()));
  torch::serialize::OutputArchive model_archive, optimizer_archive;
  model.save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  return bytes.str();
}

StateText read_checkpoint_state(torch::serialize::InputArchive& archive) {
  c10::IValue state;
  archive.read("state", state);
  return StateText::parse(state.toStringRef());
}

void read_checkpoint_tensors(torch::serialize::InputArchive& archive, torch::nn::Module& model,
                             torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive model_archive, optimizer_archive;
  archive.read("model", model_archive);
  archive.read("optimizer", optimizer_archive);
  model.load(model_archive);
  optimizer.load(optimizer_archive);
}

}  // namespace sweeplab
