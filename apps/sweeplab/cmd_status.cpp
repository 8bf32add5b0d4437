#include <CLI/CLI.hpp>

#include <fstream>
#include <map>
#include <ostream>

#include "commands.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/table.hpp"
#include "sweeplab/core/text.hpp"
#include "sweeplab/store/layout.hpp"
#include "sweeplab/store/lock.hpp"

namespace sweeplab {
namespace {

std::string number(const std::optional<double>& value) { return value ? format_double_short(*value, 4) : "-"; }

// "k of N" in the trial's budget unit.
std::string progress(const Config& config, const std::optional<EvalRecord>& last) {
  const bool in_steps = config.training.steps > 0;
  const std::int64_t done = !last ? 0 : in_steps ? last->step : last->epoch;
  const std::int64_t budget = in_steps ? config.training.steps : config.training.epochs;
  return std::to_string(done) + " of " + std::to_string(budget) + (in_steps ? " steps" : " epochs");
}

}  // namespace

CLI::App* setup_status(CLI::App& app, StatusOptions& options) {
  CLI::App* command = app.add_subcommand("status", "Each trial's state, progress and final metrics; totals");
  command->add_option("name", options.name, "Sweep name")->required();
  add_override_option(*command, options.overrides);
  command->footer("Examples:\n  sweeplab status doughnut-batch\n  sweeplab status doughnut-batch -o epochs=1000");
  return command;
}

int run_status(const GlobalOptions& global, const StatusOptions& options, std::ostream& out, std::ostream&) {
  const auto sweep = load_sweep(global.configs_dir, options.name, options.overrides);
  const auto keys = swept_keys(sweep.spec);
  std::vector<std::string> header = {"#"};
  for (const auto& key : keys) header.push_back(find_field(key)->leaf());
  header.insert(header.end(), {"state", "progress", "train_loss", "test_loss", "test_acc", "note"});
  Table table(header);
  std::map<std::string, int> totals;
  for (std::size_t i = 0; i < sweep.trials.size(); ++i) {
    const auto& trial = sweep.trials[i];
    const std::string dir = trial_dir(global.experiments_dir, sweep.spec.name, trial.id);
    const auto summary = read_summary(dir);
    const auto metrics = read_metrics(dir + "/metrics.jsonl");
    std::optional<EvalRecord> last;
    if (!metrics.empty()) last = metrics.back();
    std::string state = "pending", note;
    if (const auto holder = lock_holder(dir)) {
      state = "running";
      note = "pid " + std::to_string(*holder);
    } else if (summary) {
      state = summary->status;
      if (summary->final) last = summary->final;
      if (summary->diverged_at_step) note = "diverged at step " + std::to_string(*summary->diverged_at_step);
      if (!summary->error.empty()) note = summary->error;
    } else if (!metrics.empty() || std::ifstream(dir + "/checkpoint.pt")) {
      state = "partial";
    }
    if (summary) {
      for (const auto& warning : summary->warnings) note += (note.empty() ? "" : "; ") + warning;
    }
    ++totals[state];
    std::vector<std::string> row = {std::to_string(i + 1)};
    for (const auto& swept : trial.swept) row.push_back(to_short_text(swept.second));
    row.insert(row.end(), {state, progress(trial.config, last), last ? number(last->train_loss) : "-",
                           last ? number(last->test_loss) : "-", last ? number(last->test_acc) : "-", note});
    table.add_row(std::move(row));
  }
  out << "sweep " << sweep.spec.name << " (" << sweep_dir(global.experiments_dir, sweep.spec.name) << ")\n"
      << table.str();
  std::vector<std::string> parts;
  for (const char* state : {"completed", "diverged", "running", "partial", "interrupted", "failed", "pending", "unreadable"}) {
    if (totals.count(state)) parts.push_back(std::to_string(totals[state]) + " " + state);
  }
  out << sweep.trials.size() << " trials: " << join(parts, ", ") << "\n";
  return 0;
}

}  // namespace sweeplab
