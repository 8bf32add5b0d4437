#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#include "sweeplab/core/hash.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/core/value.hpp"

namespace sweeplab {
namespace {

TEST(EditDistance, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("lr", "lrr"), 1u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
}

TEST(DidYouMean, FindsTheClosestKeyAndLeafNames) {
  const std::vector<std::string> keys = {"optimizer.lr", "optimizer.name", "training.batch_size", "training.epochs"};
  EXPECT_EQ(closest_match("optimizer.lrr", keys), "optimizer.lr");
  EXPECT_EQ(closest_match("batchsize", keys), "training.batch_size");  // matches the leaf
  EXPECT_EQ(closest_match("epoch", keys), "training.epochs");
  EXPECT_EQ(closest_match("completely_unrelated", keys), std::nullopt);
  EXPECT_EQ(did_you_mean("optimizer.lrr", keys), " (did you mean 'optimizer.lr'?)");
  EXPECT_EQ(did_you_mean("zzzzzzzz", keys), "");
}

TEST(FormatDouble, IsShortAndReadsBackExactly) {
  EXPECT_EQ(format_double(0.001), "0.001");
  EXPECT_EQ(format_double(0.1), "0.1");
  EXPECT_EQ(format_double(10.0), "10.0");
  EXPECT_EQ(format_double(1e-8), "1e-8");
  EXPECT_EQ(format_double(1e6), "1000000.0");
  EXPECT_EQ(format_double(INFINITY), ".inf");
  for (double x : {1.0 / 3.0, 0.00031622776601683794, 2.5e-12, 123456.789, -7.25}) {
    EXPECT_EQ(std::strtod(format_double(x).c_str(), nullptr), x) << format_double(x);
  }
}

TEST(ValueText, ListsAndScalars) {
  EXPECT_EQ(to_text(Value(std::vector<std::int64_t>{64, 64})), "[64, 64]");
  EXPECT_EQ(to_short_text(Value(std::vector<std::int64_t>{128, 64})), "128x64");
  EXPECT_EQ(to_text(Value(true)), "true");
  EXPECT_EQ(to_text(Value(std::int64_t{8})), "8");
  EXPECT_EQ(to_short_text(Value(0.00031622776601683794)), "0.0003162");
}

TEST(ShortHash, IsEightHexDigitsAndDependsOnEveryByte) {
  const std::string a = short_hash("optimizer.lr=0.001\n");
  EXPECT_EQ(a.size(), 8u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(a, short_hash("optimizer.lr=0.001\n"));
  EXPECT_NE(a, short_hash("optimizer.lr=0.002\n"));
}

TEST(EncodedValue, ReadsBackToTheSameValueWhateverItHolds) {
  const std::vector<std::pair<Value, ValueType>> values = {
      {Value(true), ValueType::Bool},
      {Value(std::int64_t{-42}), ValueType::Int},
      {Value(0.1), ValueType::Double},
      {Value(std::numeric_limits<double>::infinity()), ValueType::Double},
      {Value(std::string("a; b:\n c")), ValueType::String},
      {Value(std::string()), ValueType::String},
      {Value(std::vector<std::int64_t>{64, 64}), ValueType::IntList},
      {Value(std::vector<double>{}), ValueType::DoubleList},
      {Value(std::vector<double>{1e-300, -2.5}), ValueType::DoubleList},
      {Value(std::vector<std::string>{"x;y", "", "z"}), ValueType::StringList},
  };
  for (const auto& [value, type] : values) {
    const std::string text = encode_value(value);
    EXPECT_EQ(text.find('\n'), std::string::npos) << text;
    EXPECT_EQ(decode_value(text, type), value) << text;
    EXPECT_EQ(encode_value(decode_value(text, type)), text);
  }
  EXPECT_NE(encode_value(Value(std::vector<std::string>{"a;b"})), encode_value(Value(std::vector<std::string>{"a", "b"})));
  for (const std::string bad : {"", "i:", "i:1x", "d:abc", "b:2", "s:5:abc", "L:i:1;", "x:1"}) {
    EXPECT_THROW(decode_value(bad, bad.rfind("L", 0) == 0 ? ValueType::IntList : bad[0] == 'd' ? ValueType::Double
                                                         : bad[0] == 'b'          ? ValueType::Bool
                                                         : bad[0] == 's'          ? ValueType::String
                                                                                  : ValueType::Int),
                 std::invalid_argument)
        << bad;
  }
}

TEST(TrialHash, IsTheXxh64OfTheTextWhetherWholeOrStreamedAndReadsBackFromHex) {
  const std::string text = "sweeplab-trial-v1\ntraining.batch_size=8\n";
  const TrialHash whole = TrialHash::of(text);
  EXPECT_EQ(whole.hex(), full_hash(text));
  EXPECT_EQ(whole.short_hex(), short_hash(text));
  HashStream stream;
  stream.add("sweeplab-trial-v1\n");
  stream.add("training.batch_size=");
  stream.add("8\n");
  EXPECT_EQ(stream.finish(), whole);
  stream.start();
  stream.add(text);
  EXPECT_EQ(stream.finish(), whole);
  EXPECT_EQ(TrialHash::parse(whole.hex()), whole);
  EXPECT_FALSE(TrialHash::parse(whole.short_hex()));
  EXPECT_FALSE(TrialHash::parse("zz" + whole.hex().substr(2)));
}

TEST(Table, PadsColumnsToTheWidestCell) {
  Table table({"name", "trials"});
  table.add_row({"doughnut-batch", "6"});
  EXPECT_EQ(table.str(), "name            trials\ndoughnut-batch  6\n");
}

}  // namespace
}  // namespace sweeplab
