#include "sweeplab/store/lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "sweeplab/core/fs.hpp"

namespace sweeplab {
namespace {

// Open-file-description locks: owned by the open file like flock(2), released when the owner dies,
// and F_OFD_GETLK can look at one without taking it.
struct flock whole_file(short type) {
  struct flock lock = {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  return lock;
}

}  // namespace

std::optional<TrialLock> TrialLock::try_acquire(const std::string& trial_dir) {
  create_folders(trial_dir);
  const std::string path = trial_dir + "/lock";
  while (true) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw StorageError("cannot open " + path + ": " + std::strerror(errno));
    struct flock lock = whole_file(F_WRLCK);
    if (::fcntl(fd, F_OFD_SETLK, &lock) != 0) {
      ::close(fd);
      return std::nullopt;
    }
    // The holder before us removes the file as it lets go: a lock on a file no longer at `path` guards
    // nothing, so take the one that is there now.
    struct stat held = {}, named = {};
    if (::fstat(fd, &held) != 0 || ::stat(path.c_str(), &named) != 0 || held.st_ino != named.st_ino ||
        held.st_dev != named.st_dev) {
      ::close(fd);
      continue;
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      const int saved = errno;
      ::unlink(path.c_str());
      ::close(fd);
      errno = saved;
      throw StorageError("cannot write " + path + ": " + std::strerror(errno));
    }
    return TrialLock(fd, path);
  }
}

TrialLock::TrialLock(TrialLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }

TrialLock& TrialLock::operator=(TrialLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

TrialLock::~TrialLock() { release(); }

void TrialLock::release() {
  if (fd_ < 0) return;
  if (!path_.empty()) ::unlink(path_.c_str());  // while still held: nobody can take a lock on it in between (see try_acquire)
  ::close(fd_);             // closing releases the lock
  fd_ = -1;
}

std::optional<long> lock_holder(const std::string& trial_dir) {
  const std::string path = trial_dir + "/lock";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<long> holder;
  struct flock probe = whole_file(F_WRLCK);
  if (::fcntl(fd, F_OFD_GETLK, &probe) == 0 && probe.l_type != F_UNLCK) {
    char buffer[32] = {};
    const ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
    holder = n > 0 ? std::atol(buffer) : 0L;
  }
  ::close(fd);
  return holder;
}

}  // namespace sweeplab
