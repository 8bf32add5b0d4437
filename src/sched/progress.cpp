#include "sweeplab/sched/progress.hpp"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "sweeplab/core/text.hpp"

namespace sweeplab {
namespace {

std::string duration(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  char buffer[32];
  if (s >= 3600) std::snprintf(buffer, sizeof buffer, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) std::snprintf(buffer, sizeof buffer, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buffer, sizeof buffer, "%lds", s);
  return buffer;
}

std::atomic<bool> resized{false};
struct sigaction previous_winch = {};

extern "C" void on_winch(int) { resized.store(true); }

bool continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The locale's character set, as the C library would take it from the environment.
bool utf8_locale() {
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* value = std::getenv(name);
    if (!value || !*value) continue;
    std::string text(value);
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return text.find("utf-8") != std::string::npos || text.find("utf8") != std::string::npos;
  }
  return false;
}

}  // namespace

std::size_t display_width(const std::string& text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {  // CSI ... final byte
      for (i += 2; i < text.size() && !(text[i] >= 0x40 && text[i] <= 0x7e); ++i) {
      }
      continue;
    }
    if (!continuation_byte(text[i])) ++width;
  }
  return width;
}

std::string fit_to_width(const std::string& line, std::size_t columns, bool unicode) {
  if (display_width(line) <= columns) return line;
  const std::string ellipsis = unicode ? "\u2026" : "...";
  const std::size_t ellipsis_width = unicode ? 1 : 3;
  if (columns <= ellipsis_width) return unicode ? (columns ? ellipsis : "") : std::string(columns, '.');
  // The longest prefix of whole characters that leaves room for the ellipsis (the lines have no escapes).
  std::size_t keep = 0, width = 0;
  while (keep < line.size() && width < columns - ellipsis_width) {
    ++keep;
    while (keep < line.size() && continuation_byte(line[keep])) ++keep;
    ++width;
  }
  return line.substr(0, keep) + ellipsis;
}

ProgressDisplay::ProgressDisplay(Mode mode, std::ostream& out, std::size_t trials, std::int64_t expected_steps,
                                 std::ostream* terminal)
    : mode_(mode),
      out_(out),
      total_(trials),
      expected_steps_(expected_steps),
      terminal_(terminal ? *terminal : std::cerr),
      unicode_(utf8_locale()) {
  if (mode_ != Mode::Live) return;
  struct winsize size = {};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    columns_ = size.ws_col;
    if (size.ws_row > 0) rows_ = size.ws_row;
  }
  resized.store(false);
  struct sigaction action = {};
  action.sa_handler = on_winch;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  handler_installed_ = sigaction(SIGWINCH, &action, &previous_winch) == 0;
}

ProgressDisplay::~ProgressDisplay() {
  if (handler_installed_) sigaction(SIGWINCH, &previous_winch, nullptr);
}

void ProgressDisplay::set_terminal_size(int columns, int rows) {
  fixed_size_ = true;
  resize(columns, rows);
}

// The old block is cleared as it stands on the resized screen, then drawn again for the new size.
void ProgressDisplay::resize(int columns, int rows) {
  const bool drawn = !block_widths_.empty();
  clear_block_at(columns);
  columns_ = std::max(columns, 1);
  rows_ = std::max(rows, 1);
  if (drawn) draw_block();
}

void ProgressDisplay::started(std::size_t index, const std::string& trial_id, std::int64_t resumed_from_step,
                              std::int64_t budget) {
  running_[index] = Running{trial_id, 0, resumed_from_step, resumed_from_step, budget, 0.0};
  tick();
}

void ProgressDisplay::progressed(std::size_t index, std::int64_t epoch, std::int64_t step, double train_loss) {
  auto it = running_.find(index);
  if (it == running_.end()) return;
  it->second.epoch = epoch;
  it->second.step = step;
  it->second.train_loss = train_loss;
  tick();
}

void ProgressDisplay::finished(std::size_t index, const std::string& line, bool failed, std::int64_t steps_trained) {
  running_.erase(index);
  ++done_;
  failed_ += failed;
  finished_steps_ += steps_trained;
  if (mode_ == Mode::Quiet) return;
  clear_block();
  out_ << "[" << done_ << "/" << total_ << "] " << line << "\n" << std::flush;
  if (mode_ == Mode::Live) draw_block();
}

std::string ProgressDisplay::summary_line() const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::int64_t done_steps = finished_steps_;
  for (const auto& [index, trial] : running_) done_steps += trial.step - trial.start_step;
  std::string eta = "?";
  if (done_steps > 0 && expected_steps_ > done_steps && elapsed > 1.0) {
    eta = duration(double(expected_steps_ - done_steps) * elapsed / double(done_steps));
  } else if (expected_steps_ > 0 && done_steps >= expected_steps_) {
    eta = "0s";
  }
  return "progress: " + std::to_string(done_) + " done, " + std::to_string(running_.size()) + " running, " +
         std::to_string(failed_) + " failed, " + std::to_string(total_) + " total; elapsed " + duration(elapsed) +
         ", ETA " + eta;
}

void ProgressDisplay::tick() {
  const auto now = std::chrono::steady_clock::now();
  if (mode_ == Mode::Live && resized.exchange(false) && !fixed_size_) {
    struct winsize size = {};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
      resize(size.ws_col, size.ws_row > 0 ? size.ws_row : rows_);
      return;
    }
  }
  if (mode_ == Mode::Live && now - last_draw_ >= std::chrono::milliseconds(250)) {
    clear_block();
    draw_block();
  } else if (mode_ == Mode::Plain && now - last_draw_ >= std::chrono::seconds(15)) {
    if (last_draw_.time_since_epoch().count() != 0) out_ << summary_line() << "\n" << std::flush;
    last_draw_ = now;
  }
}

void ProgressDisplay::clear_block() { clear_block_at(columns_); }

// Up to the block's first line, then erase to the end of the screen. A line wider than the terminal (it was drawn
// before the terminal narrowed, and the terminal rewrapped it) takes several rows.
void ProgressDisplay::clear_block_at(int columns) {
  if (mode_ != Mode::Live || block_widths_.empty()) return;
  const std::size_t width = std::size_t(std::max(columns, 1));
  std::size_t rows = 0;
  for (const std::size_t line : block_widths_) rows += std::max<std::size_t>(1, (line + width - 1) / width);
  terminal_ << "\x1b[" << rows << "F\x1b[J" << std::flush;
  block_widths_.clear();
}

// Each line cut to one column less than the terminal (a full line would leave the cursor waiting to wrap), and
// fewer lines than its rows (the cursor cannot go back above the top of the screen).
void ProgressDisplay::draw_block() {
  if (mode_ != Mode::Live) return;
  const std::size_t columns = std::size_t(std::max(columns_ - 1, 1));
  const std::size_t max_lines = std::size_t(std::max(rows_ - 1, 1));
  std::vector<std::string> lines = {summary_line()};
  const std::size_t room = max_lines - 1;  // for the running trials
  std::size_t shown = 0;
  for (const auto& [index, trial] : running_) {
    if (shown == room || (shown + 1 == room && running_.size() > room)) break;
    std::string numbers = "  epoch " + std::to_string(trial.epoch) + "  step " + std::to_string(trial.step);
    if (trial.budget > 0) numbers += "/" + std::to_string(trial.budget);
    if (trial.step > trial.start_step) numbers += "  train_loss " + format_double_short(trial.train_loss, 4);
    // Too wide: the id gives way first (to 6 columns), so the step and the loss stay in sight.
    const std::size_t numbers_width = display_width(numbers) + 2;
    std::string id = trial.id;
    if (numbers_width + display_width(id) > columns && columns >= numbers_width + 6) {
      id = fit_to_width(id, columns - numbers_width, unicode_);
    }
    lines.push_back("  " + id + numbers);
    ++shown;
  }
  if (shown < running_.size() && room > 0) {
    lines.push_back(std::string("  ") + (unicode_ ? "\u2026" : "...") + " and " + std::to_string(running_.size() - shown) +
                    " more running");
  }
  std::string block;
  for (auto& line : lines) {
    line = fit_to_width(line, columns, unicode_);
    block_widths_.push_back(display_width(line));
    block += line + "\n";
  }
  terminal_ << block << std::flush;
  last_draw_ = std::chrono::steady_clock::now();
}

void ProgressDisplay::close() { clear_block(); }

}  // namespace sweeplab
