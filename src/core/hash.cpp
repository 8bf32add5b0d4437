#include "sweeplab/core/hash.hpp"

#include <xxhash.h>

#include <charconv>
#include <cstdio>
#include <new>

namespace sweeplab {

std::string full_hash(std::string_view bytes) { return TrialHash{XXH64(bytes.data(), bytes.size(), 0)}.hex(); }

std::string short_hash(std::string_view text) { return full_hash(text).substr(0, 8); }

TrialHash TrialHash::of(std::string_view canonical_text) {
  return TrialHash{XXH64(canonical_text.data(), canonical_text.size(), 0)};
}

std::optional<TrialHash> TrialHash::parse(std::string_view hex) {
  if (hex.size() != 16) return std::nullopt;
  TrialHash hash;
  const auto [end, error] = std::from_chars(hex.data(), hex.data() + hex.size(), hash.value, 16);
  if (error != std::errc() || end != hex.data() + hex.size()) return std::nullopt;
  return hash;
}

std::string TrialHash::hex() const {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

std::string TrialHash::short_hex() const { return hex().substr(0, 8); }

HashStream::HashStream() : state_(XXH64_createState()) {
  if (!state_) throw std::bad_alloc();
  start();
}

HashStream::~HashStream() { XXH64_freeState(static_cast<XXH64_state_t*>(state_)); }

void HashStream::start() { XXH64_reset(static_cast<XXH64_state_t*>(state_), 0); }

void HashStream::add(std::string_view piece) { XXH64_update(static_cast<XXH64_state_t*>(state_), piece.data(), piece.size()); }

TrialHash HashStream::finish() const { return TrialHash{XXH64_digest(static_cast<const XXH64_state_t*>(state_))}; }

}  // namespace sweeplab
