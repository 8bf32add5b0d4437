#pragma once
// What of training needs LibTorch, behind one interface, so that a trainer whose trials need none of it never
// loads LibTorch (half a second or more per process). libsweeplab_torch.so implements it; torch_plugin() loads it
// with dlopen, and LibTorch with it, the first time a trial needs one of these:
// - the batched-tensor backend (training.device cuda; cpu in tests), and whether CUDA can train here;
// - the reinforcement learners (DQN, the actor-critic), whose networks are nn.Sequential trained with torch::optim;
// - the synthetic task: its labels come from LibTorch's float64 products (its BLAS) and argmax;
// - the initial weights of sp and mup: normal_ on float32 weights of 16 or more values takes LibTorch's vectorised
//   path, which on AVX2 CPUs computes log, sin and cos with its own float approximations (and elsewhere with libm's):
//   which bits come out depends on the CPU LibTorch dispatches for;
// - checkpoints of formats 1 and 2 (LibTorch archives).
// Everything else (the lean CPU backend, the other tasks, standard initialisation, format-3 checkpoints) is plain
// C++ and gives the same bytes as it did through LibTorch.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "group_math.hpp"
#include "sweeplab/config/config.hpp"
#include "sweeplab/engine/trainer.hpp"
#include "sweeplab/tasks/tasks.hpp"

namespace sweeplab {

class TorchPlugin {
 public:
  virtual ~TorchPlugin() = default;
  // make_batched_math (group_math.hpp).
  virtual std::unique_ptr<GroupMath> batched_math(const MlpShape& shape, const GroupData& data, int slots,
                                                  const std::string& device) = 0;
  // "" when training.device cuda can train here, else why not (one line).
  virtual std::string cuda_problem() = 0;
  // Before CUDA's first use: deterministic algorithms (the same command gives the same numbers on a GPU).
  virtual void prepare_cuda() = 0;
  // LibTorch's intra-op threads.
  virtual void set_threads(int threads) = 0;
  // The trials of a reinforcement task, each with its rl.algorithm (dqn_trainer.hpp, actor_critic_trainer.hpp).
  virtual std::vector<TrialOutcome> train_reinforcement_group(const std::vector<GroupMember>& members) = 0;
  // The synthetic task, split (dataset.hpp's make_task_data).
  virtual TaskData synthetic_task(const TaskConfig& task) = 0;
  // The initial parameters of sp and mup (setup.hpp's initial_parameters).
  virtual std::vector<float> scaled_initial_parameters(const ModelConfig& model, const MlpShape& shape,
                                                       std::int64_t seed) = 0;
  // A checkpoint of format 1 or 2 (checkpoint.hpp's read_checkpoint).
  virtual CheckpointData read_torch_checkpoint(const std::string& path) = 0;
};

// The plugin, loaded on the first call: $SWEEPLAB_TORCH_PLUGIN when set, else libsweeplab_torch.so beside the
// running program, else the one in the build tree. Throws InternalError (naming the file and dlerror's reason) when
// none loads. Thread-safe.
TorchPlugin& torch_plugin();

// Whether the plugin (and LibTorch) is loaded in this process.
bool torch_plugin_loaded();

// LibTorch's intra-op threads: set now when the plugin is loaded, else remembered for when it loads.
void set_torch_threads(int threads);

// The name of the function the plugin exports: TorchPlugin* sweeplab_torch_plugin() (one object for the process).
constexpr const char* kTorchPluginEntry = "sweeplab_torch_plugin";

}  // namespace sweeplab
