#pragma once
// What the user sees while a sweep runs (run, and submit --wait).
//  - Live (stderr is a terminal and output goes to the terminal): a block at the bottom, redrawn at
//    most 4 times a second: done / running / failed / total, elapsed and ETA, one line per running
//    trial. Finished-trial lines are printed above it (the block is cleared first, so nothing garbles
//    when stdout and stderr are the same terminal). The block fits the terminal (ioctl TIOCGWINSZ on
//    stderr): each line is cut to the width, ending in "…", and it has fewer lines than the terminal
//    ("… and N more running"), so clearing it never misses a wrapped line. On SIGWINCH it is cleared
//    and redrawn at once for the new size; a narrower terminal that rewrapped the old lines (most do)
//    gets them cleared as rewrapped.
//  - Plain (a log file, CI, Slurm): finished-trial lines, and a progress line every 15 seconds.
//  - Quiet (-q): nothing until the final table.
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace sweeplab {

// `line` cut to at most `columns` terminal columns (a UTF-8 character counts one), its end replaced by "…"
// ("..." when !unicode) when it was longer.
std::string fit_to_width(const std::string& line, std::size_t columns, bool unicode = true);

// Terminal columns of `text`: its UTF-8 characters, not counting ANSI escape sequences.
std::size_t display_width(const std::string& text);

class ProgressDisplay {
 public:
  enum class Mode { Live, Plain, Quiet };
  // The live block goes to `terminal` (std::cerr when null); finished-trial lines to `out`.
  ProgressDisplay(Mode mode, std::ostream& out, std::size_t trials, std::int64_t expected_steps,
                  std::ostream* terminal = nullptr);
  ~ProgressDisplay();
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  // Draws for a terminal of this size from now on instead of asking stderr's (tests; a resize: redrawn now).
  void set_terminal_size(int columns, int rows);

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
  void clear_block_at(int columns);
  void draw_block();
  void resize(int columns, int rows);

  Mode mode_;
  std::ostream& out_;
  std::size_t total_, done_ = 0, failed_ = 0;
  std::int64_t expected_steps_, finished_steps_ = 0;
  std::map<std::size_t, Running> running_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_draw_{};
  std::ostream& terminal_;
  int columns_ = 80, rows_ = 24;     // the terminal's size as last seen
  bool fixed_size_ = false;          // set_terminal_size: stop asking the terminal
  bool unicode_ = true;              // "…" (a UTF-8 locale) or "..."
  bool handler_installed_ = false;   // SIGWINCH, while live
  std::vector<std::size_t> block_widths_;  // the columns of each line of the block on screen
};

}  // namespace sweeplab
