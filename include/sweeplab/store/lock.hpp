#pragma once
// One trainer per trial: an flock(2) on TRIAL_DIR/lock. The kernel drops the lock when its owner dies,
// however it dies, so a lock left by a dead process is free again without guessing from its age.
#include <optional>
#include <string>

namespace sweeplab {

class TrialLock {
 public:
  // The lock, or nullopt when another live process holds it. Creates the folder. Throws StorageError.
  static std::optional<TrialLock> try_acquire(const std::string& trial_dir);
  TrialLock(TrialLock&& other) noexcept;
  TrialLock& operator=(TrialLock&& other) noexcept;
  ~TrialLock();

 private:
  explicit TrialLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The pid written by the process that holds the trial's lock; nullopt when nobody holds it.
std::optional<long> lock_holder(const std::string& trial_dir);

}  // namespace sweeplab
