// Running programs on the modelled machine: builds the system from the config, loads the program
// and initial SRAM contents, runs the simulation, and collects statistics and output regions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/arch/program.h"
#include "tatami/runtime/breakdown.h"
#include "tatami/tlm/core.h"

namespace tatami::runtime {

/// A named SRAM region with its element type and logical shape (inputs and outputs).
struct SramImage {
  std::string name;
  std::uint64_t addr = 0;
  DType type = DType::F32;
  std::vector<std::uint64_t> shape;
  std::vector<std::uint8_t> bytes;
  /// An input's size: its bytes, or when it has none (a floating-point input of a timing-only
  /// run, whose values nothing reads) its shape's.
  std::uint64_t size() const;
};

struct RunOptions {
  bool timingOnly = false;
  bool trace = false;  ///< keep every core's trace slices (RunResult::traces)
  std::vector<SramImage> inputs;  ///< written after the program's .init blocks
  std::vector<SramImage> dumps;   ///< extra regions to read back (bytes ignored), beside .output
  /// HBM contents before the run (addr: a global HBM address, as hbmrd uses), and HBM regions to
  /// read back after it (returned in RunResult::outputs after the SRAM ones). Need DIPs.
  std::vector<SramImage> hbmInputs, hbmDumps;
  /// HBM ranges still arriving from the host when the run starts: no read of one begins at the
  /// HBM before `cycle` (dip.host_gb_per_s; runtime::Session sets them for the next batch).
  struct HbmArrival {
    std::uint64_t addr = 0, bytes = 0, cycle = 0;
  };
  std::vector<HbmArrival> hbmArrivals;
  /// On RTL cores (sim.rtl_cores): check every RTL instruction against the reference semantics
  /// and the timing model (tlm::CoreOptions::rtlCheck); rtlFault injects a fault for tests.
  bool rtlCheck = false;
  int rtlFault = 0;
  /// Waveforms of every RTL core: PREFIX.core<ID>.vector.vcd and .matrix.vcd, for the
  /// instructions starting in core cycles [rtlWavesFrom, rtlWavesTo).
  std::string rtlWaves;
  std::uint64_t rtlWavesFrom = 0, rtlWavesTo = ~std::uint64_t(0);
  /// The semaphores a put or sincr of these programs signals (tlm::remoteSemaphores), when the
  /// caller knows them (a session finds them once for its bundle); else found from the programs.
  std::optional<std::uint64_t> remoteSemaphores;
};

/// Traffic the mesh carried in a run: every link that carried a packet, and each die edge.
struct NetworkSummary {
  struct LinkRow {
    std::string name;  ///< "(r,c)->(r,c)", "(r,c).inject", "(r,c).eject"
    std::uint64_t packets = 0, bytes = 0, busyCycles = 0;
    std::uint32_t peakQueue = 0;
  };
  struct EdgeRow {
    std::string name;  ///< "die(r,c).east" ...
    std::uint64_t packets = 0, bytes = 0, busyCycles = 0;
  };
  struct RouterRow {
    std::string name;  ///< "(r,c)"
    std::uint64_t packets = 0;  ///< packets it sent on (mesh links and its ejection port)
  };
  std::vector<LinkRow> links;  ///< links with traffic, busiest first
  std::vector<RouterRow> routers;  ///< routers with traffic, in position order
  std::vector<EdgeRow> edges;  ///< die edges with traffic
  std::uint64_t packets = 0, bytes = 0;  ///< injected into the mesh
  std::uint64_t hbmBytesRead = 0, hbmBytesWritten = 0;
};

/// A program and the core (system-wide id) it runs on.
struct CoreProgram {
  CoreProgram(int c, const Program* p, std::vector<SramImage> in = {}) : core(c), program(p), inputs(std::move(in)) {}
  int core = 0;
  const Program* program = nullptr;
  std::vector<SramImage> inputs;  ///< written to this core's SRAM after .init (as RunOptions::inputs for the first)
  std::vector<SramImage> dumps;   ///< this core's regions to read back after the run, beside its .output ones
};

struct RunResult {
  std::string error;  ///< empty on success; else the fault with core, thread, pc and instruction
  tlm::CoreStats stats;  ///< summed over the cores that ran programs; cycles: the longest
  std::vector<std::pair<int, tlm::CoreStats>> perCore;
  /// The program's .output regions, then the dumps (floating-point ones empty when timing-only).
  std::vector<SramImage> outputs;
  std::uint64_t outputHash = 0;  ///< fnv1a over every output's bytes, in order
  double hostSeconds = 0;
  int coresUsed = 1;
  NetworkSummary network;
  /// Where the cores' cycles went, per die, and the critical path (breakdown.h).
  Breakdown breakdown;
  /// With RunOptions::trace: per core, the unit slices of every instruction, and its program.
  struct CoreTrace {
    int core = 0;
    std::vector<tlm::TraceSlice> slices;
    std::vector<std::string> instructionText;  ///< by pc
    std::vector<tlm::ActivitySegment> activity;  ///< what the core's cycles went to (activity.h)
  };
  std::vector<CoreTrace> traces;
  /// The matrix FLOPs the work asked for (a compiled step: its graph's matrix products and
  /// convolutions, before padding to tiles); unset for programs without a graph, whose issued
  /// FLOPs (stats.matrixFlops, padding included) are their work.
  std::optional<std::uint64_t> usefulMatrixFlops;
  std::uint64_t usefulFlops() const { return usefulMatrixFlops ? *usefulMatrixFlops : stats.matrixFlops; }
  /// Useful matrix FLOPs / (peak matrix FLOPs per cycle x cores used x cycles).
  double matrixUtilization(const ArchConfig& config) const;
  /// Issued matrix FLOPs (padding included) / the same peak.
  double issuedUtilization(const ArchConfig& config) const;
};

/// Runs programs on their cores of the system `config` describes (every other active core holds
/// SRAM and semaphores only). Never throws for faults of the programs (see RunResult::error);
/// throws std::runtime_error for bad requests (a core that is not active, an input outside SRAM).
/// Inputs are written to the first program's core; outputs of several programs are named
/// "c<core>.<name>".
RunResult runPrograms(const ArchConfig& config, const std::vector<CoreProgram>& programs, const RunOptions& options);

/// Runs `program` on the first active core (core 0 unless that position is disabled).
RunResult runProgram(const ArchConfig& config, const Program& program, const RunOptions& options);

/// FNV-1a (64-bit) over the bytes taken as little-endian 8-byte words, then the length;
/// continues from `hash`.
std::uint64_t fnv1a(const std::vector<std::uint8_t>& bytes, std::uint64_t hash = 1469598103934665603ull);

}  // namespace tatami::runtime
