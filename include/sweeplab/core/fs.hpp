#pragma once
// Files that are never torn: whole-file replacement by write-temp, fsync, rename, fsync the folder.
#include <stdexcept>
#include <string>

namespace sweeplab {

// A file could not be written or read (disk full, no permission, not a folder). The message names the
// path and the system's reason.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Writes `content` to a temporary file of its own in the same folder (.NAME.tmp-XXXXXX), fsyncs it, renames
// it over `path`, fsyncs the folder. A crash at any point leaves either the old file or the new one (and
// perhaps a hidden temporary); concurrent writers never share a temporary. Throws StorageError.
// Not `durable`: readers still see the old file or the new one whole, but nothing waits for the disk, so after a
// power loss the file may be empty (for files the next run writes again anyway, like a trial's config.yaml).
void write_file_atomic(const std::string& path, const std::string& content, bool durable = true);

// Writes `content` to the open descriptor `fd` of the file at `path`, flushes it to disk and closes it,
// whatever happens. On a failure removes `path` and throws StorageError naming `named`, the file it was
// written for (a temporary's name means nothing to a user).
void write_synced_and_close(int fd, const std::string& path, const std::string& content, const std::string& named);

// Renames a damaged file to PATH.corrupt-YYYYMMDDTHHMMSSZ, kept for a look and never read again; returns
// that file's name (without its folder). Best effort: a file that cannot be renamed stays where it is.
std::string set_aside(const std::string& path);

// Appends `line` (and a newline) to the file in one O_APPEND write, creating it: lines of concurrent
// writers never interleave. Throws StorageError.
void append_line(const std::string& path, const std::string& line);

// Creates a folder and its parents. Throws StorageError.
void create_folders(const std::string& path);

}  // namespace sweeplab
