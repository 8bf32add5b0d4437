// sweeplab logs: a trial's trial.log, chosen by id, unique prefix or --where; -f follows it until the trial settles.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <thread>

#include "commands.hpp"
#include "on_disk.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/lock.hpp"
#include "sweeplab/store/sweep_state.hpp"
#include "where.hpp"

namespace fs = std::filesystem;

namespace sweeplab {
namespace {

// "a, b, c, ... (12 in all)": a few ids for a message.
std::string some_ids(const std::vector<const TrialState*>& trials) {
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < trials.size() && i < 3; ++i) ids.push_back(trials[i]->id);
  std::string text = join(ids, ", ");
  if (trials.size() > 3) text += ", ... (" + std::to_string(trials.size()) + " in all)";
  return text;
}

std::string where_text(const std::vector<std::string>& where) { return "--where " + join(where, " --where "); }

// The trial the arguments name; a UserError (one line, with candidates or a suggestion) unless exactly one.
const TrialState& choose_trial(const SweepState& state, const LogsOptions& options, const std::vector<WhereFilter>& filters) {
  const std::string& name = state.spec.name;
  std::vector<const TrialState*> all, matching;
  for (const auto& trial : state.trials) {
    all.push_back(&trial);
    if (matches(trial.config, filters)) matching.push_back(&trial);
  }
  if (options.trial.empty() && filters.empty()) {
    throw UserError("logs " + name + ": give a trial id (or a unique prefix of one) or --where KEY=VALUE; its trials: " +
                    some_ids(all) + " (sweeplab status " + name + " lists them)");
  }
  std::vector<const TrialState*> chosen;
  if (!options.trial.empty()) {
    // A folder's name or a prefix of it, or the trial's hash (8 or more of its hex digits), whatever its folder.
    const bool hash_like = options.trial.size() >= 8 && options.trial.size() <= 16 &&
                           options.trial.find_first_not_of("0123456789abcdef") == std::string::npos;
    for (const auto* trial : matching) {
      if (trial->id == options.trial) return *trial;
      if (trial->id.rfind(options.trial, 0) == 0 || (hash_like && trial->hash.hex().rfind(options.trial, 0) == 0)) {
        chosen.push_back(trial);
      }
    }
    if (chosen.size() > 1) {
      throw UserError("trial '" + options.trial + "' is ambiguous: " + std::to_string(chosen.size()) + " trials of sweep " +
                      name + (filters.empty() ? "" : " with " + where_text(options.where)) + " begin with it (" +
                      some_ids(chosen) + "); give more of the id" + (filters.empty() ? " or --where KEY=VALUE" : ""));
    }
    if (chosen.empty()) {
      std::vector<std::string> ids;
      for (const auto* trial : (filters.empty() ? all : matching)) ids.push_back(trial->id);
      const bool elsewhere = std::any_of(all.begin(), all.end(), [&](const TrialState* t) {
        return t->id.rfind(options.trial, 0) == 0;
      });
      if (elsewhere) {
        throw UserError("trial '" + options.trial + "' of sweep " + name + " does not match " + where_text(options.where) +
                        "; drop the --where or the trial id");
      }
      const std::string suggestion = did_you_mean(options.trial, ids);
      throw UserError("no trial '" + options.trial + "' in sweep " + name +
                      (suggestion.empty() ? "; its trials: " + some_ids(filters.empty() ? all : matching) : suggestion) +
                      " (sweeplab status " + name + " lists them)");
    }
    return *chosen.front();
  }
  if (matching.size() == 1) return *matching.front();
  if (matching.empty()) {
    std::vector<std::string> values;
    for (const auto& filter : filters) {
      std::vector<std::string> seen;
      for (const auto* trial : all) {
        const auto text = to_short_text(trial->config.get(filter.key));
        if (std::find(seen.begin(), seen.end(), text) == seen.end()) seen.push_back(text);
      }
      values.push_back(filter.key + " is " + join(seen, ", "));
    }
    throw UserError(where_text(options.where) + ": no trial of sweep " + name + " matches (" + join(values, "; ") + ")");
  }
  // Several: say which swept keys still tell them apart.
  std::vector<std::string> differ;
  for (const auto& key : state.keys()) {
    const std::size_t field = field_index(key);
    const auto first = matching.front()->config.text(field);
    for (const auto* trial : matching) {
      if (trial->config.text(field) != first) {
        differ.push_back(key);
        break;
      }
    }
  }
  throw UserError(where_text(options.where) + " matches " + std::to_string(matching.size()) + " trials of sweep " + name +
                  " (" + some_ids(matching) + "); add --where on " + (differ.empty() ? "another key" : join(differ, " or ")) +
                  ", or give a trial id");
}

// Writes what the file has past `offset` and moves `offset` to its end. A file that got shorter (started
// again, --fresh) is written from its start.
void copy_new(const fs::path& path, std::uintmax_t& offset, std::ostream& out) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return;
  if (size < offset) offset = 0;
  if (size == offset) return;
  std::ifstream in(path, std::ios::binary);
  in.seekg(std::streamoff(offset));
  std::string chunk(std::size_t(size - offset), '\0');
  in.read(chunk.data(), std::streamsize(chunk.size()));
  chunk.resize(std::size_t(in.gcount()));
  offset += chunk.size();
  out << chunk << std::flush;
}

}  // namespace

CLI::App* setup_logs(CLI::App& app, LogsOptions& options) {
  CLI::App* command = app.add_subcommand("logs", "A trial's trial.log (-f: follow it until the trial settles)");
  command->add_option("name", options.name, "Sweep name")->required();
  command->add_option("trial", options.trial, "A trial id, or a prefix of exactly one (or use --where instead)");
  add_override_option(*command, options.overrides);
  add_where_option(*command, options.where);
  command->add_flag("-f,--follow", options.follow,
                    "Print what is added to the log until the trial settles (its summary.json is written and no "
                    "process trains it) or Ctrl-C; a pending trial is waited for");
  command->footer(
      "The trial is TRIAL (a full id or a unique prefix, as sweeplab status lists them), or the one trial that every "
      "--where matches; both together: a prefix among the trials the --where match.\n\n"
      "Examples:\n  sweeplab logs doughnut-batch bs=16\n  sweeplab logs doughnut-batch --where batch_size=16 -f");
  return command;
}

int run_logs(const GlobalOptions& global, const LogsOptions& options, std::ostream& out, std::ostream& err) {
  const auto filters = parse_where(options.where);
  const auto sweep = load_or_on_disk(global, options.name, options.overrides);
  ReadOptions read;
  read.pending = true;  // a trial not run yet is named too: logs -f waits for it
  const SweepState state = read_sweep_state(sweep, global.experiments_dir, read);
  const TrialState& trial = choose_trial(state, options, filters);
  const fs::path dir = trial_dir(global.experiments_dir, sweep.spec.name, trial.id);
  const fs::path log = dir / "trial.log";
  std::uintmax_t offset = 0;
  if (!options.follow) {
    if (!fs::is_regular_file(log)) {
      throw UserError("trial " + trial.id + " of sweep " + sweep.spec.name + " has no trial.log (" +
                      (trial.status == TrialStatus::Pending ? "it is pending: sweeplab run " + sweep.spec.name + " trains it"
                                                 : "it is " + to_string(trial.status) + "; looked for " + log.string()) +
                      ")");
    }
    copy_new(log, offset, out);
    return 0;
  }
  if (!fs::is_regular_file(log)) err << "waiting for trial " << trial.id << " to start (" << to_string(trial.status) << ")\n";
  // Until summary.json is there and no process holds the trial's lock (it writes the last log line after
  // summary.json). A lock held long after summary.json (the rest of its group still training) is not waited for.
  using Clock = std::chrono::steady_clock;
  Clock::time_point settled_since{};
  bool seen_settled = false;
  for (;;) {
    copy_new(log, offset, out);
    const bool settled = read_summary(dir.string()).has_value();
    if (settled && !lock_holder(dir.string())) break;
    if (!settled) {
      seen_settled = false;
    } else if (!seen_settled) {
      seen_settled = true;
      settled_since = Clock::now();
    } else if (Clock::now() - settled_since > std::chrono::seconds(2)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  copy_new(log, offset, out);
  return 0;
}

}  // namespace sweeplab
