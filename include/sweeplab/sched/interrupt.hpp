#pragma once
// Ctrl-C and SIGTERM: the first asks running trials to checkpoint at their next step and stop (the
// scheduler passes it on to its workers as SIGTERM); the second ends the process and its workers at
// once (exit 130; the last checkpoint written stays valid).
#include <sys/types.h>

namespace sweeplab {

void install_interrupt_handlers();

// In a Slurm array task: SIGUSR1 (sent before the time limit, sbatch --signal=B:USR1@...) asks for what the
// first Ctrl-C does, however often it comes, and marks the task for a requeue (requeue_requested()).
void install_requeue_handler();
bool requeue_requested();
bool interrupt_requested();
void request_interrupt();  // what the first signal does; also for tests
void clear_interrupt();    // for tests

// Worker processes that a second signal must take down too.
void register_worker(pid_t pid);
void unregister_worker(pid_t pid);

}  // namespace sweeplab
