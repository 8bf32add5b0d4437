#include "dataset.hpp"

#include "sweeplab/core/error.hpp"
#include "torch_plugin.hpp"

namespace sweeplab {
namespace {

// task.binary_loss cross_entropy (the sanity checks): a two-class task trains two logits with cross-entropy, like
// PyTorch's Linear(..., 2) + CrossEntropyLoss.
TaskData two_logits(const TaskConfig& task, TaskData data) {
  if (task.binary_loss != "cross_entropy" || data.loss != LossKind::Binary) return data;
  data.loss = LossKind::Multiclass;
  data.outputs = 2;
  return data;
}

}  // namespace

TaskData make_task_data(const TaskConfig& task) {
  if (is_algorithmic_task(task.name)) return make_algorithmic_task(task);
  if (task.name == "teacher") return make_teacher_task(task);
  if (task.name == "npz") return two_logits(task, read_npz_task(task));
  if (task.name == "idx") return read_idx_task(task);
  if (task.name == "doughnuts" || task.name == "sine2" || task.name == "csv") {
    return two_logits(task, make_generated_task(task));
  }
  if (task.name == "synthetic") return two_logits(task, torch_plugin().synthetic_task(task));
  throw InternalError("make_task_data: unknown task " + task.name);
}

TaskData dataset_shape(std::int64_t inputs, std::int64_t outputs, LossKind loss, std::int64_t vocabulary) {
  TaskData data;
  data.inputs = inputs;
  data.outputs = outputs;
  data.loss = loss;
  data.vocabulary = vocabulary;
  return data;
}

}  // namespace sweeplab
