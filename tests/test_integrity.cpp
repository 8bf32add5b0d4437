// Filled in by the issue-10 work.
#include <gtest/gtest.h>
