#pragma once
// One entry per config key: its dotted name, type, documentation, and how to read/write it in a Config.
// This table is the single place where keys are documented (`sweeplab show --keys` prints it).
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sweeplab/config/config.hpp"
#include "sweeplab/core/value.hpp"

namespace sweeplab {

// The values a numeric key accepts (for a list of numbers: each item). validate() enforces it and
// `sweeplab show --keys` prints it; a test walks the schema to keep the two in step.
struct Range {
  std::optional<double> min, max;  // no bound when empty
  bool min_open = false;           // > min rather than >= min
  bool max_open = false;           // < max rather than <= max
  bool infinity_ok = false;        // .inf is allowed too (and means "never"); otherwise values are finite

  bool contains(double value) const;
  std::string text() const;  // ">= 1", "> 0", "in [0, 1)", "finite"
};

struct FieldSpec {
  std::string key;                  // "training.batch_size"
  ValueType type;
  std::string doc;
  std::string label;                // short name in trial ids ("bs"); the leaf name when empty
  bool affects_training = true;     // false: budget and bookkeeping keys, left out of the trial hash
  bool hashed_at_default = true;    // false (keys added later): in the hash only when not at the default
  std::optional<Range> range;       // every numeric key has one
  std::function<Value(const Config&)> get;
  std::function<void(Config&, const Value&)> set;

  std::string leaf() const { return key.substr(key.rfind('.') + 1); }
  std::string id_label() const { return label.empty() ? leaf() : label; }
};

// Every key, in documentation order; sweep axes and trial ids follow this order too.
const std::vector<FieldSpec>& schema();

// nullptr when unknown.
const FieldSpec* find_field(const std::string& key);

// Index of a key in schema() (for ordering); schema().size() when unknown.
std::size_t field_index(const std::string& key);

// Keys whose last component is `leaf` ("epochs" -> {"training.epochs"}).
std::vector<std::string> keys_with_leaf(const std::string& leaf);

// All dotted keys plus the section names and sweep keys, for "did you mean".
const std::vector<std::string>& all_key_names();

// Section names ("task", "model", ...) that hold keys.
const std::vector<std::string>& section_names();

// The text whose hash names a trial: every key that affects training, in schema order, after this first line.
constexpr const char* kCanonicalTextHeader = "sweeplab-trial-v1\n";
std::string canonical_text(const Config& config);

}  // namespace sweeplab
