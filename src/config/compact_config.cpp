#include "sweeplab/config/compact_config.hpp"

#include <algorithm>
#include <deque>
#include <stdexcept>
#include <unordered_map>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"

namespace sweeplab {
namespace {

// Every (key, value) entry any CompactConfig of this process holds, each once. Entries are never removed: a
// process reads a bounded number of distinct values (the values of its sweeps' keys). Used from one thread.
struct Entry {
  std::size_t field = 0;
  Value value;
  std::string text;     // to_text(value): the canonical text
  std::string encoded;  // encode_value(value)
};

class Pool {
 public:
  Pool() : ids_(schema().size()) {
    const Config defaults;
    for (const auto& spec : schema()) {
      default_values_.push_back(spec.get(defaults));
      default_texts_.push_back(to_text(default_values_.back()));
    }
  }

  // The id of (field, value); nullopt-like kDefault when the value is the field's default.
  static constexpr std::uint32_t kDefault = CompactConfig::kDefaultEntry;
  std::uint32_t intern(std::size_t field, const Value& value) {
    std::string encoded = encode_value(value);
    return intern_encoded(field, std::move(encoded), &value);
  }
  std::uint32_t intern_encoded(std::size_t field, std::string encoded, const Value* value = nullptr) {
    auto& ids = ids_[field];
    if (const auto found = ids.find(encoded); found != ids.end()) return found->second;
    Entry entry;
    entry.field = field;
    entry.value = value ? *value : decode_value(encoded, schema()[field].type);
    entry.text = to_text(entry.value);
    entry.encoded = encoded;
    // The default is no entry at all: configs that differ only in how a default was written are equal.
    const std::uint32_t id = entry.text == default_texts_[field] ? kDefault : std::uint32_t(entries_.size());
    if (id != kDefault) entries_.push_back(std::move(entry));
    ids.emplace(std::move(encoded), id);
    return id;
  }
  const Entry& entry(std::uint32_t id) const { return entries_[id]; }
  const Value& default_value(std::size_t field) const { return default_values_[field]; }
  const std::string& default_text(std::size_t field) const { return default_texts_[field]; }

 private:
  std::deque<Entry> entries_;
  std::vector<std::unordered_map<std::string, std::uint32_t>> ids_;  // by field: encoded value -> id
  std::vector<Value> default_values_;
  std::vector<std::string> default_texts_;
};

Pool& pool() {
  static Pool* const instance = new Pool;  // never destroyed: a process's last 100 000 entries need no freeing
  return *instance;
}

std::size_t checked_field(std::size_t field) {
  if (field >= schema().size()) throw InternalError("CompactConfig: no key at index " + std::to_string(field));
  return field;
}

}  // namespace

CompactConfig CompactConfig::of(const Config& config) {
  CompactConfig compact;
  const auto& fields = schema();
  for (std::size_t field = 0; field < fields.size(); ++field) {
    const std::uint32_t id = pool().intern(field, fields[field].get(config));
    if (id != Pool::kDefault) compact.entries_.push_back(id);
  }
  return compact;
}

Config CompactConfig::expand() const {
  Config config;
  const auto& fields = schema();
  for (const std::uint32_t id : entries_) {
    const Entry& entry = pool().entry(id);
    fields[entry.field].set(config, entry.value);
  }
  return config;
}

namespace {

// The entry of `field` among `entries` (ordered by field), or entries.end().
std::vector<std::uint32_t>::const_iterator find_entry(const std::vector<std::uint32_t>& entries, std::size_t field) {
  const auto at = std::lower_bound(entries.begin(), entries.end(), field,
                                   [](std::uint32_t id, std::size_t f) { return pool().entry(id).field < f; });
  return at != entries.end() && pool().entry(*at).field == field ? at : entries.end();
}

}  // namespace

Value CompactConfig::get(std::size_t field) const {
  const auto at = find_entry(entries_, checked_field(field));
  return at == entries_.end() ? pool().default_value(field) : pool().entry(*at).value;
}

Value CompactConfig::get(const std::string& key) const {
  const std::size_t field = field_index(key);
  if (field >= schema().size()) throw InternalError("CompactConfig: unknown key " + key);
  return get(field);
}

const std::string& CompactConfig::text(std::size_t field) const {
  const auto at = find_entry(entries_, checked_field(field));
  return at == entries_.end() ? pool().default_text(field) : pool().entry(*at).text;
}

bool CompactConfig::is_default(std::size_t field) const { return find_entry(entries_, checked_field(field)) == entries_.end(); }

void CompactConfig::set(std::size_t field, const Value& value) { set_entry(field, intern_value(field, value)); }

std::uint32_t CompactConfig::intern_value(std::size_t field, const Value& value) {
  return pool().intern(checked_field(field), value);
}

void CompactConfig::set_entry(std::size_t field, std::uint32_t id) {
  checked_field(field);
  const auto at = std::lower_bound(entries_.begin(), entries_.end(), field,
                                   [](std::uint32_t e, std::size_t f) { return pool().entry(e).field < f; });
  const bool present = at != entries_.end() && pool().entry(*at).field == field;
  if (id == Pool::kDefault) {
    if (present) entries_.erase(at);
  } else if (present) {
    *at = id;
  } else {
    entries_.insert(at, id);
  }
}

CompactConfig CompactConfig::without(std::size_t field) const {
  CompactConfig copy = *this;
  const auto at = find_entry(copy.entries_, checked_field(field));
  if (at != copy.entries_.end()) copy.entries_.erase(at);
  return copy;
}

std::string CompactConfig::canonical_text() const {
  const auto& fields = schema();
  std::string text = kCanonicalTextHeader;
  auto next = entries_.begin();
  for (std::size_t field = 0; field < fields.size(); ++field) {
    const bool set = next != entries_.end() && pool().entry(*next).field == field;
    const std::string& value = set ? pool().entry(*next).text : pool().default_text(field);
    if (set) ++next;
    if (!fields[field].affects_training) continue;
    if (!fields[field].hashed_at_default && !set) continue;  // at its default: as canonical_text(Config) leaves it out
    text += fields[field].key;
    text += '=';
    text += value;
    text += '\n';
  }
  return text;
}

std::string CompactConfig::serialize() const {
  std::string text;
  for (const std::uint32_t id : entries_) {
    const Entry& entry = pool().entry(id);
    text += schema()[entry.field].key;
    text += ' ';
    text += entry.encoded;
    text += '\n';
  }
  return text;
}

CompactConfig CompactConfig::parse(std::string_view text) {
  std::vector<std::uint32_t> entries;
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    const auto space = line.find(' ');
    if (space == std::string_view::npos) throw std::invalid_argument("a config line without a value");
    const std::size_t field = field_index(std::string(line.substr(0, space)));
    if (field >= schema().size()) throw std::invalid_argument("unknown key " + std::string(line.substr(0, space)));
    entries.push_back(intern_entry(field, line.substr(space + 1)));
  }
  return from_entries(std::move(entries));
}

std::uint32_t CompactConfig::intern_entry(std::size_t field, std::string_view encoded) {
  if (field >= schema().size()) throw std::invalid_argument("no key at index " + std::to_string(field));
  return pool().intern_encoded(field, std::string(encoded));
}

std::size_t CompactConfig::entry_field(std::uint32_t entry) { return pool().entry(entry).field; }

const std::string& CompactConfig::entry_encoded(std::uint32_t entry) { return pool().entry(entry).encoded; }

CompactConfig CompactConfig::from_ordered_entries(std::vector<std::uint32_t> entries) {
  CompactConfig compact;
  compact.entries_ = std::move(entries);
  return compact;
}

CompactConfig CompactConfig::from_entries(std::vector<std::uint32_t> entries) {
  CompactConfig compact;
  entries.erase(std::remove(entries.begin(), entries.end(), kDefaultEntry), entries.end());
  const auto by_field = [](std::uint32_t a, std::uint32_t b) { return pool().entry(a).field < pool().entry(b).field; };
  std::sort(entries.begin(), entries.end(), by_field);
  const auto twice = std::adjacent_find(entries.begin(), entries.end(), [](std::uint32_t a, std::uint32_t b) {
    return pool().entry(a).field == pool().entry(b).field;
  });
  if (twice != entries.end()) throw std::invalid_argument("key " + schema()[pool().entry(*twice).field].key + " twice");
  compact.entries_ = std::move(entries);
  return compact;
}

CanonicalHasher::CanonicalHasher(const CompactConfig& base, const std::vector<std::size_t>& varying) {
  const auto& fields = schema();
  std::string text = kCanonicalTextHeader;
  for (std::size_t field = 0; field < fields.size(); ++field) {
    if (!fields[field].affects_training) continue;
    if (std::find(varying.begin(), varying.end(), field) != varying.end()) {
      fixed_.push_back(std::move(text));
      text.clear();
      fields_.push_back(field);
      continue;
    }
    if (!fields[field].hashed_at_default && base.is_default(field)) continue;
    text += fields[field].key + "=" + base.text(field) + "\n";
  }
  fixed_.push_back(std::move(text));
}

TrialHash CanonicalHasher::hash(const CompactConfig& config) {
  const auto& fields = schema();
  stream_.start();
  for (std::size_t k = 0; k < fields_.size(); ++k) {
    stream_.add(fixed_[k]);
    const std::size_t field = fields_[k];
    if (!fields[field].hashed_at_default && config.is_default(field)) continue;
    stream_.add(fields[field].key);
    stream_.add("=");
    stream_.add(config.text(field));
    stream_.add("\n");
  }
  stream_.add(fixed_.back());
  return stream_.finish();
}

}  // namespace sweeplab
