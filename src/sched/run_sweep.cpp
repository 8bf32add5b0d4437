#include "sweeplab/sched/run_sweep.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <ostream>
#include <thread>

#include "progress.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/store/layout.hpp"
#include "trial_job.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace sweeplab {
namespace {

// ---- worker side ----------------------------------------------------------------------------

void write_all(int fd, const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(3);  // the scheduler is gone
    written += std::size_t(n);
  }
}

class PipeEvents : public TrialEvents {
 public:
  PipeEvents(int fd, std::size_t index) : fd_(fd), index_(index) {}
  void started(std::int64_t resumed_from_step) override {
    write_all(fd_, json{{"e", "start"}, {"i", index_}, {"resumed", resumed_from_step}}.dump() + "\n");
  }
  void evaluated(const EvalRecord& record) override {
    write_all(fd_, json{{"e", "eval"}, {"i", index_}, {"epoch", record.epoch}, {"step", record.step},
                        {"train_loss", std::isfinite(record.train_loss) ? record.train_loss : 0.0}}
                           .dump() + "\n");
  }

 private:
  int fd_;
  std::size_t index_;
};

extern "C" void on_worker_term(int) {
  if (interrupt_requested()) ::_exit(130);
  request_interrupt();
}

// A forked worker: trial indexes arrive one per line on `tasks`, events leave on `events`; never returns.
[[noreturn]] void worker_main(int tasks, int events, const ResolvedSweep& sweep, const RunOptions& options,
                              const TrainFunction& train) {
  std::signal(SIGINT, SIG_IGN);  // Ctrl-C reaches the scheduler, which tells the workers with SIGTERM
  clear_interrupt();
  struct sigaction action = {};
  action.sa_handler = on_worker_term;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGTERM);  // the scheduler died: checkpoint and stop
  if (getppid() == 1) ::_exit(3);

  std::string buffer;
  char chunk[256];
  while (true) {
    const auto newline = buffer.find('\n');
    if (newline == std::string::npos) {
      const ssize_t n = ::read(tasks, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // no more trials
      buffer.append(chunk, std::size_t(n));
      continue;
    }
    const std::size_t index = std::stoul(buffer.substr(0, newline));
    buffer.erase(0, newline + 1);
    PipeEvents reporter(events, index);
    json done = {{"e", "done"}, {"i", index}};
    try {
      const TrialResult result = run_one_trial(sweep, index, options, train, reporter);
      done["kind"] = result.kind == TrialResult::Kind::Trained ? "trained"
                     : result.kind == TrialResult::Kind::Skipped ? "skipped" : "busy";
      done["message"] = result.message;
      done["status"] = to_string(result.outcome.status);
      done["line"] = trial_line(sweep.trials[index].id, result.outcome);
      done["steps"] = result.outcome.steps - result.outcome.resumed_from_step;
      if (result.outcome.final) done["final"] = json::parse(record_json(*result.outcome.final));
    } catch (const std::exception& e) {  // storage trouble before training: this trial fails, the worker goes on
      done["kind"] = "trained";
      done["status"] = "failed";
      done["line"] = sweep.trials[index].id + "  failed: " + e.what();
      done["steps"] = 0;
    }
    write_all(events, done.dump() + "\n");
    if (interrupt_requested()) break;
  }
  std::cout.flush();
  std::cerr.flush();
  ::_exit(0);
}

// ---- scheduler side -------------------------------------------------------------------------

struct Worker {
  pid_t pid = -1;
  int tasks = -1, events = -1, errors = -1;  // our ends of its pipes
  std::string event_buffer, stderr_tail;
  std::optional<std::size_t> current;        // the trial it is training
  bool events_open = true, errors_open = true;
};

std::string signal_text(int status) {
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return std::string(strsignal(signal)) + " (signal " + std::to_string(signal) + ")";
  }
  return "exit code " + std::to_string(WEXITSTATUS(status));
}

class Scheduler {
 public:
  Scheduler(const ResolvedSweep& sweep, const RunOptions& options, const TrainFunction& train, std::ostream& out)
      : sweep_(sweep), options_(options), train_(train), out_(out) {}

  RunTotals run() {
    // A worker that dies between two trials must not take the scheduler with it: a write to its pipe
    // then fails with EPIPE (handled in dispatch) instead of raising SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    const auto& trials = sweep_.trials;
    // Longest first (by the optimizer steps the budget asks for), so small-batch trials are not the tail.
    std::vector<std::size_t> order(trials.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return expected_steps(trials[a].config) > expected_steps(trials[b].config);
    });
    queue_.assign(order.begin(), order.end());
    std::int64_t expected = 0;
    for (const auto& trial : trials) expected += expected_steps(trial.config);

    const auto mode = options_.quiet ? ProgressDisplay::Mode::Quiet
                      : (&out_ == &std::cout && ::isatty(STDOUT_FILENO) && ::isatty(STDERR_FILENO))
                          ? ProgressDisplay::Mode::Live
                          : ProgressDisplay::Mode::Plain;
    display_ = std::make_unique<ProgressDisplay>(mode, out_, trials.size(), expected);

    const std::size_t jobs = std::max<std::size_t>(1, std::min<std::size_t>(options_.jobs, trials.size()));
    for (std::size_t i = 0; i < jobs && !queue_.empty(); ++i) spawn();
    for (auto& worker : workers_) dispatch(worker);
    while (!workers_.empty()) {
      if (interrupt_requested() && !forwarded_) forward_interrupt();
      poll_once();
      display_->tick();
    }
    display_->close();
    return totals_;
  }

 private:
  void spawn() {
    int tasks[2], events[2], errors[2];
    if (::pipe2(tasks, O_CLOEXEC) != 0 || ::pipe2(events, O_CLOEXEC) != 0 || ::pipe2(errors, O_CLOEXEC) != 0) {
      throw StorageError(std::string("cannot create pipes for a worker: ") + std::strerror(errno));
    }
    std::cout.flush();
    std::cerr.flush();
    const pid_t pid = ::fork();
    if (pid < 0) throw StorageError(std::string("cannot start a worker process: ") + std::strerror(errno));
    if (pid == 0) {
      for (const auto& other : workers_) {  // only our own pipe ends, so EOF means what it should
        ::close(other.tasks);
        ::close(other.events);
        ::close(other.errors);
      }
      ::close(tasks[1]);
      ::close(events[0]);
      ::close(errors[0]);
      ::dup2(errors[1], STDERR_FILENO);
      worker_main(tasks[0], events[1], sweep_, options_, train_);
    }
    ::close(tasks[0]);
    ::close(events[1]);
    ::close(errors[1]);
    register_worker(pid);
    Worker worker;
    worker.pid = pid;
    worker.tasks = tasks[1];
    worker.events = events[0];
    worker.errors = errors[0];
    workers_.push_back(std::move(worker));
  }

  // Gives an idle worker the next trial, or tells it there are none.
  void dispatch(Worker& worker) {
    if (worker.current || worker.tasks < 0) return;
    if (queue_.empty() || interrupt_requested()) {
      ::close(worker.tasks);
      worker.tasks = -1;
      return;
    }
    worker.current = queue_.front();
    queue_.pop_front();
    const std::string line = std::to_string(*worker.current) + "\n";
    if (::write(worker.tasks, line.data(), line.size()) != ssize_t(line.size())) {
      queue_.push_front(*worker.current);  // it is dying; the trial goes to another worker
      worker.current.reset();
    }
  }

  void forward_interrupt() {
    forwarded_ = true;
    for (auto& worker : workers_) {
      ::kill(worker.pid, SIGTERM);
      if (worker.tasks >= 0 && !worker.current) {
        ::close(worker.tasks);
        worker.tasks = -1;
      }
    }
  }

  void poll_once() {
    std::vector<pollfd> fds;
    std::vector<std::pair<std::size_t, bool>> owners;  // (worker, is the stderr pipe)
    for (std::size_t w = 0; w < workers_.size(); ++w) {
      if (workers_[w].events_open) {
        fds.push_back({workers_[w].events, POLLIN, 0});
        owners.emplace_back(w, false);
      }
      if (workers_[w].errors_open) {
        fds.push_back({workers_[w].errors, POLLIN, 0});
        owners.emplace_back(w, true);
      }
    }
    const int ready = ::poll(fds.data(), fds.size(), 250);
    if (ready <= 0) return;  // timeout or a signal: the caller looks at the interrupt flag
    for (std::size_t f = 0; f < fds.size(); ++f) {
      if (!(fds[f].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Worker& worker = workers_[owners[f].first];
      char chunk[4096];
      const ssize_t n = ::read(fds[f].fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (owners[f].second) {
        if (n <= 0) {
          worker.errors_open = false;
        } else {
          worker.stderr_tail.append(chunk, std::size_t(n));
          if (worker.stderr_tail.size() > 2000) worker.stderr_tail.erase(0, worker.stderr_tail.size() - 2000);
        }
        continue;
      }
      if (n <= 0) {
        worker.events_open = false;
        continue;
      }
      worker.event_buffer.append(chunk, std::size_t(n));
      for (auto newline = worker.event_buffer.find('\n'); newline != std::string::npos;
           newline = worker.event_buffer.find('\n')) {
        handle_event(worker, json::parse(worker.event_buffer.substr(0, newline)));
        worker.event_buffer.erase(0, newline + 1);
      }
    }
    reap();
  }

  void handle_event(Worker& worker, const json& event) {
    const std::size_t index = event["i"];
    const auto& trial = sweep_.trials.at(index);
    const std::string type = event["e"];
    if (type == "start") {
      display_->started(index, trial.id, event["resumed"], expected_steps(trial.config));
    } else if (type == "eval") {
      display_->progressed(index, event["epoch"], event["step"], event["train_loss"]);
    } else if (type == "done") {
      worker.current.reset();
      const std::string kind = event["kind"];
      if (kind == "busy") {
        ++totals_.busy;
        display_->finished(index, trial.id + "  " + event["message"].get<std::string>(), false, 0);
      } else if (kind == "skipped") {
        ++totals_.skipped;
        display_->finished(index, trial.id + "  " + event["message"].get<std::string>() + ", skipped", false, 0);
      } else {
        const std::string status = event["status"];
        count(status);
        totals_.states[index] = status;
        if (event.contains("final")) {
          if (auto record = parse_record_json(event["final"].dump())) totals_.finals[index] = *record;
        }
        display_->finished(index, event["line"], status == "failed", event.value("steps", std::int64_t{0}));
      }
      dispatch(worker);
    }
  }

  void count(const std::string& status) {
    if (status == "completed") ++totals_.completed;
    else if (status == "diverged") ++totals_.diverged;
    else if (status == "failed") ++totals_.failed;
    else if (status == "interrupted") ++totals_.interrupted;
  }

  // Collects workers whose pipes have closed; a worker that died mid-trial fails that trial only.
  void reap() {
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (it->events_open || it->errors_open) {
        ++it;
        continue;
      }
      int status = 0;
      while (::waitpid(it->pid, &status, 0) < 0 && errno == EINTR) {
      }
      unregister_worker(it->pid);
      if (it->tasks >= 0) ::close(it->tasks);
      ::close(it->events);
      ::close(it->errors);
      const bool crashed_mid_trial = it->current.has_value();
      if (crashed_mid_trial) {
        const std::size_t index = *it->current;
        std::string tail = it->stderr_tail;
        while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
        const std::string error = "the worker process died: " + signal_text(status) +
                                  (tail.empty() ? "" : "; its last output: " + tail.substr(tail.rfind('\n') + 1));
        const TrialOutcome outcome = record_crash(sweep_, index, options_, error, tail);
        ++totals_.failed;
        totals_.states[index] = "failed";
        display_->finished(index, trial_line(sweep_.trials[index].id, outcome), true, 0);
      }
      it = workers_.erase(it);
      if (crashed_mid_trial && !queue_.empty() && !interrupt_requested()) {
        spawn();  // a replacement takes the rest
        dispatch(workers_.back());
      }
    }
  }

  const ResolvedSweep& sweep_;
  const RunOptions& options_;
  const TrainFunction& train_;
  std::ostream& out_;
  std::deque<std::size_t> queue_;
  std::vector<Worker> workers_;
  std::unique_ptr<ProgressDisplay> display_;
  RunTotals totals_;
  bool forwarded_ = false;
};

}  // namespace

std::string trial_line(const std::string& trial_id, const TrialOutcome& outcome) {
  const auto metric = [](const char* name, const std::optional<double>& value) {
    return value ? std::string(" ") + name + "=" + format_double_short(*value, 4) : "";
  };
  std::string line = trial_id + "  " + to_string(outcome.status);
  if (outcome.resumed_from_step > 0) line += " (resumed at step " + std::to_string(outcome.resumed_from_step) + ")";
  if (outcome.final) {
    line += metric("train_loss", outcome.final->train_loss) + metric("test_loss", outcome.final->test_loss) +
            metric("test_acc", outcome.final->test_acc);
  }
  if (outcome.diverged_at_step) line += " at step " + std::to_string(*outcome.diverged_at_step);
  if (!outcome.error.empty()) line += ": " + outcome.error;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "  %.1fs", outcome.wall_time_s);
  line += seconds;
  for (const auto& warning : outcome.warnings) line += "\n    warning: " + warning;
  return line;
}

RunTotals run_sweep(const ResolvedSweep& sweep, const RunOptions& options, const TrainFunction& train,
                    std::ostream& out) {
  if (options.save) {
    const fs::path root = sweep_dir(options.experiments_dir, sweep.spec.name);
    create_folders((root / "trials").string());
    write_file_atomic((root / "sweep.json").string(), sweep_json(sweep, options.context));
  }
  if (interrupt_requested()) return {};
  return Scheduler(sweep, options, train, out).run();
}

}  // namespace sweeplab
