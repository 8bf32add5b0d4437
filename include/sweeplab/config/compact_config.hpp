#pragma once
// A trial's config as the keys whose value is not the default. Each (key, value) entry is interned once per
// process, so a trial costs a few bytes rather than a whole Config (over 1 KB with its strings): 100 000 trials
// fit in memory, and comparing, grouping and hashing trials needs no Config. expand() gives the whole Config.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sweeplab/config/config.hpp"
#include "sweeplab/core/hash.hpp"
#include "sweeplab/core/value.hpp"

namespace sweeplab {

class CompactConfig {
 public:
  CompactConfig() = default;  // every key at its default

  static CompactConfig of(const Config& config);
  Config expand() const;

  // `field`: an index into schema().
  Value get(std::size_t field) const;
  Value get(const std::string& key) const;  // throws InternalError for an unknown key
  // The value's canonical text (to_text), without building the value.
  const std::string& text(std::size_t field) const;
  bool is_default(std::size_t field) const;
  void set(std::size_t field, const Value& value);
  // The same with the value interned already (intern_value): for setting one value on many configs.
  void set_entry(std::size_t field, std::uint32_t entry);
  // The same config with `field` at its default (e.g. the seed taken out, to group seeds).
  CompactConfig without(std::size_t field) const;

  // The text whose hash names the trial (schema.hpp canonical_text), built from the entries; the same bytes as
  // canonical_text(expand()).
  std::string canonical_text() const;
  TrialHash hash() const { return TrialHash::of(canonical_text()); }

  // One line per key not at its default, "KEY VALUE" with VALUE as encode_value writes it, in schema order; what
  // the trial index stores. parse() reads it back (throws std::invalid_argument on anything else, or an unknown key).
  std::string serialize() const;
  static CompactConfig parse(std::string_view text);

  // Equal configs have equal entries (each (key, value) is interned once).
  friend bool operator==(const CompactConfig& a, const CompactConfig& b) { return a.entries_ == b.entries_; }
  friend bool operator!=(const CompactConfig& a, const CompactConfig& b) { return a.entries_ != b.entries_; }
  // An order in which equal configs are neighbours (not by value: by the entries' interning order).
  friend bool operator<(const CompactConfig& a, const CompactConfig& b) { return a.entries_ < b.entries_; }
  // The interned entries, for stores that keep configs as lists of entry ids (the trial index).
  static constexpr std::uint32_t kDefaultEntry = UINT32_MAX;  // what intern_entry gives for a key at its default
  const std::vector<std::uint32_t>& entries() const { return entries_; }
  // (field, value) -> entry id (kDefaultEntry for the field's default).
  static std::uint32_t intern_value(std::size_t field, const Value& value);
  // (field, encode_value text) -> entry id; throws std::invalid_argument for an unknown field or a bad text.
  static std::uint32_t intern_entry(std::size_t field, std::string_view encoded);
  static std::size_t entry_field(std::uint32_t entry);
  static const std::string& entry_encoded(std::uint32_t entry);
  // A config of these entries (any order; kDefaultEntry ones are left out). Throws std::invalid_argument for two
  // entries of one key.
  static CompactConfig from_entries(std::vector<std::uint32_t> entries);
  // The same for entries already in order of their fields, one each (as entries() gives them): not checked.
  static CompactConfig from_ordered_entries(std::vector<std::uint32_t> entries);

 private:
  std::vector<std::uint32_t> entries_;  // interned (field, value) ids, ordered by field
};

// The hashes of many configs that differ from one base in a few fields only (a sweep's trials): the canonical text's
// fixed parts are laid out once, and each config's hash is streamed from them and its own values, with no text
// built. hash(config) == config.hash() for every config equal to the base outside `varying` fields.
class CanonicalHasher {
 public:
  CanonicalHasher(const CompactConfig& base, const std::vector<std::size_t>& varying);
  TrialHash hash(const CompactConfig& config);

 private:
  std::vector<std::string> fixed_;   // the text before each varying field's line (and after the last one)
  std::vector<std::size_t> fields_;  // the varying fields that affect training, in schema order
  HashStream stream_;
};

}  // namespace sweeplab
