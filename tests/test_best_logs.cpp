// Filled in by the helper that builds these commands.
#include <gtest/gtest.h>

TEST(Placeholder, Builds) { SUCCEED(); }
