#include <cmath>

#include "sweeplab/core/error.hpp"
#include "sweeplab/tasks/csv.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {

void check_task_inputs(const Config& config) {
  if (config.task.name == "npz") return check_npz_task(config.task);  // headers and labels, not the inputs
  if (config.task.name == "idx") return check_idx_task(config.task);  // every byte: a damaged download shows only there
  if (config.task.name != "csv") return;  // generated tasks cannot fail once the config is valid
  const auto rows = std::int64_t(read_csv(config.task.path, config.task.label_column).rows());
  if (rows - std::llround(double(rows) * config.task.test_fraction) < 1) {
    throw UserError(config.task.path + ": " + std::to_string(rows) + " rows leave no training rows after the test split");
  }
}

}  // namespace sweeplab
