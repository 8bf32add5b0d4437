#include "sweeplab/core/error.hpp"

namespace sweeplab {

ValueError::ValueError(std::string key, std::string value, std::string requirement)
    : std::runtime_error(key + ": " + value + " " + requirement),
      key_(std::move(key)),
      value_(std::move(value)),
      requirement_(std::move(requirement)) {}

}  // namespace sweeplab
