#include "faults.hpp"

#ifdef SWEEPLAB_FAULT_INJECTION
#include <signal.h>

#include <csignal>
#include <cstdlib>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace sweeplab::faults {
namespace {

struct Faults {
  std::int64_t kill_at_step = -1, kill_in_checkpoint = -1, abort_at_step = -1, segfault_at_step = -1,
               sigint_at_step = -1, throw_at_step = -1, only_batch_size = -1;
  bool applies_to(std::int64_t batch_size) const { return only_batch_size < 0 || only_batch_size == batch_size; }
};

const Faults& faults() {
  static const Faults parsed = [] {
    Faults f;
    const char* text = std::getenv("SWEEPLAB_FAULT");
    if (!text) return f;
    const std::string spec = text;
    const auto equals = spec.find('=');
    if (equals == std::string::npos) return f;
    const std::string name = spec.substr(0, equals);
    const std::int64_t value = std::atoll(spec.c_str() + equals + 1);
    if (const auto at = spec.find("@bs="); at != std::string::npos) f.only_batch_size = std::atoll(spec.c_str() + at + 4);
    if (name == "kill_at_step") f.kill_at_step = value;
    if (name == "kill_in_checkpoint") f.kill_in_checkpoint = value;
    if (name == "abort_at_step") f.abort_at_step = value;
    if (name == "segfault_at_step") f.segfault_at_step = value;
    if (name == "sigint_at_step") f.sigint_at_step = value;
    if (name == "throw_at_step") f.throw_at_step = value;
    return f;
  }();
  return parsed;
}

}  // namespace

std::int64_t fault_step(std::int64_t batch_size) {
  const auto& f = faults();
  if (!f.applies_to(batch_size)) return 0;
  for (const auto step : {f.kill_at_step, f.sigint_at_step, f.abort_at_step, f.segfault_at_step, f.throw_at_step}) {
    if (step > 0) return step;
  }
  return 0;
}

void after_step(std::int64_t step, std::int64_t batch_size, TrialSink& sink) {
  const auto& f = faults();
  if (!f.applies_to(batch_size)) return;
  // Once per process: the trials of a group reach the step together, and a second Ctrl-C means "stop now".
  static bool fired = false;
  if (fired) return;
  fired = step == f.kill_at_step || step == f.sigint_at_step || step == f.abort_at_step ||
          step == f.segfault_at_step || step == f.throw_at_step;
  if (step == f.kill_at_step) ::kill(0, SIGKILL);
  if (step == f.sigint_at_step) {
    ::kill(0, SIGINT);
    // Like a Ctrl-C typed at this step: the scheduler answers with SIGTERM, which the trial sees before its next
    // step, not some way into it.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!sink.stop_requested() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  if (step == f.abort_at_step) std::abort();
  if (step == f.segfault_at_step) std::raise(SIGSEGV);
  if (step == f.throw_at_step) throw std::runtime_error("simulated error in the trainer");
}

void before_checkpoint_write(int checkpoint, std::int64_t batch_size, const std::string& path, const std::string& bytes) {
  const auto& f = faults();
  if (checkpoint != f.kill_in_checkpoint || !f.applies_to(batch_size)) return;
  std::ofstream(path + ".tmp", std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() / 2));
  ::kill(0, SIGKILL);  // die half-way through writing
}

}  // namespace sweeplab::faults
#endif
