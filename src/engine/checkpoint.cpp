#include "checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/hash.hpp"

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

using Extra = std::vector<std::pair<std::string, std::vector<float>>>;

// Of the text (if any) followed by the bytes of both tensors and of the extra ones.
std::string digest_of(const std::string& text, const std::vector<float>& parameters,
                      const std::vector<float>& optimizer_state, const Extra& extra = {}) {
  std::string bytes = text;
  bytes.append(reinterpret_cast<const char*>(parameters.data()), parameters.size() * sizeof(float));
  bytes.append(reinterpret_cast<const char*>(optimizer_state.data()), optimizer_state.size() * sizeof(float));
  for (const auto& [name, values] : extra) {
    bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  }
  return full_hash(bytes);
}

std::string extra_names(const Extra& extra) {
  std::string names;
  for (const auto& [name, values] : extra) names += (names.empty() ? "" : ",") + name;
  return names;
}

[[noreturn]] void storage_error(const std::string& what, const std::string& path) {
  throw StorageError("cannot " + what + " " + path + ": " + std::strerror(errno));
}

// Writes `path` and flushes it to disk; errors name `target`, the file it is written for.
void write_and_flush(const std::string& path, const std::string& bytes, const std::string& target) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) storage_error("write", target);
  write_synced_and_close(fd, path, bytes, target);
}

}  // namespace

std::string checkpoint_bytes(const CheckpointData& data) {
  StateText state = data.state;
  state.erase("digest");
  state.put("tensors_digest", digest_of("", data.parameters, data.optimizer_state));  // for readers before "digest"
  state.erase("extra_tensors");
  if (!data.extra.empty()) state.put("extra_tensors", extra_names(data.extra));
  const std::string text = state.str();
  torch::serialize::OutputArchive archive;
  archive.write("state", c10::IValue(text));
  archive.write("parameters", tensor_of(data.parameters));
  archive.write("optimizer_state", tensor_of(data.optimizer_state));
  for (const auto& [name, values] : data.extra) archive.write("extra." + name, tensor_of(values));
  archive.write("digest", c10::IValue(digest_of(text, data.parameters, data.optimizer_state, data.extra)));
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
  if (data.state.has("extra_tensors")) {
    std::istringstream names(data.state.get("extra_tensors"));
    for (std::string name; std::getline(names, name, ',');) {
      torch::Tensor values;
      archive.read("extra." + name, values);
      data.extra.emplace_back(name, floats_of(values));
    }
  }
  c10::IValue digest;
  if (archive.try_read("digest", digest)) {
    if (!digest.isString() ||
        digest.toStringRef() != digest_of(text.toStringRef(), data.parameters, data.optimizer_state, data.extra)) {
      throw std::runtime_error("its state or tensors do not match their digest (damaged)");
    }
  } else if (digest_of("", data.parameters, data.optimizer_state) != data.state.get("tensors_digest")) {
    throw std::runtime_error("its tensors do not match their digest (damaged)");
  }
  return data;
}

void put_record(StateText& state, const EvalRecord& r) {
  state.put_int("last.epoch", r.epoch);
  state.put_int("last.step", r.step);
  state.put_int("last.samples", r.samples);
  state.put_double("last.lr", r.lr);
  if (r.effective_lr) state.put_double("last.effective_lr", *r.effective_lr);
  state.put_int("last.batch_size", r.batch_size);
  state.put_double("last.train_loss", r.train_loss);
  if (r.last_batch_loss) state.put_double("last.last_batch_loss", *r.last_batch_loss);
  if (r.test_loss) state.put_double("last.test_loss", *r.test_loss);
  if (r.train_acc) state.put_double("last.train_acc", *r.train_acc);
  if (r.test_acc) state.put_double("last.test_acc", *r.test_acc);
  if (r.episode_return) state.put_double("last.episode_return", *r.episode_return);
  if (r.epsilon) state.put_double("last.epsilon", *r.epsilon);
  if (r.greedy_return) state.put_double("last.greedy_return", *r.greedy_return);
  if (r.greedy_length) state.put_int("last.greedy_length", *r.greedy_length);
  if (r.greedy_optimal_fraction) state.put_double("last.greedy_optimal_fraction", *r.greedy_optimal_fraction);
  state.put_double("last.elapsed_s", r.elapsed_s);
}

EvalRecord get_record(const StateText& state) {
  EvalRecord r;
  r.epoch = state.get_int("last.epoch");
  r.step = state.get_int("last.step");
  r.samples = state.get_int("last.samples");
  r.lr = state.get_double("last.lr");
  if (state.has("last.effective_lr")) r.effective_lr = state.get_double("last.effective_lr");
  r.batch_size = state.get_int("last.batch_size");
  r.train_loss = state.get_double("last.train_loss");
  if (state.has("last.last_batch_loss")) r.last_batch_loss = state.get_double("last.last_batch_loss");
  if (state.has("last.test_loss")) r.test_loss = state.get_double("last.test_loss");
  if (state.has("last.train_acc")) r.train_acc = state.get_double("last.train_acc");
  if (state.has("last.test_acc")) r.test_acc = state.get_double("last.test_acc");
  if (state.has("last.episode_return")) r.episode_return = state.get_double("last.episode_return");
  if (state.has("last.epsilon")) r.epsilon = state.get_double("last.epsilon");
  if (state.has("last.greedy_return")) r.greedy_return = state.get_double("last.greedy_return");
  if (state.has("last.greedy_length")) r.greedy_length = state.get_int("last.greedy_length");
  if (state.has("last.greedy_optimal_fraction")) {
    r.greedy_optimal_fraction = state.get_double("last.greedy_optimal_fraction");
  }
  r.elapsed_s = state.get_double("last.elapsed_s");
  return r;
}

std::string previous_checkpoint_path(const std::string& path) {
  const std::string suffix = ".pt";
  if (path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return path.substr(0, path.size() - suffix.size()) + ".prev.pt";
  }
  return path + ".prev";
}

void write_checkpoint(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  // The new one is complete on disk before the current one moves: a crash or a full disk up to here
  // leaves the checkpoints as they were.
  const std::string temporary = path + ".tmp";
  write_and_flush(temporary, bytes, path);
  // Then the current one (complete: it got there the same way) becomes the previous one. Between the two
  // renames only the previous one is there; resuming looks at both.
  std::error_code ec;
  if (fs::exists(path, ec) && ::rename(path.c_str(), previous_checkpoint_path(path).c_str()) != 0) {
    const int saved = errno;
    ::unlink(temporary.c_str());
    errno = saved;
    storage_error("rename aside", path);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) storage_error("rename onto", path);
  const fs::path folder = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace sweeplab
