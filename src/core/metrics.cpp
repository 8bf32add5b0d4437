#include "sweeplab/core/metrics.hpp"

namespace sweeplab {

std::optional<double> metric_value(const EvalRecord& record, const std::string& metric) {
  if (record.diverged) return std::nullopt;
  if (metric == "train_loss") return record.train_loss;
  if (metric == "test_loss" || metric == "val_loss") return record.test_loss;  // val_*: seed 003's name for it
  if (metric == "train_acc") return record.train_acc;
  if (metric == "test_acc" || metric == "val_acc") return record.test_acc;
  return std::nullopt;
}

std::string to_string(TrialStatus status) {
  switch (status) {
    case TrialStatus::Completed: return "completed";
    case TrialStatus::Diverged: return "diverged";
    case TrialStatus::Failed: return "failed";
    case TrialStatus::Interrupted: return "interrupted";
    case TrialStatus::Skipped: return "skipped";
  }
  return "?";
}

}  // namespace sweeplab
