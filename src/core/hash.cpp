#include "sweeplab/core/hash.hpp"

#include <xxhash.h>

#include <cstdio>

namespace sweeplab {

std::string short_hash(std::string_view text) {
  const XXH64_hash_t hash = XXH64(text.data(), text.size(), 0);
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash));
  return std::string(buffer, 8);
}

}  // namespace sweeplab
