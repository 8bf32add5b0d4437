#include "sweeplab/core/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "sweeplab/core/text.hpp"

namespace sweeplab {

std::string CommandResult::problem() const {
  const std::string first = trim(err.substr(0, err.find('\n')));
  if (!first.empty()) return first;
  if (!error.empty()) return error;
  return "exit code " + std::to_string(exit_code);
}

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input) {
  CommandResult result;
  const std::string program = argv.empty() ? "" : find_program(argv[0]);
  if (program.empty()) {
    result.error = (argv.empty() ? std::string("(nothing)") : argv[0]) + " not found on PATH";
    return result;
  }
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  const auto close_all = [&] {
    for (const int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) ::close(fd);
    }
  };
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    result.error = std::string("cannot create pipes: ") + std::strerror(errno);
    close_all();
    return result;
  }
  // The input goes in as the program reads it, never blocking: a program that answers before it has read
  // everything must not find us stuck writing while it is stuck writing.
  ::fcntl(in[1], F_SETFL, ::fcntl(in[1], F_GETFL) | O_NONBLOCK);
  std::vector<std::string> words = argv;
  std::vector<char*> args;
  for (auto& word : words) args.push_back(word.data());
  args.push_back(nullptr);
  // No handler of ours runs in the child between fork and exec: signals wait until it has the defaults.
  sigset_t all, before;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &before);
  const pid_t pid = ::fork();
  if (pid != 0) sigprocmask(SIG_SETMASK, &before, nullptr);
  if (pid < 0) {
    result.error = std::string("cannot start ") + argv[0] + ": " + std::strerror(errno);
    close_all();
    return result;
  }
  if (pid == 0) {
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    // A program we wait for gets the signals a terminal would give it, not what this process chose.
    for (const int signal : {SIGINT, SIGTERM, SIGPIPE, SIGUSR1, SIGHUP}) std::signal(signal, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(program.c_str(), args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  const auto old_pipe = std::signal(SIGPIPE, SIG_IGN);
  std::size_t written = 0;
  if (input.empty()) {
    ::close(in[1]);
    in[1] = -1;
  }
  std::string* sinks[] = {&result.out, &result.err};
  int fds[] = {out[0], err[0]};
  bool open[] = {true, true};
  while (open[0] || open[1] || in[1] >= 0) {
    std::vector<pollfd> polled;
    for (int k = 0; k < 2; ++k) {
      if (open[k]) polled.push_back({fds[k], POLLIN, 0});
    }
    if (in[1] >= 0) polled.push_back({in[1], POLLOUT, 0});
    if (::poll(polled.data(), polled.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (const auto& entry : polled) {
      if (!entry.revents) continue;
      if (entry.fd == in[1]) {
        const ssize_t n = ::write(in[1], input.data() + written, input.size() - written);
        if (n > 0) written += std::size_t(n);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0 || written == input.size()) {
          ::close(in[1]);
          in[1] = -1;
        }
        continue;
      }
      const int k = entry.fd == fds[0] ? 0 : 1;
      char chunk[4096];
      const ssize_t n = ::read(fds[k], chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        open[k] = false;
        continue;
      }
      sinks[k]->append(chunk, std::size_t(n));
    }
  }
  std::signal(SIGPIPE, old_pipe);
  if (in[1] >= 0) ::close(in[1]);
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  pid_t waited = -1;
  while ((waited = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (waited < 0) {
    result.error = std::string("cannot wait for ") + argv[0] + ": " + std::strerror(errno);
    return result;  // exit_code stays -1
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
    if (result.exit_code == 127 && result.out.empty() && result.err.empty()) result.error = "cannot run " + program;
  } else {
    result.exit_code = 128 + WTERMSIG(status);
    result.error = argv[0] + std::string(" was killed by signal ") + std::to_string(WTERMSIG(status));
  }
  return result;
}

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::istringstream folders(path ? path : "/usr/bin:/bin");
  for (std::string folder; std::getline(folders, folder, ':');) {
    const std::string candidate = (folder.empty() ? "." : folder) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,/:=+@%") ==
                           std::string::npos) {
    return word;
  }
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace sweeplab
