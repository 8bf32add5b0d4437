#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sweeplab {

// First 8 hex digits of XXH64(text): the short, stable hash in trial ids.
std::string short_hash(std::string_view text);

// All 16 hex digits of XXH64(bytes).
std::string full_hash(std::string_view bytes);

// A trial's identity: XXH64 of its canonical config text (schema.hpp canonical_text). Its first 8 hex digits end
// the trial's folder name; all 64 bits tell trials apart (8 digits would collide among ~100 000 trials).
struct TrialHash {
  std::uint64_t value = 0;

  static TrialHash of(std::string_view canonical_text);
  // 16 hex digits back into a hash; nullopt for anything else.
  static std::optional<TrialHash> parse(std::string_view hex);
  std::string hex() const;        // 16 digits
  std::string short_hex() const;  // the first 8, as in folder names
  friend bool operator==(TrialHash a, TrialHash b) { return a.value == b.value; }
  friend bool operator!=(TrialHash a, TrialHash b) { return a.value != b.value; }
  friend bool operator<(TrialHash a, TrialHash b) { return a.value < b.value; }
};

// XXH64 of pieces fed one after another: the same hash as TrialHash::of(the pieces joined), with no string built.
// Reusable: start() begins a new one.
class HashStream {
 public:
  HashStream();
  ~HashStream();
  HashStream(const HashStream&) = delete;
  HashStream& operator=(const HashStream&) = delete;
  void start();
  void add(std::string_view piece);
  TrialHash finish() const;

 private:
  void* state_;  // an XXH64_state_t
};

struct TrialHashHasher {
  std::size_t operator()(TrialHash hash) const { return static_cast<std::size_t>(hash.value); }
};

}  // namespace sweeplab
