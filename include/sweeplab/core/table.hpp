#pragma once
// A plain-text table: columns padded to their widest cell, two spaces apart.
#include <string>
#include <vector>

namespace sweeplab {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string str() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace sweeplab
