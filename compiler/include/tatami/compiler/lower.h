// Lowering a graph to a tile program for one core (the first stage of lowering: placement on a
// slice of the mesh, tiling across cores and the matrix-unit path come next). Every tensor lives
// in SRAM as a dense row-major FP32 array, 64 B aligned, its length rounded up to whole vectors;
// ops become vector instructions and DMA (FP32 throughout, so the result follows the host oracle
// to FP32 rounding). SRAM is allocated by liveness.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "tatami/arch/config.h"
#include "tatami/compiler/ir.h"

namespace tatami::compiler {

struct TensorPlacement {
  std::uint64_t addr = 0;
  std::uint64_t bytes = 0;  ///< allocated (rounded up to 64 B)
};

struct LoweredProgram {
  std::string tasm;                                ///< the program, with .init for parameters and constants
  std::map<std::string, TensorPlacement> layout;   ///< every input, parameter and output by name
  std::uint64_t sramPeakBytes = 0;
};

/// Lowers the graph for one core of `config`. Throws CompileError naming the node for an op
/// without a lowering, or the tensor and the shortfall when SRAM is too small.
LoweredProgram lowerToCore(const Graph& g, const ArchConfig& config);

}  // namespace tatami::compiler
