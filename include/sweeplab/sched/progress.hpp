#pragma once
// What the user sees while a sweep runs (run, and submit --wait).
//  - Live (stderr is a terminal and output goes to the terminal): a block at the bottom, redrawn at
//    most 4 times a second: done / running / failed / total, elapsed and ETA, one line per running
//    trial. Finished-trial lines are printed above it (the block is cleared first, so nothing garbles
//    when stdout and stderr are the same terminal).
//  - Plain (a log file, CI, Slurm): finished-trial lines, and a progress line every 15 seconds.
//  - Quiet (-q): nothing until the final table.
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>

namespace sweeplab {

class ProgressDisplay {
 public:
  enum class Mode { Live, Plain, Quiet };
  ProgressDisplay(Mode mode, std::ostream& out, std::size_t trials, std::int64_t expected_steps);

  void started(std::size_t index, const std::string& trial_id, std::int64_t resumed_from_step, std::int64_t budget);
  void progressed(std::size_t index, std::int64_t epoch, std::int64_t step, double train_loss);
  // A trial is done (trained, skipped or failed); `line` is printed as it is.
  void finished(std::size_t index, const std::string& line, bool failed, std::int64_t steps_trained);
  void tick();     // redraws when due
  void close();    // clears the live block

 private:
  struct Running {
    std::string id;
    std::int64_t epoch = 0, step = 0, start_step = 0, budget = 0;
    double train_loss = 0.0;
  };
  std::string summary_line() const;
  void clear_block();
  void draw_block();

  Mode mode_;
  std::ostream& out_;
  std::size_t total_, done_ = 0, failed_ = 0;
  std::int64_t expected_steps_, finished_steps_ = 0;
  std::map<std::size_t, Running> running_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_draw_{};
  int block_lines_ = 0;
};

}  // namespace sweeplab
