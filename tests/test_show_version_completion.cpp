// The command line's details: show prints the keys that apply (--all: every key) and says what -o changed,
// --version says what sweeplab runs on, completion scripts for bash and zsh, and a progress display that fits the
// terminal.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sweeplab/config/applies.hpp"
#include "sweeplab/config/emit.hpp"
#include "sweeplab/config/loader.hpp"
#include "sweeplab/config/schema.hpp"
#include "sweeplab/sched/progress.hpp"
#include "test_util.hpp"

namespace sweeplab {
namespace {

using testing::TempDir;

const std::string kRepoConfigs = std::string(SWEEPLAB_SOURCE_DIR) + "/configs";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text)) {
    if (l == line) return true;
  }
  return false;
}

std::vector<std::string> trial_ids(const ResolvedSweep& sweep) {
  std::vector<std::string> ids;
  for (const auto& trial : sweep.trials) ids.push_back(trial.id);
  return ids;
}

// `show NAME args...` in `dir`; its output saved as configs/copy.yaml must load back to the same trial ids.
std::string show_and_reload(const TempDir& dir, const std::string& name, const std::vector<std::string>& args) {
  std::vector<std::string> command = {"show", name};
  command.insert(command.end(), args.begin(), args.end());
  const auto result = testing::run_in(dir, command);
  EXPECT_EQ(result.code, 0) << result.err;
  std::vector<std::string> overrides;
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "-o") overrides.push_back(args[i + 1]);
  }
  const auto original = load_sweep(dir.str("configs"), name, overrides);
  dir.write("configs/copy.yaml", result.out);
  const auto reloaded = load_sweep(dir.str("configs"), "copy");
  EXPECT_EQ(trial_ids(reloaded), trial_ids(original)) << result.out;
  EXPECT_FALSE(original.trials.empty());
  return result.out;
}

// ---- show: the keys that apply -------------------------------------------------------------------

TEST(Show, LeavesOutTheKeysTheTaskAndOptimizerDoNotUseAndLoadsBackToTheSameTrials) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 100}\noptimizer: {name: sgd, momentum: 0.9}\n"
                              "sweep: {grid: {training.batch_size: [4, 8]}}\n");
  const std::string out = show_and_reload(dir, "s", {});
  EXPECT_NE(out.find("  momentum: 0.9\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  radii: [10.0, 15.0]\n"), std::string::npos) << out;  // doughnuts uses it
  for (const std::string absent : {"  betas:", "  eps:", "  modulus:", "  train_fraction:", "  teacher", "  inputs_key:",
                                   "  labels_key:", "  label_column:", "  path:", "  x_range:", "\nbatch_schedule:",
                                   "  final_lr_factor:", "  step_size:", "  init_std:"}) {
    EXPECT_EQ(out.find(absent), std::string::npos) << absent << " in\n" << out;
  }
  EXPECT_NE(out.find("--all prints every key"), std::string::npos) << out;

  const auto all = testing::run_in(dir, {"show", "s", "--all"});
  ASSERT_EQ(all.code, 0) << all.err;
  for (const auto& field : schema()) {
    const bool top_level = field.key.find('.') == std::string::npos;
    EXPECT_NE(all.out.find((top_level ? "\n" : "\n  ") + field.leaf() + ": "), std::string::npos) << field.key;
  }
  dir.write("configs/copy.yaml", all.out);
  EXPECT_EQ(trial_ids(load_sweep(dir.str("configs"), "copy")), trial_ids(load_sweep(dir.str("configs"), "s")));
}

TEST(Show, AdamShowsBetasAndNotMomentumAndTheOverridesInTheHeaderAndDescription) {
  TempDir dir;
  dir.write("configs/s.yaml", "description: a small sweep\ntask: {samples: 100}\n");
  const std::string out =
      show_and_reload(dir, "s", {"-o", "optimizer.name=adam", "-o", "epochs=3", "-o", "lr=0.1,0.01"});
  EXPECT_NE(out.find("  betas: [0.9, 0.999]\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  eps: 1e-8\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("  momentum:"), std::string::npos) << out;
  EXPECT_EQ(out.find("  nesterov:"), std::string::npos) << out;
  EXPECT_TRUE(has_line(out, "# overrides applied (-o): training.epochs=3, optimizer.name=adam, optimizer.lr=[0.1, 0.01]"))
      << out;
  EXPECT_NE(out.find("description: a small sweep (with -o training.epochs=3, optimizer.name=adam, optimizer.lr=[0.1, "
                     "0.01])\n"),
            std::string::npos)
      << out;
  // Without -o: neither.
  const auto plain = testing::run_in(dir, {"show", "s"});
  EXPECT_EQ(plain.out.find("overrides"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("description: a small sweep\n"), std::string::npos) << plain.out;
}

TEST(Show, AKeySetAwayFromItsDefaultStaysMarkedUnusedBecauseItIsInTheTrialIds) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 100}\noptimizer: {name: adam, momentum: 0.5}\n");
  const std::string out = show_and_reload(dir, "s", {});
  EXPECT_NE(out.find("  momentum: 0.5  # not used by these trials\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("nesterov:"), std::string::npos) << out;
}

TEST(Show, AxesOverTheDecidingKeysShowWhatAnyTrialUses) {
  TempDir dir;
  dir.write("configs/s.yaml", "task: {samples: 100}\nsweep: {grid: {optimizer.name: [sgd, adamw]}}\n");
  std::string out = show_and_reload(dir, "s", {});
  EXPECT_NE(out.find("momentum:"), std::string::npos) << out;
  EXPECT_NE(out.find("betas:"), std::string::npos) << out;

  dir.write("configs/t.yaml", "training: {steps: 20}\ntask: {name: teacher, samples: 200}\n"
                              "sweep: {grid: {task.teacher: [poly, mlp]}}\n");
  out = show_and_reload(dir, "t", {});
  for (const std::string present : {"degree:", "teacher_hidden:", "teacher_gamma:", "features:", "online:"}) {
    EXPECT_NE(out.find(present), std::string::npos) << present << " not in\n" << out;
  }
  for (const std::string absent : {"  alpha:", "  label_noise:", "  radii:", "  binary_loss:", "  epochs:"}) {
    EXPECT_EQ(out.find(absent), std::string::npos) << absent << " in\n" << out;
  }
}

TEST(Show, EveryRepoSweepLoadsBackFromItsShortOutput) {
  TempDir dir;
  for (const auto& entry : std::filesystem::directory_iterator(kRepoConfigs)) {
    std::filesystem::copy(entry.path(), dir.path() / "configs" / entry.path().filename(),
                          (std::filesystem::create_directories(dir.path() / "configs"),
                           std::filesystem::copy_options::overwrite_existing));
  }
  for (const auto& entry : std::filesystem::directory_iterator(kRepoConfigs)) {
    const std::string name = entry.path().stem().string();
    SCOPED_TRACE(name);
    show_and_reload(dir, name, {});
  }
}

// The rules name real keys, and a default config (doughnuts, sgd, constant schedules, standard MLP) leaves out
// exactly these.
TEST(KeyApplies, ADefaultConfigUsesAllButTheseKeys) {
  std::vector<std::string> unused;
  for (const auto& field : schema()) {
    if (!key_applies(field.key, Config{})) unused.push_back(field.key);
  }
  const std::vector<std::string> expected = {
      "optimizer.betas", "optimizer.eps", "optimizer.scale_lr_by_gamma", "lr_schedule.step_size", "lr_schedule.gamma",
      "lr_schedule.final_lr_factor",
      "batch_schedule.name", "batch_schedule.initial_batch_size", "batch_schedule.final_batch_size",
      "batch_schedule.ramp_steps", "batch_schedule.at_steps", "batch_schedule.sizes", "model.gamma", "model.init_std",
      "model.centered", "task.x_range", "task.features", "task.classes", "task.path", "task.label_column",
      "task.inputs_key", "task.labels_key", "task.modulus", "task.train_fraction", "task.teacher", "task.teacher_seed",
      "task.degree", "task.teacher_hidden", "task.teacher_activation", "task.teacher_parameterization",
      "task.teacher_gamma", "task.alpha", "task.beta", "task.label_noise", "task.online",
      // idx only
      "task.train_images", "task.train_labels", "task.test_images", "task.test_labels", "task.subset", "task.pixels",
      "task.class_loss", "stop.on_target",
      // doublegoal only
      "rl.algorithm", "rl.discount", "rl.replay_capacity", "rl.epsilon_start", "rl.epsilon_end", "rl.epsilon_decay",
      "rl.target_update_every", "rl.tau", "rl.loss", "rl.return_window", "rl.critic_lr"};
  EXPECT_EQ(unused, expected);

  Config grokking;
  grokking.task.name = "permutation";
  EXPECT_TRUE(key_applies("task.train_fraction", grokking));
  EXPECT_FALSE(key_applies("task.modulus", grokking));  // S5 has no p
  EXPECT_FALSE(key_applies("task.samples", grokking));
  grokking.task.name = "x_div_y";
  EXPECT_TRUE(key_applies("task.modulus", grokking));
  Config files;
  files.task.name = "csv";
  EXPECT_TRUE(key_applies("task.label_column", files));
  EXPECT_FALSE(key_applies("task.inputs_key", files));
  files.task.name = "npz";
  EXPECT_TRUE(key_applies("task.inputs_key", files));
  EXPECT_FALSE(key_applies("task.label_column", files));
  files.task.name = "idx";  // its test set is its own file: no test_fraction, no samples
  for (const char* key : {"task.train_images", "task.test_labels", "task.subset", "task.pixels", "task.class_loss"}) {
    EXPECT_TRUE(key_applies(key, files)) << key;
  }
  EXPECT_FALSE(key_applies("task.test_fraction", files));
  EXPECT_FALSE(key_applies("task.samples", files));
  EXPECT_FALSE(key_applies("task.binary_loss", files));
  Config mup;
  mup.model.parameterization = "mup";
  EXPECT_TRUE(key_applies("optimizer.scale_lr_by_gamma", mup));
  Config ramp;
  ramp.batch_schedule.name = "geometric";
  EXPECT_TRUE(key_applies("batch_schedule.ramp_steps", ramp));
  EXPECT_FALSE(key_applies("batch_schedule.sizes", ramp));
  Config budget;
  budget.training.steps = 100;
  EXPECT_FALSE(key_applies("training.epochs", budget));
}

TEST(Show, AllPrintsTheConfigAsTheTrialFilesDo) {
  const auto sweep = load_sweep(kRepoConfigs, "quickstart");
  EXPECT_EQ(to_yaml(sweep.spec.base), to_yaml([&] {
              SweepSpec only_base;
              only_base.base = sweep.spec.base;
              return only_base;
            }(), Keys::All));
  EXPECT_LT(to_yaml(sweep.spec).size(), to_yaml(sweep.spec, Keys::All).size());
}

// ---- --version -------------------------------------------------------------------------------------

// Sets an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Version, NamesVersionCommitLibTorchCudaAndBlas) {
  TempDir dir;
  const auto result = testing::run_in(dir, {"--version"});
  ASSERT_EQ(result.code, 0) << result.err;
  const auto lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 4u) << result.out;
  EXPECT_EQ(lines[0].rfind("sweeplab " SWEEPLAB_VERSION_FOR_TESTS " (git ", 0), 0u) << result.out;
  const std::string commit = lines[0].substr(lines[0].find("(git ") + 5, lines[0].size() - lines[0].find("(git ") - 6);
  EXPECT_TRUE(commit == "unknown" || (commit.size() == 12 && commit.find_first_not_of("0123456789abcdef") ==
                                                                 std::string::npos))
      << commit;
  EXPECT_EQ(lines[1], "LibTorch: " SWEEPLAB_TORCH_VERSION_FOR_TESTS " (libsweeplab_torch.so: trainers load it for the trials that need it)");
  // What the build knows of its trainer's LibTorch (with CUDA: the GPUs the driver lists), not the trainer's own
  // answer ("... has no CUDA (or no GPU is visible)"): no trainer is started.
  EXPECT_TRUE(lines[2] == "CUDA: not available (this LibTorch build has no CUDA)" || lines[2].rfind("CUDA: built in, ", 0) == 0 ||
              lines[2] == "CUDA: not available (LibTorch has CUDA, but the NVIDIA driver lists no GPU)")
      << lines[2];
  EXPECT_EQ(lines[3].rfind("BLAS: ", 0), 0u) << lines[3];
  // The BLAS is what Debian's alternative points at, here.
  const std::filesystem::path link = "/etc/alternatives/libblas.so.3-x86_64-linux-gnu";
  if (std::filesystem::is_symlink(link)) {
    const auto target = std::filesystem::read_symlink(link);
    EXPECT_EQ(lines[3], "BLAS: " + target.parent_path().filename().string() + " (" + link.string() + " -> " +
                            target.string() + ")");
  }
  EXPECT_TRUE(result.err.empty()) << result.err;
}

// A trainer named by SWEEPLAB_TRAINER (another build, perhaps another LibTorch) is asked.
TEST(Version, CudaIsWhatTheTrainerSays) {
  TempDir dir;
  dir.write("yes.sh", "#!/bin/sh\n[ \"$1\" = --check-cuda ] || exit 9\nexit 0\n");
  dir.write("no.sh", "#!/bin/sh\necho 'training.device: cuda, but the GPU fell off the bus; use cpu'\nexit 2\n");
  std::filesystem::permissions(dir.path() / "yes.sh", std::filesystem::perms::owner_all);
  std::filesystem::permissions(dir.path() / "no.sh", std::filesystem::perms::owner_all);
  {
    ScopedEnv trainer("SWEEPLAB_TRAINER", dir.str("yes.sh"));
    const auto result = testing::run_in(dir, {"--version"});
    EXPECT_TRUE(has_line(result.out, "CUDA: available (sweeplab-trainer can train with training.device: cuda)"))
        << result.out;
  }
  {
    ScopedEnv trainer("SWEEPLAB_TRAINER", dir.str("no.sh"));
    const auto result = testing::run_in(dir, {"--version"});
    EXPECT_TRUE(has_line(result.out, "CUDA: not available (the GPU fell off the bus)")) << result.out;
  }
}

TEST(Version, TheBinaryPrintsItToo) {
  TempDir dir;
  const auto result = testing::run_sweeplab(dir, "--version");
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out.rfind("sweeplab ", 0), 0u) << result.out;
  EXPECT_NE(result.out.find("\nBLAS: "), std::string::npos) << result.out;
}

// ---- completion ------------------------------------------------------------------------------------

// Runs `script` (bash) in `dir` after sourcing the completion script; returns its stdout.
std::string in_bash(const TempDir& dir, const std::string& script) {
  dir.write("completion.bash", testing::run_in(dir, {"completion", "bash"}).out);
  dir.write("try.sh", "source ./completion.bash\n"
                      "t() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _sweeplab;"
                      " echo \"${COMPREPLY[*]}\"; }\n"
                      "P=" SWEEPLAB_BINARY "\n" +
                          script);
  const auto status = std::system(("cd " + dir.str() + " && bash --norc --noprofile try.sh > out.txt 2> err.txt").c_str());
  EXPECT_EQ(status, 0) << testing::read_file(dir.path() / "err.txt");
  return testing::read_file(dir.path() / "out.txt");
}

TEST(Completion, BashCompletesCommandsSweepsAndKeysAfterO) {
  TempDir dir;
  dir.write("configs/alpha.yaml", "task: {samples: 100}\n");
  dir.write("configs/alps.yaml", "task: {samples: 100}\n");
  dir.write("configs/beta.yaml", "task: {samples: 100}\n");
  dir.write("elsewhere/gamma.yaml", "task: {samples: 100}\n");
  const auto out = lines_of(in_bash(dir, "complete -p sweeplab\n"
                                         "t $P s\n"
                                         "t $P -q re\n"
                                         "t $P run al\n"
                                         "t $P run alpha b\n"
                                         "t $P --configs elsewhere status g\n"
                                         "t $P show alpha -o optimizer.be\n"
                                         "t $P show alpha -o epochs = 3 -o task.mod\n"
                                         "t $P show alpha b\n"
                                         "t $P completion z\n"
                                         "t $P run --dry\n"
                                         "t $P run -j 2 al\n"));
  ASSERT_EQ(out.size(), 12u);
  EXPECT_EQ(out[0], "complete -F _sweeplab sweeplab");
  EXPECT_EQ(out[1], "show status submit");
  EXPECT_EQ(out[2], "report");
  EXPECT_EQ(out[3], "alpha alps");
  EXPECT_EQ(out[4], "beta");                       // run takes several sweeps
  EXPECT_EQ(out[5], "gamma");                      // from --configs on the line
  EXPECT_EQ(out[6], "optimizer.betas=");           // a key, ready for its value
  EXPECT_EQ(out[7], "task.modulus=");              // after an earlier -o key=value
  EXPECT_EQ(out[8], "");                           // show takes one sweep
  EXPECT_EQ(out[9], "zsh");
  EXPECT_EQ(out[10], "--dry-run");
  EXPECT_EQ(out[11], "alpha alps");                // -j's value is not a positional
}

TEST(Completion, ZshScriptCompletesTheSameWords) {
  TempDir dir;
  dir.write("configs/alpha.yaml", "task: {samples: 100}\n");
  const auto result = testing::run_in(dir, {"completion", "zsh"});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::string script = result.out;
  EXPECT_EQ(script.rfind("#compdef sweeplab\n", 0), 0u);
  EXPECT_NE(script.find("compdef _sweeplab sweeplab"), std::string::npos);
  EXPECT_NE(script.find("completion --list keys"), std::string::npos);
  EXPECT_NE(script.find("completion --list sweeps"), std::string::npos);
  EXPECT_NE(script.find("compadd -- list show run status"), std::string::npos);
  if (std::system("command -v zsh > /dev/null 2>&1") != 0) {
    std::cout << "zsh is not installed: its script was checked as text only\n";
    return;
  }
  // With zsh: compadd replaced by a function printing the matches, as the completion system would offer them.
  dir.write("completion.zsh", script);
  dir.write("try.zsh", "compdef() { echo \"compdef $*\"; }\nsource ./completion.zsh\n"
                       "compadd() { while [[ $1 == -* && $1 != -- ]]; do [[ $1 == -S ]] && shift; shift; done;"
                       " [[ $1 == -- ]] && shift; local -a w; local x;"
                       " for x in \"$@\"; do [[ $x == ${cur}* ]] && w+=($x); done; echo \"$w\"; }\n"
                       "t() { words=(\"$@\"); CURRENT=$#; _sweeplab; }\n"
                       "P=" SWEEPLAB_BINARY "\n"
                       "t $P s\nt $P run al\nt $P show alpha -o optimizer.be\nt $P completion b\n");
  ASSERT_EQ(std::system(("cd " + dir.str() + " && zsh -f try.zsh > out.txt 2> err.txt").c_str()), 0)
      << testing::read_file(dir.path() / "err.txt");
  EXPECT_EQ(lines_of(testing::read_file(dir.path() / "out.txt")),
            (std::vector<std::string>{"compdef _sweeplab sweeplab", "show status submit", "alpha", "optimizer.betas",
                                      "bash"}));
}

TEST(Completion, ListsForTheScripts) {
  TempDir dir;
  dir.write("configs/alpha.yaml", "task: {samples: 100}\n");
  auto result = testing::run_in(dir, {"completion", "--list", "sweeps"});
  EXPECT_EQ(result.out, "alpha\n");
  result = testing::run_in(dir, {"completion", "--list", "keys"});
  const auto keys = lines_of(result.out);
  EXPECT_EQ(keys.size(), schema().size() + 3);  // and sweep.seeds, sweep.prune, sweep.refine
  EXPECT_TRUE(has_line(result.out, "optimizer.betas"));
  EXPECT_TRUE(has_line(result.out, "sweep.seeds"));
  EXPECT_TRUE(has_line(result.out, "sweep.refine"));
  result = testing::run_in(dir, {"completion", "--list", "commands"});
  EXPECT_TRUE(has_line(result.out, "completion"));
  EXPECT_FALSE(has_line(result.out, "slurm-task"));  // hidden
}

// ---- the live progress display fits the terminal --------------------------------------------------------

TEST(FitToWidth, CutsLongLinesWithAnEllipsisAndLeavesShortOnes) {
  EXPECT_EQ(fit_to_width("progress: 3 done", 20), "progress: 3 done");
  EXPECT_EQ(fit_to_width("progress: 3 done", 16), "progress: 3 done");
  EXPECT_EQ(fit_to_width("progress: 3 done", 15), "progress: 3 do\u2026");
  EXPECT_EQ(display_width(fit_to_width("progress: 3 done", 15)), 15u);
  EXPECT_EQ(fit_to_width("progress: 3 done", 10, false), "progres...");
  EXPECT_EQ(fit_to_width("abc", 1), "\u2026");
  EXPECT_EQ(fit_to_width("abc", 0), "");
  // Multi-byte characters count one column and are never cut in half.
  EXPECT_EQ(fit_to_width("caf\u00e9 \u00e9t\u00e9 ok", 7), "caf\u00e9 \u00e9\u2026");
  EXPECT_EQ(display_width("\x1b[2Fcaf\u00e9"), 4u);
}

// The terminal stream's visible lines (escape sequences taken out) after `from`.
std::vector<std::string> screen_lines(const std::string& terminal, std::size_t from = 0) {
  std::vector<std::string> lines;
  for (const auto& line : lines_of(terminal.substr(from))) {
    std::string visible;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\x1b') {
        while (i < line.size() && !std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
        continue;
      }
      visible += line[i];
    }
    lines.push_back(visible);
  }
  return lines;
}

TEST(ProgressDisplay, LinesFitTheWidthAndAResizeClearsTheRewrappedBlock) {
  std::ostringstream out, terminal;
  ProgressDisplay display(ProgressDisplay::Mode::Live, out, 3, 300, &terminal);
  display.set_terminal_size(40, 24);
  display.started(0, "bs=8_lr=0.001_seed=0-1a2b3c4d5e6f7a8b", 0, 100);
  display.started(1, "bs=16-0f0f0f0f", 0, 100);  // drawn at the next redraw (at most 4 a second)
  display.set_terminal_size(40, 24);              // a redraw, now
  const std::size_t first = terminal.str().rfind("\x1b[J") + 3;
  EXPECT_EQ(terminal.str().substr(first - 7, 7), "\x1b[2F\x1b[J");  // the first block: one row a line
  auto lines = screen_lines(terminal.str(), first);
  ASSERT_EQ(lines.size(), 3u) << terminal.str();
  for (const auto& line : lines) EXPECT_LE(display_width(line), 39u) << line;
  EXPECT_EQ(display_width(lines[1]), 39u) << lines[1];  // cut, with an ellipsis
  EXPECT_TRUE(lines[1].find("\u2026") != std::string::npos || lines[1].find("...") != std::string::npos) << lines[1];
  EXPECT_EQ(lines[1].rfind("  bs=8_lr=0.001", 0), 0u) << lines[1];  // the id gives way, the step stays in sight
  EXPECT_EQ(lines[1].substr(lines[1].size() - 21), "  epoch 0  step 0/100") << lines[1];
  EXPECT_EQ(lines[2], "  bs=16-0f0f0f0f  epoch 0  step 0/100");  // fits: as it was

  // Narrowed to 20 columns: the terminal rewrapped the 39-column lines onto two rows each, the short one too.
  const std::size_t before = terminal.str().size();
  const std::size_t summary_width = display_width(lines[0]);
  const std::size_t rows = (summary_width + 19) / 20 + 2 + (display_width(lines[2]) + 19) / 20;
  display.set_terminal_size(20, 24);
  const std::string redraw = terminal.str().substr(before);
  EXPECT_EQ(redraw.rfind("\x1b[" + std::to_string(rows) + "F\x1b[J", 0), 0u) << redraw;
  lines = screen_lines(terminal.str(), before);
  ASSERT_EQ(lines.size(), 3u) << redraw;
  for (const auto& line : lines) EXPECT_LE(display_width(line), 19u) << line;

  // Widened: every line was one row; the block is cleared by its own line count.
  const std::size_t widened = terminal.str().size();
  display.set_terminal_size(200, 24);
  EXPECT_EQ(terminal.str().substr(widened).rfind("\x1b[3F\x1b[J", 0), 0u);
  for (const auto& line : screen_lines(terminal.str(), widened)) EXPECT_EQ(line.find("..."), std::string::npos) << line;
  display.close();
  EXPECT_TRUE(out.str().empty());
}

TEST(ProgressDisplay, MoreRunningTrialsThanRowsAreCounted) {
  std::ostringstream out, terminal;
  ProgressDisplay display(ProgressDisplay::Mode::Live, out, 10, 1000, &terminal);
  display.set_terminal_size(80, 5);
  for (std::size_t i = 0; i < 8; ++i) display.started(i, "trial-" + std::to_string(i), 0, 100);
  display.set_terminal_size(80, 5);  // a redraw, now
  const std::size_t before = terminal.str().rfind("\x1b[J") + 3;
  const auto lines = screen_lines(terminal.str(), before);
  ASSERT_EQ(lines.size(), 4u) << terminal.str();  // fewer than the 5 rows
  EXPECT_EQ(lines[1], "  trial-0  epoch 0  step 0/100");
  EXPECT_EQ(lines[2], "  trial-1  epoch 0  step 0/100");
  EXPECT_TRUE(lines[3] == "  \u2026 and 6 more running" || lines[3] == "  ... and 6 more running") << lines[3];
}

// ---- bad input: one line on stderr, exit 2 -----------------------------------------------------------

TEST(BadInput, OneLineAndExitTwo) {
  TempDir dir;
  dir.write("configs/alpha.yaml", "task: {samples: 100}\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"completion", "fish"}, "unknown shell 'fish'; use bash or zsh"},
      {{"completion"}, "name a shell: bash or zsh"},
      {{"completion", "--list", "sweepz"}, "unknown list 'sweepz' (did you mean 'sweeps'?)"},
      {{"show", "alpha", "--all", "-o", "optimizer.bettas=[0.9, 0.99]"}, "did you mean 'optimizer.betas'"},
      {{"show", "alpah", "--all"}, "alpha"},
      {{"--version", "extra"}, "extra"},
  };
  for (const auto& [args, message] : cases) {
    const auto result = testing::run_in(dir, args);
    EXPECT_EQ(result.code, 2) << args.front() << " " << result.out;
    EXPECT_EQ(lines_of(result.err).size(), 1u) << result.err;
    EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
  }
}

}  // namespace
}  // namespace sweeplab
