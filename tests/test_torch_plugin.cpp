// The LibTorch plugin (src/engine/torch_plugin.hpp): trials that need no LibTorch train without loading it, the
// ones that do load it on demand, the trainer program does not link it, and a plugin that cannot load is one
// clear error. This program links the engine without LibTorch; CTest runs each test in a process of its own.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/dataset.hpp"
#include "engine/setup.hpp"
#include "engine/torch_plugin.hpp"
#include "sweeplab/config/config.hpp"
#include "sweeplab/core/error.hpp"
#include "sweeplab/engine/trainer.hpp"

namespace sweeplab {
namespace {

// Whether a file whose name has `name` in it is mapped into this process.
bool mapped(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find(name) != std::string::npos) return true;
  }
  return false;
}

class CountingSink : public TrialSink {
 public:
  void on_eval(const EvalRecord& record) override { last_loss = record.train_loss, ++evaluations; }
  int evaluations = 0;
  double last_loss = 0.0;
};

// These tests look at what a fresh process has loaded; run together in one process, the later ones cannot.
#define SKIP_UNLESS_FRESH_PROCESS() \
  if (torch_plugin_loaded()) GTEST_SKIP() << "LibTorch is loaded already: run each test alone (CTest does)"

Config doughnut_config() {
  Config config;
  config.task.name = "doughnuts";
  config.task.samples = 200;
  config.training.batch_size = 16;
  config.training.epochs = 2;
  return config;
}

TEST(TorchPlugin, ADoughnutTrialTrainsWithoutLoadingLibTorch) {
  SKIP_UNLESS_FRESH_PROCESS();
  ASSERT_FALSE(mapped("libtorch")) << "this test program links no LibTorch";
  CountingSink sink;
  const auto outcome = train_trial(doughnut_config(), sink);
  EXPECT_EQ(outcome.status, TrialStatus::Completed);
  EXPECT_EQ(sink.evaluations, 2);
  EXPECT_GT(sink.last_loss, 0.0);
  EXPECT_FALSE(torch_plugin_loaded());
  EXPECT_FALSE(mapped("libtorch_cpu")) << "a lean CPU trial loaded LibTorch";
}

TEST(TorchPlugin, TheSyntheticTaskAndMupInitialisationLoadItOnDemand) {
  SKIP_UNLESS_FRESH_PROCESS();
  ASSERT_FALSE(mapped("libtorch"));
  TaskConfig task;
  task.name = "synthetic";
  task.samples = 100;
  task.features = 5;
  task.classes = 3;
  const TaskData data = make_task_data(task);
  EXPECT_TRUE(torch_plugin_loaded());
  EXPECT_TRUE(mapped("libtorch_cpu"));
  // Loaded into the global scope, with what it links: on a GPU the engine sizes groups with the CUDA runtime's
  // cudaMemGetInfo, which it looks up there.
  EXPECT_NE(dlsym(RTLD_DEFAULT, kTorchPluginEntry), nullptr);
  EXPECT_EQ(data.inputs, 5);
  EXPECT_EQ(data.outputs, 3);
  EXPECT_EQ(data.n_train + data.n_test, 100);
  EXPECT_EQ(data.x_train.size(), std::size_t(data.n_train * 5));

  Config config;
  config.model.parameterization = "mup";
  config.model.hidden = {16};
  const MlpShape shape = shape_of(config, data);
  const auto initial = initial_parameters(config.model, shape, 3);
  ASSERT_EQ(std::int64_t(initial.size()), shape.parameter_count());
  EXPECT_NE(initial.front(), 0.0f);
  EXPECT_EQ(initial, initial_parameters(config.model, shape, 3));
  EXPECT_NE(initial, initial_parameters(config.model, shape, 4));
}

TEST(TorchPlugin, APluginThatDoesNotLoadIsOneClearError) {
  SKIP_UNLESS_FRESH_PROCESS();
  ::setenv("SWEEPLAB_TORCH_PLUGIN", "/nonexistent/libsweeplab_torch.so", 1);
  try {
    torch_plugin();
    FAIL() << "loaded a plugin that is not there";
  } catch (const InternalError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("/nonexistent/libsweeplab_torch.so: no such file"), std::string::npos) << what;
    EXPECT_NE(what.find("SWEEPLAB_TORCH_PLUGIN"), std::string::npos) << what;
  }
  EXPECT_FALSE(torch_plugin_loaded());
  const std::string problem = cuda_problem();
  EXPECT_EQ(problem.rfind("training.device: cuda, but", 0), 0u) << problem;
  // Trials that need no LibTorch still train.
  CountingSink sink;
  EXPECT_EQ(train_trial(doughnut_config(), sink).status, TrialStatus::Completed);
}

TEST(TorchPlugin, TheTrainerProgramDoesNotLinkLibTorch) {
  const auto trainer = std::filesystem::path(SWEEPLAB_BINARY).parent_path() / "sweeplab-trainer";
  ASSERT_TRUE(std::filesystem::exists(trainer)) << trainer;
  FILE* pipe = ::popen(("ldd '" + trainer.string() + "' 2>&1").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string libraries;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) libraries += buffer;
  ASSERT_EQ(::pclose(pipe), 0) << libraries;
  EXPECT_NE(libraries.find("libc.so"), std::string::npos) << libraries;
  EXPECT_EQ(libraries.find("libtorch"), std::string::npos) << libraries;
  EXPECT_EQ(libraries.find("libc10"), std::string::npos) << libraries;
}

}  // namespace
}  // namespace sweeplab
