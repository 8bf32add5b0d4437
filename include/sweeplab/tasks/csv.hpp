#pragma once
// Reading a user's data: a CSV file with a header row, numeric feature columns and a label column.
#include <string>
#include <vector>

namespace sweeplab {

struct CsvData {
  std::vector<std::string> feature_names;
  std::vector<double> features;  // row-major, rows x feature_names.size()
  std::vector<double> labels;
  std::size_t rows() const { return labels.size(); }
};

// Throws UserError naming the file, line and column for a missing file, a missing label column,
// a row with the wrong number of fields or a value that is not a number.
CsvData read_csv(const std::string& path, const std::string& label_column);

}  // namespace sweeplab
