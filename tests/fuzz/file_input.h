// Fuzz targets whose loaders read a path: the input is written to a file of this process's own
// (in the temporary folder), replaced at each run.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

inline std::string writeFuzzFile(const std::uint8_t* data, std::size_t size, const char* suffix) {
  const std::string path = std::string(P_tmpdir) + "/tatami-fuzz-" + std::to_string(getpid()) + suffix;
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  return path;
}
