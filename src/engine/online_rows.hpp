#pragma once
// Where the training rows of task.online trials come from (the group trainer draws them per segment). By default
// the task's TeacherStream (sweeplab/tasks/tasks.hpp); tests may put a stream of their own in its place, so the
// trainer's online bookkeeping can be checked on any task.
#include <cstdint>
#include <functional>
#include <memory>

#include "sweeplab/config/config.hpp"

namespace sweeplab {

class OnlineRows {
 public:
  virtual ~OnlineRows() = default;
  // Samples first .. first + count - 1 of the stream: x (count x inputs values), y (count x target width:
  // `outputs` values for regression, one label otherwise). Sample i must be a function of the task and i alone.
  virtual void rows(std::int64_t first, std::int64_t count, float* x, float* y) const = 0;
};

// Tests only: the streams of task.online trials come from `factory` (an empty one: back to TeacherStream).
using OnlineRowsFactory = std::function<std::unique_ptr<OnlineRows>(const TaskConfig&)>;
void set_online_rows_for_tests(OnlineRowsFactory factory);

}  // namespace sweeplab
