#include "sweeplab/sched/progress.hpp"

#include <unistd.h>

#include <cstdio>
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

}  // namespace

ProgressDisplay::ProgressDisplay(Mode mode, std::ostream& out, std::size_t trials, std::int64_t expected_steps)
    : mode_(mode), out_(out), total_(trials), expected_steps_(expected_steps) {}

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
  if (mode_ == Mode::Live && now - last_draw_ >= std::chrono::milliseconds(250)) {
    clear_block();
    draw_block();
  } else if (mode_ == Mode::Plain && now - last_draw_ >= std::chrono::seconds(15)) {
    if (last_draw_.time_since_epoch().count() != 0) out_ << summary_line() << "\n" << std::flush;
    last_draw_ = now;
  }
}

void ProgressDisplay::clear_block() {
  if (mode_ != Mode::Live || block_lines_ == 0) return;
  std::cerr << "\x1b[" << block_lines_ << "F\x1b[J" << std::flush;  // up to the block's first line, erase below
  block_lines_ = 0;
}

void ProgressDisplay::draw_block() {
  if (mode_ != Mode::Live) return;
  std::string block = summary_line() + "\n";
  block_lines_ = 1;
  for (const auto& [index, trial] : running_) {
    block += "  " + trial.id + "  epoch " + std::to_string(trial.epoch) + "  step " + std::to_string(trial.step);
    if (trial.budget > 0) block += "/" + std::to_string(trial.budget);
    if (trial.step > trial.start_step) block += "  train_loss " + format_double_short(trial.train_loss, 4);
    block += "\n";
    ++block_lines_;
  }
  std::cerr << block << std::flush;
  last_draw_ = std::chrono::steady_clock::now();
}

void ProgressDisplay::close() { clear_block(); }

}  // namespace sweeplab
