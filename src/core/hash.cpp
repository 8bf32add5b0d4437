#include "sweeplab/core/hash.hpp"

#include <xxhash.h>

#include <cstdio>

namespace sweeplab {

std::string full_hash(std::string_view bytes) {
  const XXH64_hash_t hash = XXH64(bytes.data(), bytes.size(), 0);
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash));
  return buffer;
}

std::string short_hash(std::string_view text) { return full_hash(text).substr(0, 8); }

}  // namespace sweeplab
