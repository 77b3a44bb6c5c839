// Bundles: a compiled job as one file the runtime loads (docs/bundle.md). A bundle holds the
// architecture configuration it was compiled for, one tile program per core, and every tensor's
// place: which core holds which block of it at which SRAM address. `tatami compile -o` writes
// them; `tatami run BUNDLE` runs them with full tensors in and full tensors out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tatami/arch/blocks.h"
#include "tatami/arch/assembler.h"
#include "tatami/arch/program.h"
#include "tatami/runtime/results.h"
#include "tatami/runtime/run.h"

namespace tatami::runtime {

/// A malformed bundle file: the message names the file and line.
class BundleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One core's block of a tensor, as FP32 at `addr` in that core's SRAM (or, with `hbm`, at
/// global HBM address `addr`: the core streams it through its SRAM).
struct TensorPiece {
  TensorPiece() = default;
  TensorPiece(int core_, std::uint64_t addr_, TensorBlock block_, bool hbm_ = false, std::optional<std::uint64_t> staged_ = {})
      : core(core_), addr(addr_), block(std::move(block_)), hbm(hbm_), staged(staged_) {}
  int core = 0;
  std::uint64_t addr = 0;
  TensorBlock block;
  bool hbm = false;
  /// An input read from HBM by the step itself (the next step's copy, while this one runs): where
  /// the core holds it in SRAM, which the step finds there at its start.
  std::optional<std::uint64_t> staged;
};

struct BundleTensor {
  std::string name;
  /// input: fed by the caller (zeros if not given); parameter: initial values in the programs
  /// (.init), replaced when fed; state: optimizer state, zeros unless fed; output: read back.
  std::string role;
  /// What the tensor is to the training step (the compiler's value role): batch, target,
  /// parameter, state, update, loss or metric; empty when the bundle does not say. `of`: for state
  /// and update, the tensor it belongs to (an update replaces `of` for the next step).
  std::string purpose, of;
  std::vector<std::int64_t> shape;  ///< the full tensor
  std::vector<TensorPiece> pieces;  ///< replicated tensors have a piece on every core holding them
};

/// One core's tile program. The file holds `text` when it is not empty (a bundle read back), else
/// the program with the compiler's `notes` and `header` when there is a header (annotatedText,
/// made only when the bundle is written), else the program disassembled.
struct BundleProgram {
  BundleProgram(int core_, Program program_, std::string text_ = "")
      : core(core_), program(std::move(program_)), text(std::move(text_)) {}
  BundleProgram(int core_, Program program_, ProgramNotes notes_, std::string header_)
      : core(core_), program(std::move(program_)), notes(std::move(notes_)), header(std::move(header_)) {}
  int core = 0;
  Program program;
  std::string text;
  ProgramNotes notes;
  std::string header;
};

struct Bundle {
  std::string model;       ///< what it was compiled from
  std::string step;        ///< how: loss, optimizer, batch, precision, placement (informational)
  std::string configIni;   ///< the architecture configuration (INI text, as `tatami info --ini`)
  /// The FLOPs of the model's matrix products and convolutions that the programs run on the
  /// matrix units, from the graph's logical shapes (before padding to tiles); unset when the
  /// bundle does not say (its runs then count the issued FLOPs as useful).
  std::optional<std::uint64_t> usefulMatrixFlops;
  std::vector<BundleTensor> tensors;
  std::vector<BundleProgram> programs;
  /// HBM contents to load before a run (FP32 values at global HBM addresses): the initial values
  /// of parameters kept in HBM, which a program's .init cannot reach.
  std::vector<std::pair<std::uint64_t, std::vector<float>>> hbmInit;
  const BundleTensor* find(const std::string& name) const;
};

/// True when the file starts like a bundle (its first line is "tatami-bundle 1").
bool isBundleFile(const std::string& path);
/// Writes the bundle (replacing the file). Throws std::runtime_error if it cannot be written.
void writeBundle(const std::string& path, const Bundle& bundle);
/// Reads a bundle (assembling its programs); throws BundleError naming the file and line of
/// anything malformed, a program that does not assemble included.
Bundle readBundle(const std::string& path);

struct BundleRun {
  RunResult run;                    ///< cycles, statistics, the error if the run faulted
  std::vector<NamedArray> outputs;  ///< every output tensor, put together from its pieces
};

/// Runs the bundle on `config` (which must be the bundle's): writes each fed tensor's blocks to
/// the cores that hold them (a name the bundle does not know, or a wrong shape, throws
/// BundleError), runs every program, and puts the outputs back together.
BundleRun runBundle(const ArchConfig& config, const Bundle& bundle, const std::vector<NamedArray>& feeds, RunOptions options = {});

}  // namespace tatami::runtime
