#include "sweeplab/store/trial_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "sweeplab/config/schema.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/core/fs.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace sweeplab {
namespace {

json to_json(const Value& value) {
  return std::visit([](const auto& v) { return json(v); }, value);
}

// Non-finite numbers are not JSON: they become null.
json number(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

json optional_number(const std::optional<double>& value) { return value ? number(*value) : json(nullptr); }

json config_json(const Config& config) {
  json out = json::object();
  for (const auto& field : schema()) {
    const auto dot = field.key.find('.');
    if (dot == std::string::npos) out[field.key] = to_json(field.get(config));
    else out[field.key.substr(0, dot)][field.leaf()] = to_json(field.get(config));
  }
  return out;
}

json record_object(const EvalRecord& record) {
  json line = json::object();
  line["epoch"] = record.epoch;
  line["step"] = record.step;
  line["samples"] = record.samples;
  line["lr"] = number(record.lr);
  if (record.effective_lr) line["effective_lr"] = number(*record.effective_lr);
  line["batch_size"] = record.batch_size;
  if (record.diverged) {
    // No evaluation: null losses, so nothing that averages them takes it for one; the loss that stopped the
    // trial in "loss", as text when it is not a number JSON can hold.
    line["train_loss"] = nullptr;
    line["test_loss"] = nullptr;
    line["diverged"] = true;
    const double loss = record.train_loss;
    line["loss"] = std::isfinite(loss) ? json(loss) : std::isnan(loss) ? json("nan") : json(loss > 0 ? "inf" : "-inf");
    line["elapsed_s"] = record.elapsed_s;
    return line;
  }
  line["train_loss"] = number(record.train_loss);
  if (record.last_batch_loss) line["last_batch_loss"] = number(*record.last_batch_loss);
  line["test_loss"] = optional_number(record.test_loss);
  if (record.train_acc) line["train_acc"] = number(*record.train_acc);
  if (record.test_acc) line["test_acc"] = number(*record.test_acc);
  if (record.noise_scale) line["noise_scale"] = number(*record.noise_scale);
  if (record.episode_return) line["episode_return"] = number(*record.episode_return);
  if (record.epsilon) line["epsilon"] = number(*record.epsilon);
  if (record.greedy_return) line["greedy_return"] = number(*record.greedy_return);
  if (record.greedy_length) line["greedy_length"] = *record.greedy_length;
  if (record.greedy_optimal_fraction) line["greedy_optimal_fraction"] = number(*record.greedy_optimal_fraction);
  line["elapsed_s"] = record.elapsed_s;
  return line;
}


}  // namespace

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buffer;
}

RunContext make_run_context(const std::string& torch_version, std::int64_t threads_per_trial) {
  RunContext context;
  context.sweeplab_version = SWEEPLAB_VERSION;
  context.git_commit = SWEEPLAB_GIT_COMMIT;
  context.torch_version = torch_version;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) context.host = host;
  context.started_at = utc_now();
  context.threads_per_trial = threads_per_trial;
  return context;
}

std::string slurm_job_from_environment() {
  const char* array = std::getenv("SLURM_ARRAY_JOB_ID");
  const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
  if (array && task && *array && *task) return std::string(array) + "_" + task;
  const char* job = std::getenv("SLURM_JOB_ID");
  return job ? job : "";
}

std::string record_json(const EvalRecord& record) { return record_object(record).dump(); }

std::string summary_json(const std::string& trial_id, const std::vector<std::pair<std::string, Value>>& swept,
                         const TrialOutcome& outcome) {
  json summary = {{"trial_id", trial_id}, {"status", to_string(outcome.status)}};
  json swept_values = json::object();
  for (const auto& [key, value] : swept) swept_values[key] = to_json(value);
  summary["swept"] = swept_values;
  summary["steps"] = outcome.steps;
  summary["samples"] = outcome.samples;
  summary["epochs"] = outcome.epochs;
  summary["wall_time_s"] = outcome.wall_time_s;
  summary["final"] = outcome.final ? record_object(*outcome.final) : json(nullptr);
  json best = json::object();
  for (const auto& metric : outcome.best) {
    best[metric.metric] = {{"value", number(metric.value)}, {"step", metric.step}, {"epoch", metric.epoch}};
  }
  summary["best"] = best;
  json targets = json::array(), steps_to_target = json::object(), samples_to_target = json::object();
  for (const auto& target : outcome.targets) {
    targets.push_back({{"target", target.target}, {"reached", target.reached},
                       {"step", target.reached ? json(target.step) : json(nullptr)},
                       {"samples", target.reached ? json(target.samples) : json(nullptr)},
                       {"epoch", target.reached ? json(target.epoch) : json(nullptr)}});
    steps_to_target[target.target] = target.reached ? json(target.step) : json(nullptr);
    samples_to_target[target.target] = target.reached ? json(target.samples) : json(nullptr);
  }
  summary["targets"] = targets;
  summary["steps_to_target"] = steps_to_target;
  summary["samples_to_target"] = samples_to_target;
  summary["stopped_at_target"] = outcome.stopped_at_target;
  if (outcome.diverged_at_step) {
    summary["diverged_at_step"] = *outcome.diverged_at_step;
    summary["diverged_loss"] = outcome.diverged_loss ? json(*outcome.diverged_loss) : json("not finite");
  }
  summary["weights_digest"] = outcome.weights_digest;
  if (outcome.engine_version > 0) summary["engine_version"] = outcome.engine_version;
  summary["resumed_from_step"] = outcome.resumed_from_step;
  summary["checkpoints_written"] = outcome.checkpoints_written;
  summary["checkpoint_s"] = outcome.checkpoint_s;
  if (!outcome.warnings.empty()) summary["warnings"] = outcome.warnings;
  if (!outcome.error.empty()) summary["error"] = outcome.error;
  if (!outcome.skip_reason.empty()) summary["skip_reason"] = outcome.skip_reason;
  if (outcome.worker_died) {
    summary["signal"] = outcome.signal.empty() ? json(nullptr) : json(outcome.signal);
    summary["exit_code"] = outcome.exit_code >= 0 ? json(outcome.exit_code) : json(nullptr);
    summary["stderr_tail"] = outcome.stderr_tail;
  }
  const std::string slurm_job = outcome.slurm_job.empty() ? slurm_job_from_environment() : outcome.slurm_job;
  if (!slurm_job.empty()) summary["slurm_job"] = slurm_job;
  return summary.dump(2) + "\n";
}

std::string sweep_json(const ResolvedSweep& sweep, const RunContext& context) {
  const auto& spec = sweep.spec;
  json axes = json::array();
  for (const auto& axis : spec.axes) {
    json values = json::array();
    for (const auto& value : axis.values) values.push_back(to_json(value));
    axes.push_back({{"key", axis.key}, {"values", values}});
  }
  json trials = json::array();
  const auto keys = swept_keys(spec);
  for (const auto& trial : sweep.trials) {
    json swept = json::object();
    for (const auto& key : keys) swept[key] = to_json(trial.config.get(key));
    trials.push_back({{"id", trial.id}, {"hash", trial.hash.hex()}, {"swept", swept}});
  }
  json out = {{"name", spec.name},
              {"file", spec.file},
              {"extends", json(std::vector<std::string>(spec.extends_chain.begin() + 1, spec.extends_chain.end()))},
              {"base", config_json(spec.base)},
              {"axes", axes},
              {"seeds", spec.seeds},
              {"trials", trials},
              {"context",
               {{"sweeplab_version", context.sweeplab_version},
                {"git_commit", context.git_commit},
                {"libtorch_version", context.torch_version},
                {"host", context.host},
                {"started_at", context.started_at},
                {"device", spec.base.training.device},
                {"engine_version", context.engine_version},
                {"engine", context.engine},
                {"threads_per_trial", context.threads_per_trial}}}};
  if (spec.prune == Prune::BelowDivergence) {
    out["prune"] = json::object({{to_string(spec.prune), spec.prune_keep}});  // as YAML writes it: {below_divergence: 3}
  } else if (spec.prune != Prune::None) {
    out["prune"] = to_string(spec.prune);
  }
  return out.dump(2) + "\n";
}

MetricsFile::MetricsFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw StorageError("cannot write " + path + ": " + std::strerror(errno));
}

MetricsFile::~MetricsFile() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsFile::append(const EvalRecord& record) {
  const std::string line = record_json(record) + "\n";
  const off_t before = ::lseek(fd_, 0, SEEK_END);
  std::size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = n < 0 ? errno : ENOSPC;
      if (before >= 0) (void)!::ftruncate(fd_, before);  // no torn line stays behind
      throw StorageError("cannot append to " + path_ + ": " + std::strerror(saved));
    }
    written += std::size_t(n);
  }
}

}  // namespace sweeplab
