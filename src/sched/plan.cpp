#include "sweeplab/sched/plan.hpp"

#include <algorithm>

#include "sweeplab/config/fusion_key.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/training/schedule.hpp"

namespace sweeplab {
namespace {

Decision take(Action action, std::string text) { return Decision{action, std::move(text), ""}; }

Decision skip(const std::string& why) { return Decision{Action::Skip, "skip: " + why, why}; }

std::string lines_text(std::size_t n) { return std::to_string(n) + " unreadable line" + (n == 1 ? "" : "s"); }

}  // namespace

Decision decide(const TrialState& trial, const Config& planned, const PlanOptions& options, const std::string& pruned) {
  const TrialStatus status = trial.status;
  if (status == TrialStatus::Running) {
    const std::string pid = std::to_string(trial.running_pid.value_or(0));
    return Decision{Action::Leave, "leave to pid " + pid + " while it runs",
                    "being trained by another process (pid " + pid + "), left to it"};
  }
  if (options.fresh) {
    return pruned.empty() ? take(Action::Train, "train from scratch (--fresh)")
                          : Decision{Action::RecordSkipped, "skip: " + pruned, pruned};
  }
  if (!pruned.empty()) {  // a result that stays stays; anything else is recorded skipped
    if (status == TrialStatus::Skipped && trial.summary && trial.summary->skip_reason == pruned) {
      return skip("skipped already: " + pruned);
    }
    if (status == TrialStatus::Diverged) return skip("diverged already");
    if (status == TrialStatus::Completed) return skip("completed already");
    if (status == TrialStatus::Failed && !options.retry_failed) {
      return skip("failed earlier (--retry-failed records it as skipped)");
    }
    return Decision{Action::RecordSkipped, "skip: " + pruned, pruned};
  }
  switch (status) {
    case TrialStatus::Pending:
      return take(Action::Train, "train");
    case TrialStatus::Skipped:
      return take(Action::Train, "train (skipped before" +
                                     (trial.summary && !trial.summary->skip_reason.empty() ? ": " + trial.summary->skip_reason
                                                                                          : std::string()) +
                                     "; nothing rules it out now)");
    case TrialStatus::Unreadable:
      return take(Action::Repair, "repair (" + trial.problem + ")");
    case TrialStatus::Failed:
      return options.retry_failed ? take(Action::Retry, "train again")
                                  : skip("failed earlier (--retry-failed runs it again)");
    case TrialStatus::Completed:
    case TrialStatus::Diverged: {
      // Continuing from the final checkpoint checks the records and rewrites what is damaged: an extension repairs
      // them on its way.
      const std::string damaged =
          trial.unreadable_lines > 0 ? "metrics.jsonl (" + lines_text(trial.unreadable_lines) + ")" : "";
      if (status == TrialStatus::Completed && trial.summary && budget_raised(*trial.summary, planned)) {
        static const std::size_t keep_final = field_index("checkpoint.keep_final");
        if (!std::get<bool>(trial.config.get(keep_final))) {
          return take(Action::Retrain, "train again from scratch to " + budget_text(planned) + " (it was run with "
                                       "checkpoint.keep_final: false and kept no checkpoint to continue from)");
        }
        return take(Action::Extend, "extend from " + done_text(*trial.summary, planned) + " to " + budget_text(planned) +
                                        (damaged.empty() ? "" : ", repairing " + damaged));
      }
      if (!damaged.empty()) return take(Action::Repair, "repair " + damaged);
      return skip(status == TrialStatus::Diverged ? "diverged already" : "completed already");
    }
    case TrialStatus::Partial:
    case TrialStatus::Interrupted: {
      // Already past the budget asked for now (it was run with a larger one): it cannot be trained back, and
      // calling it complete at the smaller budget would be wrong.
      const std::int64_t done = trial.steps_done(), budget = expected_steps(planned);
      if (budget > 0 && done > budget) {
        return skip("already at step " + std::to_string(done) + ", past the budget asked for now (" + budget_text(planned) +
                    "); it was run with " + budget_text(trial.config) + ": rerun with that budget to finish it, or --fresh");
      }
      return take(Action::Resume, "resume");
    }
    case TrialStatus::Running:
      break;  // above
  }
  return take(Action::Resume, "resume");
}

std::int64_t expected_steps(const Config& config) {
  if (config.training.samples > 0) return steps_for_samples(config, config.training.samples);
  if (config.training.steps > 0) return config.training.steps;
  if (config.task.name == "csv" || config.task.name == "npz") return 0;
  const std::int64_t n = config.task.train_samples(), batch = config.training.batch_size;
  const std::int64_t per_epoch = config.training.drop_last && n >= batch ? n / batch : (n + batch - 1) / batch;
  return per_epoch * config.training.epochs;
}

namespace {

// A learning rate as in YAML, without a trailing ".0": 1000, 0.5, 1e-5.
std::string shortest(double value) {
  std::string text = format_double(value);
  if (text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0) text.resize(text.size() - 2);
  return text;
}

// "optimizer.lr=0.5, 0.25", or "optimizer.temperature=0.01, 0.005 (optimizer.lr=0.16, 0.08)" for trials whose
// learning rate is derived from a temperature.
std::string learning_rates_text(const std::vector<Config>& trials) {
  std::vector<std::string> lrs, temperatures;
  bool derived = false;
  for (const auto& config : trials) {
    lrs.push_back(shortest(config.optimizer.lr));
    temperatures.push_back(shortest(config.optimizer.temperature));
    derived = derived || config.optimizer.temperature > 0.0;
  }
  const std::string lr = "optimizer.lr=" + join(lrs, ", ");
  return derived ? "optimizer.temperature=" + join(temperatures, ", ") + " (" + lr + ")" : lr;
}

}  // namespace

std::string pruned_because(const Config& diverged, std::int64_t step) {
  return learning_rates_text({diverged}) + " diverged at step " + std::to_string(step) + " (sweep.prune: above_divergence)";
}

std::string stable_because(const std::vector<Config>& stable) {
  const std::string count = std::to_string(stable.size());
  return learning_rates_text(stable) + " completed: " + count + " stable learning rate" + (stable.size() == 1 ? "" : "s") +
         " above it (sweep.prune: {below_divergence: " + count + "})";
}

DivergenceBoundary::DivergenceBoundary(const ResolvedSweep& sweep) : sweep_(sweep) {
  for (const auto& trial : sweep.trials) lines_.push_back(prune_line(trial.config));
}

double DivergenceBoundary::lr(std::size_t index) const {
  static const std::size_t field = field_index("optimizer.lr");
  return std::get<double>(sweep_.trials[index].config.get(field));
}

bool DivergenceBoundary::walks_before(std::size_t a, std::size_t b) const {
  return sweep_.spec.prune == Prune::BelowDivergence ? lr(a) > lr(b) : lr(a) < lr(b);
}

void DivergenceBoundary::settled(std::size_t index, TrialStatus status, std::int64_t step) {
  if (sweep_.spec.prune == Prune::AboveDivergence && status == TrialStatus::Diverged) {
    const auto it = lowest_.find(lines_.at(index));
    if (it == lowest_.end() || lr(index) < lr(it->second.first)) lowest_[lines_[index]] = {index, step};
  } else if (sweep_.spec.prune == Prune::BelowDivergence) {
    // A completed trial extended to a larger budget may diverge now: it is no longer one of the stable ones.
    Stable& line = stable_[lines_.at(index)];
    const auto found = line.trials.find(lr(index));
    if (status == TrialStatus::Completed) {
      line.trials[lr(index)] = index;
    } else if (found != line.trials.end() && found->second == index) {
      line.trials.erase(found);
    }
    line.reason.clear();
  }
}

std::string DivergenceBoundary::reason(std::size_t index) const {
  if (sweep_.spec.prune == Prune::BelowDivergence) {
    const auto it = stable_.find(lines_.at(index));
    const std::size_t keep = std::size_t(sweep_.spec.prune_keep);
    if (it == stable_.end() || it->second.trials.size() < keep) return "";
    const auto last = std::next(it->second.trials.begin(), std::ptrdiff_t(keep - 1));
    if (!(lr(index) < last->first)) return "";
    if (it->second.reason.empty()) {  // once for the line, whatever the number of trials it rules out
      std::vector<Config> stable;
      for (auto trial = it->second.trials.begin(); trial != std::next(last); ++trial) {
        stable.push_back(sweep_.trials[trial->second].config.expand());
      }
      it->second.reason = stable_because(stable);
    }
    return it->second.reason;
  }
  const auto it = lowest_.find(lines_.at(index));
  if (it == lowest_.end()) return "";
  if (!(lr(it->second.first) < lr(index))) return "";
  return pruned_because(sweep_.trials[it->second.first].config.expand(), it->second.second);
}

bool SweepPlan::takes_any() const {
  return std::any_of(decisions.begin(), decisions.end(), [](const Decision& d) { return d.taken(); });
}

SweepPlan plan_sweep(const ResolvedSweep& sweep, const SweepState& state, const PlanOptions& options) {
  SweepPlan plan;
  const std::size_t n = sweep.trials.size();
  std::unordered_map<std::string, TrialHash> taken;  // folder names in use, and whose they are
  for (const auto& trial : state.trials) taken.emplace(trial.id, trial.hash);
  for (const auto& duplicate : state.duplicates) taken.emplace(duplicate.folder, TrialHash{});
  // sweep.prune, as the files tell before the run (the run decides again as its waves finish).
  plan.pruned.assign(n, "");
  if (sweep.spec.prune != Prune::None && !options.fresh) {
    DivergenceBoundary boundary(sweep);
    for (std::size_t i = 0; i < n; ++i) {
      const auto row = state.of_current(i);
      if (!row || !state.trials[*row].summary) continue;
      const auto& summary = *state.trials[*row].summary;
      boundary.settled(i, state.trials[*row].status, summary.diverged_at_step.value_or(summary.steps));
    }
    for (std::size_t i = 0; i < n; ++i) plan.pruned[i] = boundary.reason(i);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto& spec = sweep.trials[i];
    const auto row = state.of_current(i);
    TrialState pending;
    if (!row) {
      pending.id = folder_for(spec, taken);
      pending.hash = spec.hash;
      pending.config = spec.config;
    }
    const TrialState& trial = row ? state.trials[*row] : pending;
    plan.folders.push_back(trial.id);
    const Config planned = spec.config.expand();
    plan.decisions.push_back(decide(trial, planned, options, plan.pruned[i]));
    if (plan.decisions.back().action == Action::Extend) {
      ++plan.extended;
      plan.extended_from = done_text(*trial.summary, planned);
      plan.extended_to = budget_text(planned);
    }
  }
  return plan;
}

std::vector<std::vector<std::size_t>> form_groups(const std::vector<const CompactConfig*>& configs,
                                                  const std::vector<std::size_t>& order, std::size_t largest,
                                                  std::size_t workers) {
  std::map<std::string, std::vector<std::size_t>> by_key;
  std::vector<std::string> keys;  // in order of first appearance
  for (const std::size_t index : order) {
    const std::string key = fusion_key(*configs.at(index));
    if (!by_key.count(key)) keys.push_back(key);
    by_key[key].push_back(index);
  }
  const std::size_t total = order.size();
  static const std::size_t device = field_index("training.device");
  std::vector<std::vector<std::size_t>> groups;
  for (const auto& key : keys) {
    const auto& members = by_key[key];
    // Enough groups for every worker, when there are trials enough. On a GPU, where one big group is what makes
    // it fast, one per worker: the size capped at ceil(total / workers). On the CPU, where a group of 8 trains as
    // fast per trial-step as one of 64, four per worker, so that a worker on a faster core, or one whose trials
    // ended early, takes more of them and the workers end together.
    const bool gpu = configs.at(members.front())->text(device) == "cuda";
    const std::size_t shares = workers > 1 ? workers * (gpu ? 1 : 4) : workers;
    const std::size_t fair = shares > 0 ? (total + shares - 1) / shares : total;
    const std::size_t size = std::max<std::size_t>(1, std::min(largest, fair));
    const std::size_t count = (members.size() + size - 1) / size;  // balanced: sizes differ by at most one
    for (std::size_t g = 0; g < count; ++g) {
      const std::size_t begin = members.size() * g / count, end = members.size() * (g + 1) / count;
      groups.emplace_back(members.begin() + std::ptrdiff_t(begin), members.begin() + std::ptrdiff_t(end));
    }
  }
  return groups;
}

}  // namespace sweeplab
