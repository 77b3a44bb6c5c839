// Internal: lowering one core's graph to its tile program. The Lowering class walks the graph
// in order; the memory planner (memory_planner.h) places every value in SRAM; instructions go
// through the typed emitter (emitter.h); the op lowerings are split by kind: lower.cpp (the walk, elementwise ops, reductions, softmax), lower_matmul.cpp,
// lower_conv.cpp and lower_conv_weight.cpp (convolutions as implicit GEMM), lower_pool.cpp (pooling by vector operations), lower_gather.cpp (gathers, broadcasts, takes, embeddings) and lower_collectives.cpp (all-reduce,
// all-gather, reduce-scatter over rings of cores).
#pragma once

#include "tatami/compiler/lower.h"
#include "tatami/arch/isa.h"
#include "tatami/compiler/pipeline.h"

#include "strided.h"

#include <algorithm>
#include <array>
#include <functional>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "collective_cost.h"
#include "tatami/compiler/emitter.h"
#include <mutex>
#include <tuple>

#include "memory_planner.h"
#include "tatami/compiler/thread_schedule.h"

namespace tatami::compiler::lowering {

/// How the cost model runs a data-parallel all-reduce over a ring: in groups of `size` cores (0:
/// one ring), the elements of each group chunk, the estimate, and why.
struct AllreducePlan {
  std::uint64_t size = 0, chunk = 0;
  /// Two levels over a ring that `size` does not divide: the first `extras` groups have one core
  /// more, which feeds its chunks to the group's members and gets the result back.
  std::uint64_t extras = 0;
  /// A tree of this fan-in instead (0: rings): for vectors too small to cut into a chunk per core.
  std::uint64_t fanIn = 0;
  /// Two levels whose step across the groups is a tree of this fan-in (0: a ring): each core's
  /// chunk then travels whole, so the chunks need not be cut again by the groups.
  std::uint64_t treeAcross = 0;
  double cycles = 0;
  RingReach inside, across;  ///< of the groups' rings and of the rings across them
  /// Three levels: groups of `size` cores, `middle` of them a die's group (0: two levels).
  std::uint64_t middle = 0;
  RingReach between;  ///< three levels: of the rings among a die's groups
  std::string why;
};

}  // namespace tatami::compiler::lowering

namespace tatami::compiler {

/// The plans of one ring, by the ring's length and the all-reduced tensor's elements (all a plan
/// depends on besides the configuration, which is the step's); and what its cores' lowerings of
/// one graph share whatever their rank: the graph after decompose-spatial and the bytes of its
/// constant tables (by the graph's address, its precision and whether it streams from HBM).
struct CollectivePlans {
  std::map<std::pair<std::uint64_t, std::uint64_t>, lowering::AllreducePlan> byRingAndElements;
  struct Prepared {
    std::shared_ptr<const Graph> decomposed;  ///< null: the graph needs no decomposition
    std::int64_t tableBytes = -1;             ///< -1: not known yet
  };
  std::map<std::tuple<const Graph*, std::string, bool>, Prepared> byGraph;
  /// Held while either map is read or filled: the cores of a ring may be lowered on several
  /// host threads (recursive: a graph's first lowering fills both).
  std::recursive_mutex mutex;
};

}  // namespace tatami::compiler

namespace tatami::compiler::lowering {

/// Elementwise ops that need a block of constants (relu's zeros, its gradient's mask) work in
/// chunks of at most this many elements, so that the block stays small (8 KiB).
constexpr std::uint64_t kChunkElements = 2048;
/// The most a tree across groups may take of a core's SRAM for its slots.
constexpr std::uint64_t kTreeSlotBytes = 32 * 1024;
/// The levels of a tree of fan-in F over `members` (ceil(log_F members)).
std::uint64_t treeDepth(std::uint64_t members, std::uint64_t fanIn);

/// With more than one hardware thread, bytes an op frees are reused only this many ops later
/// (while SRAM allows): neighbouring ops then seldom share bytes, and can run side by side.
constexpr int kCoolingOps = 4;
/// The step's inputs read from HBM signal semaphores 30, 31, ... (one each, docs/abi.md).
constexpr int kFirstInputSemaphore = 30, kInputSemaphores = 8;
/// With CoreContext::offloadGap: an intermediate goes to HBM when it is at least this large.
constexpr std::uint64_t kOffloadMinBytes = 8192;

class Lowering {
 public:
  Lowering(const Graph& g, const ArchConfig& c, const CoreContext& ctx, std::int64_t tableBytes)
      : g_(g), alloc_(std::uint64_t(c.core.sram_kib) * 1024, tableBytes), ctx_(ctx), c_(c),
        plans_(ctx.collectivePlans ? ctx.collectivePlans : newCollectivePlans()) {}
  std::uint64_t tableBytes() const { return alloc_.tableBytes(); }
  LoweredProgram run();

 private:
  // The walk (lower.cpp): where values live, and when they are placed and released.
  void place(int v);                  ///< a new buffer for v (sized for what its producer needs)
  bool resident(int x) const;         ///< x's bytes are in SRAM now
  /// Whether buffer b still holds a value used after node i (or `also`); `onlyResident`: not
  /// counting values whose home is HBM.
  bool bufferNeeded(int b, std::size_t i, int also, bool onlyResident) const;
  /// Value v lives in buffer b (buffer_ and valuesIn_ kept together).
  void bind(int v, int b);
  void releaseBuffer(int b);
  void assignHbmHomes();
  /// With ctx_.offloadGap: homes in HBM the intermediates kept across more than that many ops
  /// (each with the values that alias its bytes: reshapes, fused transposes), from `next` on.
  void assignOffloadHomes(std::uint64_t next);
  /// Whether offloaded value x is read again within ctx_.offloadGap ops after node i (so it stays).
  bool usedSoon(int x, std::size_t i) const;
  void placeGraphInputs(LoweredProgram& out);
  void findFusedTransposes();
  void findInPlaceScatters();
  void streamIn(int in, LoweredProgram& out);
  int dyingOperandToReuse(const Node& n, std::size_t i) const;
  /// The bytes place() gives v: its padded size, or what its collective's plan writes.
  std::uint64_t placedBytes(int v) const;
  void emitNode(const Node& n, LoweredProgram& out);
  /// Releases the buffers whose values die at node i; returns the step inputs' among them.
  std::vector<int> releaseDeadInputs(const Node& n, std::size_t i);
  void streamOut(const Node& n, std::size_t i);
  void placeOutputs(LoweredProgram& out);
  /// One node's code, the ops it reports and what the thread plan needs to know of it.
  struct Segment {
    Emitter code;
    SegmentNeeds needs;
    std::size_t firstOp = 0, endOp = 0;  ///< its entries in LoweredProgram::ops
  };
  /// With ctx_.loadInputs: the step's inputs (batch and target, by role) are in SRAM at the
  /// start; the next step's are read from HBM into the same buffers once this step's are dead
  /// (prefetchInput), and the step ends when they are in (awaitPrefetches; lower.cpp).
  void issueInputLoads(LoweredProgram& out);
  Segment prefetchInput(int buffer, double elapsed);
  /// With ctx_.offloadGap: an offloaded value's read back from HBM, a segment of its own.
  Segment readBack(int in, LoweredProgram& out);
  /// With ctx_.offloadGap: an offloaded value's copy to HBM once it is made, a segment of its own.
  Segment writeOut(int v, std::pair<std::uint64_t, std::uint64_t> bytes, LoweredProgram& out);
  /// The copy readBack and writeOut make (an hbmrd or hbmwr that waits for nothing), its segment.
  Segment offloadCopy(bool read, int v, std::uint64_t sram, LoweredProgram& out);
  void awaitPrefetches(std::vector<Segment>& segments, double elapsed, LoweredProgram& out);
  /// Which unit the segment mostly occupies, and whether it must stay on thread 0 (lower_threads.cpp).
  static void classify(Segment& seg);
  /// The program from its segments: each thread's segments in order with the waits and signals
  /// of the thread plan, then halt (lower_threads.cpp).
  void assembleThreads(const std::vector<Segment>& segments, LoweredProgram& out);
  std::map<int, std::size_t> lastUse_;  // value -> index of the last node that reads it
  std::map<int, std::vector<std::size_t>> uses_;  // value -> the nodes that read it, in order
  std::set<int> offloaded_;  // intermediates homed in HBM (ctx_.offloadGap)
  std::set<int> aliases_;    // offloaded values that share their bytes with an earlier one (not written again)
  std::set<int> outputs_;
  int nextBuffer_ = 0;

 private:
  std::uint64_t count(int v) const { return std::uint64_t(elementCount(g_.values[std::size_t(v)].shape)); }
  std::uint64_t padded(int v) const { return roundUp(count(v), 16); }
  const Shape& shape(int v) const { return g_.values[std::size_t(v)].shape; }
  std::uint64_t addr(int v) const { return addr_.at(buffer_.at(v)); }
  bool isScalarConst(int v) const {
    return g_.values[std::size_t(v)].kind == ValueKind::Constant && count(v) == 1;
  }
  double scalarOf(int v) const { return g_.values[std::size_t(v)].data.at(0); }
  [[noreturn]] void unsupported(const Node& n, const std::string& why) const {
    throw CompileError("node '" + n.name + "' (" + opName(n.op) + "): no lowering yet: " + why);
  }

  // Emission helpers.
  /// The cost model: every emitter adds its estimate (cycles at the config's rates) to the op
  /// being lowered, under the resource that bounds it.
  void cost(double cycles, const char* bound) {
    est_[bound] += cycles;
  }
  void li(int reg, std::int64_t v) {
    emit_.emit(tatami::Op::Li, {R(reg), v});
    cost(double(c_.core.scalar_cycles), "compute");
  }
  double lines(std::uint64_t bytes) const { return double((bytes + std::uint64_t(c_.core.sram_port_bytes) - 1) / std::uint64_t(c_.core.sram_port_bytes)); }
  /// A dependent vector instruction over n FP32 elements: its occupancy plus the pipeline latency
  /// (the next op waits for its result). Two sources share the read ports.
  void vectorCost(std::uint64_t n, int sources, bool special = false) {
    const double l = lines(n * 4);
    const double ports = double(c_.core.sram_read_ports);
    const double read = l * std::max(1.0, double(sources) / ports);
    const double compute = special ? l * double(c_.core.vector_special_cycles) : double(n * 4) / double(c_.core.fp32_fma_per_cycle * 4);
    cost(std::max(read, compute) + double(c_.core.vector_latency_cycles), compute >= read ? "compute" : "sram");
  }
  /// d = a OP b over n elements (whole vectors).
  void vbin(tatami::Op op, std::uint64_t d, std::uint64_t a, std::uint64_t b, std::uint64_t n) {
    li(1, std::int64_t(d)), li(2, std::int64_t(a)), li(3, std::int64_t(b)), li(4, std::int64_t(n));
    emit_.emit(op, DType::F32, {R(1), R(2), R(3), R(4)});
    vectorCost(n, 2);
  }
  void vun(tatami::Op op, std::uint64_t d, std::uint64_t a, std::uint64_t n) {
    li(1, std::int64_t(d)), li(2, std::int64_t(a)), li(4, std::int64_t(n));
    emit_.emit(op, DType::F32, {R(1), R(2), R(4)});
    vectorCost(n, 1, op == tatami::Op::Vexp || op == tatami::Op::Vlog || op == tatami::Op::Vrcp || op == tatami::Op::Vrsqrt);
  }
  /// d = a OPs c (vadds / vmuls with an immediate FP32 scalar).
  void vscalar(tatami::Op op, std::uint64_t d, std::uint64_t a, double c, std::uint64_t n) {
    li(1, std::int64_t(d)), li(2, std::int64_t(a)), li(3, fbits(c)), li(4, std::int64_t(n));
    emit_.emit(op, DType::F32, {R(1), R(2), R(3), R(4)});
    vectorCost(n, 1);
  }
  void vfill(std::uint64_t d, double c, std::uint64_t n) {
    li(1, std::int64_t(d)), li(3, fbits(c)), li(4, std::int64_t(n));
    emit_.emit(tatami::Op::Vfill, DType::F32, {R(1), R(3), R(4)});
    vectorCost(n, 0);
  }
  void dma2d(std::uint64_t d, std::uint64_t s, std::uint64_t rows, std::uint64_t rowBytes, std::uint64_t dstride, std::uint64_t sstride) {
    li(1, std::int64_t(d)), li(2, std::int64_t(s)), li(3, std::int64_t(rows)), li(4, std::int64_t(rowBytes));
    li(5, std::int64_t(dstride)), li(6, std::int64_t(sstride));
    emit_.emit(tatami::Op::Dma2d, {R(1), R(2), R(3), R(4), R(5), R(6), 0});
    emit_.emit(tatami::Op::Swait, {0, 1});  // DMA is asynchronous: wait for it before the data is used
    cost(dmaCycles(rows, rowBytes) + 2 * double(c_.core.scalar_cycles), "sram");
  }
  /// The same copy without waiting: the core's hazard checks order it against later
  /// instructions of the thread that touch its bytes.
  void dma2dAsync(std::uint64_t d, std::uint64_t s, std::uint64_t rows, std::uint64_t rowBytes, std::uint64_t dstride,
                  std::uint64_t sstride) {
    li(1, std::int64_t(d)), li(2, std::int64_t(s)), li(3, std::int64_t(rows)), li(4, std::int64_t(rowBytes));
    li(5, std::int64_t(dstride)), li(6, std::int64_t(sstride));
    emit_.emit(tatami::Op::Dma2d, {R(1), R(2), R(3), R(4), R(5), R(6), kNoSemaphore});
    cost(double(c_.core.scalar_cycles), "sram");
  }
  /// planes x rows of rowBytes without waiting (dma3d: strides below 2^32, rows and planes below
  /// 2^20, rows below 2^24 bytes).
  void dma3dAsync(std::uint64_t d, std::uint64_t s, std::uint64_t planes, std::uint64_t rows, std::uint64_t rowBytes,
                  std::uint64_t dplane, std::uint64_t drow, std::uint64_t splane, std::uint64_t srow) {
    li(1, std::int64_t(d)), li(2, std::int64_t(s)), li(3, std::int64_t(rowBytes | rows << 24 | planes << 44));
    li(4, std::int64_t(drow | dplane << 32)), li(5, std::int64_t(srow | splane << 32));
    emit_.emit(tatami::Op::Dma3d, {R(1), R(2), R(3), R(4), R(5), kNoSemaphore});
    cost(double(c_.core.scalar_cycles), "sram");
  }
  double dmaCycles(std::uint64_t rows, std::uint64_t rowBytes) const {
    const double perRow = std::max(1.0, std::ceil(double(rowBytes) / double(c_.core.noc_read_bytes_per_cycle)));
    return double(c_.core.dma_setup_cycles) + double(rows) * perRow;
  }
  /// A temporary of `elements` BF16 elements (whole vectors).
  std::uint64_t bf16Temp(std::uint64_t elements, const std::string& what) { return temp((elements + 1) / 2, what); }
  /// Frees a temporary before the op ends (a later write to its bytes waits for earlier reads).
  void releaseTemp(std::uint64_t a) {
    for (auto it = temps_.begin(); it != temps_.end(); ++it)
      if (it->first == a) {
        alloc_.release(it->first, it->second);
        temps_.erase(it);
        return;
      }
  }
  /// How many to take in one chunk of `total` units (examples, planes): the largest that `fits`
  /// (the whole, then halves, each a multiple of `align` units so that every chunk starts on a
  /// whole vector), else the smallest tried (`align`, or the whole when it is smaller). `fits` is
  /// called last on the chunk returned.
  template <typename F>
  std::uint64_t largestChunk(std::uint64_t total, std::uint64_t align, F&& fits) {
    for (std::uint64_t chunk = total;;) {
      if (fits(chunk)) return chunk;
      const std::uint64_t next = roundUp((chunk + 1) / 2, align);
      if (chunk <= align || next >= chunk) return chunk;
      chunk = next;
    }
  }
  /// The fewest units whose elements (elements per unit: each of `perUnit`) fill whole vectors.
  static std::uint64_t vectorUnits(std::initializer_list<std::uint64_t> perUnit) {
    std::uint64_t q = 1;
    for (std::uint64_t e : perUnit) {
      std::uint64_t need = 16;
      while (need > 1 && e % 2 == 0 && need % 2 == 0) e /= 2, need /= 2;
      q = std::max(q, need);  // powers of two: their lcm is the largest
    }
    return q;
  }
  /// Frees the temporaries made since temps_ held `mark` of them (one chunk's, before the next).
  void releaseTempsSince(std::size_t mark) {
    while (temps_.size() > mark) {
      alloc_.release(temps_.back().first, temps_.back().second);
      temps_.pop_back();
    }
  }
  std::uint64_t temp(std::uint64_t elements, const std::string& what) {
    const std::uint64_t a = alloc_.allocate(roundUp(elements, 16) * 4, what);
    temps_.push_back({a, roundUp(elements, 16) * 4});
    return a;
  }
  /// wide (M x N) = the column col (M) repeated across.
  void spreadColumn(std::uint64_t col, std::uint64_t wide, std::uint64_t M, std::uint64_t N);
  /// How a value of shape `s` repeats to `out`: out seen as [outer, mid, inner], the value holding
  /// the `mid` values of a block of axes, repeated over the axes before and after it (a bias per
  /// channel over the planes of every example). ok is false for any other broadcast.
  struct Repeat {
    bool ok = false;
    std::uint64_t outer = 1, mid = 1, inner = 1;
  };
  static Repeat repeatOf(const Shape& s, const Shape& out);
  /// dst = a OP b (add, sub, mul, div) where one operand has the other's shape and the other
  /// repeats per run of whole vectors (repeatOf, inner a multiple of 16): one vadds or vmuls per
  /// run with the run's value as its scalar, no broadcast copy. False, with nothing emitted, when
  /// the shapes do not allow it.
  bool scalarRuns(const Node& n, std::uint64_t dst);
  /// dst = a OP b (add, sub, mul, div, max, min) where one operand repeats over the leading
  /// (outer) axes in blocks of whole vectors whose runs are not (a bias per channel over 14 x 14
  /// planes): that operand broadcast over one block, once, then one vector operation per outer
  /// position. False, with nothing emitted, when the shapes do not allow it.
  bool blockRuns(const Node& n, std::uint64_t dst);
  /// Of a binary op's two operands, the smaller one when the other has the output's size (a
  /// broadcast operand), else -1.
  int smallerOperand(const Node& n) const;
  /// The operand scalarRuns applies run by run, or -1 when it does not apply to n.
  int perRunOperand(const Node& n) const;
  /// dst = the sums of x over `axes` in stages without moving x: its trailing reduced axes by
  /// sums of rows, then a leading reduced block by sums of columns (once, or once per position of
  /// the kept axes before it). False, with nothing emitted, for any other arrangement of the axes.
  bool reduceInStages(const Node& n, std::uint64_t dst, int x, const std::vector<bool>& axes);
  /// A buffer holding v broadcast to `out` (v itself if already that shape).
  std::uint64_t broadcast(const Node& n, int v, const Shape& out);
  void lowerNode(const Node& n, std::uint64_t dst);
  void matmul(const Node& n, std::uint64_t dst);
  /// conv2d and conv2d_grad_input on the matrix unit (lower_conv.cpp; convAsImplicitGemm says which).
  void convImplicitGemm(const Node& n, std::uint64_t dst);
  /// The same with `chunk` examples' planes at a time; `byBlock`: the A panels made 16 outputs
  /// at a time (the weights' whole BF16 copies need not fit).
  /// `pass` (with byBlock): that many blocks of 16 outputs per pass, each pass's A panels made
  /// and every position run against them (0: all at once).
  void convImplicitGemmChunks(const Node& n, std::uint64_t dst, std::uint64_t chunk, bool byBlock, std::uint64_t pass = 0);
  /// Pooling whose windows tile the input, and its gradients, by vector operations (lower_pool.cpp).
  void poolByVectors(const Node& n, std::uint64_t dst);
  /// The same for `planes` of the N C planes from p0 on.
  void poolPlanes(const Node& n, std::uint64_t dst, std::uint64_t p0, std::uint64_t planes);
  /// conv2d_grad_weight on the matrix unit, contracting over the positions in chunks of kChunk
  /// (lower_conv_weight.cpp); the Chosen form takes the chunk the cost model estimates fastest.
  /// ownOrder: C in dW's own (channel, r, q) order even with 16 channels or more (no staged copy
  /// to reorder; later chunks of examples added into dW tile by tile instead of through a partial).
  void convWeightGradient(const Node& n, std::uint64_t dst, std::uint64_t kChunk, std::uint64_t exChunk, bool ownOrder = false);
  void convWeightGradientExamples(const Node& n, std::uint64_t dst, std::uint64_t kChunk, std::uint64_t b0, std::uint64_t nc, bool ownOrder,
                                  bool accumulate);
  void convWeightGradientChosen(const Node& n, std::uint64_t dst);
  /// The cost model's estimate of what `lower` emits (-1 if it does not fit the SRAM); the
  /// program, the SRAM plan and the op's estimate are left as they were.
  template <class F>
  double estimateOnly(F&& lower) {
    const Emitter emitted = emit_;
    const Allocator planned = alloc_;
    const auto temps = temps_;
    const auto est = est_;
    const std::uint64_t useful = usefulFlops_;
    est_.clear();
    double cycles = 0;
    try {
      lower();
      for (const auto& [bound, c] : est_) cycles += c;
    } catch (const SramOverflow&) {
      cycles = -1;
    }
    emit_ = emitted, alloc_ = planned, temps_ = temps, est_ = est, usefulFlops_ = useful;
    return cycles;
  }
  /// BF16 copy of `count` FP32 elements at 64-byte-aligned `from` (vcvt works on whole BF16
  /// vectors: a tail goes through a zero-padded scratch line); returns the estimate.
  double toBf16(std::uint64_t to, std::uint64_t from, std::uint64_t count, const std::string& what);
  /// Value v in BF16 in a temporary, with `slack` zero elements after it (rounded up).
  std::uint64_t bf16Input(int v, std::uint64_t slack, const std::string& what, double& cycles);
  /// The same for n FP32 elements at `from` (a chunk of examples).
  std::uint64_t bf16Input(std::uint64_t from, std::uint64_t n, std::uint64_t slack, const std::string& what, double& cycles);
  /// A convolution operand's channels [c0, c0 + cn) as BF16 planes: element (b, c, p = i width +
  /// j) of phase (a, b') at base + (a stride + b') phaseBytes + (b exStride + c chanStride + p) x 2.
  /// Without padding, dilation or stride: the BF16 input itself (s16, shape s). Else a zeroed copy
  /// in a temporary (`owned`): padded, with `dilate` - 1 zeros between the input's elements (an
  /// input gradient's dy), and for a stride s > 1 split into s x s phases (row i, column j of
  /// phase (a, b') is padded element (i s + a, j s + b')), so that every kernel tap reads a
  /// stride-1 window of one phase. `slack` zero elements follow each phase.
  struct Bf16Planes {
    std::uint64_t base = 0, exStride = 0, chanStride = 0, width = 0, stride = 1, phaseBytes = 0;
    bool owned = false;
    /// The address of position 0 (example 0, channel 0) for the tap at padded offset (rOff, qOff).
    std::uint64_t tap(std::uint64_t rOff, std::uint64_t qOff) const {
      return base + ((rOff % stride) * stride + qOff % stride) * phaseBytes + ((rOff / stride) * width + qOff / stride) * 2;
    }
  };
  /// `firstPhaseOnly`: every tap the kernel reads is in phase (0, 0) (a 1x1 kernel, or a dilation
  /// that is a multiple of the stride), so only that phase is made.
  Bf16Planes bf16Planes(const Shape& s, std::uint64_t s16, std::uint64_t c0, std::uint64_t cn, const std::array<std::uint64_t, 4>& pad,
                        std::uint64_t dilate, std::uint64_t stride, std::uint64_t slack, const std::string& what, double& cycles,
                        bool firstPhaseOnly = false);
  void take(const Node& n, std::uint64_t dst);
  /// gather / gather_grad along an axis with indices known only at run time (embeddings).
  void gatherRows(const Node& n, std::uint64_t dst);
  /// The indices of `v` (FP32 values) as i32 in a temporary, negative ones wrapped by `len`.
  std::uint64_t indicesOf(const Node& n, int v, std::int64_t len);
  /// dst[i] = src[idx[i]] (FP32 elements; -1 reads fillValue) by one gather DMA.
  /// x's elements with the kept axes first and the reduced ones last (a gather; x itself when the
  /// reduced axes already trail), so that each row is one output element's reduction.
  std::uint64_t reducedLast(const Node& n, int x, const std::vector<bool>& axes);
  void gatherElements(const std::string& what, std::uint64_t dst, std::uint64_t src, const std::vector<std::int64_t>& idx,
                      double fillValue = 0.0);
  /// A matmul on the matrix unit with A's or B's panels resident; the Chosen form takes the order
  /// the cost model estimates faster of those that fit the SRAM (lower_matmul.cpp). kFirst and
  /// kBlock: the product over those K indices only; nFirst and nCount: C's columns nFirst ..
  /// nFirst + nCount - 1 only (0: all).
  void matmulMixed(const Node& n, std::uint64_t dst, bool aResident, std::uint64_t kFirst = 0, std::uint64_t kBlock = 0,
                   std::uint64_t nFirst = 0, std::uint64_t nCount = 0);
  /// matmulMixed over blocks of kc of K, summed into dst (when the whole K's panels do not fit).
  void matmulMixedKBlocks(const Node& n, std::uint64_t dst, std::uint64_t kc);
  /// matmulMixed over blocks of nc of C's columns, B's panels of a block resident and A's made
  /// again for each (when neither operand's panels fit whole).
  void matmulMixedColumnBlocks(const Node& n, std::uint64_t dst, std::uint64_t nc);
  void matmulMixedChosen(const Node& n, std::uint64_t dst);
  /// Where a matmul operand's element (k, i) is: kMajor: base + (k * ld + i) * 4, else
  /// base + (i * ld + k) * 4; `extent` is its other index's (M for A, N for B).
  struct PanelOperand {
    std::uint64_t base, ld, extent;
    bool kMajor;
  };
  /// The cost model's estimate of matmulMixed's instructions (they overlap: estimated as a whole).
  double matmulMixedCycles(const PanelOperand& a, const PanelOperand& b, std::uint64_t K, double tileCycles) const;
  void reduce(const Node& n, std::uint64_t dst, int x, std::vector<bool> axes, bool mean);
  /// What holds the SRAM now, for an overflow's message: the values in SRAM, their bytes and the
  /// largest few by name.
  std::string largestLive() const;
  void allreduce(const Node& n, std::uint64_t dst);
  /// A data-parallel all-reduce over many cores in two levels (see allreduceInGroups).
  void allreduceInGroups(const Node& n, std::uint64_t dst, std::uint64_t groupSize);
  /// The same in three levels on a ring over several dies (groups of groups within each die, then
  /// the dies): see allreduceInThreeLevels in lower_collectives.cpp.
  void allreduceInThreeLevels(const Node& n, std::uint64_t dst);
  /// A data-parallel all-reduce of a small vector up and down a tree of the ring's ranks: see
  /// allreduceTree in lower_collectives.cpp.
  void allreduceTree(const Node& n, std::uint64_t dst, std::uint64_t fanIn);
  /// The tree all-reduce among `members` (this core the r-th) of the `elements` at `at`, with
  /// fan-in F; its slots at mine.recv (treeDepth x (F-1) vectors), peers' addresses by peerBuffers.
  void treeAllreduce(const std::vector<int>& members, std::uint64_t r, std::uint64_t F, std::uint64_t at, std::uint64_t elements,
                     const CollectiveBuffers& mine);
  /// The cheaper of one ring and every two-level split into groups of C (C divides p; 4 <= C <=
  /// p/4, or, on a ring over several dies, any C whose groups each lie within a die), by the
  /// estimates of collective_cost.h (die crossings included).
  AllreducePlan groupsOf(int x) const;
  void allgather(const Node& n, std::uint64_t dst);
  void reducescatter(const Node& n, std::uint64_t dst);
  /// The semaphores of a grid collective (data arrived, receiver free, gathered chunk arrived).
  int semOf(const Node& n) const { return n.op == Op::allreduce_mean ? 1 : 4 + 3 * int(n.intAttr("axis", 0)); }
  /// Elements of each ring chunk of an all-reduce of `v` over p cores (whole vectors).
  std::uint64_t chunkOf(int v, std::uint64_t p) const { return roundUp((count(v) + p - 1) / p, 16); }
  /// The ring an all-reduce node runs over, and this core's place in it.
  const std::vector<int>& ringOf(const Node& n) const {
    return n.op == Op::allreduce_mean ? ctx_.ring : ctx_.lines.at(std::size_t(n.intAttr("axis", 0)));
  }
  int rankOf(const Node& n) const { return n.op == Op::allreduce_mean ? ctx_.rank : ctx_.lineRank.at(std::size_t(n.intAttr("axis", 0))); }

  const Graph& g_;
  Allocator alloc_;
  CoreContext ctx_;
  const ArchConfig& c_;
  /// groupsOf's answers, shared with the other cores of the ring when the caller gives
  /// CoreContext::collectivePlans (it is asked several times per all-reduce, and weighing every
  /// split of a ring over thousands of cores is not free).
  std::shared_ptr<CollectivePlans> plans_;
  std::map<std::string, double> est_;  // the op being lowered: estimated cycles by bound
  std::uint64_t usefulFlops_ = 0;      // the op being lowered: the matrix FLOPs its graph shapes ask for
  std::vector<CollectiveBuffers> collectives_;  // each allreduce_mean's buffers so far
  /// Core `core`'s buffers for the allreduce_mean being lowered (this core's own, `mine`, unless
  /// CoreContext::peerCollectives gives that core another layout).
  CollectiveBuffers peerBuffers(int core, const CollectiveBuffers& mine) const;
  std::string choice_;  // the op being lowered: a choice the cost model made, and why
  Emitter emit_;
  std::map<int, int> buffer_;                 // value -> buffer id (aliases share one)
  std::map<int, std::vector<int>> valuesIn_;  // buffer id -> the values it holds (buffer_ inverted)
  std::map<int, std::uint64_t> addr_, size_;  // buffer id -> address, bytes
  std::vector<std::pair<std::uint64_t, std::uint64_t>> temps_;
  std::set<int> transposed_;  // 2D transposes fused into the matmuls that use them (same bytes as their input)
  std::map<int, std::uint64_t> inPlaceScatter_;  // values reduce-scattered in place -> bytes their buffer needs
  std::map<int, std::uint64_t> hbm_;             // with ctx_.stream: values whose home is HBM -> HBM address
  struct InputLoad {
    int value = 0, semaphore = 0;
    std::uint64_t hbm = 0, bytes = 0;  // where the next step's copy is, and its size
    bool issued = false;
    double issuedAt = 0;  // the estimate of the step's cycles before its read
  };
  std::map<int, InputLoad> loads_;  // buffer id -> the step input it holds, read from HBM for the next step
  /// Copies between SRAM and HBM through an interface processor, waiting for them.
  void hbmTransfer(bool read, std::uint64_t sram, std::uint64_t hbm, std::uint64_t bytes) {
    li(1, std::int64_t(sram)), li(2, std::int64_t(hbm)), li(3, std::int64_t(bytes));
    if (read) emit_.emit(tatami::Op::HbmRead, {R(1), R(2), R(3), 0});
    else emit_.emit(tatami::Op::HbmWrite, {R(2), R(1), R(3), 0});
    emit_.emit(tatami::Op::Swait, {0, 1});
    cost(hbmTransferCycles(c_, bytes), "mesh");
  }
};

}  // namespace tatami::compiler::lowering
