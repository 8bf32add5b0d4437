#pragma once
// Ctrl-C and SIGTERM: the first asks running trials to checkpoint at their next step and stop; the
// second ends the process at once (exit 130; the last checkpoint written stays valid).
namespace sweeplab {

void install_interrupt_handlers();
bool interrupt_requested();
void request_interrupt();  // what the first signal does; also for tests
void clear_interrupt();    // for tests

}  // namespace sweeplab
