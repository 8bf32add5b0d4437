// Config robustness (issue 10): invalid UTF-8, trial counts too large to expand, `list` with broken
// sweeps, validation time linear in the size of the config, and a documented, enforced range for every
// numeric key.
#include <gtest/gtest.h>

#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

using testing::TempDir;

const std::string kGood = "training: {epochs: 2, batch_size: 4}\ntask: {samples: 100}\n";

std::size_t count_lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

// Bad input must end as a usage error: exit 2, one line naming where, nothing written.
void expect_rejected(const TempDir& dir, const std::vector<std::string>& args,
                     const std::vector<std::string>& expected) {
  const auto before = dir.snapshot();
  const auto result = testing::run_in(dir, args);
  EXPECT_EQ(result.code, 2) << result.err;
  EXPECT_EQ(result.err.rfind("sweeplab: ", 0), 0u) << result.err;
  EXPECT_EQ(count_lines(result.err), 1u) << "not one line: " << result.err;
  for (const auto& text : expected) EXPECT_NE(result.err.find(text), std::string::npos) << result.err;
  EXPECT_EQ(dir.snapshot(), before) << "something was written";
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

}  // namespace
}  // namespace sweeplab
