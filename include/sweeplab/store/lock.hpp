#pragma once
// One trainer per trial: an open-file-description lock on TRIAL_DIR/lock. The kernel drops the lock when
// its owner dies, however it dies, so a lock left by a dead process is free again without guessing from
// its age. A clean release removes the file; one left by a process that died is harmless (it is free).
#include <optional>
#include <string>
#include <utility>

namespace sweeplab {

class TrialLock {
 public:
  // The lock, or nullopt when another live process holds it. Creates the folder. Throws StorageError.
  static std::optional<TrialLock> try_acquire(const std::string& trial_dir);
  TrialLock(TrialLock&& other) noexcept;
  TrialLock& operator=(TrialLock&& other) noexcept;
  ~TrialLock();
  // The trial's folder is moved or removed while held (`clean`): let go without removing the lock file's old
  // path, which by then may be a new trainer's lock.
  void keep_file() { path_.clear(); }

 private:
  TrialLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void release();
  int fd_ = -1;
  std::string path_;
};

// The pid written by the process that holds the trial's lock; nullopt when nobody holds it.
std::optional<long> lock_holder(const std::string& trial_dir);

}  // namespace sweeplab
