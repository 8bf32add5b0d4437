#include "torch_plugin.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "sweeplab/core/error.hpp"

#ifndef SWEEPLAB_TORCH_PLUGIN_BUILD_PATH
#define SWEEPLAB_TORCH_PLUGIN_BUILD_PATH ""
#endif

namespace sweeplab {
namespace {

constexpr const char* kPluginFile = "libsweeplab_torch.so";

std::mutex& plugin_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::atomic<TorchPlugin*> loaded{nullptr};
int wanted_threads = 0;  // 0: never asked (under plugin_mutex)

// Where to look, in order (see torch_plugin in the header).
std::vector<std::string> candidates() {
  std::vector<std::string> paths;
  if (const char* chosen = std::getenv("SWEEPLAB_TORCH_PLUGIN"); chosen && *chosen) return {chosen};
  char self[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (length > 0) {
    const std::filesystem::path beside = std::filesystem::path(std::string(self, std::size_t(length))).parent_path() / kPluginFile;
    paths.push_back(beside.string());
  }
  if (*SWEEPLAB_TORCH_PLUGIN_BUILD_PATH) paths.push_back(SWEEPLAB_TORCH_PLUGIN_BUILD_PATH);
  return paths;
}

TorchPlugin* load() {
  std::string reasons;
  for (const auto& path : candidates()) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      reasons += (reasons.empty() ? "" : "; ") + path + ": no such file";
      continue;
    }
    // Global: LibTorch's CUDA runtime then answers dlsym(RTLD_DEFAULT, "cudaMemGetInfo") (the group trainer
    // sizes GPU groups with it). The plugin itself exports nothing else.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!handle) {
      reasons += (reasons.empty() ? "" : "; ") + std::string(::dlerror());
      continue;
    }
    using Entry = TorchPlugin* (*)();
    const auto entry = reinterpret_cast<Entry>(::dlsym(handle, kTorchPluginEntry));
    if (!entry) {
      reasons += (reasons.empty() ? "" : "; ") + path + ": no " + kTorchPluginEntry;
      continue;
    }
    return entry();  // the library stays loaded for the process's life
  }
  throw InternalError("training needs LibTorch here, but " + std::string(kPluginFile) + " did not load (" + reasons +
                      "); set SWEEPLAB_TORCH_PLUGIN to its path");
}

}  // namespace

TorchPlugin& torch_plugin() {
  if (TorchPlugin* plugin = loaded.load()) return *plugin;
  std::lock_guard<std::mutex> lock(plugin_mutex());
  if (TorchPlugin* plugin = loaded.load()) return *plugin;
  TorchPlugin* plugin = load();
  if (wanted_threads > 0) plugin->set_threads(wanted_threads);
  loaded.store(plugin);
  return *plugin;
}

bool torch_plugin_loaded() { return loaded.load() != nullptr; }

void set_torch_threads(int threads) {
  std::lock_guard<std::mutex> lock(plugin_mutex());
  wanted_threads = threads;
  if (TorchPlugin* plugin = loaded.load()) plugin->set_threads(threads);
}

}  // namespace sweeplab
