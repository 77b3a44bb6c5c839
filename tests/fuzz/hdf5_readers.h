// The HDF5 fuzz targets' common end: a file read as tatami reads HDF5 from outside (named arrays,
// SRAM images, a training checkpoint). A std::runtime_error is the expected answer to bad input;
// anything else is a finding.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "tatami/driver/checkpoint.h"
#include "tatami/runtime/hdf5_io.h"
#include "tatami/runtime/results.h"

inline void readAsTatamiDoes(const std::string& path) {
  try {
    tatami::runtime::readArrays(path);  // as datasets and run inputs are read: no attributes
  } catch (const std::runtime_error&) {
  }
  try {
    tatami::runtime::readSramImages(path);
  } catch (const std::runtime_error&) {
  }
  try {  // named arrays with their attributes (and a run's key among them)
    tatami::driver::TrainState state;
    state.carried["w"] = std::vector<double>(4);
    tatami::driver::readRunFile(path, "model=m", state);
  } catch (const std::runtime_error&) {
  }
}
