#include "sweeplab/core/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

namespace fs = std::filesystem;

namespace sweeplab {
namespace {

[[noreturn]] void storage_error(const std::string& what, const std::string& path) {
  throw StorageError("cannot " + what + " " + path + ": " + std::strerror(errno));
}

// Writes `content` to `fd`, flushes it to disk when `sync`, closes it; on a failure removes `path`.
void write_and_close(int fd, const std::string& path, const std::string& content, const std::string& named, bool sync) {
  for (std::size_t written = 0; written < content.size();) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      ::unlink(path.c_str());
      errno = saved;
      storage_error("write", named);
    }
    written += std::size_t(n);
  }
  const int flushed = !sync || ::fsync(fd) == 0 ? 0 : errno;
  const int closed = ::close(fd) == 0 ? 0 : errno;  // closed whatever fsync said: no descriptor leaks
  if (flushed != 0 || closed != 0) {
    ::unlink(path.c_str());
    errno = flushed != 0 ? flushed : closed;
    storage_error("write", named);
  }
}

}  // namespace

void write_synced_and_close(int fd, const std::string& path, const std::string& content, const std::string& named) {
  write_and_close(fd, path, content, named, /*sync=*/true);
}

void write_file_atomic(const std::string& path, const std::string& content, bool durable) {
  const fs::path target(path);
  const std::string folder = target.has_parent_path() ? target.parent_path().string() : ".";
  // A name of its own in the target's folder (rename is atomic only within one file system): processes
  // that write the same file at once each rename a whole file of their own, and the last one wins.
  std::string temporary = folder + "/." + target.filename().string() + ".tmp-XXXXXX";
  const int fd = ::mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) storage_error("write", path);
  ::fchmod(fd, 0644);
  write_and_close(fd, temporary, content, path, durable);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temporary.c_str());
    errno = saved;
    storage_error("rename onto", path);
  }
  if (!durable) return;
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

std::string set_aside(const std::string& path) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", std::gmtime(&now));
  const std::string aside = path + ".corrupt-" + stamp;
  std::error_code ec;
  fs::rename(path, aside, ec);
  return fs::path(aside).filename().string();
}

void append_line(const std::string& path, const std::string& line) {
  const std::string text = line + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) storage_error("write", path);
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int saved = errno;
  ::close(fd);
  if (n != ssize_t(text.size())) {
    errno = n < 0 ? saved : ENOSPC;
    storage_error("append to", path);
  }
}

void create_folders(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw StorageError("cannot create folder " + path + ": " + ec.message());
}

}  // namespace sweeplab
