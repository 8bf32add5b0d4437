#include "sweeplab/sched/interrupt.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace sweeplab {
namespace {

std::atomic<int> signals_seen{0};

extern "C" void on_signal(int) {
  if (signals_seen.fetch_add(1) >= 1) _exit(130);
  static const char message[] = "\nsweeplab: stopping after the running trials checkpoint (Ctrl-C again to stop now)\n";
  const ssize_t ignored = write(STDERR_FILENO, message, sizeof message - 1);
  (void)ignored;
}

}  // namespace

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

}  // namespace sweeplab
