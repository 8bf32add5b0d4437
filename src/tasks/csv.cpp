#include "sweeplab/tasks/csv.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "sweeplab/core/error.hpp"
#include "sweeplab/core/text.hpp"

namespace sweeplab {
namespace {

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  for (char c : line) {
    if (c == ',') fields.emplace_back();
    else if (c != '\r') fields.back() += c;
  }
  for (auto& field : fields) {  // trim spaces
    const auto begin = field.find_first_not_of(" \t");
    const auto end = field.find_last_not_of(" \t");
    field = begin == std::string::npos ? "" : field.substr(begin, end - begin + 1);
  }
  return fields;
}

}  // namespace

CsvData read_csv(const std::string& path, const std::string& label_column) {
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot open the CSV file (task.path)");
  std::string line;
  if (!std::getline(in, line) || line.find_first_not_of(" \t\r") == std::string::npos) {
    throw UserError(path + ":1: the CSV file is empty; expected a header row like x1,x2,label");
  }
  const auto header = split_fields(line);
  std::size_t label_index = header.size();
  CsvData data;
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == label_column) label_index = i;
    else data.feature_names.push_back(header[i]);
  }
  if (label_index == header.size()) {
    throw UserError(path + ":1: task.label_column: no column '" + label_column + "'" + did_you_mean(label_column, header) +
                    "; columns: " + join(header, ", "));
  }
  if (data.feature_names.empty()) throw UserError(path + ":1: no feature columns besides the label '" + label_column + "'");
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto fields = split_fields(line);
    if (fields.size() != header.size()) {
      throw UserError(path + ":" + std::to_string(number) + ": expected " + std::to_string(header.size()) +
                      " fields like the header, got " + std::to_string(fields.size()));
    }
    for (std::size_t i = 0; i < fields.size(); ++i) {
      char* end = nullptr;
      const double value = std::strtod(fields[i].c_str(), &end);
      if (fields[i].empty() || end != fields[i].c_str() + fields[i].size() || !std::isfinite(value)) {
        throw UserError(path + ":" + std::to_string(number) + ": column '" + header[i] + "': '" + fields[i] +
                        "' is not a finite number");
      }
      if (i == label_index) data.labels.push_back(value);
      else data.features.push_back(value);
    }
  }
  if (data.rows() < 2) throw UserError(path + ": needs at least 2 data rows, has " + std::to_string(data.rows()));
  return data;
}

}  // namespace sweeplab
