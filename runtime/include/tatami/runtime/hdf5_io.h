// HDF5 files of SRAM regions: each dataset is one region, with attributes `address` (SRAM byte
// address) and `format` (f32, bf16, e4m3, e5m2, i32). FP32 and i32 are stored as native floats
// and integers; narrow formats as their raw codes (uint16 / uint8).
#pragma once

#include <string>
#include <vector>

#include "tatami/runtime/run.h"

namespace tatami::runtime {

/// Reads every dataset of the file's root group. Throws std::runtime_error naming the file and
/// the dataset on anything malformed.
std::vector<SramImage> readSramImages(const std::string& path);

/// Writes regions as datasets, with string attributes on the root group (config, summary).
void writeSramImages(const std::string& path, const std::vector<SramImage>& images,
                     const std::vector<std::pair<std::string, std::string>>& rootAttributes);

}  // namespace tatami::runtime
