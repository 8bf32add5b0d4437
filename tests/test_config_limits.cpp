// Config robustness: invalid UTF-8, trial counts too large to expand, `list` with broken
// sweeps, validation time linear in the size of the config, and a documented, enforced range for every
// numeric key.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>

#include "sweeplab/config/emit.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

using testing::TempDir;

const std::string kGood = "training: {epochs: 2, batch_size: 4}\ntask: {samples: 100}\n";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::size_t count_lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

// "8,16,...": n distinct values, start, start + step, ...
std::string values(std::size_t n, std::int64_t start, std::int64_t step = 1) {
  std::string text;
  for (std::size_t i = 0; i < n; ++i) text += (i ? "," : "") + std::to_string(start + std::int64_t(i) * step);
  return text;
}

// Bad input must end as a usage error: exit 2, one line naming where, nothing written.
void expect_rejected(const TempDir& dir, const std::vector<std::string>& args,
                     const std::vector<std::string>& expected) {
  testing::expect_usage_error(dir, args, expected);
}

// ---- 1. invalid UTF-8 ---------------------------------------------------------------------------

TEST(InvalidUtf8, InAConfigFileNamesTheFileAndLineAndRunWritesNothing) {
  TempDir dir;
  dir.write("configs/c.yaml", kGood + "description: \"caf\xe9 sweep\"\n");
  expect_rejected(dir, {"run", "c"}, {"c.yaml:3: not valid UTF-8", "0xe9", "save the file as UTF-8"});
  expect_rejected(dir, {"show", "c"}, {"c.yaml:3: not valid UTF-8"});
}

TEST(InvalidUtf8, InAnExtendedFileNamesThatFile) {
  TempDir dir;
  dir.write("configs/base.yaml", kGood + "task:\n  path: \"a\xc3(.csv\"\n");
  dir.write("configs/child.yaml", "extends: base\n");
  expect_rejected(dir, {"run", "child"}, {"base.yaml:4: not valid UTF-8", "0xc3"});
}

TEST(InvalidUtf8, EveryMalformedSequenceIsCaught) {
  // A lone continuation byte, a truncated sequence, an overlong '/', a UTF-16 surrogate, a code point
  // above U+10FFFF, a byte that never occurs in UTF-8, and a NUL byte (a UTF-16 file).
  const std::vector<std::string> malformed = {"\x80",         "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80",
                                              "\xf4\x90\x80\x80", "\xff",     std::string("a\0b", 3)};
  for (const std::string& bad : malformed) {
    TempDir dir;
    dir.write("configs/c.yaml", kGood + "description: x" + bad + "y\n");
    expect_rejected(dir, {"run", "c"}, {"c.yaml:3: not valid UTF-8"});
  }
  // Valid multi-byte text is fine.
  TempDir dir;
  dir.write("configs/c.yaml", kGood + "description: \"café 🍩 Ω\"\n");
  const auto result = testing::run_in(dir, {"show", "c"});
  EXPECT_EQ(result.code, 0) << result.err;
}

TEST(InvalidUtf8, InAnOverrideValueOrKeyNamesTheOverride) {
  TempDir dir;
  dir.write("configs/c.yaml", kGood);
  expect_rejected(dir, {"run", "c", "-o", "description=caf\xe9"},
                  {"-o 'description=caf\\xe9': not valid UTF-8", "0xe9"});
  expect_rejected(dir, {"run", "c", "-o", "task.pa\xffth=x.csv"}, {"-o 'task.pa\\xffth=x.csv': not valid UTF-8"});
  expect_rejected(dir, {"show", "c", "-o", "targets=['test_acc >= 0.9', '\xc3']"}, {"not valid UTF-8"});
}

// ---- 2. counting trials before expanding --------------------------------------------------------

TEST(TrialCount, HundredMillionTrialsFromOverridesIsRejectedQuickly) {
  TempDir dir;
  dir.write("configs/c.yaml", "training: {epochs: 2}\ntask: {samples: 100000}\n");
  const auto start = std::chrono::steady_clock::now();
  expect_rejected(dir, {"run", "c", "-o", "lr=" + values(10000, 1), "-o", "batch_size=" + values(10000, 1)},
                  {"100000000 trials", "optimizer.lr", "training.batch_size", "10000", "--max-trials"});
  EXPECT_LT(seconds_since(start), 5.0);  // refused before expanding: making the trials would take minutes
}

TEST(TrialCount, HundredMillionTrialsFromGeneratorsIsRejectedQuickly) {
  TempDir dir;
  dir.write("configs/c.yaml", kGood +
                                  "sweep:\n  grid:\n    optimizer.lr: {linspace: [0.001, 1, 10000]}\n"
                                  "    optimizer.momentum: {linspace: [0, 0.9, 10000]}\n");
  const auto start = std::chrono::steady_clock::now();
  expect_rejected(dir, {"show", "c"}, {"c.yaml: 100000000 trials", "optimizer.lr", "optimizer.momentum", "c.yaml:5",
                                       "c.yaml:6", "100000", "--max-trials"});
  EXPECT_LT(seconds_since(start), 5.0);  // refused before expanding: making the trials would take minutes
}

TEST(TrialCount, TheLimitIsAnOptionOfLoadSweep) {
  TempDir dir;
  dir.write("configs/c.yaml", kGood + "sweep:\n  grid:\n    optimizer.lr: [0.1, 0.01, 0.001]\n  seeds: 4\n");
  LoadOptions options;
  EXPECT_EQ(options.max_trials, kDefaultMaxTrials);
  EXPECT_EQ(kDefaultMaxTrials, 100000u);
  options.max_trials = 12;
  EXPECT_EQ(load_sweep(dir.str("configs"), "c", {}, options).trials.size(), 12u);
  EXPECT_EQ(count_trials(check_sweep(dir.str("configs"), "c", {}, options)), 12u);
  options.max_trials = 11;
  try {
    load_sweep(dir.str("configs"), "c", {}, options);
    FAIL() << "12 trials passed a limit of 11";
  } catch (const UserError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("12 trials = optimizer.lr (3 values, "), std::string::npos) << message;
    EXPECT_NE(message.find("x sweep.seeds (4), more than the limit of 11"), std::string::npos) << message;
    EXPECT_NE(message.find("--max-trials 12"), std::string::npos) << message;
  }
  EXPECT_THROW(check_sweep(dir.str("configs"), "c", {}, options), UserError);
  EXPECT_THROW(load_sweep(dir.str("configs"), "c", {"seeds=5"}, LoadOptions{14}), UserError);

  // Exactly at the default limit is fine.
  dir.write("configs/d.yaml",
            kGood + "sweep:\n  grid:\n    optimizer.lr: {linspace: [0.001, 1, 1000]}\n  seeds: 100\n");
  EXPECT_EQ(count_trials(check_sweep(dir.str("configs"), "d")), 100000u);
  EXPECT_THROW(check_sweep(dir.str("configs"), "d", {"seeds=101"}), UserError);
}

TEST(TrialCount, AProductThatOverflowsIsStillCountedAsTooMany) {
  TempDir dir;
  std::string grid = "sweep:\n  grid:\n";
  for (const std::string key : {"optimizer.lr", "optimizer.momentum", "optimizer.weight_decay", "optimizer.eps",
                                "lr_schedule.gamma", "task.noise"}) {
    grid += "    " + key + ": {linspace: [0.1, 0.5, 10000]}\n";
  }
  dir.write("configs/c.yaml", kGood + grid + "  seeds: 100000\n");  // 10^29 trials
  const auto start = std::chrono::steady_clock::now();
  expect_rejected(dir, {"show", "c"}, {"trials", "sweep.seeds", "--max-trials"});
  EXPECT_LT(seconds_since(start), 5.0);  // refused before expanding: making the trials would take minutes
}

// ---- 3. list ------------------------------------------------------------------------------------

TEST(List, EachBrokenSweepIsOneRowAndTheOthersAreListed) {
  TempDir dir;
  dir.write("configs/a-good.yaml", kGood + "description: fine\nsweep: {grid: {optimizer.lr: [0.1, 0.01]}}\n");
  dir.write("configs/b-yaml.yaml", "training:\n  batch_size: [1, 2\n");
  dir.write("configs/c-key.yaml", "optimizer:\n  lrr: 0.1\n");
  dir.write("configs/d-utf8.yaml", kGood + "description: \"caf\xe9\"\n");
  dir.write("configs/e-huge.yaml", kGood +
                                       "sweep:\n  grid:\n    optimizer.lr: {linspace: [0.001, 1, 10000]}\n"
                                       "    optimizer.momentum: {linspace: [0, 0.9, 10000]}\n");
  dir.write("configs/f-good.yaml", kGood + "description: also fine\n");
  dir.write("configs/g-limit.yaml", kGood +  // 100 000 trials: allowed, and counted without building them
                                        "sweep:\n  grid:\n    optimizer.lr: {linspace: [0.001, 1, 1000]}\n"
                                        "    optimizer.momentum: {linspace: [0, 0.9, 100]}\n");
  const auto before = dir.snapshot();
  const auto start = std::chrono::steady_clock::now();
  const auto result = testing::run_in(dir, {"list"});
  EXPECT_LT(seconds_since(start), 5.0);  // refused before expanding: making the trials would take minutes
  EXPECT_EQ(result.code, 2) << result.err;  // a broken config is exit 2
  EXPECT_EQ(count_lines(result.out), 8u) << result.out;  // header + one row per sweep
  const auto row = [&](const std::string& name) {
    const auto at = result.out.find("\n" + name + " ");
    return at == std::string::npos ? std::string() : result.out.substr(at + 1, result.out.find('\n', at + 1) - at - 1);
  };
  EXPECT_NE(row("a-good").find(" 2 "), std::string::npos) << result.out;
  EXPECT_NE(row("a-good").find("fine"), std::string::npos) << result.out;
  EXPECT_NE(row("f-good").find("also fine"), std::string::npos) << result.out;
  EXPECT_NE(row("b-yaml").find("INVALID: "), std::string::npos) << result.out;
  EXPECT_NE(row("b-yaml").find("YAML syntax error"), std::string::npos) << result.out;
  EXPECT_NE(row("c-key").find("unknown key 'optimizer.lrr'"), std::string::npos) << result.out;
  EXPECT_NE(row("d-utf8").find("not valid UTF-8"), std::string::npos) << result.out;
  EXPECT_NE(row("e-huge").find("100000000 trials"), std::string::npos) << result.out;
  EXPECT_NE(row("g-limit").find(" 100000 "), std::string::npos) << result.out;
  EXPECT_NE(result.err.find("4 sweeps are invalid"), std::string::npos) << result.err;
  EXPECT_EQ(dir.snapshot(), before);
}

// ---- 4. validation time is linear in the size of the config -------------------------------------

TEST(Linear, AVeryLongHiddenListLoadsQuickly) {
  TempDir dir;
  dir.write("configs/c.yaml", kGood + "model:\n  hidden: [" + values(200000, 1) + "]\n");
  const auto start = std::chrono::steady_clock::now();
  const auto sweep = load_sweep(dir.str("configs"), "c");
  // A guard against quadratic work, not a speed test: 200 000 widths took ~15 s when quadratic, ~0.5 s now (up to
  // 2 s on a loaded 2-core machine).
  EXPECT_LT(seconds_since(start), 6.0);
  EXPECT_EQ(sweep.trials.at(0).config.expand().model.hidden.size(), 200000u);
}

TEST(Linear, AVeryLongHiddenListIsStillCheckedItemByItemInAShortMessage) {
  TempDir dir;
  dir.write("configs/c.yaml", kGood + "model:\n  hidden: [" + values(1000, 1) + ",0]\n");
  expect_rejected(dir, {"show", "c"}, {"c.yaml:4: model.hidden: [1, 2, 3,", "...", "must list layer widths >= 1"});
  const auto result = testing::run_in(dir, {"show", "c"});
  EXPECT_LT(result.err.size(), 300u) << result.err;
}

TEST(Linear, VeryLongAxisAndSeedListsAreCheckedQuickly) {
  TempDir dir;
  // 100 000 values (the trial limit) on one axis, and as many seeds: duplicates were found pairwise.
  std::string lr;
  for (int i = 1; i <= 100000; ++i) lr += (i > 1 ? "," : "") + std::to_string(i) + "e-6";
  dir.write("configs/axis.yaml", kGood + "sweep:\n  grid:\n    optimizer.lr: [" + lr + "]\n");
  dir.write("configs/seeds.yaml", kGood + "sweep:\n  seeds: [" + values(100000, 0) + "]\n");
  for (const std::string name : {"axis", "seeds"}) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(count_trials(check_sweep(dir.str("configs"), name)), 100000u);
    // A guard against pairwise work, not a speed test: ~20 s pairwise, under 1 s now (3 s on a loaded machine).
    EXPECT_LT(seconds_since(start), 8.0) << name;
  }
  // Still an error when a value does repeat, naming it.
  dir.write("configs/dup.yaml", kGood + "sweep:\n  grid:\n    optimizer.lr: [" + lr + ",5e-6]\n");
  expect_rejected(dir, {"show", "dup"}, {"dup.yaml:5: sweep.grid.optimizer.lr: 5e-6 appears twice"});
}

// ---- 5. every numeric key has a documented, enforced range --------------------------------------

bool is_numeric(ValueType type) {
  return type == ValueType::Int || type == ValueType::Double || type == ValueType::IntList ||
         type == ValueType::DoubleList;
}

// Values of a numeric key just outside its range, each as the key's type: below the minimum, above the
// maximum, and infinities; for a list, its default with one item (the first, then the last) replaced.
std::vector<Value> outside_values(const FieldSpec& field) {
  const Range& range = *field.range;
  std::vector<double> numbers;
  if (range.min) numbers.push_back(range.min_open ? *range.min : *range.min - 1);
  if (range.max) numbers.push_back(range.max_open ? *range.max : *range.max + 1);
  if (field.type == ValueType::Double || field.type == ValueType::DoubleList) {
    if (!range.infinity_ok) numbers.push_back(INFINITY);
    numbers.push_back(-INFINITY);
  }
  const Value defaults = field.get(Config{});
  std::vector<Value> out;
  for (double x : numbers) {
    EXPECT_FALSE(range.contains(x)) << field.key << " " << x;
    if (field.type == ValueType::Int) out.emplace_back(static_cast<std::int64_t>(x));
    if (field.type == ValueType::Double) out.emplace_back(x);
    for (bool last : {false, true}) {
      if (field.type == ValueType::IntList) {
        auto list = std::get<std::vector<std::int64_t>>(defaults);
        if (list.empty()) list.push_back(0);  // a list empty by default (batch_schedule.at_steps): one bad item
        (last ? list.back() : list.front()) = static_cast<std::int64_t>(x);
        out.emplace_back(list);
      }
      if (field.type == ValueType::DoubleList) {
        auto list = std::get<std::vector<double>>(defaults);
        if (list.empty()) list.push_back(0.0);
        (last ? list.back() : list.front()) = x;
        out.emplace_back(list);
      }
    }
  }
  return out;
}

// Items of a numeric value, as doubles.
std::vector<double> numbers_of(const Value& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) return {double(*i)};
  if (const auto* d = std::get_if<double>(&value)) return {*d};
  if (const auto* list = std::get_if<std::vector<std::int64_t>>(&value)) return {list->begin(), list->end()};
  return std::get<std::vector<double>>(value);
}

TEST(Ranges, EveryNumericKeyDocumentsItsRangeAndItsDefaultIsInIt) {
  const std::string keys = keys_reference();
  std::size_t numeric = 0;
  for (const auto& field : schema()) {
    if (!is_numeric(field.type)) {
      EXPECT_FALSE(field.range) << field.key << " is not numeric";
      continue;
    }
    ++numeric;
    ASSERT_TRUE(field.range) << field.key << " has no range";
    const auto at = keys.find(field.key + "  (");
    ASSERT_NE(at, std::string::npos) << field.key;
    const std::string line = keys.substr(at, keys.find('\n', at) - at);
    EXPECT_NE(line.find(" " + field.range->text() + (field.range->infinity_ok ? " or .inf" : "") + ", default "),
              std::string::npos)
        << line;
    for (double x : numbers_of(field.get(Config{}))) EXPECT_TRUE(field.range->contains(x)) << field.key << " " << x;
  }
  EXPECT_GE(numeric, 25u);
}

TEST(Ranges, AValueOutsideTheRangeIsRejectedNamingFileLineKeyValueAndTheRange) {
  std::size_t checked = 0;
  for (const auto& field : schema()) {
    if (!field.range) continue;
    for (const Value& value : outside_values(field)) {
      // A valid config with the one bad value, one key per line.
      std::map<std::string, std::map<std::string, std::string>> sections = {
          {"training", {{"epochs", "2"}, {"batch_size", "4"}}}, {"task", {{"samples", "100"}}}};
      const auto dot = field.key.find('.');
      sections[field.key.substr(0, dot)][field.leaf()] = to_text(value);
      std::string text;
      int line = 0, key_line = 0;
      for (const auto& [section, entries] : sections) {
        text += section + ":\n";
        ++line;
        for (const auto& [leaf, entry] : entries) {
          text += "  " + leaf + ": " + entry + "\n";
          if (section + "." + leaf == field.key) key_line = line + 1;
          ++line;
        }
      }
      TempDir dir;
      dir.write("configs/c.yaml", text);
      SCOPED_TRACE(field.key + " = " + to_text(value));
      const std::string where = "c.yaml:" + std::to_string(key_line) + ": ";
      expect_rejected(dir, {"show", "c"}, {where + field.key + ": " + to_text(value)});
      // The suggestion is the documented range (or, for an infinity, that the key wants a finite number).
      const std::string error = testing::run_in(dir, {"show", "c"}).err;
      const auto items = numbers_of(value);
      const bool finite = std::all_of(items.begin(), items.end(), [](double x) { return std::isfinite(x); });
      EXPECT_TRUE(error.find(field.range->text()) != std::string::npos ||
                  (!finite && error.find("finite") != std::string::npos))
          << error;
      ++checked;
    }
  }
  EXPECT_GE(checked, 60u);
}

}  // namespace
}  // namespace sweeplab
