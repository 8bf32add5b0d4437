#include "sweeplab/store/layout.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace sweeplab {

std::string sweep_dir(const std::string& experiments_dir, const std::string& sweep_name) {
  return (fs::path(experiments_dir) / sweep_name).string();
}

std::string trial_dir(const std::string& experiments_dir, const std::string& sweep_name, const std::string& trial_id) {
  return (fs::path(sweep_dir(experiments_dir, sweep_name)) / "trials" / trial_id).string();
}

std::string trial_state(const std::string& experiments_dir, const std::string& sweep_name, const std::string& trial_id) {
  const fs::path dir = trial_dir(experiments_dir, sweep_name, trial_id);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "pending";
  std::ifstream in(dir / "summary.json");
  if (!in) return "partial";
  const auto summary = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (summary.is_discarded() || !summary.contains("status") || !summary["status"].is_string()) return "unreadable";
  return summary["status"].get<std::string>();
}

}  // namespace sweeplab
