#pragma once
// Test-only fault injection, so tests can break a real run at exact points. Compiled in only with the
// CMake option SWEEPLAB_FAULT_INJECTION (on when the tests are built); otherwise every hook is a no-op.
//
// SWEEPLAB_FAULT=kill_at_step=N | kill_in_checkpoint=K | sigint_at_step=N | abort_at_step=N | segfault_at_step=N
//                | throw_at_step=N
// with an optional "@bs=B" to hit only trials of batch size B. kill_* and sigint_* signal the whole
// process group (power loss; Ctrl-C in a terminal), so tests run the binary in a group of its own
// (setsid); abort and segfault crash only the worker that trains the trial; throw makes training throw.
#include <cstdint>
#include <string>

#include "sweeplab/engine/trainer.hpp"

namespace sweeplab::faults {

#ifdef SWEEPLAB_FAULT_INJECTION
// The step at which a fault fires for trials of this batch size (0: none): the engine stops there.
std::int64_t fault_step(std::int64_t batch_size);
// sigint_at_step waits (up to 2 s) until the stop the Ctrl-C asks for has reached `sink` (stop_requested), so the
// stop lands at the step asked for however fast the trial trains.
void after_step(std::int64_t step, std::int64_t batch_size, TrialSink& sink);
// Before the checkpoint-th write of a trial: writes half of `bytes` to `path`.tmp and dies when asked to.
void before_checkpoint_write(int checkpoint, std::int64_t batch_size, const std::string& path, const std::string& bytes);
#else
inline std::int64_t fault_step(std::int64_t) { return 0; }
inline void after_step(std::int64_t, std::int64_t, TrialSink&) {}
inline void before_checkpoint_write(int, std::int64_t, const std::string&, const std::string&) {}
#endif

}  // namespace sweeplab::faults
