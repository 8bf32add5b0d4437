// The Intro-to-RL notebook's one-step actor-critic. The actor is the product's MLP (1 input, 2 outputs: the logits
// of a softmax policy), the critic another (1 input, 1 output: V(s)), both of model.* and drawn from
// training.seed, the actor first. After every environment step (s, a, r, s', done):
//   td_target = r + gamma V(s') (V(s') taken as 0 when the episode ended, the step limit included, as the notebook does)
//   critic_loss = (V(s) - td_target)^2, the target detached;
//   actor_loss = -log pi(a | s) (td_target - V(s)), the advantage detached;
// both backward, then one step of each optimizer: the config's optimizer, the actor at optimizer.lr, the critic at
// rl.critic_lr (each under lr_schedule). The action is drawn from pi(. | s) with the trial's own generator (not
// LibTorch's), so that a checkpoint holds it. train_loss is the mean critic loss (the squared TD error).
//
// samples = transitions learned from: one per environment step (batch size 1).
#include "actor_critic_trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "model.hpp"
#include "rl_trial.hpp"
#include "sweeplab/training/schedule.hpp"

namespace sweeplab {
namespace {

// The policy's generator, apart from the networks' (training.seed).
constexpr std::uint64_t kPolicySalt = 0xac7a11c2b1d5e0f3ULL;

class ActorCriticTrial final : public RlTrial {
 public:
  explicit ActorCriticTrial(const GroupMember& member)
      : RlTrial(member, "actor_critic", "actor-critic", 1), policy_(0) {
    critic_optimizer_config_ = config_.optimizer;
    critic_optimizer_config_.lr = config_.rl.critic_lr;
  }

 private:
  void start_learner(std::uint64_t seed) override {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    actor_ = make_model(config_.model, 1, rl::DoubleGoalEnv::kActions, gen);
    critic_ = make_model(config_.model, 1, 1, gen);
    actor_optimizer_ = make_optimizer(config_.optimizer, actor_->parameters());
    critic_optimizer_ = make_optimizer(critic_optimizer_config_, critic_->parameters());
    policy_ = rl::Generator(seed ^ kPolicySalt);
  }

  static torch::Tensor input(float observation) { return torch::full({1, 1}, observation, torch::kFloat32); }

  // Categorical(pi(. | s)).sample() by inversion: action 0 when u < pi(0 | s). The logits stay (with their graph)
  // for the update after the step.
  int act(float observation, std::int64_t) override {
    logits_ = actor_->forward(input(observation));
    const double p0 = double(torch::softmax(logits_.detach(), 1)[0][0].item<float>());
    return policy_.uniform() < p0 ? 0 : 1;
  }

  std::optional<double> prepare_update(const rl::Transition& transition, std::int64_t step, double lr) override {
    set_learning_rate(*actor_optimizer_, lr);
    set_learning_rate(*critic_optimizer_,
                      learning_rate(critic_optimizer_config_, config_.lr_schedule, step, config_.training.steps));
    const auto value = critic_->forward(input(transition.state));  // V(s), [1, 1]
    torch::Tensor next_value;
    if (transition.done) {
      next_value = torch::zeros({1, 1}, torch::kFloat32);
    } else {
      torch::NoGradGuard no_grad;
      next_value = critic_->forward(input(transition.next_state));
    }
    const auto td_target = (transition.reward + config_.rl.discount * next_value).detach();
    const auto advantage = (td_target - value).detach();
    critic_loss_ = torch::mse_loss(value, td_target);
    const auto log_prob = torch::log_softmax(logits_, 1)[0][transition.action];
    actor_loss_ = -(log_prob * advantage).sum();
    const double actor = double(actor_loss_.item<float>()), critic = double(critic_loss_.item<float>());
    return std::isfinite(actor) ? critic : std::numeric_limits<double>::quiet_NaN();
  }

  void apply_update() override {
    actor_optimizer_->zero_grad();
    critic_optimizer_->zero_grad();
    actor_loss_.backward();
    critic_loss_.backward();
    actor_optimizer_->step();
    critic_optimizer_->step();
  }

  // The greedy policy: the most probable action (a tie: action 0, as torch.argmax).
  std::vector<int> greedy_actions(const std::vector<double>& positions) override {
    auto inputs = torch::empty({std::int64_t(positions.size()), 1}, torch::kFloat32);
    for (std::size_t i = 0; i < positions.size(); ++i) inputs.data_ptr<float>()[i] = float(positions[i]);
    std::vector<int> table(positions.size());
    torch::NoGradGuard no_grad;
    const auto actions = actor_->forward(inputs).argmax(1).contiguous();
    for (std::size_t i = 0; i < table.size(); ++i) table[i] = int(actions.data_ptr<std::int64_t>()[i]);
    return table;
  }

  void save_learner(CheckpointData& checkpoint) override {
    StateText& state = checkpoint.state;
    state.put("policy_generator", policy_.state());
    checkpoint.parameters = flatten_parameters(actor_);
    checkpoint.optimizer_state = optimizer_floats(*actor_optimizer_, config_.optimizer, actor_->parameters(), state,
                                                  "optimizer");
    checkpoint.extra.emplace_back("critic_parameters", flatten_parameters(critic_));
    checkpoint.extra.emplace_back("critic_optimizer_state",
                                  optimizer_floats(*critic_optimizer_, critic_optimizer_config_,
                                                   critic_->parameters(), state, "critic_optimizer"));
  }

  void restore_learner(const CheckpointData& checkpoint) override {
    const StateText& state = checkpoint.state;
    unflatten_parameters(checkpoint.parameters, actor_);
    restore_optimizer(*actor_optimizer_, config_.optimizer, actor_->parameters(), state, "optimizer",
                      checkpoint.optimizer_state);
    unflatten_parameters(extra_floats(checkpoint, "critic_parameters", "the critic"), critic_);
    restore_optimizer(*critic_optimizer_, critic_optimizer_config_, critic_->parameters(), state, "critic_optimizer",
                      extra_floats(checkpoint, "critic_optimizer_state", "the critic's optimizer state"));
    policy_.set_state(state.get("policy_generator"));
  }

  // The actor's parameters, then the critic's.
  std::vector<float> final_parameters() override {
    std::vector<float> parameters = flatten_parameters(actor_);
    const std::vector<float> critic = flatten_parameters(critic_);
    parameters.insert(parameters.end(), critic.begin(), critic.end());
    return parameters;
  }

  OptimizerConfig critic_optimizer_config_;  // the config's optimizer at rl.critic_lr
  torch::nn::Sequential actor_{nullptr}, critic_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> actor_optimizer_, critic_optimizer_;
  rl::Generator policy_;
  torch::Tensor logits_, actor_loss_, critic_loss_;  // from act to apply_update
};

}  // namespace

TrialOutcome train_actor_critic_trial(const GroupMember& member) { return ActorCriticTrial(member).run(); }

}  // namespace sweeplab
