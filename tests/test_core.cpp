#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

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

TEST(Table, PadsColumnsToTheWidestCell) {
  Table table({"name", "trials"});
  table.add_row({"doughnut-batch", "6"});
  EXPECT_EQ(table.str(), "name            trials\ndoughnut-batch  6\n");
}

}  // namespace
}  // namespace sweeplab
