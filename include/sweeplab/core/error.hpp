#pragma once
// Two kinds of error, one exit point (apps/ maps them to exit codes):
//  - UserError: bad input (config, override, usage). One line, exit code 2, nothing written.
//  - InternalError: a bug in sweeplab.
//  - SystemError: the system refused what a run needs (a process, a pipe): exit code 4 with its own line, not a
//    storage error (no file is in trouble) and not a bug.
// ValueError is what a validate() throws: it knows the key and value but not where they came from;
// the loader adds the file and line and turns it into a UserError.
#include <stdexcept>
#include <string>

namespace sweeplab {

class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

class SystemError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ValueError : public std::runtime_error {
 public:
  ValueError(std::string key, std::string value, std::string requirement);
  const std::string& key() const { return key_; }
  const std::string& value() const { return value_; }
  const std::string& requirement() const { return requirement_; }

 private:
  std::string key_, value_, requirement_;
};

}  // namespace sweeplab
