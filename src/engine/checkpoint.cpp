#include "checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "sweeplab/core/fs.hpp"
#include "sweeplab/core/hash.hpp"
#include "torch_plugin.hpp"

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

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "checkpoints store floats little-endian as they are in memory");

const std::string kMagic = "sweeplab-checkpoint 3\n";

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

void append_floats(std::string& out, const std::string& name, const std::vector<float>& values) {
  out += "floats " + name + " " + std::to_string(values.size()) + "\n";
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  out += "\n";
}

// Reads the sections of a format-3 file in order; anything out of place is a damaged file. Messages never quote
// the file's bytes (they go into summary.json, which holds only valid UTF-8).
class Sections {
 public:
  explicit Sections(const std::string& bytes) : bytes_(bytes), at_(kMagic.size()) {}

  // The next header line, split at its first space: {"state", "123"}, {"floats", "parameters 45"}.
  std::pair<std::string, std::string> header() {
    const auto end = bytes_.find('\n', at_);
    if (end == std::string::npos) throw std::runtime_error("it ends inside a section header (truncated)");
    const std::string line = bytes_.substr(at_, end - at_);
    at_ = end + 1;
    const auto space = line.find(' ');
    if (space == std::string::npos) throw std::runtime_error("a malformed section header (damaged)");
    return {line.substr(0, space), line.substr(space + 1)};
  }
  std::string take(std::size_t size) {
    if (size > bytes_.size() - at_ || bytes_.size() - at_ - size < 1 || bytes_[at_ + size] != '\n') {
      throw std::runtime_error("a section runs past the end of the file (truncated)");
    }
    std::string out = bytes_.substr(at_, size);
    at_ += size + 1;
    return out;
  }
  bool at_end() const { return at_ == bytes_.size(); }

 private:
  const std::string& bytes_;
  std::size_t at_;
};

std::size_t count_of(const std::string& text) {
  const bool digits = !text.empty() && text.size() <= 19 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) throw std::runtime_error("a malformed section size (damaged)");
  return std::size_t(std::stoull(text));
}

std::vector<float> floats_of(const std::string& raw) {
  std::vector<float> values(raw.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), raw.data(), values.size() * sizeof(float));
  return values;
}

// The digest is checked over the raw sections before anything in them is read: a damaged state text is found
// as damage, never parsed into something else.
CheckpointData parse_format_3(const std::string& bytes) {
  Sections sections(bytes);
  const auto [kind, size] = sections.header();
  if (kind != "state") throw std::runtime_error("no state section where it belongs (damaged)");
  const std::string text = sections.take(count_of(size));
  std::string covered = text;  // what the digest covers: the text, then every float in order
  std::vector<std::pair<std::string, std::string>> raw_floats;
  std::string digest;
  for (;;) {
    const auto [section, rest] = sections.header();
    if (section == "digest") {
      digest = rest;
      break;
    }
    const auto space = rest.rfind(' ');
    if (section != "floats" || space == std::string::npos) throw std::runtime_error("an unknown section (damaged)");
    const std::size_t count = count_of(rest.substr(space + 1));
    if (count > bytes.size() / sizeof(float)) throw std::runtime_error("a section runs past the end of the file (truncated)");
    raw_floats.emplace_back(rest.substr(0, space), sections.take(count * sizeof(float)));
    covered += raw_floats.back().second;
  }
  if (!sections.at_end()) throw std::runtime_error("bytes after the digest (damaged)");
  if (full_hash(covered) != digest) throw std::runtime_error("its state or tensors do not match their digest (damaged)");

  CheckpointData data;
  data.state = StateText::parse(text);
  std::string names;
  for (std::size_t i = 0; i < raw_floats.size(); ++i) {
    const std::string& name = raw_floats[i].first;
    if (i == 0 && name == "parameters") {
      data.parameters = floats_of(raw_floats[i].second);
    } else if (i == 1 && name == "optimizer_state") {
      data.optimizer_state = floats_of(raw_floats[i].second);
    } else if (i >= 2 && name.rfind("extra.", 0) == 0) {
      data.extra.emplace_back(name.substr(6), floats_of(raw_floats[i].second));
      names += (names.empty() ? "" : ",") + data.extra.back().first;
    } else {
      throw std::runtime_error("floats out of place (damaged)");
    }
  }
  if (raw_floats.size() < 2 || names != (data.state.has("extra_tensors") ? data.state.get("extra_tensors") : "")) {
    throw std::runtime_error("its floats do not match its state (damaged)");
  }
  return data;
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
  state.erase("tensors_digest");
  state.erase("extra_tensors");
  if (!data.extra.empty()) state.put("extra_tensors", extra_names(data.extra));
  const std::string text = state.str();
  std::string out = kMagic;
  out += "state " + std::to_string(text.size()) + "\n" + text + "\n";
  append_floats(out, "parameters", data.parameters);
  append_floats(out, "optimizer_state", data.optimizer_state);
  for (const auto& [name, values] : data.extra) append_floats(out, "extra." + name, values);
  out += "digest " + digest_of(text, data.parameters, data.optimizer_state, data.extra) + "\n";
  return out;
}

CheckpointData checked_checkpoint(const std::string& text, std::vector<float> parameters,
                                  std::vector<float> optimizer_state, Extra extra, const std::string* digest) {
  CheckpointData data;
  data.state = StateText::parse(text);
  if (digest) {
    if (*digest != digest_of(text, parameters, optimizer_state, extra)) {
      throw std::runtime_error("its state or tensors do not match their digest (damaged)");
    }
  } else if (digest_of("", parameters, optimizer_state) != data.state.get("tensors_digest")) {
    throw std::runtime_error("its tensors do not match their digest (damaged)");
  }
  data.parameters = std::move(parameters);
  data.optimizer_state = std::move(optimizer_state);
  data.extra = std::move(extra);
  return data;
}

CheckpointData read_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open it: " + std::string(std::strerror(errno)));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error("cannot read it: " + std::string(std::strerror(errno)));
  if (bytes.compare(0, kMagic.size(), kMagic) == 0) return parse_format_3(bytes);
  // Formats 1 and 2: a LibTorch archive, a zip file.
  if (bytes.compare(0, 4, std::string("PK\x03\x04", 4)) == 0) return torch_plugin().read_torch_checkpoint(path);
  throw std::runtime_error("not a sweeplab checkpoint (damaged)");
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
  if (r.noise_scale) state.put_double("last.noise_scale", *r.noise_scale);
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
  if (state.has("last.noise_scale")) r.noise_scale = state.get_double("last.noise_scale");
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
