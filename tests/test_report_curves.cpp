// (filled in by issue 13's figures work)
#include <gtest/gtest.h>

#include "report_util.hpp"
