// Lowering one core's graph to its tile program. Every tensor lives in SRAM as a dense row-major
// FP32 array, 64 B aligned, its length rounded up to whole vectors (or in HBM, streamed through
// SRAM, when CoreContext::stream). Elementwise ops, reductions and softmax become vector
// instructions and DMA in FP32; matmuls run on the matrix unit with BF16 operand panels and FP32
// accumulation ("mixed", the default) or on the vector unit in FP32 ("fp32"); collectives run
// over rings of cores with put and semaphores (docs/abi.md). SRAM is planned by liveness
// (memory_planner.h); the cost model estimates every op (LoweredProgram::ops).
#pragma once

#include <array>
#include <iosfwd>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tatami/arch/assembler.h"
#include "tatami/arch/config.h"
#include "tatami/arch/program.h"
#include "tatami/compiler/ir.h"

namespace tatami::compiler {

struct TensorPlacement {
  TensorPlacement() = default;
  TensorPlacement(std::uint64_t addr_, std::uint64_t bytes_, bool hbm_ = false) : addr(addr_), bytes(bytes_), hbm(hbm_) {}
  std::uint64_t addr = 0;
  std::uint64_t bytes = 0;  ///< allocated (rounded up to 64 B)
  bool hbm = false;         ///< addr is a global HBM address (the tensor streams through SRAM)
  /// A step input read from HBM (CoreContext::loadInputs): where its SRAM copy is, which the step
  /// finds there at its start (the last step's read put it there).
  std::optional<std::uint64_t> staged;
};

/// What the cost model says about one lowered op.
struct OpCost {
  std::string node, op, shape;
  std::uint32_t firstPc = 0, endPc = 0;  ///< its instructions: [firstPc, endPc)
  double cycles = 0;                     ///< estimated, from the architecture config
  std::string bound;                     ///< "compute", "sram" (port bandwidth) or "mesh"
  std::string partition;                 ///< how the op is split over the cores
  std::string choice;                    ///< a choice the cost model made for it, with the estimates that decided
  /// The matrix-unit FLOPs the graph asks of this op: 2 M N K of its logical shapes, before
  /// padding to whole tiles (0 for ops that do not run on the matrix unit).
  std::uint64_t usefulFlops = 0;
  int thread = 0;           ///< the hardware thread that runs it
  bool waits = false;       ///< it first waits for ops on other threads (the wait is not its time)
  double start = 0;         ///< when the cost model expects it to start (cycles from the step's start)
};

/// Where a data-parallel all-reduce's buffers lie in a core's SRAM: its result (`dst`, where the
/// ring's chunks are summed and gathered) and its receive buffer.
struct CollectiveBuffers {
  std::uint64_t dst = 0, recv = 0;
};

struct LoweredProgram {
  std::vector<OpCost> ops;                         ///< in program order
  Program program;                                 ///< the tile program, with .init for parameters and constants
  ProgramNotes notes;                              ///< comments naming each op, by pc
  std::string header;                              ///< the text's first comment
  /// The program as .tasm text with the notes (made when asked: the .init lines of a core's
  /// weights are most of the text, and a whole die's programs are hundreds of MB of it).
  std::string tasm() const { return annotatedText(program, notes, header); }
  std::map<std::string, TensorPlacement> layout;   ///< every input, parameter and output by name
  std::uint64_t sramPeakBytes = 0;
  /// With CoreContext::stream: the parameters' initial values, to load into HBM before the run.
  std::vector<std::pair<std::uint64_t, std::vector<float>>> hbmInit;
  std::vector<std::string> fusedTransposes;  ///< transposes the matrix unit reads transposed (not made)
  std::vector<std::pair<std::string, std::uint64_t>> hbmHomes;  ///< values homed in HBM, at their address
  /// With CoreContext::offloadGap: the gap, and the intermediates among hbmHomes (offloaded);
  /// offloadReduced: the all-reduced gradients among them.
  std::size_t offloadGap = 0;
  bool offloadReduced = false;
  std::vector<std::string> offloaded;
  std::vector<CollectiveBuffers> collectives;  ///< each allreduce_mean's buffers, in program order
  /// The cost model's cycles for the whole program: when the last of its threads is done (the
  /// ops' estimates placed on their threads, with the waits between threads).
  double estimatedCycles = 0;
  int threadsUsed = 1;  ///< hardware threads the program runs on
  /// The matrix FLOPs the graph asks of this core (the sum of ops[].usefulFlops).
  std::uint64_t usefulMatrixFlops() const;
};

/// Where the core sits among the cores of a data-parallel job: `ring` lists their core ids in the
/// order of the all-reduce ring; `rank` is this core's place in it. One core: ring {id}, rank 0.
/// All-reduce plans weighed once for a ring and shared by its cores' lowerings: a plan depends on
/// the ring and the tensor's size, not on the core, and weighing it once per core would make
/// compiling a slice quadratic in its cores; likewise each graph's decomposition and constant
/// tables, known by the graph's address (so the graphs must outlive it). One per compiled step
/// (newCollectivePlans); its cores may be lowered on several threads at once.
struct CollectivePlans;
std::shared_ptr<CollectivePlans> newCollectivePlans();

struct CoreContext {
  CoreContext() = default;
  CoreContext(int rank_, std::vector<int> ring_, std::string precision_ = "mixed")
      : rank(rank_), ring(std::move(ring_)), precision(std::move(precision_)) {}
  int rank = 0;
  std::vector<int> ring = {0};
  /// "mixed": matmuls on the matrix unit with BF16 operands and FP32 accumulation (master weights
  /// and everything else stay FP32); "fp32": matmuls on the vector unit in FP32.
  std::string precision = "mixed";
  /// Write parameters' initial values as .init blocks (false when the caller loads weights itself).
  bool initParameters = true;
  /// Tensor-parallel grid (see partition.h): lines[a] lists the cores that share this core's
  /// position on the other grid axis, in order along axis a; lineRank[a] is this core's index
  /// in it. `allreduce` nodes with attribute axis=a run over lines[a].
  std::array<std::vector<int>, 2> lines = {std::vector<int>{0}, std::vector<int>{0}};
  std::array<int, 2> lineRank = {0, 0};
  /// Keep parameters, optimizer state and their updates in HBM (from global HBM address
  /// hbmBase on): each is read into SRAM just before an op uses it and an update is written back
  /// as soon as it is made, so only the tensors of the op at hand take SRAM (needs DIPs).
  bool stream = false;
  std::uint64_t hbmBase = 0;
  /// With stream and offloadGap > 0: the intermediates of at least 8 KiB that the step keeps
  /// across more than offloadGap ops between two uses (the forward pass's activations that its
  /// backward pass reads, gradients waiting for their all-reduce) live in HBM too, after the
  /// parameters: each is written there as soon as it is made, leaves SRAM after its last use
  /// before such a stretch, and is read back just before its next use (activation offloading).
  /// Exact: the bytes come back as they went. 0: none.
  std::size_t offloadGap = 0;
  /// With offloadGap: the data-parallel all-reduce's results (a weight's averaged gradient,
  /// waiting for the optimizer at the step's end) are offloaded as other intermediates are.
  bool offloadReduced = false;
  /// Bytes of HBM from hbmBase this core may use (the parameters, their state and the offloaded
  /// intermediates); 0: no limit.
  std::uint64_t hbmBytes = 0;
  /// The step's inputs (batch and target, by their roles) come from HBM: each is in SRAM when the
  /// step starts (the last step read it there) and the next step's copy, at global HBM address
  /// inputBase on (inputBytes bytes hold them, 64 B aligned), is read into the same buffer as soon
  /// as this step's is dead; the step ends when it is in. So each step's cycles include its
  /// successor's data on its way in, hidden behind whatever follows the inputs' last use (needs
  /// DIPs). Otherwise the inputs are written into SRAM before the step.
  bool loadInputs = false;
  std::uint64_t inputBase = 0, inputBytes = 0;
  /// Print what these lowering stages made (decompose-spatial, fuse-transposes, hbm-residency,
  /// plan-memory, codegen; "all") to `print`.
  std::vector<std::string> printAfter;
  std::ostream* print = nullptr;
  /// Cores of the ring whose SRAM layout differs from this core's (an uneven data-parallel
  /// split compiles two graphs): each one's LoweredProgram::collectives, by core id, so that a
  /// put names the receiver's addresses. Cores not listed have this core's layout.
  std::map<int, std::vector<CollectiveBuffers>> peerCollectives;
  /// Shared by the cores of one ring (null: this lowering weighs its own).
  std::shared_ptr<CollectivePlans> collectivePlans;
};

/// Lowers the graph for one core of `config`. `allreduce_mean` nodes become a ring all-reduce over
/// `ctx.ring` (put, semaphores) followed by a division by the ring's size. Throws CompileError
/// naming the node for an op without a lowering, or the tensor and the shortfall when SRAM is too
/// small. Every core of a ring gets the same layout.
LoweredProgram lowerToCore(const Graph& g, const ArchConfig& config, const CoreContext& ctx = {});

/// The cores of an R x C slice at the top-left of the system (disabled positions skipped), so ring
/// neighbours are near: die by die in the order of `dieCycle`, each die's part in a snake order
/// (left to right, then right to left on the next row).
std::vector<int> sliceRing(const ArchConfig& config, int rows, int cols);

/// A closed tour of a block of rows x cols dies, as (row, column) pairs, whose steps cross one die
/// edge each, except one step across a corner (two edges) when both counts are odd and greater
/// than one; a line of dies is folded (0 2 4 3 1: two edges a step at most).
std::vector<std::pair<int, int>> dieCycle(int rows, int cols);

}  // namespace tatami::compiler
