// DQN (the Intro-to-RL notebook): the Q-network is the product's MLP (1 input, 2 outputs), trained with torch::optim from the
// config's optimizer on minibatches of training.batch_size transitions replayed from the buffer, against a
// target network synced every rl.target_update_every environment steps (or Polyak-averaged with rl.tau).
// The loop, evaluations and checkpoints are rl_trial.cpp's; the environment, replay buffer, exploration
// schedule and episode log are plain C++ (src/rl).
//
// samples = transitions replayed (training.batch_size per update; updates start once the buffer holds one batch).
#include "dqn_trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "model.hpp"
#include "rl_trial.hpp"

namespace sweeplab {
namespace {

// The generators of a trial: the exploration's and the replay buffer's, apart from the model's (training.seed).
constexpr std::uint64_t kExplorationSalt = 0xe4b1a7e5c0ffee01ULL, kReplaySalt = 0x7e91a4b5eedf00d5ULL;

class DqnTrial final : public RlTrial {
 public:
  explicit DqnTrial(const GroupMember& member)
      : RlTrial(member, "dqn", "DQN", member.config->training.batch_size),
        replay_(config_.rl.replay_capacity, 0),
        explore_(0) {}

 private:
  void start_learner(std::uint64_t seed) override {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    q_ = make_model(config_.model, 1, rl::DoubleGoalEnv::kActions, gen);
    target_ = make_model(config_.model, 1, rl::DoubleGoalEnv::kActions, gen);
    sync_target();
    optimizer_ = make_optimizer(config_.optimizer, q_->parameters());
    replay_ = rl::ReplayBuffer(config_.rl.replay_capacity, seed ^ kReplaySalt);
    explore_ = rl::Generator(seed ^ kExplorationSalt);
  }

  // The target network becomes a copy of the Q-network.
  void sync_target() {
    torch::NoGradGuard no_grad;
    const auto from = q_->parameters(), to = target_->parameters();
    for (std::size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
  }

  void polyak_target(double tau) {
    torch::NoGradGuard no_grad;
    const auto from = q_->parameters(), to = target_->parameters();
    for (std::size_t i = 0; i < from.size(); ++i) to[i].mul_(1.0 - tau).add_(from[i], tau);
  }

  int greedy_action(float observation) {
    torch::NoGradGuard no_grad;
    const auto q = q_->forward(torch::full({1, 1}, observation, torch::kFloat32));
    return int(q.argmax(1).item<std::int64_t>());  // a tie: action 0, as torch.argmax
  }

  // Epsilon-greedy.
  int act(float observation, std::int64_t step) override {
    const double epsilon = rl::epsilon_at(config_.rl, step);
    return explore_.uniform() < epsilon ? int(explore_.below(rl::DoubleGoalEnv::kActions)) : greedy_action(observation);
  }

  // The TD loss of a minibatch: (Q(s, a) - (r + gamma (1 - done) max_a' Q_target(s', a')))^2, mean (or Huber).
  torch::Tensor td_loss(const std::vector<rl::Transition>& batch) {
    const auto b = std::int64_t(batch.size());
    auto states = torch::empty({b, 1}, torch::kFloat32), next_states = torch::empty({b, 1}, torch::kFloat32);
    auto rewards = torch::empty({b}, torch::kFloat32), not_done = torch::empty({b}, torch::kFloat32);
    auto actions = torch::empty({b, 1}, torch::kInt64);
    for (std::int64_t i = 0; i < b; ++i) {
      const rl::Transition& t = batch[std::size_t(i)];
      states.data_ptr<float>()[i] = t.state;
      next_states.data_ptr<float>()[i] = t.next_state;
      rewards.data_ptr<float>()[i] = t.reward;
      not_done.data_ptr<float>()[i] = t.done ? 0.0f : 1.0f;
      actions.data_ptr<std::int64_t>()[i] = t.action;
    }
    const auto q = q_->forward(states).gather(1, actions).squeeze(1);
    torch::Tensor target;
    {
      torch::NoGradGuard no_grad;
      const auto next_q = std::get<0>(target_->forward(next_states).max(1));
      target = rewards + config_.rl.discount * not_done * next_q;
    }
    if (config_.rl.loss == "huber") return torch::huber_loss(q, target, at::Reduction::Mean, 1.0);
    return torch::mse_loss(q, target);
  }

  // The transition goes into the buffer; once it holds a batch, every step replays one.
  std::optional<double> prepare_update(const rl::Transition& transition, std::int64_t, double lr) override {
    replay_.push(transition);
    if (replay_.size() < config_.training.batch_size) return std::nullopt;
    set_learning_rate(*optimizer_, lr);
    loss_ = td_loss(replay_.sample(config_.training.batch_size));
    return double(loss_.item<float>());
  }

  void apply_update() override {
    optimizer_->zero_grad();
    loss_.backward();
    optimizer_->step();
    if (config_.rl.tau > 0.0) polyak_target(config_.rl.tau);
  }

  void after_step(std::int64_t step) override {
    if (config_.rl.tau == 0.0 && step % config_.rl.target_update_every == 0) sync_target();
  }

  std::vector<int> greedy_actions(const std::vector<double>& positions) override {
    auto inputs = torch::empty({std::int64_t(positions.size()), 1}, torch::kFloat32);
    for (std::size_t i = 0; i < positions.size(); ++i) inputs.data_ptr<float>()[i] = float(positions[i]);
    std::vector<int> table(positions.size());
    torch::NoGradGuard no_grad;
    const auto actions = q_->forward(inputs).argmax(1).contiguous();  // a tie: action 0, as torch.argmax
    for (std::size_t i = 0; i < table.size(); ++i) table[i] = int(actions.data_ptr<std::int64_t>()[i]);
    return table;
  }

  void describe(EvalRecord& record) const override { record.epsilon = rl::epsilon_at(config_.rl, record.step - 1); }

  void save_learner(CheckpointData& checkpoint) override {
    checkpoint.state.put("exploration_generator", explore_.state());
    checkpoint.state.put("replay_generator", replay_.generator_state());
    checkpoint.parameters = flatten_parameters(q_);
    checkpoint.optimizer_state =
        optimizer_floats(*optimizer_, config_.optimizer, q_->parameters(), checkpoint.state, "optimizer");
    checkpoint.extra.emplace_back("target_parameters", flatten_parameters(target_));
    checkpoint.extra.emplace_back("replay", replay_.contents());
  }

  void restore_learner(const CheckpointData& checkpoint) override {
    const StateText& state = checkpoint.state;
    const auto& target = extra_floats(checkpoint, "target_parameters", "the target network");
    const auto& replay = extra_floats(checkpoint, "replay", "the replay buffer");
    unflatten_parameters(checkpoint.parameters, q_);
    unflatten_parameters(target, target_);
    restore_optimizer(*optimizer_, config_.optimizer, q_->parameters(), state, "optimizer", checkpoint.optimizer_state);
    replay_.restore(replay, state.get("replay_generator"));
    explore_.set_state(state.get("exploration_generator"));
  }

  std::vector<float> final_parameters() override { return flatten_parameters(q_); }

  torch::nn::Sequential q_{nullptr}, target_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  rl::ReplayBuffer replay_;
  rl::Generator explore_;
  torch::Tensor loss_;  // between prepare_update and apply_update
};

}  // namespace

TrialOutcome train_dqn_trial(const GroupMember& member) { return DqnTrial(member).run(); }

}  // namespace sweeplab
