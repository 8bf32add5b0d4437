// The system BLAS, loaded at run time (see blas.hpp).
#include "blas.hpp"

#include <dlfcn.h>

#include <atomic>

namespace sweeplab::blas {
namespace {

using SetThreads = void (*)(int);
std::atomic<int> wanted_threads{1};
std::atomic<SetThreads> loaded_setter{nullptr};  // OpenBLAS's, once it is loaded

Library load() {
  Library library;
  // Already in the process when LibTorch is (it links libblas.so.3); dlopen then hands back the same copy.
  void* handle = dlopen("libblas.so.3", RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    library.name = std::string("none (") + (why ? why : "libblas.so.3 not found") + ")";
    return library;
  }
  library.sgemm = reinterpret_cast<Sgemm>(dlsym(handle, "cblas_sgemm"));
  using Config = const char* (*)();
  const auto config = reinterpret_cast<Config>(dlsym(handle, "openblas_get_config"));
  const auto set_threads = reinterpret_cast<SetThreads>(dlsym(handle, "openblas_set_num_threads"));
  if (!library.sgemm) {
    library.name = "none (libblas.so.3 has no cblas_sgemm)";
  } else if (config && set_threads) {
    set_threads(wanted_threads.load());
    loaded_setter.store(set_threads);
    library.openblas = true;
    using CoreName = const char* (*)();
    const auto core = reinterpret_cast<CoreName>(dlsym(handle, "openblas_get_corename"));
    library.name = std::string(config()) + (core ? std::string(", kernels for ") + core() : std::string());
  } else {
    library.name = "reference BLAS (or another that is not OpenBLAS)";
  }
  return library;  // the handle stays open for the life of the process
}

}  // namespace

const Library& system_library() {
  static const Library library = load();
  return library;
}

void set_threads(int threads) {
  if (wanted_threads.exchange(threads) == threads) return;
  if (const SetThreads setter = loaded_setter.load()) setter(threads);
}

}  // namespace sweeplab::blas
