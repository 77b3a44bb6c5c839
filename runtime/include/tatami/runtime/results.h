// Result and checkpoint files (HDF5): named arrays with shapes, and string attributes on the
// root (the resolved config, a JSON summary, the run's options).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tatami::runtime {

struct NamedArray {
  std::string name;  ///< may contain '/' to place it in a group ("weights/fc1.weight")
  std::vector<std::uint64_t> shape;
  std::vector<double> data;
};

/// Writes the arrays (as 64-bit floats) and attributes, replacing the file. Written to a temporary
/// name and renamed, so an interrupted write never leaves a half file. Throws std::runtime_error.
void writeArrays(const std::string& path, const std::vector<NamedArray>& arrays,
                 const std::map<std::string, std::string>& attributes);

/// A column of a tidy table: numbers, or (when `text` is not empty) strings, one per row.
struct TableColumn {
  std::string name;
  std::vector<double> numbers;
  std::vector<std::string> text;
  std::string unit, description;  ///< written as the dataset's attributes when not empty
};

/// Writes a table: group "table" holds one 1-D dataset per column (64-bit floats, or variable-
/// length strings), in order; the root attribute "columns" lists their names, one per line.
/// Replaced atomically like writeArrays. Throws std::runtime_error.
void writeTable(const std::string& path, const std::vector<TableColumn>& columns, const std::map<std::string, std::string>& attributes);

/// Reads every array written by writeArrays, and the attributes. Throws std::runtime_error
/// naming the file for anything missing or malformed.
std::vector<NamedArray> readArrays(const std::string& path, std::map<std::string, std::string>* attributes = nullptr);

}  // namespace tatami::runtime
