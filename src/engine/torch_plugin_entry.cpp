// libsweeplab_torch.so: the LibTorch side of training (torch_plugin.hpp), which the engine loads when a trial
// needs it. The only symbol it exports is kTorchPluginEntry; the engine's code it links is its own copy.
#include <torch/torch.h>

#include <sstream>
#include <stdexcept>

#include "actor_critic_trainer.hpp"
#include "checkpoint.hpp"
#include "dqn_trainer.hpp"
#include "model.hpp"
#include "tensor_dataset.hpp"
#include "torch_plugin.hpp"

namespace sweeplab {
namespace {

std::vector<float> floats_of(const torch::Tensor& tensor) {
  if (tensor.scalar_type() != torch::kFloat32 || tensor.dim() != 1) throw std::runtime_error("a tensor of the wrong kind");
  const auto values = tensor.contiguous();
  return std::vector<float>(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
}

// Formats 1 and 2: a LibTorch archive with "state" (the same text as format 3's), "parameters", "optimizer_state",
// "extra.<name>" (flat float tensors) and "digest" (format 2 written before it: "tensors_digest" in the state).
// Format 1: the state only.
CheckpointData read_archive(const std::string& path) {
  torch::serialize::InputArchive archive;
  archive.load_from(path);
  c10::IValue text;
  archive.read("state", text);
  const std::string& state_text = text.toStringRef();
  if (StateText::parse(state_text).get_int("format_version") != 2) {
    CheckpointData data;
    data.state = StateText::parse(state_text);
    return data;
  }
  torch::Tensor parameters, optimizer_state;
  archive.read("parameters", parameters);
  archive.read("optimizer_state", optimizer_state);
  std::vector<std::pair<std::string, std::vector<float>>> extra;
  const StateText state = StateText::parse(state_text);
  if (state.has("extra_tensors")) {
    std::istringstream names(state.get("extra_tensors"));
    for (std::string name; std::getline(names, name, ',');) {
      torch::Tensor values;
      archive.read("extra." + name, values);
      extra.emplace_back(name, floats_of(values));
    }
  }
  c10::IValue digest;
  std::string digest_text;
  const bool has_digest = archive.try_read("digest", digest);
  if (has_digest) {
    if (!digest.isString()) throw std::runtime_error("its digest is not a text (damaged)");
    digest_text = digest.toStringRef();
  }
  return checked_checkpoint(state_text, floats_of(parameters), floats_of(optimizer_state), std::move(extra),
                            has_digest ? &digest_text : nullptr);
}

class LibTorchPieces final : public TorchPlugin {
 public:
  std::unique_ptr<GroupMath> batched_math(const MlpShape& shape, const GroupData& data, int slots,
                                          const std::string& device) override {
    return make_batched_math(shape, data, slots, device);
  }
  std::string cuda_problem() override {
    if (!torch::cuda::is_available()) {
      return "training.device: cuda, but this LibTorch build has no CUDA (or no GPU is visible); use cpu";
    }
    return "";
  }
  void prepare_cuda() override { at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false); }
  void set_threads(int threads) override {
    if (torch::get_num_threads() != threads) torch::set_num_threads(threads);
  }
  // One trial at a time (RL trials are never fused: fusion_key gives each its own group).
  std::vector<TrialOutcome> train_reinforcement_group(const std::vector<GroupMember>& members) override {
    std::vector<TrialOutcome> outcomes;
    for (const auto& member : members) {
      const bool actor_critic = member.config->rl.algorithm == "actor_critic";
      outcomes.push_back(actor_critic ? train_actor_critic_trial(member) : train_dqn_trial(member));
    }
    return outcomes;
  }
  TaskData synthetic_task(const TaskConfig& task) override { return synthetic_task_data(task); }
  std::vector<float> scaled_initial_parameters(const ModelConfig& model, const MlpShape& shape,
                                               std::int64_t seed) override {
    return sweeplab::scaled_initial_parameters(model, shape, seed);
  }
  CheckpointData read_torch_checkpoint(const std::string& path) override { return read_archive(path); }
};

}  // namespace
}  // namespace sweeplab

extern "C" __attribute__((visibility("default"))) sweeplab::TorchPlugin* sweeplab_torch_plugin() {
  static sweeplab::LibTorchPieces plugin;
  return &plugin;
}
