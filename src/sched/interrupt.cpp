#include "sweeplab/sched/interrupt.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace sweeplab {
namespace {

std::atomic<int> signals_seen{0};
constexpr int kMaxWorkers = 256;
std::atomic<pid_t> workers[kMaxWorkers];

extern "C" void on_signal(int) {
  if (signals_seen.fetch_add(1) >= 1) {
    for (auto& worker : workers) {
      const pid_t pid = worker.load();
      if (pid > 0) kill(pid, SIGKILL);
    }
    _exit(130);
  }
  static const char message[] = "\nsweeplab: stopping after the running trials checkpoint (Ctrl-C again to stop now)\n";
  const ssize_t ignored = write(STDERR_FILENO, message, sizeof message - 1);
  (void)ignored;
}

std::atomic<bool> requeue{false};

extern "C" void on_requeue_signal(int) {
  requeue.store(true);
  int none = 0;
  if (!signals_seen.compare_exchange_strong(none, 1)) return;  // a stop is under way already
  static const char message[] = "\nsweeplab: the time limit is near: the trials checkpoint, then the task is requeued\n";
  const ssize_t ignored = write(STDERR_FILENO, message, sizeof message - 1);
  (void)ignored;
}

}  // namespace

void install_requeue_handler() {
  struct sigaction action = {};
  action.sa_handler = on_requeue_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGUSR1, &action, nullptr);
}

bool requeue_requested() { return requeue.load(); }

void install_interrupt_handlers() {
  struct sigaction action = {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool interrupt_requested() { return signals_seen.load() > 0; }
void request_interrupt() { signals_seen.store(1); }
void clear_interrupt() { signals_seen.store(0); }

void register_worker(pid_t pid) {
  for (auto& worker : workers) {
    pid_t empty = 0;
    if (worker.compare_exchange_strong(empty, pid)) return;
  }
}

void unregister_worker(pid_t pid) {
  for (auto& worker : workers) {
    pid_t expected = pid;
    if (worker.compare_exchange_strong(expected, 0)) return;
  }
}

}  // namespace sweeplab
