#pragma once
#include <string>
#include <string_view>

namespace sweeplab {

// First 8 hex digits of XXH64(text): the short, stable hash in trial ids.
std::string short_hash(std::string_view text);

// All 16 hex digits of XXH64(bytes).
std::string full_hash(std::string_view bytes);

}  // namespace sweeplab
