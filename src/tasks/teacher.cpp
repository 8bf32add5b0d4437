// Placeholder until the tasks land (issue 11): every entry point says it is not there yet.
#include "sweeplab/core/error.hpp"
#include "tasks.hpp"

namespace sweeplab {

struct TeacherStream::Teacher {};

TaskData make_algorithmic_task(const TaskConfig&) { throw InternalError("algorithmic tasks: not built yet"); }
TaskData make_teacher_task(const TaskConfig&) { throw InternalError("teacher tasks: not built yet"); }
TaskData read_npz_task(const TaskConfig&) { throw InternalError("npz tasks: not built yet"); }
TeacherStream::TeacherStream(const TaskConfig&) : teacher_(nullptr) { throw InternalError("teacher stream: not built yet"); }
TeacherStream::~TeacherStream() { delete teacher_; }
std::int64_t TeacherStream::inputs() const { return inputs_; }
void TeacherStream::rows(std::int64_t, std::int64_t, float*, float*) const {}

}  // namespace sweeplab
