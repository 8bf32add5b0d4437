#include "sweeplab/sched/run_sweep.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <ostream>
#include <set>
#include <sstream>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/sched/progress.hpp"
#include "sweeplab/sched/refine.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/hash.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/sched/interrupt.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/trial_index.hpp"
#include "trial_job.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace sweeplab {
namespace {

// The pipes a worker process finds open: groups to train arrive on one, events leave on the other.
constexpr int kTaskFd = 3, kEventFd = 4;

// A hash of the trial ids, so a worker knows it loaded the sweep the scheduler runs.
std::string sweep_digest(const ResolvedSweep& sweep) {
  std::string ids;
  for (const auto& trial : sweep.trials) ids += trial.id + "\n";
  return full_hash(ids);
}

// ---- worker side ----------------------------------------------------------------------------

// The scheduler is gone (its end of the pipe closed): the trials checkpoint and stop, nobody listens.
bool scheduler_gone = false;

void write_all(int fd, const std::string& text) {
  std::size_t written = 0;
  while (written < text.size() && !scheduler_gone) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      scheduler_gone = true;
      request_interrupt();
      return;
    }
    written += std::size_t(n);
  }
}

json done_event(std::size_t index, const std::string& trial_id, const TrialResult& result);

class PipeEvents : public TrialEvents {
 public:
  PipeEvents(int fd, const ResolvedSweep& sweep, const RunOptions& options) : fd_(fd), sweep_(sweep), options_(options) {}
  void started(std::size_t index, std::int64_t resumed_from_step) override {
    write_all(fd_, json{{"e", "start"}, {"i", index}, {"resumed", resumed_from_step}}.dump() + "\n");
  }
  void evaluated(std::size_t index, const EvalRecord& record) override {
    write_all(fd_, json{{"e", "eval"}, {"i", index}, {"epoch", record.epoch}, {"step", record.step},
                        {"train_loss", std::isfinite(record.train_loss) ? record.train_loss : 0.0}}
                           .dump() + "\n");
  }
  void finished(std::size_t index, const TrialResult& result) override {
    reported.insert(index);
    write_all(fd_, done_event(index, options_.folder(sweep_, index), result).dump() + "\n");
  }
  std::set<std::size_t> reported;  // trials whose done event went out

 private:
  int fd_;
  const ResolvedSweep& sweep_;
  const RunOptions& options_;
};

// Every SIGTERM asks the same: checkpoint and stop. One may come from the scheduler and one from Slurm (it
// signals every process of a job it requeues or cancels); a hard stop is the scheduler's SIGKILL.
extern "C" void on_worker_term(int) { request_interrupt(); }

json done_event(std::size_t index, const std::string& trial_id, const TrialResult& result) {
  json done = {{"e", "done"}, {"i", index}};
  done["kind"] = result.kind == TrialResult::Kind::Trained ? "trained"
                 : result.kind == TrialResult::Kind::Skipped ? "skipped" : "busy";
  done["message"] = result.message;
  done["status"] = to_string(result.outcome.status);
  done["line"] = trial_line(trial_id, result.outcome);
  done["steps"] = result.outcome.steps - result.outcome.resumed_from_step;
  if (result.own_config) done["own_config"] = true;
  if (result.outcome.diverged_at_step) done["diverged_at"] = *result.outcome.diverged_at_step;
  if (!result.outcome.storage_error.empty()) done["storage_error"] = result.outcome.storage_error;
  if (result.outcome.final) done["final"] = json::parse(record_json(*result.outcome.final));
  return done;
}

// Groups arrive one per line, each trial as its index and folder ("3\tbs=8-1a2b3c4d\t7\t..."), until the
// scheduler closes the pipe.
int worker_loop(const ResolvedSweep& sweep, RunOptions options, const GroupTrainer& train) {
  options.folders.assign(sweep.trials.size(), "");
  clear_interrupt();
  struct sigaction action = {};
  action.sa_handler = on_worker_term;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigset_t terminate;  // blocked since before exec (see spawn): a stop that came while we loaded arrives now
  sigemptyset(&terminate);
  sigaddset(&terminate, SIGTERM);
  sigprocmask(SIG_UNBLOCK, &terminate, nullptr);
  if (getppid() == 1) return 3;  // the scheduler died before we were ready

  std::string buffer;
  char chunk[4096];
  PipeEvents reporter(kEventFd, sweep, options);
  while (true) {
    const auto newline = buffer.find('\n');
    if (newline == std::string::npos) {
      const ssize_t n = ::read(kTaskFd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // no more groups
      buffer.append(chunk, std::size_t(n));
      continue;
    }
    const std::string line = buffer.substr(0, newline);
    buffer.erase(0, newline + 1);
    std::vector<std::size_t> group;
    for (std::size_t at = 0; at < line.size();) {
      const auto tab = line.find('\t', at), end = line.find('\t', tab + 1);
      const std::size_t index = std::stoull(line.substr(at, tab - at));
      options.folders.at(index) = line.substr(tab + 1, end == std::string::npos ? std::string::npos : end - tab - 1);
      group.push_back(index);
      at = end == std::string::npos ? line.size() : end + 1;
    }
    reporter.reported.clear();
    try {
      run_trial_group(sweep, group, options, train, reporter);  // reports each trial as it is settled
    } catch (const std::exception& e) {
      // Before training: a storage error (e.g. a lock file that cannot be made) stops the run (exit 3) and
      // leaves the trials to resume; anything else fails the unsettled trials, and the worker goes on.
      const bool storage = dynamic_cast<const StorageError*>(&e) != nullptr;
      for (const std::size_t index : group) {
        if (reporter.reported.count(index)) continue;
        TrialResult result;
        result.outcome.status = storage ? TrialStatus::Interrupted : TrialStatus::Failed;
        (storage ? result.outcome.storage_error : result.outcome.error) = e.what();
        reporter.finished(index, result);
      }
    }
    if (interrupt_requested()) break;
  }
  std::cout.flush();
  std::cerr.flush();
  return 0;
}

// What a worker is started with: key=value words (a protocol between the two programs of one build).
std::vector<std::string> worker_arguments(const ResolvedSweep& sweep, const SweepSource& source,
                                          const RunOptions& options) {
  std::vector<std::string> args = {"configs=" + source.configs_dir, "name=" + source.name,
                                   "experiments=" + options.experiments_dir, "save=" + std::to_string(options.save),
                                   "fresh=" + std::to_string(options.fresh),
                                   "retry_failed=" + std::to_string(options.retry_failed),
                                   "digest=" + sweep_digest(sweep)};
  args.push_back("max_trials=" + std::to_string(source.max_trials));
  for (const auto& override_text : source.overrides) args.push_back("override=" + override_text);
  // A word at most 128 KiB long (MAX_ARG_STRLEN): the points go in words of 1000.
  for (std::size_t at = 0; at < source.refined.size(); at += 1000) {
    const auto begin = source.refined.begin() + std::ptrdiff_t(at);
    const auto end = source.refined.begin() + std::ptrdiff_t(std::min(at + 1000, source.refined.size()));
    args.push_back("refined=" + refined_text({begin, end}));
  }
  return args;
}

// ---- scheduler side -------------------------------------------------------------------------

struct Worker {
  pid_t pid = -1;
  int tasks = -1, events = -1, errors = -1;  // our ends of its pipes
  std::string event_buffer, stderr_tail;
  std::set<std::size_t> current;             // the trials of its group not yet done
  bool events_open = true, errors_open = true;
  bool spoke = false;                        // it sent an event: it started as a worker
};

// "SIGKILL" for a worker killed by a signal; "" when it exited.
std::string signal_name(int status) {
  if (!WIFSIGNALED(status)) return "";
  const char* abbreviation = sigabbrev_np(WTERMSIG(status));
  return abbreviation ? std::string("SIG") + abbreviation : "signal " + std::to_string(WTERMSIG(status));
}

std::string signal_text(int status) {
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return std::string(strsignal(signal)) + " (signal " + std::to_string(signal) + ")";
  }
  return "exit code " + std::to_string(WEXITSTATUS(status));
}

// Moves `from` to descriptor `to` in a child about to exec (not close-on-exec there); false when it cannot.
bool place_descriptor(int from, int to) {
  if (from < 0) return false;
  return from == to ? ::fcntl(to, F_SETFD, 0) == 0 : ::dup2(from, to) == to;
}

class Scheduler {
 public:
  Scheduler(const ResolvedSweep& sweep, const SweepSource& source, const RunOptions& options,
            const std::string& trainer, std::ostream& out)
      : sweep_(sweep), options_(options), trainer_(trainer), worker_args_(worker_arguments(sweep, source, options)),
        out_(out) {}

  RunTotals run() {
    // A worker that dies between two groups must not take the scheduler with it: a write to its pipe
    // then fails with EPIPE (handled in dispatch) instead of raising SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    const auto& trials = sweep_.trials;
    // Longest first (by the optimizer steps the budget asks for), so small-batch trials are not the tail.
    std::vector<std::size_t> order(trials.size());
    std::iota(order.begin(), order.end(), 0);
    if (!options_.only.empty()) order = options_.only;
    steps_.assign(trials.size(), 0);
    for (const std::size_t index : order) steps_[index] = expected_steps(trials[index].config.expand());
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return steps_[a] > steps_[b]; });
    for (const auto& trial : trials) configs_.push_back(&trial.config);
    open_index(order);
    const std::size_t jobs = std::max<std::size_t>(1, options_.jobs);
    if (sweep_.spec.prune != Prune::None) {
      cut_waves(order);
    } else {
      for (auto& group : form_groups(configs_, order, largest_group(), jobs)) queue_.push_back(std::move(group));
    }
    std::int64_t expected = 0;
    for (const std::size_t index : order) expected += steps_[index];

    const auto mode = options_.quiet ? ProgressDisplay::Mode::Quiet
                      : (&out_ == &std::cout && ::isatty(STDOUT_FILENO) && ::isatty(STDERR_FILENO))
                          ? ProgressDisplay::Mode::Live
                          : ProgressDisplay::Mode::Plain;
    display_ = std::make_unique<ProgressDisplay>(mode, out_, order.size(), expected);

    if (prune_) next_wave();
    for (std::size_t i = 0; i < std::min(jobs, queue_.size()); ++i) spawn();
    for (auto& worker : workers_) dispatch(worker);
    while (!workers_.empty() || waves_pending()) {
      if (interrupt_requested() && !forwarded_) forward_interrupt();
      if (prune_) keep_going();
      if (workers_.empty()) continue;
      poll_once();
      display_->tick();
      refresh_index(false);
    }
    refresh_index(true);
    display_->close();
    return totals_;
  }

 private:
  std::size_t largest_group() const {
    if (options_.group_size > 0) return options_.group_size;
    const bool cuda = !sweep_.trials.empty() && sweep_.trials.front().config.text(field_index("training.device")) == "cuda";
    return cuda ? 4096 : 64;
  }

  // ---- the trial index ----
  // Every trial of the run is marked planned (dirty) before a worker may touch it; each is written again from its
  // files once it has settled, in batches (one transaction every half second, and at the end). A run killed in
  // between leaves dirty rows, which readers read from the files.

  void open_index(const std::vector<std::size_t>& order) {
    if (!options_.save || !options_.index) return;
    create_folders(sweep_dir(options_.experiments_dir, sweep_.spec.name));
    index_ = TrialIndex::open(sweep_dir(options_.experiments_dir, sweep_.spec.name), /*create=*/true);
    if (!index_) return;
    std::vector<PlannedTrial> planned;
    for (const std::size_t i : order) planned.push_back({options_.folder(sweep_, i), sweep_.trials[i].hash, sweep_.trials[i].config});
    try {
      const auto generations = index_->plan(planned);
      for (std::size_t k = 0; k < order.size(); ++k) generation_[order[k]] = generations[k];
    } catch (const StorageError&) {
      index_.reset();  // the files are the record; readers find the trials without it
    }
  }

  // Trial `index` settled (its worker wrote its files and let them be); `own_config`: it was repaired with the
  // config it was run with, which its config.yaml holds.
  void settled_now(std::size_t index, bool own_config) {
    if (index_) to_refresh_.emplace_back(index, own_config);
  }

  void refresh_index(bool now) {
    if (!index_ || to_refresh_.empty()) return;
    const auto clock = std::chrono::steady_clock::now();
    if (!now && clock - last_refresh_ < std::chrono::milliseconds(500)) return;
    last_refresh_ = clock;
    std::vector<TrialState> states;
    std::vector<std::int64_t> generations;
    states.reserve(to_refresh_.size());
    for (const auto& [index, own_config] : to_refresh_) {
      TrialState planned;
      planned.hash = sweep_.trials[index].hash;
      planned.config = sweep_.trials[index].config;
      const std::string dir = trial_dir(options_.experiments_dir, sweep_.spec.name, options_.folder(sweep_, index));
      // Not its lock: the worker holds it until its whole group is done, and it settled the trial itself.
      states.push_back(read_trial_files(dir, TrialRead{false, own_config, /*lock=*/false}, &planned));
      generations.push_back(generation_.count(index) ? generation_[index] : -1);
    }
    to_refresh_.clear();
    std::vector<const TrialState*> pointers;
    for (const auto& state : states) pointers.push_back(&state);
    try {
      index_->store(pointers, generations);
    } catch (const StorageError&) {
      index_.reset();
    }
  }

  void spawn() {
    int tasks[2], events[2], errors[2];
    if (::pipe2(tasks, O_CLOEXEC) != 0 || ::pipe2(events, O_CLOEXEC) != 0 || ::pipe2(errors, O_CLOEXEC) != 0) {
      throw SystemError(std::string("cannot create pipes for a worker process: ") + std::strerror(errno) +
                        " (too many open files? lower -j)");
    }
    std::vector<std::string> words = {trainer_};
    words.insert(words.end(), worker_args_.begin(), worker_args_.end());
    std::vector<char*> argv;
    for (auto& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    std::cout.flush();
    std::cerr.flush();
    // No Ctrl-C or SIGTERM reaches the child before it has decided what to do with them (below); ours wait too.
    sigset_t stops, before;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    sigprocmask(SIG_BLOCK, &stops, &before);
    const pid_t pid = ::fork();
    if (pid != 0) sigprocmask(SIG_SETMASK, &before, nullptr);
    if (pid < 0) {
      throw SystemError(std::string("cannot start a worker process: ") + std::strerror(errno) +
                        " (the system's limit on processes? lower -j)");
    }
    if (pid == 0) {
      // Out of the way of 2, 3 and 4 first, then into place; every other descriptor closes on exec.
      const int task_end = ::fcntl(tasks[0], F_DUPFD_CLOEXEC, 10), event_end = ::fcntl(events[1], F_DUPFD_CLOEXEC, 10),
                error_end = ::fcntl(errors[1], F_DUPFD_CLOEXEC, 10);
      if (task_end < 0 || event_end < 0 || error_end < 0 || !place_descriptor(error_end, STDERR_FILENO) ||
          !place_descriptor(task_end, kTaskFd) || !place_descriptor(event_end, kEventFd)) {
        // A worker without its pipes would wait for groups that never come: it says why and exits instead.
        const std::string message = std::string("sweeplab: cannot give a worker process its pipes: ") +
                                    std::strerror(errno) + " (too many open files? lower -j)\n";
        (void)!::write(error_end >= 0 ? error_end : STDERR_FILENO, message.data(), message.size());
        ::_exit(127);
      }
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // the scheduler died: checkpoint and stop
      // Ctrl-C reaches the scheduler, which tells the workers with SIGTERM (ignoring survives exec). SIGTERM
      // stays blocked (the mask survives exec too) until the worker has its handler: a Ctrl-C while LibTorch
      // loads must stop the worker cleanly, not kill it and fail its trials.
      std::signal(SIGINT, SIG_IGN);
      std::signal(SIGTERM, SIG_DFL);
      ::execv(trainer_.c_str(), argv.data());
      const std::string message = "sweeplab: cannot start the trainer " + trainer_ + ": " + std::strerror(errno) + "\n";
      (void)!::write(STDERR_FILENO, message.data(), message.size());
      ::_exit(127);
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

  // ---- sweep.prune ----
  // The trials run in waves by learning rate within their line (prune_line: the same config but for the
  // learning rate): wave k holds the k-th learning rate of every line in the order of the walk (smallest first
  // for above_divergence, largest first for below_divergence), and starts when wave k-1 has finished. Before a
  // wave is queued, each of its trials that the settled trials of its line rule out (DivergenceBoundary: in this
  // run, or on disk from an earlier one unless --fresh) is recorded skipped instead. Whatever -j, the same trials
  // run and the same are skipped.

  void cut_waves(const std::vector<std::size_t>& order) {
    prune_ = true;
    const auto& trials = sweep_.trials;
    std::map<std::string, std::vector<std::size_t>> members;
    for (const std::size_t i : order) members[boundary_.line(i)].push_back(i);
    std::vector<std::size_t> rank(trials.size(), 0);
    for (auto& [line, indexes] : members) {
      std::stable_sort(indexes.begin(), indexes.end(),
                       [&](std::size_t a, std::size_t b) { return boundary_.walks_before(a, b); });
      for (std::size_t r = 0; r < indexes.size(); ++r) rank[indexes[r]] = r;
    }
    for (const std::size_t i : order) {  // each wave in dispatch order (longest first)
      if (rank[i] >= waves_.size()) waves_.resize(rank[i] + 1);
      waves_[rank[i]].push_back(i);
    }
    if (!options_.save || options_.fresh) return;  // --fresh: earlier divergences are discarded with the rest
    for (std::size_t i = 0; i < trials.size(); ++i) {
      const auto summary = read_summary(trial_dir(options_.experiments_dir, sweep_.spec.name, options_.folder(sweep_, i)));
      if (summary) boundary_.settled(i, summary->status, summary->diverged_at_step.value_or(summary->steps));
    }
  }

  bool waves_pending() const {
    return prune_ && next_wave_ < waves_.size() && !forwarded_ && !interrupt_requested();
  }

  // Queues the next wave that has a trial to train, recording the pruned trials of the waves on the way.
  void next_wave() {
    while (queue_.empty() && waves_pending()) {
      std::vector<std::size_t> to_train;
      for (const std::size_t index : waves_[next_wave_]) {
        const std::string reason = boundary_.reason(index);
        if (reason.empty()) {
          to_train.push_back(index);
        } else {
          record_prune(index, reason);
        }
      }
      ++next_wave_;
      if (forwarded_) return;  // a storage error
      const std::size_t jobs = std::max<std::size_t>(1, options_.jobs);
      for (auto& group : form_groups(configs_, to_train, largest_group(), jobs)) queue_.push_back(std::move(group));
    }
  }

  void record_prune(std::size_t index, const std::string& reason) {
    const std::string& id = options_.folder(sweep_, index);
    TrialResult result;
    try {
      result = record_pruned(sweep_, index, options_, reason);
    } catch (const std::exception& e) {  // its files cannot be written: the disk is in trouble
      if (totals_.storage_error.empty()) totals_.storage_error = e.what();
      stop_all();
      display_->finished(index, id + "  not recorded as skipped: " + e.what(), true, 0);
      return;
    }
    if (result.kind == TrialResult::Kind::Busy) {
      ++totals_.busy;
      display_->finished(index, id + "  " + result.message, false, 0);
      return;
    }
    settled_now(index, false);
    if (result.message == reason) {
      ++totals_.skipped;
      totals_.states[index] = TrialStatus::Skipped;
      display_->finished(index, id + "  skipped: " + reason, false, 0);
    } else {
      ++totals_.unchanged;
      display_->finished(index, id + "  " + result.message, false, 0);
    }
  }

  // Between waves: when every worker is idle, the next wave goes out (more workers if it has more groups).
  void keep_going() {
    if (forwarded_ || interrupt_requested()) return;
    if (queue_.empty()) {
      if (!waves_pending()) return;
      for (const auto& worker : workers_) {
        if (!worker.current.empty()) return;
      }
      next_wave();
    }
    const std::size_t jobs = std::max<std::size_t>(1, options_.jobs);
    std::size_t idle = 0;
    for (const auto& worker : workers_) idle += worker.current.empty() && worker.tasks >= 0 ? 1 : 0;
    while (workers_.size() < jobs && idle < queue_.size()) {
      spawn();
      ++idle;
    }
    for (auto& worker : workers_) dispatch(worker);
  }

  // Gives an idle worker the next group, or tells it there are none.
  void dispatch(Worker& worker) {
    if (!worker.current.empty() || worker.tasks < 0) return;
    if (queue_.empty() && waves_pending()) return;  // idle until the wave has finished
    if (queue_.empty() || interrupt_requested()) {
      ::close(worker.tasks);
      worker.tasks = -1;
      return;
    }
    const std::vector<std::size_t> group = queue_.front();
    queue_.pop_front();
    std::string line;
    for (const std::size_t index : group) {
      line += (line.empty() ? "" : "\t") + std::to_string(index) + "\t" + options_.folder(sweep_, index);
    }
    line += "\n";
    if (::write(worker.tasks, line.data(), line.size()) != ssize_t(line.size())) {
      queue_.push_front(group);  // it is dying; the group goes to another worker
      return;
    }
    worker.current.insert(group.begin(), group.end());
  }

  void forward_interrupt() { stop_all(); }

  void stop_all() {
    if (forwarded_) return;
    forwarded_ = true;
    queue_.clear();
    for (auto& worker : workers_) {
      ::kill(worker.pid, SIGTERM);
      if (worker.tasks >= 0 && worker.current.empty()) {
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
      worker.spoke = true;
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
    const std::string& id = options_.folder(sweep_, index);
    const std::string type = event["e"];
    if (type == "start") {
      display_->started(index, id, event["resumed"], steps_.at(index));
      sessions_[index] = {std::chrono::steady_clock::now(), event.value("resumed", std::int64_t{0})};
    } else if (type == "eval") {
      display_->progressed(index, event["epoch"], event["step"], event["train_loss"]);
    } else if (type == "done") {
      worker.current.erase(index);
      const std::string storage_error = event.value("storage_error", std::string());
      if (!storage_error.empty() && totals_.storage_error.empty()) {
        // The disk is full or failing: the other trials checkpoint (if they can) and stop; no new group starts.
        totals_.storage_error = storage_error;
        stop_all();
      }
      const std::string kind = event["kind"];
      if (prune_ && kind == "trained") {
        if (const auto status = parse_status(event["status"].get<std::string>())) {
          boundary_.settled(index, *status, event.value("diverged_at", std::int64_t{0}));
        }
      }
      if (kind == "busy") {
        ++totals_.busy;
        display_->finished(index, id + "  " + event["message"].get<std::string>(), false, 0);
      } else if (kind == "skipped") {
        ++totals_.unchanged;
        settled_now(index, false);
        display_->finished(index, id + "  " + event["message"].get<std::string>(), false, 0);
      } else {
        const TrialStatus status = parse_status(event["status"].get<std::string>()).value_or(TrialStatus::Failed);
        count(status);
        totals_.states[index] = status;
        settled_now(index, event.value("own_config", false));
        if (event.contains("final")) {
          if (auto record = parse_record_json(event["final"].dump())) totals_.finals[index] = *record;
        }
        display_->finished(index, event["line"], status == TrialStatus::Failed, event.value("steps", std::int64_t{0}));
      }
      dispatch(worker);
    }
  }

  void count(TrialStatus status) {
    if (status == TrialStatus::Completed) ++totals_.completed;
    else if (status == TrialStatus::Diverged) ++totals_.diverged;
    else if (status == TrialStatus::Failed) ++totals_.failed;
    else if (status == TrialStatus::Interrupted) ++totals_.interrupted;
  }

  // Collects workers whose pipes have closed; a worker that died mid-group fails the trials it had not finished.
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
      // It could not even become a worker (no pipes, no trainer program): the system's trouble, not its trials'.
      // The run stops with that line; its trials stay as they are, for the next run.
      if (!it->spoke && WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        std::string tail = it->stderr_tail;
        while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
        workers_.erase(it);
        stop_all();
        const std::string said = tail.substr(tail.rfind('\n') + 1);
        throw SystemError(said.rfind("sweeplab: ", 0) == 0 ? said.substr(10)
                          : said.empty() ? std::string("a worker process could not start (exit code 127; why, above)")
                                         : "a worker process could not start: " + said);
      }
      // A worker that left cleanly (it was told to stop) never started what was sent after: that goes back.
      const bool left_cleanly = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (left_cleanly && !it->current.empty()) {
        queue_.push_front(std::vector<std::size_t>(it->current.begin(), it->current.end()));
        it->current.clear();
      }
      // Trials of the group it never started (a GPU group trains in consecutive parts) go back to the queue,
      // once: a trial that a worker dies on before it even starts fails like the others.
      std::vector<std::size_t> not_started;
      for (const std::size_t index : it->current) {
        if (!sessions_.count(index) && requeued_.insert(index).second) not_started.push_back(index);
      }
      for (const std::size_t index : not_started) it->current.erase(index);
      if (!not_started.empty()) queue_.push_front(not_started);
      const bool crashed_mid_group = !it->current.empty();
      if (crashed_mid_group) {
        std::string tail = it->stderr_tail;
        while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
        const std::string error = "the worker process died: " + signal_text(status) +
                                  (tail.empty() ? "" : "; its last output: " + tail.substr(tail.rfind('\n') + 1));
        for (const std::size_t index : it->current) {
          CrashReport crash{error, signal_name(status), WIFEXITED(status) ? WEXITSTATUS(status) : -1, tail, 0.0, 0, ""};
          if (const auto session = sessions_.find(index); session != sessions_.end()) {
            crash.session_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - session->second.started).count();
            crash.resumed_from_step = session->second.resumed_from_step;
          }
          TrialOutcome outcome;
          try {
            outcome = record_crash(sweep_, index, options_, crash);
          } catch (const std::exception& e) {  // its summary cannot be written: the disk is in trouble
            if (totals_.storage_error.empty()) totals_.storage_error = e.what();
            stop_all();
            outcome.status = TrialStatus::Failed;
            outcome.error = crash.error;
          }
          count(outcome.status);
          totals_.states[index] = outcome.status;
          // Its result may have been written before the worker died: it counts for sweep.prune as it would have.
          if (prune_) boundary_.settled(index, outcome.status, outcome.diverged_at_step.value_or(outcome.steps));
          settled_now(index, false);
          display_->finished(index, trial_line(options_.folder(sweep_, index), outcome), outcome.status == TrialStatus::Failed, 0);
        }
      }
      it = workers_.erase(it);
      if ((crashed_mid_group || left_cleanly || !not_started.empty()) && !queue_.empty() && !forwarded_ &&
          !interrupt_requested()) {
        spawn();  // a replacement takes the rest
        dispatch(workers_.back());
      }
    }
  }

  const ResolvedSweep& sweep_;
  const RunOptions& options_;
  std::string trainer_;
  std::vector<std::string> worker_args_;
  std::ostream& out_;
  std::deque<std::vector<std::size_t>> queue_;
  std::vector<const CompactConfig*> configs_;  // the trials' configs, for form_groups
  std::vector<std::int64_t> steps_;             // the optimizer steps each trial's budget asks for
  // The trial index: the rows' generations as this run planned them, and the trials settled since the last write.
  std::unique_ptr<TrialIndex> index_;
  std::map<std::size_t, std::int64_t> generation_;
  std::vector<std::pair<std::size_t, bool>> to_refresh_;
  std::chrono::steady_clock::time_point last_refresh_ = std::chrono::steady_clock::now();
  // sweep.prune
  bool prune_ = false;
  std::vector<std::vector<std::size_t>> waves_;      // trial indexes by learning-rate rank in their line
  std::size_t next_wave_ = 0;
  DivergenceBoundary boundary_{sweep_};
  std::vector<Worker> workers_;
  std::unique_ptr<ProgressDisplay> display_;
  RunTotals totals_;
  bool forwarded_ = false;
  struct Session {
    std::chrono::steady_clock::time_point started;
    std::int64_t resumed_from_step = 0;
  };
  std::map<std::size_t, Session> sessions_;  // trials started in this run: when, and from which step
  std::set<std::size_t> requeued_;           // trials given back once after their worker died
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
  if (!outcome.storage_error.empty()) line += " (storage error: " + outcome.storage_error + ")";
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "  %.1fs", outcome.wall_time_s);
  line += seconds;
  for (const auto& warning : outcome.warnings) line += "\n    warning: " + warning;
  return line;
}

RunTotals run_sweep(const ResolvedSweep& sweep, const SweepSource& source, const RunOptions& options,
                    const std::string& trainer, std::ostream& out) {
  if (options.save) {
    const fs::path root = sweep_dir(options.experiments_dir, sweep.spec.name);
    create_folders((root / "trials").string());
    write_file_atomic((root / "sweep.json").string(), sweep_json(sweep, options.context));
  }
  if (interrupt_requested()) return {};
  return Scheduler(sweep, source, options, trainer, out).run();
}

int worker_main(const std::vector<std::string>& args, const GroupTrainer& train) {
  SweepSource source;
  RunOptions options;
  std::string digest;
  for (const auto& word : args) {
    const auto equals = word.find('=');
    const std::string key = word.substr(0, equals), value = equals == std::string::npos ? "" : word.substr(equals + 1);
    if (key == "configs") source.configs_dir = value;
    else if (key == "name") source.name = value;
    else if (key == "override") source.overrides.push_back(value);
    else if (key == "experiments") options.experiments_dir = value;
    else if (key == "save") options.save = value == "1";
    else if (key == "fresh") options.fresh = value == "1";
    else if (key == "retry_failed") options.retry_failed = value == "1";
    else if (key == "digest") digest = value;
    else if (key == "max_trials") source.max_trials = std::stoull(value);
    else if (key == "refined") {
      const auto points = parse_refined(value);
      source.refined.insert(source.refined.end(), points.begin(), points.end());
    }
    else {
      std::cerr << "sweeplab-trainer: unknown argument '" << word << "' (it is started by sweeplab run)\n";
      return 2;
    }
  }
  try {
    // sweep.refine: the scheduler's refined points, computed from results this process need not read again.
    const ResolvedSweep sweep = with_refined(
        load_sweep(source.configs_dir, source.name, source.overrides, LoadOptions{source.max_trials}), source.refined);
    if (sweep_digest(sweep) != digest) {
      std::cerr << "sweeplab: the configs of sweep " << source.name << " changed while it ran; run it again\n";
      return 2;
    }
    return worker_loop(sweep, options, train);
  } catch (const std::exception& e) {
    std::cerr << "sweeplab-trainer: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace sweeplab
