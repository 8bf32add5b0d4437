#include "sweeplab/config/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <charconv>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <string_view>

#include "sweeplab/config/registry.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"

namespace sweeplab {
namespace {

// Where a value was written: a file and line, or an `-o` override.
struct Location {
  std::string file;
  int line = 0;  // 1-based; 0 for overrides
  std::string str() const { return line > 0 ? file + ":" + std::to_string(line) : file; }
};

Location at(const std::string& file, const YAML::Node& node) { return {file, node.Mark().line + 1}; }

[[noreturn]] void fail(const Location& where, const std::string& message) {
  throw UserError(where.str() + ": " + message);
}

// ---- text checks ----------------------------------------------------------------------------
// Every string of a config ends up in JSON files (sweep.json, summary.json), which hold only valid
// UTF-8; so the text is checked once, where it comes in, and an error can still say where it is.

// The length of the UTF-8 sequence at text[at], or 0 when none starts there: a stray continuation byte, a
// truncated or overlong sequence, a UTF-16 surrogate, a code point above U+10FFFF, or a NUL byte (no text
// file has one; a UTF-16 file is full of them).
std::size_t utf8_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return i < text.size() ? static_cast<unsigned char>(text[i]) : 0u; };
  const auto continuation = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xbf) {
    return byte(i) >= lo && byte(i) <= hi;
  };
  const unsigned lead = byte(at);
  if (lead >= 0x01 && lead <= 0x7f) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return continuation(at + 1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const unsigned lo = lead == 0xe0 ? 0xa0 : 0x80, hi = lead == 0xed ? 0x9f : 0xbf;
    return continuation(at + 1, lo, hi) && continuation(at + 2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const unsigned lo = lead == 0xf0 ? 0x90 : 0x80, hi = lead == 0xf4 ? 0x8f : 0xbf;
    return continuation(at + 1, lo, hi) && continuation(at + 2) && continuation(at + 3) ? 4 : 0;
  }
  return 0;
}

// The offset of the first byte that is not valid UTF-8, or npos.
std::size_t invalid_utf8_at(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = utf8_length(text, at);
    if (length == 0) return at;
    at += length;
  }
  return std::string_view::npos;
}

// Text fit for a one-line message: bytes that are not UTF-8 (and control characters) as \xNN, and at most
// about 60 characters, so a 10 000-value override does not make a 10 000-value error line.
std::string printable(std::string_view text) {
  constexpr std::size_t kMax = 60;
  std::string out;
  for (std::size_t at = 0; at < text.size() && out.size() < kMax;) {
    const std::size_t length = utf8_length(text, at);
    if (length == 0 || static_cast<unsigned char>(text[at]) < 0x20) {
      static const char* const hex = "0123456789abcdef";
      const auto byte = static_cast<unsigned char>(text[at]);
      out += std::string("\\x") + hex[byte >> 4] + hex[byte & 15];
      ++at;
    } else {
      out.append(text, at, length);
      at += length;
    }
    if (at < text.size() && out.size() >= kMax) out += "...";
  }
  return out;
}

std::string byte_text(std::string_view text, std::size_t at) {
  static const char* const hex = "0123456789abcdef";
  const auto byte = static_cast<unsigned char>(text[at]);
  if (byte == 0) return "a NUL byte (is it UTF-16?)";
  return std::string("byte 0x") + hex[byte >> 4] + hex[byte & 15];
}

// A config file's text: valid UTF-8, or a UserError naming the line and column of the first bad byte.
std::string read_config_text(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (!in.is_open() || in.bad()) throw UserError(file + ": cannot read the file");
  const std::size_t bad = invalid_utf8_at(text);
  if (bad == std::string::npos) return text;
  const std::size_t newline = text.rfind('\n', bad);
  const std::size_t line_start = newline == std::string::npos ? 0 : newline + 1;
  // Show the line from a little before the bad byte (the text before it is valid, so step back to the
  // start of a character).
  std::size_t shown = bad > line_start + 30 ? bad - 30 : line_start;
  while (shown > line_start && (static_cast<unsigned char>(text[shown]) & 0xc0) == 0x80) --shown;
  const std::size_t line_end = std::min(text.find('\n', bad), text.size());
  const int line = 1 + int(std::count(text.begin(), text.begin() + std::ptrdiff_t(bad), '\n'));
  fail({file, line}, "not valid UTF-8: " + byte_text(text, bad) + " at column " +
                         std::to_string(bad - line_start + 1) + " in '" + (shown > line_start ? "..." : "") +
                         printable(std::string_view(text).substr(shown, line_end - shown)) +
                         "'; save the file as UTF-8");
}

struct RawLeaf {
  YAML::Node node;
  Location where;

  RawLeaf(YAML::Node node_ = {}, Location where_ = {}) : node(std::move(node_)), where(std::move(where_)) {}
  RawLeaf(const RawLeaf&) = default;
  // yaml-cpp's Node assignment writes the right side's value into the node the left side refers to, which
  // other leaves may share: a leaf replaced (an override, a later file, an axis moved up by remove_axis) must
  // be rebound instead, or the leaf it was moved over takes its values.
  RawLeaf& operator=(const RawLeaf& other) {
    node.reset(other.node);
    where = other.where;
    return *this;
  }
};

// A config file before typing: dotted key -> YAML value. Merging two of these is the deep merge of
// `extends` (a later leaf replaces an earlier one; lists are leaves, so lists replace).
struct RawConfig {
  std::map<std::string, RawLeaf> leaves;
  std::vector<std::pair<std::string, RawLeaf>> axes;  // sweep.grid, in written order
  std::map<std::string, std::size_t> axis_at;         // key -> index in axes, so a long grid stays linear
  std::optional<RawLeaf> extends;

  void set_axis(const std::string& key, RawLeaf leaf) {
    const auto [it, added] = axis_at.try_emplace(key, axes.size());
    if (added) axes.emplace_back(key, std::move(leaf));
    else axes[it->second].second = std::move(leaf);
  }
  void remove_axis(const std::string& key) {
    if (!axis_at.count(key)) return;
    axes.erase(std::remove_if(axes.begin(), axes.end(), [&](const auto& axis) { return axis.first == key; }),
               axes.end());
    axis_at.clear();
    for (std::size_t i = 0; i < axes.size(); ++i) axis_at[axes[i].first] = i;
  }
  void merge_from(const RawConfig& later) {
    for (const auto& [key, leaf] : later.leaves) leaves[key] = leaf;
    for (const auto& [key, leaf] : later.axes) set_axis(key, leaf);
  }
};

std::string flow_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsNull()) return "null";
  YAML::Emitter emitter;
  emitter << YAML::Flow << node;
  return emitter.c_str();
}

std::string unknown_key_message(const std::string& key) {
  return "unknown key '" + key + "'" + did_you_mean(key, all_key_names()) + " (sweeplab show --keys lists them all)";
}

// Iterates a mapping, rejecting duplicate and non-scalar keys.
template <class Visit>
void for_each_entry(const std::string& file, const YAML::Node& map, const std::string& prefix, Visit visit) {
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) fail(at(file, it->first), "keys must be plain names");
    const std::string name = it->first.Scalar();
    const std::string dotted = prefix.empty() ? name : prefix + "." + name;
    if (!seen.insert(name).second) fail(at(file, it->first), "duplicate key '" + dotted + "'");
    visit(name, dotted, it->first, it->second);
  }
}

void require_mapping(const std::string& file, const YAML::Node& key_node, const YAML::Node& value,
                     const std::string& dotted, const std::string& example) {
  if (!value.IsMap()) {
    fail(at(file, key_node), "'" + dotted + "' must be a mapping of keys, e.g. " + example + ", not '" +
                                 flow_text(value) + "'");
  }
}

RawConfig parse_file(const std::string& file) {
  const std::string text = read_config_text(file);  // checked before YAML reads it
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw UserError(file + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
  }
  if (root.IsNull()) fail({file, 1}, "empty config: expected sections such as 'training:' and 'optimizer:'");
  if (!root.IsMap()) fail(at(file, root), "expected a mapping of sections such as 'training:', not '" + flow_text(root) + "'");

  RawConfig raw;
  const auto& sections = section_names();
  for_each_entry(file, root, "", [&](const std::string& name, const std::string&, const YAML::Node& key_node,
                                     const YAML::Node& value) {
    const Location where = at(file, key_node);
    if (name == "extends") {
      if (!value.IsScalar()) fail(where, "extends: expected the name of another sweep, not '" + flow_text(value) + "'");
      raw.extends = RawLeaf{value, where};
    } else if (name == "sweep") {
      require_mapping(file, key_node, value, "sweep", "{grid: {training.batch_size: [8, 16]}, seeds: 3}");
      for_each_entry(file, value, "sweep", [&](const std::string& sub, const std::string& dotted,
                                               const YAML::Node& sub_key, const YAML::Node& sub_value) {
        if (sub == "seeds" || sub == "prune" || sub == "sample" || sub == "refine") {
          raw.leaves[dotted] = RawLeaf{sub_value, at(file, sub_key)};
        } else if (sub == "grid") {
          require_mapping(file, sub_key, sub_value, dotted, "{training.batch_size: [8, 16]}");
          for_each_entry(file, sub_value, "", [&](const std::string& axis, const std::string&,
                                                  const YAML::Node& axis_key, const YAML::Node& axis_value) {
            raw.set_axis(axis, RawLeaf{axis_value, at(file, axis_key)});
          });
        } else {
          fail(at(file, sub_key), unknown_key_message(dotted));
        }
      });
    } else if (std::find(sections.begin(), sections.end(), name) != sections.end()) {
      if (value.IsNull()) return;  // an empty section keeps its defaults
      require_mapping(file, key_node, value, name, name + ": {...}");
      for_each_entry(file, value, name, [&](const std::string&, const std::string& dotted,
                                            const YAML::Node& leaf_key, const YAML::Node& leaf_value) {
        if (!find_field(dotted)) fail(at(file, leaf_key), unknown_key_message(dotted));
        raw.leaves[dotted] = RawLeaf{leaf_value, at(file, leaf_key)};
      });
    } else if (find_field(name)) {
      raw.leaves[name] = RawLeaf{value, where};
    } else {
      fail(where, unknown_key_message(name));
    }
  });
  return raw;
}

// The sweep's file merged over everything it extends, each file read once per chain.
RawConfig parse_chain(const std::string& configs_dir, const std::string& name, std::vector<std::string>& chain,
                      std::string& own_file) {
  const std::string file = sweep_file(configs_dir, name);
  if (own_file.empty()) own_file = file;
  chain.push_back(name);
  RawConfig raw = parse_file(file);
  if (!raw.extends) return raw;
  const std::string parent = raw.extends->node.Scalar();
  if (std::find(chain.begin(), chain.end(), parent) != chain.end()) {
    fail(raw.extends->where, "extends: cycle " + join(chain, " -> ") + " -> " + parent);
  }
  const auto known = sweep_names(configs_dir);
  if (std::find(known.begin(), known.end(), parent) == known.end()) {
    fail(raw.extends->where, "extends: unknown sweep '" + parent + "'" + did_you_mean(parent, known) +
                                 "; known: " + join(known, ", "));
  }
  std::string unused;
  RawConfig merged = parse_chain(configs_dir, parent, chain, unused);
  merged.merge_from(raw);
  return merged;
}

// ---- typing ---------------------------------------------------------------------------------

bool plain(const YAML::Node& node) { return node.IsScalar() && node.Tag() != "!"; }

std::optional<std::int64_t> parse_int(const YAML::Node& node) {
  if (!plain(node)) return std::nullopt;
  const std::string& text = node.Scalar();
  std::int64_t value = 0;
  const char* begin = text.data() + (text.size() > 1 && text[0] == '+' ? 1 : 0);
  const auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> parse_double(const YAML::Node& node) {
  if (!plain(node)) return std::nullopt;
  const std::string& text = node.Scalar();
  if (text == ".inf" || text == "+.inf" || text == ".Inf") return INFINITY;
  if (text == "-.inf" || text == "-.Inf") return -INFINITY;
  if (text.empty() || text.find_first_not_of("0123456789+-.eE") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return value;
}

std::optional<bool> parse_bool(const YAML::Node& node) {
  if (!plain(node)) return std::nullopt;
  const std::string& text = node.Scalar();
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

std::optional<std::string> parse_string(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  return node.Scalar();
}

template <class T, class Parse>
std::optional<Value> parse_list(const YAML::Node& node, Parse parse) {
  if (!node.IsSequence()) return std::nullopt;
  std::vector<T> items;
  for (const auto& item : node) {
    auto value = parse(item);
    if (!value) return std::nullopt;
    items.push_back(*value);
  }
  return Value(std::move(items));
}

std::optional<Value> parse_value(const YAML::Node& node, ValueType type) {
  switch (type) {
    case ValueType::Bool: if (auto v = parse_bool(node)) return Value(*v); break;
    case ValueType::Int: if (auto v = parse_int(node)) return Value(*v); break;
    case ValueType::Double: if (auto v = parse_double(node)) return Value(*v); break;
    case ValueType::String: if (auto v = parse_string(node)) return Value(*v); break;
    case ValueType::IntList: return parse_list<std::int64_t>(node, parse_int);
    case ValueType::DoubleList: return parse_list<double>(node, parse_double);
    case ValueType::StringList: return parse_list<std::string>(node, parse_string);
  }
  return std::nullopt;
}

std::string example_of(ValueType type) {
  switch (type) {
    case ValueType::Bool: return "true";
    case ValueType::Int: return "8";
    case ValueType::Double: return "0.001";
    case ValueType::String: return "adam";
    case ValueType::IntList: return "[64, 64]";
    case ValueType::DoubleList: return "[0.9, 0.999]";
    case ValueType::StringList: return "['test_acc >= 0.99']";
  }
  return "";
}

Value typed_value(const FieldSpec& spec, const YAML::Node& node, const Location& where) {
  if (node.IsNull()) fail(where, spec.key + ": no value given; expected " + type_name(spec.type) + ", e.g. " + example_of(spec.type));
  if (auto value = parse_value(node, spec.type)) return *value;
  std::string shown = flow_text(node);
  if (node.IsScalar() && node.Tag() == "!") shown = "\"" + shown + "\" (quoted, so a string)";
  else shown = "'" + shown + "'";
  fail(where, spec.key + ": " + shown + " is not " + type_name(spec.type) + ", e.g. " + example_of(spec.type));
}

// ---- sweep axes -----------------------------------------------------------------------------

bool is_list_type(ValueType type) {
  return type == ValueType::IntList || type == ValueType::DoubleList || type == ValueType::StringList;
}

// A generated number as the axis key's type: integral values for integer keys, any for number keys.
Value generated_value(const FieldSpec& spec, double number, const Location& where, const std::string& generator) {
  if (spec.type == ValueType::Double) return Value(number);
  if (spec.type == ValueType::Int && std::nearbyint(number) == number && std::fabs(number) < 9.0e15) {
    return Value(static_cast<std::int64_t>(number));
  }
  fail(where, "sweep.grid." + spec.key + ": " + generator + " makes " + format_double(number) + ", but " + spec.key +
                  " expects " + type_name(spec.type));
}

std::vector<double> generator_numbers(const std::string& key, const YAML::Node& args, const Location& where,
                                      const std::string& generator, std::size_t count) {
  auto numbers = parse_value(args, ValueType::DoubleList);
  const auto* list = numbers ? std::get_if<std::vector<double>>(&*numbers) : nullptr;
  if (!list || list->size() != count) {
    const std::string usage = generator == "pow2" ? "{pow2: [1, 6]} (2 to 64)"
                              : generator == "logspace" ? "{logspace: [-4, -1, 7]} (7 values from 1e-4 to 1e-1)"
                              : generator == "linspace" ? "{linspace: [0, 1, 5]} (5 values from 0 to 1)"
                                                        : "{range: [8, 64, 8]} (8, 16, ..., 56; stop excluded)";
    fail(where, "sweep.grid." + key + ": " + generator + " takes " + std::to_string(count) + " numbers, got '" +
                    flow_text(args) + "'; write " + usage);
  }
  for (double x : *list) {
    if (!std::isfinite(x)) fail(where, "sweep.grid." + key + ": " + generator + " needs finite numbers, got '" + flow_text(args) + "'");
  }
  return *list;
}

std::vector<Value> axis_values(const FieldSpec& spec, const YAML::Node& node, const Location& where) {
  const std::string name = "sweep.grid." + spec.key;
  std::vector<Value> values;
  if (node.IsMap()) {
    if (node.size() != 1) fail(where, name + ": a generator is one of {pow2: [a, b]}, {logspace: [a, b, n]}, {linspace: [a, b, n]}, {range: [start, stop, step]}");
    const std::string generator = node.begin()->first.Scalar();
    const YAML::Node args = node.begin()->second;
    if (generator == "pow2") {
      const auto n = generator_numbers(spec.key, args, where, generator, 2);
      // Negative exponents give fractions (learning rates 2^-12 .. 2^12, as batch_size_studies sweeps eta).
      if (n[0] != std::floor(n[0]) || n[1] != std::floor(n[1]) || n[0] < -62 || n[1] > 62 || n[0] > n[1]) {
        fail(where, name + ": pow2 needs integer exponents -62 <= a <= b <= 62, got '" + flow_text(args) + "'");
      }
      for (double e = n[0]; e <= n[1]; ++e) values.push_back(generated_value(spec, std::ldexp(1.0, int(e)), where, generator));
    } else if (generator == "logspace" || generator == "linspace") {
      const auto n = generator_numbers(spec.key, args, where, generator, 3);
      if (n[2] != std::floor(n[2]) || n[2] < 1 || n[2] > 10000) {
        fail(where, name + ": " + generator + " needs a count n between 1 and 10000, got '" + flow_text(args) + "'");
      }
      const int count = int(n[2]);
      for (int i = 0; i < count; ++i) {
        const double t = count == 1 ? n[0] : n[0] + (n[1] - n[0]) * double(i) / double(count - 1);
        values.push_back(generated_value(spec, generator == "logspace" ? std::pow(10.0, t) : t, where, generator));
      }
    } else if (generator == "range") {
      const auto n = generator_numbers(spec.key, args, where, generator, 3);
      if (n[2] == 0 || (n[1] - n[0]) / n[2] > 10000) {
        fail(where, name + ": range needs a non-zero step and at most 10000 values, got '" + flow_text(args) + "'");
      }
      for (std::int64_t i = 0;; ++i) {
        const double x = n[0] + double(i) * n[2];
        if ((n[2] > 0 && x >= n[1]) || (n[2] < 0 && x <= n[1])) break;
        values.push_back(generated_value(spec, x, where, generator));
      }
    } else {
      fail(where, name + ": unknown generator '" + generator + "'" +
                      did_you_mean(generator, {"pow2", "logspace", "linspace", "range"}) +
                      "; use pow2, logspace, linspace or range");
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) values.push_back(typed_value(spec, item, where));
  } else {
    fail(where, name + ": '" + flow_text(node) + "' is not a list of values or a generator; write e.g. [8, 16, 32] or {pow2: [1, 6]}");
  }
  if (values.empty()) fail(where, name + ": the axis has no values; give at least one");
  std::set<Value> seen;  // not a pairwise check: an axis may have 10 000 values
  for (const auto& value : values) {
    if (!seen.insert(value).second) fail(where, name + ": " + to_text(value) + " appears twice");
  }
  return values;
}

// ---- overrides ------------------------------------------------------------------------------

// Splits at commas outside brackets and quotes: "8,16" -> {8, 16}; "[64,64],[128]" -> {[64,64], [128]}.
std::vector<std::string> split_top_level(const std::string& text) {
  std::vector<std::string> parts(1);
  int depth = 0;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      --depth;
    } else if (c == ',' && depth == 0) {
      parts.emplace_back();
      continue;
    }
    parts.back() += c;
  }
  return parts;
}

std::string resolve_override_key(const std::string& key, const Location& where) {
  if (find_field(key) || key == "sweep.seeds" || key == "sweep.prune" || key == "sweep.sample" || key == "sweep.refine") {
    return key;
  }
  if (key.find('.') == std::string::npos) {
    std::vector<std::string> matches = keys_with_leaf(key);
    if (key == "seeds") matches.push_back("sweep.seeds");
    if (key == "prune") matches.push_back("sweep.prune");
    if (key == "sample") matches.push_back("sweep.sample");
    if (key == "refine") matches.push_back("sweep.refine");
    if (matches.size() == 1) return matches.front();
    if (matches.size() > 1) {
      fail(where, "'" + key + "' is ambiguous: it could be " + join(matches, ", ") + "; write the full key");
    }
  }
  fail(where, unknown_key_message(key));
}

YAML::Node load_override_value(const std::string& text, const Location& where) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    fail(where, "cannot read '" + printable(text) + "' as a YAML value: " + e.msg);
  }
}

void apply_override(RawConfig& raw, const std::string& text) {
  const Location where{"-o '" + printable(text) + "'", 0};
  if (const std::size_t bad = invalid_utf8_at(text); bad != std::string::npos) {
    fail(where, "not valid UTF-8: " + byte_text(text, bad) + " at position " + std::to_string(bad + 1) +
                    "; check the shell's locale, or write the value in a config file saved as UTF-8");
  }
  const auto equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    fail(where, "expected KEY=VALUE, e.g. -o training.epochs=5 or -o epochs=5");
  }
  const std::string key = resolve_override_key(text.substr(0, equals), where);
  const std::string value_text = text.substr(equals + 1);
  if (value_text.empty()) fail(where, key + ": no value given after '='");
  if (key == "sweep.seeds" || key == "sweep.prune" || key == "sweep.sample" || key == "sweep.refine") {
    raw.leaves[key] = RawLeaf{load_override_value(value_text, where), where};
    return;
  }
  const FieldSpec& spec = *find_field(key);
  const auto parts = split_top_level(value_text);
  YAML::Node node;
  bool axis = parts.size() > 1;
  if (axis) {
    for (const auto& part : parts) {
      if (part.empty()) fail(where, key + ": empty value between commas");
      node.push_back(load_override_value(part, where));
    }
  } else {
    node = load_override_value(value_text, where);
    const bool list_of_lists = node.IsSequence() && node.size() > 0 && node[0].IsSequence();
    axis = node.IsMap() || (node.IsSequence() && (!is_list_type(spec.type) || list_of_lists));
  }
  if (axis) {
    raw.set_axis(key, RawLeaf{node, where});
  } else {
    raw.remove_axis(key);  // a single value on a swept key collapses the axis
    raw.leaves[key] = RawLeaf{node, where};
  }
}

// ---- raw -> typed ---------------------------------------------------------------------------

std::vector<std::int64_t> seed_list(const RawLeaf& leaf, std::int64_t base_seed) {
  if (auto count = parse_int(leaf.node)) {
    if (*count < 1 || *count > 100000) {
      fail(leaf.where, "sweep.seeds: " + std::to_string(*count) + " is out of range: give a count >= 1 and <= 100000 "
                       "(e.g. 3: seeds training.seed .. +2) or a list like [0, 1, 2]");
    }
    if (base_seed > std::numeric_limits<std::int64_t>::max() - *count) {
      fail(leaf.where, "sweep.seeds: " + std::to_string(*count) + " seeds from training.seed " +
                           std::to_string(base_seed) + " go past the largest seed; give a list like [0, 1, 2]");
    }
    std::vector<std::int64_t> seeds;
    for (std::int64_t i = 0; i < *count; ++i) seeds.push_back(base_seed + i);
    return seeds;
  }
  auto list = parse_value(leaf.node, ValueType::IntList);
  if (!list || std::get<std::vector<std::int64_t>>(*list).empty()) {
    fail(leaf.where, "sweep.seeds: '" + flow_text(leaf.node) + "' is not a seed count or a list of seeds; write e.g. 3 or [0, 1, 2]");
  }
  auto seeds = std::get<std::vector<std::int64_t>>(*list);
  std::set<std::int64_t> seen;
  for (auto seed : seeds) {
    if (seed < 0) fail(leaf.where, "sweep.seeds: " + std::to_string(seed) + " is out of range: seeds must be >= 0");
    if (!seen.insert(seed).second) fail(leaf.where, "sweep.seeds: " + std::to_string(seed) + " appears twice");
  }
  return seeds;
}

// sweep.prune: a mode ("none", "above_divergence"), or a mode with its count ({below_divergence: 3}).
void read_prune(const RawLeaf& leaf, SweepSpec& spec) {
  const std::string text = flow_text(leaf.node);
  const std::string example = "e.g. {below_divergence: 3} (each line is walked down from its largest learning rate "
                              "until 3 of its trials complete)";
  const std::vector<std::string> modes = {"none", "above_divergence", "below_divergence"};
  const auto mode_of = [&](const std::string& name) -> std::optional<Prune> {
    for (const Prune prune : {Prune::None, Prune::AboveDivergence, Prune::BelowDivergence}) {
      if (name == to_string(prune)) return prune;
    }
    return std::nullopt;
  };
  const std::string not_one_of = "sweep.prune: '" + printable(text) + "' is not one of " + kPruneValues;
  if (leaf.node.IsScalar()) {
    const auto mode = mode_of(text);
    if (!mode) fail(leaf.where, not_one_of + did_you_mean(text, modes));
    if (*mode == Prune::BelowDivergence) {
      fail(leaf.where, "sweep.prune: 'below_divergence' needs a count of stable learning rates: write " + example);
    }
    spec.prune = *mode;
    return;
  }
  if (!leaf.node.IsMap() || leaf.node.size() != 1) fail(leaf.where, not_one_of + "; write " + example);
  const auto entry = leaf.node.begin();
  const std::string name = entry->first.IsScalar() ? entry->first.Scalar() : flow_text(entry->first);
  const auto mode = mode_of(name);
  if (!mode) fail(leaf.where, not_one_of + did_you_mean(name, modes));
  if (*mode != Prune::BelowDivergence) {
    fail(leaf.where, "sweep.prune: '" + printable(text) + "': " + name + " takes no count; write sweep.prune: " + name);
  }
  const auto count = parse_int(entry->second);
  if (!count || *count < 1) {
    fail(leaf.where, "sweep.prune: below_divergence: '" + printable(flow_text(entry->second)) +
                         "' is not a count >= 1 of stable learning rates; write " + example);
  }
  spec.prune = Prune::BelowDivergence;
  spec.prune_keep = *count;
}

// Where a node inside a leaf's value was written: its own line in a file, the leaf's -o otherwise.
Location inside(const RawLeaf& leaf, const YAML::Node& node) {
  return leaf.where.line > 0 ? Location{leaf.where.file, node.Mark().line + 1} : leaf.where;
}

// One key of sweep.sample.keys: {uniform: [a, b]}, {log_uniform: [a, b]} or {choice: [x, y, ...]}.
SampledKey sampled_key(const FieldSpec& field, const YAML::Node& node, const Location& where) {
  const std::string name = "sweep.sample.keys." + field.key;
  if (!node.IsMap() || node.size() != 1 || !node.begin()->first.IsScalar()) {
    fail(where, name + ": '" + printable(flow_text(node)) + "' is not a distribution; write one of " + kSampleDistributions);
  }
  SampledKey key;
  key.key = field.key;
  key.distribution = node.begin()->first.Scalar();
  const YAML::Node args = node.begin()->second;
  if (key.distribution == "choice") {
    if (!args.IsSequence() || args.size() == 0) {
      fail(where, name + ": choice needs a list of one or more values, e.g. {choice: [relu, tanh]}, not '" +
                      printable(flow_text(args)) + "'");
    }
    for (const auto& value : args) key.choices.push_back(typed_value(field, value, where));
    return key;
  }
  if (key.distribution != "uniform" && key.distribution != "log_uniform") {
    fail(where, name + ": unknown distribution '" + printable(key.distribution) + "'" +
                    did_you_mean(key.distribution, {"uniform", "log_uniform", "choice"}) + "; write one of " +
                    kSampleDistributions);
  }
  if (field.type != ValueType::Double) {
    fail(where, name + ": " + key.distribution + " draws numbers, but " + field.key + " expects " +
                    type_name(field.type) + "; list its values with {choice: [...]}");
  }
  const auto numbers = parse_value(args, ValueType::DoubleList);
  const auto* bounds = numbers ? std::get_if<std::vector<double>>(&*numbers) : nullptr;
  if (!bounds || bounds->size() != 2 || !std::isfinite((*bounds)[0]) || !std::isfinite((*bounds)[1]) ||
      (*bounds)[0] >= (*bounds)[1] || (key.distribution == "log_uniform" && (*bounds)[0] <= 0.0)) {
    fail(where, name + ": " + key.distribution + " takes two finite numbers a < b" +
                    (key.distribution == "log_uniform" ? std::string(", a > 0") : std::string()) + ", got '" +
                    printable(flow_text(args)) + "'; write e.g. {" + key.distribution + ": [1.0e-4, 1.0]}");
  }
  key.low = (*bounds)[0];
  key.high = (*bounds)[1];
  return key;
}

// sweep.sample: {n: N, seed: S, keys: {KEY: DISTRIBUTION, ...}}. After the grid's axes are read (a key is swept by
// one of the two).
void read_sample(const RawLeaf& leaf, SweepSpec& spec) {
  const std::string example = "e.g. {n: 20, seed: 0, keys: {optimizer.lr: {log_uniform: [1.0e-4, 1.0]}}}";
  const YAML::Node& node = leaf.node;
  if (!node.IsMap()) fail(leaf.where, "sweep.sample: '" + printable(flow_text(node)) + "' is not a mapping; write " + example);
  Sample sample;
  sample.source = leaf.where.str();
  bool has_n = false, has_keys = false;
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string entry = it->first.IsScalar() ? it->first.Scalar() : flow_text(it->first);
    const Location where = inside(leaf, it->first);
    if (!seen.insert(entry).second) fail(where, "sweep.sample: duplicate key '" + printable(entry) + "'");
    if (entry == "n") {
      const auto n = parse_int(it->second);
      if (!n || *n < 1 || *n > 100000) {
        fail(where, "sweep.sample.n: '" + printable(flow_text(it->second)) + "' is not a count of points from 1 to 100000");
      }
      sample.n = *n;
      has_n = true;
    } else if (entry == "seed") {
      const auto seed = parse_int(it->second);
      if (!seed || *seed < 0) fail(where, "sweep.sample.seed: '" + printable(flow_text(it->second)) + "' is not a seed >= 0");
      sample.seed = std::uint64_t(*seed);
    } else if (entry == "keys") {
      if (!it->second.IsMap() || it->second.size() == 0) {
        fail(where, "sweep.sample.keys: '" + printable(flow_text(it->second)) + "' is not a mapping of keys to distributions; write " + example);
      }
      for (auto key_it = it->second.begin(); key_it != it->second.end(); ++key_it) {
        const std::string key = key_it->first.IsScalar() ? key_it->first.Scalar() : flow_text(key_it->first);
        const Location key_where = inside(leaf, key_it->first);
        const FieldSpec* field = find_field(key);
        if (!field) fail(key_where, "sweep.sample.keys: unknown key '" + printable(key) + "'" + did_you_mean(key, all_key_names()));
        if (!field->affects_training) fail(key_where, "sweep.sample.keys: " + key + " cannot be sampled: it does not change what is trained");
        if (key == "training.seed") fail(key_where, "sweep.sample.keys: training.seed is not sampled; use sweep.seeds");
        for (const auto& axis : spec.axes) {
          if (axis.key == key) fail(key_where, "sweep.sample.keys: " + key + " is swept by sweep.grid too (" + axis.source + "); keep one");
        }
        for (const auto& other : sample.keys) {
          if (other.key == key) fail(key_where, "sweep.sample.keys: duplicate key '" + key + "'");
        }
        sample.keys.push_back(sampled_key(*field, key_it->second, key_where));
      }
      has_keys = true;
    } else {
      fail(where, "sweep.sample: unknown key '" + printable(entry) + "'" + did_you_mean(entry, {"n", "seed", "keys"}) +
                      "; it takes n, seed and keys");
    }
  }
  if (!has_n || !has_keys) fail(leaf.where, std::string("sweep.sample: no ") + (has_n ? "keys" : "n") + "; write " + example);
  std::stable_sort(sample.keys.begin(), sample.keys.end(),
                   [](const SampledKey& a, const SampledKey& b) { return field_index(a.key) < field_index(b.key); });
  spec.sample = std::move(sample);
  spec.sampled = draw_sample(spec.sample);
}

// A ratio of sweep.refine: a finite number > 1 (2^(1/4) = 1.19 is a grid of 4 points per doubling).
double refine_ratio(const YAML::Node& node, const std::string& name, const Location& where) {
  const auto ratio = parse_double(node);
  if (!ratio || !std::isfinite(*ratio) || *ratio <= 1.0) {
    fail(where, name + ": '" + printable(flow_text(node)) + "' is not a ratio > 1 of neighbouring learning rates; "
                "write e.g. 1.19 (2^(1/4))");
  }
  return *ratio;
}

// sweep.refine: {boundary: R, best: {metric: M, ratio: R}, waves: N}. After the grid's axes and sweep.prune are read.
void read_refine(const RawLeaf& leaf, SweepSpec& spec) {
  const std::string example = "e.g. {boundary: 1.19, best: {metric: test_loss, ratio: 1.19}, waves: 8}";
  const YAML::Node& node = leaf.node;
  if (node.IsScalar() && node.Scalar() == "none") return;  // -o sweep.refine=none: the grid alone
  if (!node.IsMap() || node.size() == 0) {
    fail(leaf.where, "sweep.refine: '" + printable(flow_text(node)) + "' is not a mapping (nor none); write " + example);
  }
  Refine refine;
  refine.source = leaf.where.str();
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string entry = it->first.IsScalar() ? it->first.Scalar() : flow_text(it->first);
    const Location where = inside(leaf, it->first);
    if (!seen.insert(entry).second) fail(where, "sweep.refine: duplicate key '" + printable(entry) + "'");
    if (entry == "boundary") {
      refine.boundary = refine_ratio(it->second, "sweep.refine.boundary", where);
    } else if (entry == "waves") {
      const auto waves = parse_int(it->second);
      if (!waves || *waves < 1 || *waves > 100) {
        fail(where, "sweep.refine.waves: '" + printable(flow_text(it->second)) + "' is not a count of waves from 1 to 100");
      }
      refine.waves = *waves;
    } else if (entry == "best") {
      const YAML::Node best = it->second;  // a copy: it-> gives a temporary
      const std::string best_example = "e.g. {metric: test_loss, ratio: 1.19}";
      if (!best.IsMap()) {
        fail(where, "sweep.refine.best: '" + printable(flow_text(best)) + "' is not a mapping; write " + best_example);
      }
      for (auto b = best.begin(); b != best.end(); ++b) {
        const std::string name = b->first.IsScalar() ? b->first.Scalar() : flow_text(b->first);
        const Location b_where = inside(leaf, b->first);
        if (name == "ratio") {
          refine.best_ratio = refine_ratio(b->second, "sweep.refine.best.ratio", b_where);
        } else if (name == "metric") {
          const std::string metric = b->second.IsScalar() ? b->second.Scalar() : flow_text(b->second);
          const bool reinforcement = is_reinforcement_task(spec.base.task.name);
          std::vector<std::string> metrics = reinforcement
              ? std::vector<std::string>{"greedy_optimal_fraction", "greedy_length", "episode_return", "train_loss"}
              : is_classification_task(spec.base.task.name)
                  ? std::vector<std::string>{"test_acc", "test_loss", "train_acc", "train_loss"}
                  : std::vector<std::string>{"test_loss", "train_loss"};
          if (std::find(metrics.begin(), metrics.end(), metric) == metrics.end()) {
            fail(b_where, "sweep.refine.best.metric: '" + printable(metric) + "' is not a metric of task " +
                              spec.base.task.name + did_you_mean(metric, metrics) + "; it takes " + join(metrics, ", ") +
                              " (of the final evaluation)");
          }
          refine.metric = metric;
        } else {
          fail(b_where, "sweep.refine.best: unknown key '" + printable(name) + "'" + did_you_mean(name, {"metric", "ratio"}) +
                            "; write " + best_example);
        }
      }
      if (refine.metric.empty() || refine.best_ratio == 0.0) {
        fail(where, std::string("sweep.refine.best: no ") + (refine.metric.empty() ? "metric" : "ratio") + "; write " +
                        best_example);
      }
    } else {
      fail(where, "sweep.refine: unknown key '" + printable(entry) + "'" + did_you_mean(entry, {"boundary", "best", "waves"}) +
                      "; it takes boundary, best and waves");
    }
  }
  if (refine.boundary == 0.0 && refine.metric.empty()) {
    fail(leaf.where, "sweep.refine: neither boundary nor best is given, so nothing is refined; write " + example);
  }
  if (spec.prune != Prune::None) {
    fail(leaf.where, "sweep.refine cannot be combined with sweep.prune: " + prune_text(spec) +
                         " (both decide which learning rates run); keep one, e.g. -o sweep.prune=none");
  }
  // The refined axis: the learning rate, or the temperature it is derived from.
  const Axis* axis = nullptr;
  for (const auto& candidate : spec.axes) {
    if (candidate.key == "optimizer.lr" || (candidate.key == "optimizer.temperature" && !axis)) axis = &candidate;
  }
  if (!axis) {
    fail(leaf.where, "sweep.refine: optimizer.lr (or optimizer.temperature) is not a sweep.grid axis, so there is no "
                     "learning rate to refine; add e.g. sweep.grid: {optimizer.lr: {logspace: [-3, 0, 4]}}");
  }
  std::size_t positive = 0;
  for (const auto& value : axis->values) positive += std::get<double>(value) > 0.0 ? 1 : 0;
  if (positive < 2) {
    fail(leaf.where, "sweep.refine: the sweep.grid axis " + axis->key + " (" + axis->source + ") has " +
                         std::to_string(positive) + " positive value" + (positive == 1 ? "" : "s") +
                         "; refining needs at least 2 to start between, e.g. {logspace: [-3, 0, 4]}");
  }
  refine.key = axis->key;
  spec.refine = std::move(refine);
}

SweepSpec to_spec(const RawConfig& raw, const std::string& name, const std::string& file,
                  std::vector<std::string> chain) {
  SweepSpec spec;
  spec.name = name;
  spec.file = file;
  spec.extends_chain = std::move(chain);
  for (const auto& [key, leaf] : raw.leaves) {
    spec.sources[key] = leaf.where.str();
    if (key == "sweep.seeds" || key == "sweep.prune" || key == "sweep.sample" || key == "sweep.refine") continue;
    const FieldSpec& field = *find_field(key);
    field.set(spec.base, typed_value(field, leaf.node, leaf.where));
  }
  if (auto it = raw.leaves.find("sweep.seeds"); it != raw.leaves.end()) {
    spec.seeds = seed_list(it->second, spec.base.training.seed);
  }
  if (auto it = raw.leaves.find("sweep.prune"); it != raw.leaves.end()) read_prune(it->second, spec);
  for (const auto& [key, leaf] : raw.axes) {
    const FieldSpec* field = find_field(key);
    if (!field) fail(leaf.where, "sweep.grid: unknown key '" + key + "'" + did_you_mean(key, all_key_names()));
    if (!field->affects_training) {
      fail(leaf.where, "sweep.grid: " + key + " cannot be swept: it does not change what is trained" +
                           (key == "training.epochs" || key == "training.steps"
                                ? " (it is the budget; every trial's metrics.jsonl already has each epoch)"
                                : ""));
    }
    if (key == "training.seed" && !spec.seeds.empty()) {
      fail(leaf.where, "sweep.grid: training.seed is swept by both sweep.grid and sweep.seeds; keep one");
    }
    spec.axes.push_back(Axis{key, axis_values(*field, leaf.node, leaf.where), leaf.where.str()});
  }
  std::stable_sort(spec.axes.begin(), spec.axes.end(),
                   [](const Axis& a, const Axis& b) { return field_index(a.key) < field_index(b.key); });
  if (auto it = raw.leaves.find("sweep.sample"); it != raw.leaves.end()) read_sample(it->second, spec);
  if (auto it = raw.leaves.find("sweep.refine"); it != raw.leaves.end()) read_refine(it->second, spec);
  return spec;
}

// "optimizer.lr (10000 values, configs/x.yaml:5) x sweep.seeds (3)": what makes the trial count.
std::string count_factors(const SweepSpec& spec) {
  std::vector<std::string> factors;
  for (const auto& axis : spec.axes) {
    factors.push_back(axis.key + " (" + std::to_string(axis.values.size()) + " values, " + axis.source + ")");
  }
  if (!spec.sampled.empty()) factors.push_back("sweep.sample (" + std::to_string(spec.sample.n) + " points, " + spec.sample.source + ")");
  if (!spec.seeds.empty()) factors.push_back("sweep.seeds (" + std::to_string(spec.seeds.size()) + ")");
  return join(factors, " x ");
}

// Everything but the trials: the files and overrides read and typed, and the trials counted (not yet
// validated).
SweepSpec resolve(const std::string& configs_dir, const std::string& name,
                  const std::vector<std::string>& overrides, const LoadOptions& options) {
  if (invalid_utf8_at(name) != std::string::npos) {
    throw UserError("sweep name '" + printable(name) + "' is not valid UTF-8");
  }
  std::vector<std::string> chain;
  std::string file;
  RawConfig raw = parse_chain(configs_dir, name, chain, file);
  for (const auto& text : overrides) apply_override(raw, text);
  SweepSpec spec = to_spec(raw, name, file, std::move(chain));
  // Counted before any trial is built: 10^8 trials would take minutes and all the memory to list.
  const std::size_t count = count_trials(spec);
  if (count > options.max_trials) {
    const bool overflow = count == std::numeric_limits<std::size_t>::max();
    throw UserError(spec.file + ": " + (overflow ? "more than " : "") + std::to_string(count) + " trials = " +
                    count_factors(spec) + ", more than the limit of " + std::to_string(options.max_trials) +
                    "; use fewer values or seeds, or raise the limit with --max-trials " +
                    (overflow ? "N" : std::to_string(count)));
  }
  return spec;
}

}  // namespace

SweepSpec check_sweep(const std::string& configs_dir, const std::string& name,
                      const std::vector<std::string>& overrides, const LoadOptions& options) {
  SweepSpec spec = resolve(configs_dir, name, overrides, options);
  validate_trials(spec);
  return spec;
}

ResolvedSweep load_sweep(const std::string& configs_dir, const std::string& name,
                         const std::vector<std::string>& overrides, const LoadOptions& options) {
  ResolvedSweep resolved;
  resolved.spec = resolve(configs_dir, name, overrides, options);
  resolved.trials = expand(resolved.spec);
  return resolved;
}

}  // namespace sweeplab
