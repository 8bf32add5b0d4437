#include "sweeplab/config/registry.hpp"

#include <algorithm>
#include <filesystem>

#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"

namespace fs = std::filesystem;

namespace sweeplab {

std::vector<std::string> sweep_names(const std::string& configs_dir) {
  std::error_code ec;
  if (!fs::is_directory(configs_dir, ec)) {
    throw UserError("configs directory '" + configs_dir + "' not found (run from the project folder or pass --configs DIR)");
  }
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(configs_dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string sweep_file(const std::string& configs_dir, const std::string& name) {
  const auto names = sweep_names(configs_dir);
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    throw UserError("unknown sweep '" + name + "': no " + (fs::path(configs_dir) / (name + ".yaml")).string() +
                    did_you_mean(name, names) + "; known: " + (names.empty() ? "none" : join(names, ", ")));
  }
  return (fs::path(configs_dir) / (name + ".yaml")).string();
}

}  // namespace sweeplab
