// Graph -> one core's tile program (see lower.h). Each op becomes a short sequence of vector
// instructions and DMA over dense FP32 arrays; matmul runs on the vector unit (FP32), row by row.
#include "tatami/compiler/lower.h"
#include "tatami/arch/isa.h"
#include "tatami/compiler/pipeline.h"

#include "strided.h"

#include <algorithm>
#include <array>
#include <functional>
#include <cmath>
#include <cstring>
#include <set>
#include <sstream>

namespace tatami::compiler {

namespace {

constexpr std::uint64_t kVec = 64;
std::uint64_t roundUp(std::uint64_t v, std::uint64_t m) { return (v + m - 1) / m * m; }

std::int64_t fbits(double v) {
  const float f = float(v);
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return std::int64_t(u);
}

/// First-fit allocation of 64 B aligned blocks.
class Allocator {
 public:
  /// `tables` bytes at the top hold the program's constant tables (allocateStatic); with
  /// `tables` < 0 the tables are only counted (a first pass that learns their size).
  Allocator(std::uint64_t capacity, std::int64_t tables) : capacity_(capacity), counting_(tables < 0) {
    const std::uint64_t reserved = tables < 0 ? 0 : roundUp(std::uint64_t(tables), kVec);
    if (reserved >= capacity)
      throw SramOverflow("SRAM: the program's constant tables need " + std::to_string(reserved) + " bytes, more than the core's " +
                         std::to_string(capacity) + " bytes");
    free_[0] = capacity - reserved;
    used_ = peak_ = reserved;
  }
  std::uint64_t allocate(std::uint64_t bytes, const std::string& what) {
    bytes = roundUp(std::max<std::uint64_t>(bytes, kVec), kVec);
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->second >= bytes) {
        const std::uint64_t addr = it->first, left = it->second - bytes;
        free_.erase(it);
        if (left) free_[addr + bytes] = left;
        used_ += bytes;
        peak_ = std::max(peak_, used_);
        return addr;
      }
    std::uint64_t largest = 0;
    for (const auto& [a, s] : free_) largest = std::max(largest, s);
    throw SramOverflow("SRAM: tensor '" + what + "' needs " + std::to_string(bytes) + " bytes, but the largest free block of the core's " +
                       std::to_string(capacity_) + " bytes is " + std::to_string(largest) + " (" + std::to_string(used_) +
                       " in use): short by " + std::to_string(bytes - largest) + " bytes");
  }
  void release(std::uint64_t addr, std::uint64_t bytes) {
    bytes = roundUp(std::max<std::uint64_t>(bytes, kVec), kVec);
    used_ -= bytes;
    auto it = free_.emplace(addr, bytes).first;
    // Merge with the neighbours.
    auto next = std::next(it);
    if (next != free_.end() && it->first + it->second == next->first) it->second += next->second, free_.erase(next);
    if (it != free_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) prev->second += it->second, free_.erase(it);
    }
  }
  std::uint64_t peak() const { return peak_; }
  /// A block for the program's whole life (index tables written at load time) in the reserved
  /// region at the top of the SRAM, which no tensor uses.
  std::uint64_t allocateStatic(std::uint64_t bytes) {
    bytes = roundUp(std::max<std::uint64_t>(bytes, kVec), kVec);
    tableBytes_ += bytes;
    if (counting_) return 0;
    staticTop_ -= bytes;
    return staticTop_;
  }
  std::uint64_t tableBytes() const { return tableBytes_; }

 private:
  std::uint64_t capacity_, used_ = 0, peak_ = 0, tableBytes_ = 0;
  std::uint64_t staticTop_ = capacity_;
  bool counting_;
  std::map<std::uint64_t, std::uint64_t> free_;
};

class Lowering {
 public:
  Lowering(const Graph& g, const ArchConfig& c, const CoreContext& ctx, std::int64_t tableBytes)
      : g_(g), alloc_(std::uint64_t(c.core.sram_kib) * 1024, tableBytes), ctx_(ctx), c_(c) {}
  std::uint64_t tableBytes() const { return alloc_.tableBytes(); }
  LoweredProgram run();

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
  void line(const std::string& s) {
    code_ << "    " << s << "\n";
    ++pc_;
  }
  /// The cost model: every emitter adds its estimate (cycles at the config's rates) to the op
  /// being lowered, under the resource that bounds it.
  void cost(double cycles, const char* bound) {
    est_[bound] += cycles;
  }
  std::string label() { return "L" + std::to_string(labels_++); }
  void li(int reg, std::int64_t v) {
    line("li r" + std::to_string(reg) + ", " + std::to_string(v));
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
  void vbin(const std::string& op, std::uint64_t d, std::uint64_t a, std::uint64_t b, std::uint64_t n) {
    li(1, std::int64_t(d)), li(2, std::int64_t(a)), li(3, std::int64_t(b)), li(4, std::int64_t(n));
    line(op + ".f32 r1, r2, r3, r4");
    vectorCost(n, 2);
  }
  void vun(const std::string& op, std::uint64_t d, std::uint64_t a, std::uint64_t n) {
    li(1, std::int64_t(d)), li(2, std::int64_t(a)), li(4, std::int64_t(n));
    line(op + ".f32 r1, r2, r4");
    vectorCost(n, 1, op == "vexp" || op == "vlog" || op == "vrcp" || op == "vrsqrt");
  }
  /// d = a OPs c (vadds / vmuls with an immediate FP32 scalar).
  void vscalar(const std::string& op, std::uint64_t d, std::uint64_t a, double c, std::uint64_t n) {
    li(1, std::int64_t(d)), li(2, std::int64_t(a)), li(3, fbits(c)), li(4, std::int64_t(n));
    line(op + ".f32 r1, r2, r3, r4");
    vectorCost(n, 1);
  }
  void vfill(std::uint64_t d, double c, std::uint64_t n) {
    li(1, std::int64_t(d)), li(3, fbits(c)), li(4, std::int64_t(n));
    line("vfill.f32 r1, r3, r4");
    vectorCost(n, 0);
  }
  void dma2d(std::uint64_t d, std::uint64_t s, std::uint64_t rows, std::uint64_t rowBytes, std::uint64_t dstride, std::uint64_t sstride) {
    li(1, std::int64_t(d)), li(2, std::int64_t(s)), li(3, std::int64_t(rows)), li(4, std::int64_t(rowBytes));
    li(5, std::int64_t(dstride)), li(6, std::int64_t(sstride));
    line("dma2d r1, r2, r3, r4, r5, r6, 0");
    line("swait 0, 1");  // DMA is asynchronous: wait for it before the data is used
    cost(dmaCycles(rows, rowBytes) + 2 * double(c_.core.scalar_cycles), "sram");
  }
  /// The same copy without waiting: the core's hazard checks order it against later
  /// instructions of the thread that touch its bytes.
  void dma2dAsync(std::uint64_t d, std::uint64_t s, std::uint64_t rows, std::uint64_t rowBytes, std::uint64_t dstride,
                  std::uint64_t sstride) {
    li(1, std::int64_t(d)), li(2, std::int64_t(s)), li(3, std::int64_t(rows)), li(4, std::int64_t(rowBytes));
    li(5, std::int64_t(dstride)), li(6, std::int64_t(sstride));
    line("dma2d r1, r2, r3, r4, r5, r6, none");
    cost(double(c_.core.scalar_cycles), "sram");
  }
  double dmaCycles(std::uint64_t rows, std::uint64_t rowBytes) const {
    const double perRow = std::max(1.0, std::ceil(double(rowBytes) / double(c_.core.noc_read_bytes_per_cycle)));
    return double(c_.core.dma_setup_cycles) + double(rows) * perRow;
  }
  std::uint64_t temp(std::uint64_t elements, const std::string& what) {
    const std::uint64_t a = alloc_.allocate(roundUp(elements, 16) * 4, what);
    temps_.push_back({a, roundUp(elements, 16) * 4});
    return a;
  }
  /// wide (M x N) = the column col (M) repeated across.
  void spreadColumn(std::uint64_t col, std::uint64_t wide, std::uint64_t M, std::uint64_t N);
  /// A buffer holding v broadcast to `out` (v itself if already that shape).
  std::uint64_t broadcast(const Node& n, int v, const Shape& out);
  void lowerNode(const Node& n, std::uint64_t dst);
  void matmul(const Node& n, std::uint64_t dst);
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
  void matmulMixed(const Node& n, std::uint64_t dst);
  void reduce(const Node& n, std::uint64_t dst, int x, std::vector<bool> axes, bool mean);
  void allreduce(const Node& n, std::uint64_t dst);
  /// A data-parallel all-reduce over many cores in two levels (see allreduceInGroups).
  void allreduceInGroups(const Node& n, std::uint64_t dst, std::uint64_t groupSize);
  /// The group size of a two-level data-parallel all-reduce of value x over the ring (0: one
  /// ring), and the elements of each group chunk.
  std::pair<std::uint64_t, std::uint64_t> groupsOf(int x) const {
    const std::uint64_t p = ctx_.ring.size();
    if (p < 32) return {0, 0};
    std::uint64_t best = 0;
    const double root = std::sqrt(double(p));
    for (std::uint64_t c = 4; c * 4 <= p; ++c)
      if (p % c == 0 && (best == 0 || std::fabs(double(c) - root) < std::fabs(double(best) - root))) best = c;
    if (best == 0) return {0, 0};
    const std::uint64_t groups = p / best;
    return {best, roundUp((count(x) + best - 1) / best, 16 * groups)};
  }
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
  std::uint32_t pc_ = 0;
  std::map<std::string, double> est_;  // the op being lowered: estimated cycles by bound
  std::ostringstream code_, head_;
  int labels_ = 0;
  std::map<int, int> buffer_;                 // value -> buffer id (aliases share one)
  std::map<int, std::uint64_t> addr_, size_;  // buffer id -> address, bytes
  std::vector<std::pair<std::uint64_t, std::uint64_t>> temps_;
  std::set<int> transposed_;  // 2D transposes fused into the matmuls that use them (same bytes as their input)
  std::map<int, std::uint64_t> inPlaceScatter_;  // values reduce-scattered in place -> bytes their buffer needs
  std::map<int, std::uint64_t> hbm_;             // with ctx_.stream: values whose home is HBM -> HBM address
  /// Copies between SRAM and HBM through an interface processor, waiting for them.
  void hbmTransfer(bool read, std::uint64_t sram, std::uint64_t hbm, std::uint64_t bytes) {
    li(1, std::int64_t(sram)), li(2, std::int64_t(hbm)), li(3, std::int64_t(bytes));
    line(read ? "hbmrd r1, r2, r3, 0" : "hbmwr r2, r1, r3, 0");
    line("swait 0, 1");
    const double bw = std::min<double>(double(c_.core.noc_read_bytes_per_cycle), double(c_.dip.hbm_bytes_per_cycle));
    cost(double(c_.dip.hbm_latency_cycles) + double(bytes) / bw + 60, "mesh");
  }
};

void Lowering::spreadColumn(std::uint64_t col, std::uint64_t wide, std::uint64_t M, std::uint64_t N) {
  // wide[i, :] = col[i]: one DMA per row, its source stride 0 repeating the element.
  const std::string loop = label();
  li(10, 0), li(11, std::int64_t(M)), li(12, std::int64_t(col)), li(13, std::int64_t(wide));
  li(3, std::int64_t(N)), li(4, 4), li(5, 4), li(6, 0);
  code_ << loop << ":\n";
  line("dma2d r13, r12, r3, r4, r5, r6, 0");
  line("swait 0, 1");
  line("add r12, r12, 4");
  line("add r13, r13, " + std::to_string(N * 4));
  line("add r10, r10, 1");
  line("blt r10, r11, " + loop);
  cost(double(M) * (dmaCycles(N, 4) + 6 * double(c_.core.scalar_cycles)), "sram");
}

std::uint64_t Lowering::broadcast(const Node& n, int v, const Shape& out) {
  const Shape& s = shape(v);
  if (elementCount(s) == elementCount(out)) return addr(v);
  const std::uint64_t total = std::uint64_t(elementCount(out));
  const std::uint64_t t = temp(total, n.name + ".broadcast");
  if (elementCount(s) == 1) {
    li(7, std::int64_t(addr(v)));
    line("lw r3, [r7]");
    cost(double(c_.core.scalar_cycles), "compute");
    li(1, std::int64_t(t)), li(4, std::int64_t(roundUp(total, 16)));
    line("vfill.f32 r1, r3, r4");
    vectorCost(roundUp(total, 16), 0);
    return t;
  }
  if (out.size() == 2) {
    const std::uint64_t M = std::uint64_t(out[0]), N = std::uint64_t(out[1]);
    if (std::uint64_t(elementCount(s)) == N && (s.size() == 1 || s[0] == 1)) {  // a row, repeated down
      dma2d(t, addr(v), M, N * 4, N * 4, 0);
      return t;
    }
    if (std::uint64_t(elementCount(s)) == M && s.size() == 2 && s[1] == 1) {  // a column, repeated across
      spreadColumn(addr(v), t, M, N);
      return t;
    }
  }
  if (s.size() > out.size()) unsupported(n, "broadcast of " + shapeText(s) + " to " + shapeText(out));
  {
    // Values repeated along trailing axes (a bias per channel over the planes of every example):
    // out is [outer, mid, inner] with the source the `mid` values. Each value fills a row of
    // `inner` once (vfill), and one strided DMA copies that row into every `outer` position.
    const std::size_t off = out.size() - s.size();
    std::size_t d0 = out.size(), d1 = 0;
    for (std::size_t d = off; d < out.size(); ++d)
      if (s[d - off] != 1) d0 = std::min(d0, d), d1 = d + 1;
    bool block = d0 < d1;
    std::uint64_t outer = 1, mid = 1, inner = 1;
    for (std::size_t d = 0; d < out.size() && block; ++d) {
      const std::int64_t sd = d < off ? 1 : s[d - off];
      if (d < d0) outer *= std::uint64_t(out[d]);
      else if (d < d1) block = sd == out[d], mid *= std::uint64_t(out[d]);
      else inner *= std::uint64_t(out[d]);
    }
    if (block && inner >= 16) {
      const std::uint64_t rowElems = roundUp(inner, 16), rows = temp(mid * rowElems, n.name + ".rows");
      const std::string loop = label();
      li(1, std::int64_t(rows)), li(4, std::int64_t(rowElems)), li(5, std::int64_t(outer)), li(6, std::int64_t(inner * 4));
      li(7, std::int64_t(mid * inner * 4)), li(8, 0), li(10, 0), li(11, std::int64_t(mid)), li(12, std::int64_t(addr(v))), li(13, std::int64_t(t));
      code_ << loop << ":\n";
      line("lw r3, [r12]");
      line("vfill.f32 r1, r3, r4");
      line("dma2d r13, r1, r5, r6, r7, r8, none");
      line("add r12, r12, 4");
      line("add r1, r1, " + std::to_string(rowElems * 4));
      line("add r13, r13, " + std::to_string(inner * 4));
      line("add r10, r10, 1");
      line("blt r10, r11, " + loop);
      const double fill = lines(rowElems * 4) + double(c_.core.vector_latency_cycles) + 8 * double(c_.core.scalar_cycles);
      cost(double(mid) * std::max(fill, dmaCycles(outer, inner * 4)) + dmaCycles(outer, inner * 4), "sram");
      return t;
    }
  }
  // Any other broadcast: a gather, each output element reading its source element.
  const std::size_t off = out.size() - s.size();
  const auto sStride = rowMajorStrides(s);
  std::vector<std::int64_t> strides(out.size(), 0);  // 0: the axis repeats
  for (std::size_t d = off; d < out.size(); ++d) {
    const std::int64_t sd = s[d - off];
    if (sd != 1 && sd != out[d]) unsupported(n, "broadcast of " + shapeText(s) + " to " + shapeText(out));
    if (sd != 1) strides[d] = sStride[d - off];
  }
  const std::vector<std::int64_t> idx = stridedIndices(out, strides);
  gatherElements(n.name + ".broadcast", t, addr(v), idx);
  return t;
}

void Lowering::matmulMixed(const Node& n, std::uint64_t dst) {
  // C = A B on the matrix unit. Both operands go to the matrix unit as BF16 panels of K rows
  // (padded to even with zeros) by 16 of their other index: A's panels are 16 of its rows, B's
  // 16 of its columns. An operand stored with K as its row index (B, or a fused transpose of
  // A) gives a panel by one strided DMA and a conversion; one stored with K as its column index
  // (A, or a fused transpose of B) by a transpose and a conversion. Each 16 x 16 C tile is one
  // mmaz (+ mma for K beyond 4096) into a tile buffer, copied into C's rows by DMA two tiles
  // later. The one thread issues in order, so the preparation of the next row block's A panel
  // is interleaved with this block's matrix instructions and the matrix unit stays busy; the
  // core's hazard checks order the DMA copies, panel writes and matrix reads.
  const int a = n.inputs[0], b = n.inputs[1];
  const std::uint64_t M = std::uint64_t(shape(a)[0]), K = std::uint64_t(shape(a)[1]), N = std::uint64_t(shape(b)[1]);
  const std::uint64_t Kp = roundUp(K, 2), mb = (M + 15) / 16, nb = (N + 15) / 16;
  const std::uint64_t panelBytes = Kp * 32;  // Kp rows of 16 BF16
  // A row block's panel is used by that block's tiles only: two panels in rotation.
  const std::uint64_t aSlots = std::min<std::uint64_t>(mb, 2);
  const std::uint64_t aPanels = alloc_.allocate(aSlots * panelBytes, n.name + ".a_panels");
  const std::uint64_t bPanels = alloc_.allocate(nb * panelBytes, n.name + ".b_panels");
  temps_.push_back({aPanels, aSlots * panelBytes});
  temps_.push_back({bPanels, nb * panelBytes});
  const std::uint64_t trans[2] = {temp(16 * Kp, n.name + ".trans0"), temp(16 * Kp, n.name + ".trans1")};
  // A zero-padded copy of a partial row block, for operands read by rows (only when needed).
  const bool padRows = (!transposed_.count(a) && (M % 16 || K != Kp)) || (transposed_.count(b) && (N % 16 || K != Kp));
  const std::uint64_t block = padRows ? temp(16 * Kp, n.name + ".block") : 0;
  constexpr std::uint64_t kTiles = 4;  // C tile buffers in rotation
  const std::uint64_t tiles = temp(256 * kTiles, n.name + ".tiles");
  const double macs = double(c_.core.matrix_units * c_.core.matrix_dim * c_.core.matrix_dim);
  const double tileCycles = std::max(256.0 * double(Kp) / macs, lines(2 * Kp * 32)) + 4 * double(c_.core.scalar_cycles);
  // Where an operand's element (k, i) is: kMajor: base + (k * ld + i) * 4, else base + (i * ld + k) * 4.
  struct Operand {
    std::uint64_t base, ld, extent;
    bool kMajor;
  };
  const Operand opA = transposed_.count(a) ? Operand{addr(a), M, M, true} : Operand{addr(a), K, M, false};
  const Operand opB = transposed_.count(b) ? Operand{addr(b), K, N, false} : Operand{addr(b), N, N, true};

  // The steps that build panel `ib` of an operand into `panel`: loading it (FP32, K x 16) into
  // scratch `t`, then converting it to BF16 (each step one vector or DMA instruction).
  const auto loadSteps = [&](const Operand& o, std::uint64_t ib, std::uint64_t t) {
    std::vector<std::function<void()>> steps;
    const std::uint64_t count16 = std::min<std::uint64_t>(16, o.extent - ib * 16);
    if (o.kMajor) {
      if (count16 < 16 || K != Kp) steps.push_back([=] { vfill(t, 0.0, 16 * Kp); });
      steps.push_back([=] { dma2dAsync(t, o.base + ib * 64, K, count16 * 4, 64, o.ld * 4); });  // Kp x 16 FP32
    } else {
      std::uint64_t src = o.base + ib * 16 * o.ld * 4;
      if (count16 < 16 || K != Kp) {  // a zero-padded copy first
        steps.push_back([=] { vfill(block, 0.0, 16 * Kp); });
        steps.push_back([=] { dma2dAsync(block, src, count16, K * 4, Kp * 4, o.ld * 4); });
        src = block;
      }
      // Converted before it is transposed: each instruction then writes at most half the lines
      // of a tile's matrix work, and fits between the matrix unit's result write-backs.
      steps.push_back([=] {
        li(1, std::int64_t(t)), li(2, std::int64_t(src)), li(4, std::int64_t(16 * Kp));
        line("vcvt.f32.bf16 r1, r2, r4");  // 16 x Kp BF16
        vectorCost(16 * Kp, 1);
      });
    }
    return steps;
  };
  const auto convertStep = [&](const Operand& o, std::uint64_t panel, std::uint64_t t) {
    return std::function<void()>([=] {
      if (o.kMajor) {
        li(1, std::int64_t(panel)), li(2, std::int64_t(t)), li(4, std::int64_t(16 * Kp));
        line("vcvt.f32.bf16 r1, r2, r4");
      } else {
        li(1, std::int64_t(panel)), li(2, std::int64_t(t)), li(3, 16), li(4, std::int64_t(Kp));
        line("vtr.bf16 r1, r2, r3, r4");  // Kp x 16
      }
      vectorCost(8 * Kp, 1);
    });
  };
  const auto run = [](const std::vector<std::function<void()>>& steps) {
    for (const auto& step : steps) step();
  };
  const auto before = est_;  // the instructions below are estimated as a whole, at the end
  // A thread waits while the unit it issues to is busy, so B's loads (DMA) are spread over the
  // first row block: panel jb + 2 is loaded while tile (0, jb) computes, and panel jb + 1,
  // loaded a tile earlier, is converted then, in time for the next tile.
  // Two load buffers suffice: panel jb + 2 reuses panel jb's, converted a tile earlier.
  const std::uint64_t bScratch[2] = {temp(16 * Kp, n.name + ".b_load0"), nb > 1 ? temp(16 * Kp, n.name + ".b_load1") : 0};
  run(loadSteps(opB, 0, bScratch[0]));
  if (nb > 1) run(loadSteps(opB, 1, bScratch[1]));
  run(loadSteps(opA, 0, trans[0]));
  run({convertStep(opA, aPanels, trans[0]), convertStep(opB, bPanels, bScratch[0])});
  std::uint64_t t = 0;
  std::vector<std::array<std::uint64_t, 4>> copies;  // (tile buffer, C address, rows, cols) of the tiles to copy out
  const auto copyOut = [&](const std::array<std::uint64_t, 4>& c) { dma2dAsync(c[1], c[0], c[2], c[3] * 4, N * 4, 64); };
  for (std::uint64_t ib = 0; ib < mb; ++ib) {
    std::vector<std::function<void()>> next;
    if (ib + 1 < mb) {
      next = loadSteps(opA, ib + 1, trans[(ib + 1) % 2]);
      next.push_back(convertStep(opA, aPanels + ((ib + 1) % aSlots) * panelBytes, trans[(ib + 1) % 2]));
    }
    std::size_t stepAt = 0;
    for (std::uint64_t jb = 0; jb < nb; ++jb, ++t) {
      const std::uint64_t tile = tiles + (t % kTiles) * 1024;
      for (std::uint64_t k0 = 0; k0 < Kp; k0 += 4096) {
        const std::uint64_t kc = std::min<std::uint64_t>(4096, Kp - k0);
        li(1, std::int64_t(tile)), li(2, std::int64_t(aPanels + (ib % aSlots) * panelBytes + k0 * 32));
        li(3, std::int64_t(bPanels + jb * panelBytes + k0 * 32)), li(4, std::int64_t(kc));
        line(std::string(k0 == 0 ? "mmaz" : "mma") + ".bf16 r1, r2, r3, r4");
      }
      const std::uint64_t rows = std::min<std::uint64_t>(16, M - ib * 16), cols = std::min<std::uint64_t>(16, N - jb * 16);
      copies.push_back({tile, dst + (ib * 16 * N + jb * 16) * 4, rows, cols});
      if (copies.size() > 2) copyOut(copies[copies.size() - 3]);
      if (ib == 0 && jb + 2 < nb) run(loadSteps(opB, jb + 2, bScratch[(jb + 2) % 2]));
      if (ib == 0 && jb + 1 < nb) convertStep(opB, bPanels + (jb + 1) * panelBytes, bScratch[(jb + 1) % 2])();
      // Steps spread over the block (a step waits for the one before: with a tile between them
      // it does not hold up the thread); in the first block the vector unit converts B first.
      const std::uint64_t spacing = std::max<std::uint64_t>(1, nb / std::max<std::uint64_t>(1, next.size()));
      if (stepAt < next.size() && ib > 0 && jb % spacing == 0) next[stepAt++]();
    }
    while (stepAt < next.size()) next[stepAt++]();
  }
  for (std::size_t i = copies.size() > 2 ? copies.size() - 2 : 0; i < copies.size(); ++i) copyOut(copies[i]);
  est_ = before;
  // The estimate: B panels, the first A panel, then per row block the matrix work or the next A
  // panel's preparation, whichever is longer, and the last tile's result and copy.
  const double convert = lines(16 * Kp * 4) + double(c_.core.vector_latency_cycles);
  const double copy = dmaCycles(K, 64);
  const auto prep = [&](const Operand& o, bool partial) {
    const std::uint64_t copyRows = partial && o.extent % 16 ? o.extent % 16 : 16;  // the rows a padded copy moves
    const double pad = (partial || K != Kp) ? convert + (o.kMajor ? 0.0 : dmaCycles(copyRows, K * 4)) : 0.0;
    // Read by rows: a conversion of FP32 lines, then a transpose of half as many BF16 lines.
    const double transposeBf16 = lines(16 * Kp * 2) + double(c_.core.vector_latency_cycles);
    return (o.kMajor ? std::max(copy, convert) : convert + transposeBf16) + pad;
  };
  // B's first panel before any tile; each later one is prepared while a tile of the first row
  // block computes (the longer of the two paces that block).
  const double bFirst = (opB.kMajor ? copy : 0.0) + prep(opB, false) + (N % 16 ? convert : 0.0);
  // With small K the DMA engine paces it: a B panel's load and a tile's copy per tile.
  const double dmaPace = (opB.kMajor ? copy : 0.0) + dmaCycles(std::min<std::uint64_t>(16, M), 64) + 24 * double(c_.core.scalar_cycles);
  const double firstBlock = tileCycles + double(nb - 1) * std::max({tileCycles, prep(opB, false), dmaPace});
  const double aPrep = prep(opA, false) + (opA.kMajor ? copy : 0.0);
  const double aLastPad = prep(opA, M % 16 != 0) - prep(opA, false);  // the last block's zero-padded copy
  // A block with little matrix work waits for its panel: the preparation and the scalar set-up
  // of its instructions (about 22 issue cycles) are exposed.
  // ... or, with small K, the DMA engine: the block's tile copies and its A panel's load.
  const double dmaPerBlock = double(nb) * dmaCycles(16, 64) + (opA.kMajor ? copy : 0.0);
  const double perBlock = std::max({double(nb) * tileCycles, aPrep + 22 * double(c_.core.scalar_cycles), dmaPerBlock});
  cost(bFirst + aPrep + aLastPad + firstBlock + double(mb - 1) * perBlock + double(c_.core.matrix_latency_cycles) + lines(1024) +
           dmaCycles(16, 64),
       "compute");
}

/// The largest block count d (d divides idx.size()) such that block b of idx is block 0 shifted
/// by b * shift (the -1 entries staying -1): one table then serves every block, e.g. every
/// example of a batch. `aligned`: blocks must be whole 64-byte vectors. 1 if none.
std::uint64_t periodOf(const std::vector<std::int64_t>& idx, bool aligned, std::int64_t& shift) {
  const std::uint64_t n = idx.size();
  for (std::uint64_t d = n / 16; d >= 2; --d) {
    if (n % d) continue;
    const std::uint64_t L = n / d;
    if (aligned && L % 16) continue;
    std::int64_t D = 0;
    bool known = false, ok = true;
    for (std::uint64_t k = 0; k < L && ok; ++k) {
      if (idx[k] < 0) {
        for (std::uint64_t b = 1; b < d && ok; ++b) ok = idx[b * L + k] < 0;
        continue;
      }
      if (!known) {
        if (idx[L + k] < 0) { ok = false; break; }
        D = idx[L + k] - idx[k], known = true;
      }
      for (std::uint64_t b = 1; b < d && ok; ++b) ok = idx[b * L + k] == idx[k] + std::int64_t(b) * D;
    }
    if (ok && known) {
      shift = D;
      return d;
    }
  }
  return 1;
}

namespace {

/// Whether `idx` is a batch of 2D transposes: blocks of rows x cols elements where output element
/// (block e, column c, row r) is input element base + e rows cols + r cols + c (the permutation
/// between a convolution's rows of examples and positions and its channel planes).
bool batchedTranspose(const std::vector<std::int64_t>& idx, std::uint64_t& rows, std::uint64_t& cols, std::int64_t& base) {
  if (idx.size() < 4 || idx[0] < 0) return false;
  base = idx[0];
  const std::int64_t c = idx[1] - idx[0];
  if (c < 2) return false;
  std::size_t r = 1;
  while (r < idx.size() && idx[r] == base + std::int64_t(r) * c) ++r;
  if (r < 2 || r >= idx.size() || idx[r] != base + 1) return false;
  const std::uint64_t block = std::uint64_t(r) * std::uint64_t(c);
  if (idx.size() % block) return false;
  for (std::size_t k = 0; k < idx.size(); ++k) {
    const std::uint64_t e = k / block, within = k % block, col = within / r, row = within % r;
    if (idx[k] != base + std::int64_t(e * block + row * std::uint64_t(c) + col)) return false;
  }
  rows = r, cols = std::uint64_t(c);
  return true;
}

/// Whether `idx` (no fills) is a sequence of equal 2D blocks that fill the output one after
/// another: each block `rows` runs of `run` consecutive source elements, each run `stride`
/// elements after the one before (a window of an image plane, the channel planes of an example).
/// `starts`: each block's first source element.
bool stridedRuns(const std::vector<std::int64_t>& idx, std::uint64_t& run, std::uint64_t& rows, std::int64_t& stride,
                 std::vector<std::int64_t>& starts) {
  if (idx.empty() || idx[0] < 0) return false;
  run = 1;
  while (run < idx.size() && idx[run] == idx[0] + std::int64_t(run)) ++run;
  if (idx.size() % run) return false;
  const std::size_t runs = idx.size() / run;
  for (std::size_t k = 0; k < runs; ++k)
    for (std::uint64_t t = 0; t < run; ++t)
      if (idx[k * run + t] < 0 || idx[k * run + t] != idx[k * run] + std::int64_t(t)) return false;
  rows = 1, stride = 0;
  if (runs > 1) {
    stride = idx[run] - idx[0];
    while (rows < runs && idx[rows * run] == idx[0] + std::int64_t(rows) * stride) ++rows;
  }
  if (runs % rows) return false;
  starts.clear();
  for (std::size_t b = 0; b < runs / rows; ++b) {
    const std::int64_t first = idx[b * rows * run];
    for (std::uint64_t k = 0; k < rows; ++k)
      if (idx[(b * rows + k) * run] != first + std::int64_t(k) * stride) return false;
    starts.push_back(first);
  }
  return true;
}

}  // namespace

void Lowering::gatherElements(const std::string& what, std::uint64_t dst, std::uint64_t src, const std::vector<std::int64_t>& idx,
                              double fillValue) {
  // A batch of 2D transposes whose blocks start on whole vectors: one vtr per block.
  std::uint64_t rows = 0, cols = 0;
  std::int64_t base = 0;
  constexpr std::uint64_t vec = kVectorBytes;
  if (batchedTranspose(idx, rows, cols, base) && (src + std::uint64_t(base) * 4) % vec == 0 && dst % vec == 0 &&
      (idx.size() == rows * cols || rows * cols * 4 % vec == 0)) {
    const std::uint64_t blocks = idx.size() / (rows * cols), bytes = rows * cols * 4;
    const std::string loop = label();
    li(1, std::int64_t(dst)), li(2, std::int64_t(src + std::uint64_t(base) * 4)), li(3, std::int64_t(rows)), li(4, std::int64_t(cols));
    li(10, 0), li(11, std::int64_t(blocks));
    code_ << loop << ":\n";
    line("vtr.f32 r1, r2, r3, r4");
    line("add r1, r1, " + std::to_string(bytes));
    line("add r2, r2, " + std::to_string(bytes));
    line("add r10, r10, 1");
    line("blt r10, r11, " + loop);
    for (std::uint64_t b = 0; b < blocks; ++b) vectorCost(rows * cols, 1);
    (void)what, (void)fillValue;
    return;
  }
  // Runs of at least 4 consecutive elements in equal 2D blocks: one strided DMA per block (rows of
  // the run, source rows `stride` apart), the blocks' first addresses in a table; the DMAs are
  // not awaited (the core's hazard checks order later readers after them).
  std::uint64_t run = 0, runRows = 0;
  std::int64_t stride = 0;
  std::vector<std::int64_t> starts;
  if (stridedRuns(idx, run, runRows, stride, starts) && run >= 4 && stride >= 0) {
    const std::uint64_t table = alloc_.allocateStatic(starts.size() * 4);
    head_ << ".init " << table << " i32 values";
    for (std::int64_t first : starts) head_ << ' ' << src + std::uint64_t(first) * 4;
    head_ << "\n";
    const std::string loop = label();
    li(1, std::int64_t(dst)), li(3, std::int64_t(table)), li(4, std::int64_t(runRows)), li(5, std::int64_t(run * 4));
    li(6, std::int64_t(run * 4)), li(7, stride * 4), li(10, 0), li(11, std::int64_t(starts.size()));
    code_ << loop << ":\n";
    line("lw r2, [r3]");
    line("dma2d r1, r2, r4, r5, r6, r7, none");
    line("add r1, r1, " + std::to_string(runRows * run * 4));
    line("add r3, r3, 4");
    line("add r10, r10, 1");
    line("blt r10, r11, " + loop);
    cost(double(starts.size()) * std::max(dmaCycles(runRows, run * 4), 6 * double(c_.core.scalar_cycles)), "sram");
    (void)what, (void)fillValue;
    return;
  }
  // Gathers of 4-byte elements, their index table (word addresses, fixed at compile time) kept
  // in SRAM with the program. A table that repeats block by block (the examples of a batch) is
  // stored once and used by one gather per block, the base moving by the block's shift. The -1
  // entries read a valid element, then a select puts the fill value in their place.
  const bool hasFill = std::any_of(idx.begin(), idx.end(), [](std::int64_t k) { return k < 0; });
  std::int64_t shift = 0;
  const std::uint64_t blocks = periodOf(idx, hasFill, shift), L = idx.size() / blocks;
  std::int64_t valid = 0;
  for (std::uint64_t k = 0; k < L; ++k)
    if (idx[k] >= 0) {
      valid = idx[k];
      break;
    }
  const std::uint64_t table = alloc_.allocateStatic(L * 4);
  head_ << ".init " << table << " i32 values";
  for (std::uint64_t k = 0; k < L; ++k) head_ << ' ' << src / 4 + std::uint64_t(idx[k] < 0 ? valid : idx[k]);
  head_ << "\n";
  std::uint64_t mask = 0, fill = 0;
  if (hasFill) {
    mask = alloc_.allocateStatic(roundUp(L, 16) * 4);
    head_ << ".init " << mask << " i32 values";
    for (std::uint64_t k = 0; k < L; ++k) head_ << (idx[k] < 0 ? " 0" : " 1");
    head_ << "\n";
    fill = temp(L, what + ".fill");
    vfill(fill, fillValue, roundUp(L, 16));
  }
  const std::string loop = label();
  li(1, std::int64_t(dst)), li(2, 0), li(3, std::int64_t(table)), li(4, std::int64_t(L)), li(5, 4);
  li(6, std::int64_t(mask)), li(7, std::int64_t(fill)), li(8, std::int64_t(roundUp(L, 16))), li(10, 0), li(11, std::int64_t(blocks));
  code_ << loop << ":\n";
  line("gather r1, r2, r3, r4, r5, 0");
  line("swait 0, 1");
  if (hasFill) line("vsel.f32 r1, r6, r1, r7, r8");
  line("add r1, r1, " + std::to_string(L * 4));
  line("add r2, r2, " + std::to_string(shift * 4));
  line("add r10, r10, 1");
  line("blt r10, r11, " + loop);
  const double rd = double(c_.core.noc_read_bytes_per_cycle);
  const double perBlock = double(c_.core.dma_setup_cycles) + std::ceil(double(L) * 4 / rd) + double(L) + 5 * double(c_.core.scalar_cycles);
  cost(double(blocks) * perBlock, "sram");
  if (hasFill) cost(double(blocks) * (lines(roundUp(L, 16) * 4) * 1.5 + double(c_.core.vector_latency_cycles)), "compute");
}

std::uint64_t Lowering::indicesOf(const Node& n, int v, std::int64_t len) {
  const std::uint64_t np = padded(v);
  const std::uint64_t idx = temp(np, n.name + ".indices"), zero = temp(np, n.name + ".zero"), wrapped = temp(np, n.name + ".wrapped");
  li(1, std::int64_t(idx)), li(2, std::int64_t(addr(v))), li(4, std::int64_t(np));
  line("vcvt.f32.i32 r1, r2, r4");  // truncates, as the oracle's integer conversion
  vectorCost(np, 1);
  li(1, std::int64_t(zero)), li(3, 0), li(4, std::int64_t(np));
  line("vfill.i32 r1, r3, r4");
  vectorCost(np, 0);
  li(1, std::int64_t(wrapped)), li(2, std::int64_t(idx)), li(3, len), li(4, std::int64_t(np));
  line("vadds.i32 r1, r2, r3, r4");  // i + len, for the negative ones
  vectorCost(np, 1);
  li(1, std::int64_t(zero)), li(2, std::int64_t(idx)), li(3, std::int64_t(zero)), li(4, std::int64_t(np));
  line("vcmplt.i32 r1, r2, r3, r4");  // the mask of negative indices (over the zeros)
  vectorCost(np, 2);
  li(1, std::int64_t(idx)), li(2, std::int64_t(zero)), li(3, std::int64_t(wrapped)), li(5, std::int64_t(idx)), li(4, std::int64_t(np));
  line("vsel.i32 r1, r2, r3, r5, r4");
  vectorCost(np, 3);
  return idx;
}

void Lowering::gatherRows(const Node& n, std::uint64_t dst) {
  // The data as [outer, len, inner]: gather copies whole inner rows by one gather DMA per outer
  // block (the indices converted to i32 at run time); gather_grad adds each row of dy into its
  // row of the result, in index order (the oracle's order, so FP32 results are bit-identical).
  const bool fwd = n.op == Op::gather;
  const Shape ds = fwd ? shape(n.inputs[0]) : shape(n.outputs[0]);
  std::int64_t axis = n.intAttr("axis", 0);
  if (axis < 0) axis += std::int64_t(ds.size());
  std::uint64_t outer = 1, inner = 1;
  for (std::int64_t d = 0; d < axis; ++d) outer *= std::uint64_t(ds[std::size_t(d)]);
  for (std::size_t d = std::size_t(axis) + 1; d < ds.size(); ++d) inner *= std::uint64_t(ds[d]);
  const std::int64_t len = ds[std::size_t(axis)];
  const std::uint64_t ni = count(n.inputs[1]), rowBytes = inner * 4;
  const std::uint64_t idx = indicesOf(n, n.inputs[1], len);
  if (fwd) {
    for (std::uint64_t o = 0; o < outer; ++o) {
      li(1, std::int64_t(dst + o * ni * rowBytes)), li(2, std::int64_t(addr(n.inputs[0]) + o * std::uint64_t(len) * rowBytes));
      li(3, std::int64_t(idx)), li(4, std::int64_t(ni)), li(5, std::int64_t(rowBytes));
      line("gather r1, r2, r3, r4, r5, 0");
      line("swait 0, 1");
      cost(double(c_.core.dma_setup_cycles) + double(ni) * std::max(1.0, std::ceil(double(rowBytes) / double(c_.core.noc_read_bytes_per_cycle))),
           "sram");
    }
    return;
  }
  vfill(dst, 0.0, padded(n.outputs[0]));
  const bool aligned = inner % 16 == 0;
  const std::uint64_t vecs = roundUp(inner, 16);
  const std::uint64_t acc = aligned ? 0 : temp(vecs, n.name + ".row"), add = aligned ? 0 : temp(vecs, n.name + ".dy_row");
  for (std::uint64_t o = 0; o < outer; ++o) {
    const std::string loop = label();
    li(10, 0), li(11, std::int64_t(ni)), li(12, std::int64_t(idx)), li(13, std::int64_t(addr(n.inputs[0]) + o * ni * rowBytes));
    li(14, std::int64_t(dst + o * std::uint64_t(len) * rowBytes)), li(15, std::int64_t(rowBytes)), li(16, std::int64_t(vecs));
    li(17, std::int64_t(acc)), li(18, std::int64_t(add)), li(19, 1), li(20, 0);
    code_ << loop << ":\n";
    line("lw r3, [r12]");
    line("mul r4, r3, r15");
    line("add r4, r4, r14");  // the row of the result this index adds into
    if (aligned) {
      line("vadd.f32 r4, r4, r13, r16");
    } else {
      line("dma2d r17, r4, r19, r15, r20, r20, none");
      line("dma2d r18, r13, r19, r15, r20, r20, none");
      line("vadd.f32 r17, r17, r18, r16");
      line("dma2d r4, r17, r19, r15, r20, r20, none");
    }
    line("add r12, r12, 4");
    line("add r13, r13, " + std::to_string(rowBytes));
    line("add r10, r10, 1");
    line("blt r10, r11, " + loop);
    const double row = lines(vecs * 4) + double(c_.core.vector_latency_cycles) + 7 * double(c_.core.scalar_cycles);
    cost(double(ni) * (aligned ? row : row + 3 * dmaCycles(1, rowBytes)), "compute");
  }
}

void Lowering::take(const Node& n, std::uint64_t dst) {
  gatherElements(n.name, dst, addr(n.inputs[0]), n.intsAttr("index"), n.realAttr("fill", 0.0));
}

void Lowering::matmul(const Node& n, std::uint64_t dst) {
  const int a = n.inputs[0], b = n.inputs[1];
  if (shape(a).size() != 2 || shape(b).size() != 2) unsupported(n, "batched matmul");
  if (ctx_.precision == "mixed") return matmulMixed(n, dst);
  const std::uint64_t M = std::uint64_t(shape(a)[0]), K = std::uint64_t(shape(a)[1]), N = std::uint64_t(shape(b)[1]);
  const std::uint64_t Np = roundUp(N, 16);
  // B and C with rows padded to whole vectors.
  const std::uint64_t bp = temp(K * Np, n.name + ".b_rows"), cp = temp(M * Np, n.name + ".c_rows"), prod = temp(Np, n.name + ".prod");
  vfill(bp, 0.0, K * Np);
  vfill(cp, 0.0, M * Np);
  dma2d(bp, addr(b), K, N * 4, Np * 4, N * 4);
  // for i: for k: C[i,:] += A[i,k] * B[k,:]
  const std::string li_ = label(), lk = label();
  li(10, 0), li(11, std::int64_t(M)), li(14, std::int64_t(K)), li(15, std::int64_t(addr(a))), li(16, std::int64_t(cp));
  li(4, std::int64_t(Np));
  code_ << li_ << ":\n";
  line("li r12, 0");
  li(17, std::int64_t(bp));
  code_ << lk << ":\n";
  line("lw r3, [r15]");
  li(1, std::int64_t(prod));
  line("vmuls.f32 r1, r17, r3, r4");
  line("vadd.f32 r16, r16, r1, r4");
  line("add r15, r15, 4");
  line("add r17, r17, " + std::to_string(Np * 4));
  line("add r12, r12, 1");
  line("blt r12, r14, " + lk);
  line("add r16, r16, " + std::to_string(Np * 4));
  line("add r10, r10, 1");
  line("blt r10, r11, " + li_);
  {
    // Per (i, k): vmuls then a dependent vadd, each Np/16 vectors plus the pipeline latency.
    const double v = lines(Np * 4) + double(c_.core.vector_latency_cycles);
    cost(double(M) * double(K) * 2 * v, "compute");
  }
  dma2d(dst, cp, M, N * 4, N * 4, Np * 4);
}

std::uint64_t Lowering::reducedLast(const Node& n, int x, const std::vector<bool>& axes) {
  const Shape& s = shape(x);
  if (std::is_sorted(axes.begin(), axes.end())) return addr(x);  // the reduced axes already trail
  std::vector<std::size_t> order;
  for (std::size_t d = 0; d < s.size(); ++d)
    if (!axes[d]) order.push_back(d);
  for (std::size_t d = 0; d < s.size(); ++d)
    if (axes[d]) order.push_back(d);
  const auto inStride = rowMajorStrides(s);
  Shape permutedShape;
  std::vector<std::int64_t> strides;
  for (std::size_t d : order) permutedShape.push_back(s[d]), strides.push_back(inStride[d]);
  const std::uint64_t permuted = temp(count(x), n.name + ".permuted");
  gatherElements(n.name + ".permute", permuted, addr(x), stridedIndices(permutedShape, strides));
  return permuted;
}

void Lowering::reduce(const Node& n, std::uint64_t dst, int x, std::vector<bool> axes, bool mean) {
  const Shape& s = shape(x);
  std::uint64_t reduced = 1;
  for (std::size_t d = 0; d < s.size(); ++d)
    if (axes[d]) reduced *= std::uint64_t(s[d]);
  const bool all = std::all_of(axes.begin(), axes.end(), [](bool b) { return b; });
  li(1, std::int64_t(dst)), li(2, std::int64_t(addr(x)));
  vectorCost(count(x), 1);
  if (all || s.size() <= 1) {
    li(3, 1), li(4, std::int64_t(count(x)));
    line("vrowsum.f32 r1, r2, r3, r4");
  } else if (std::is_sorted(axes.begin(), axes.end())) {  // trailing axes: sums of rows
    li(3, std::int64_t(count(x) / reduced)), li(4, std::int64_t(reduced));
    line("vrowsum.f32 r1, r2, r3, r4");
  } else if (s.size() == 2 && axes[0] && !axes[1]) {
    li(3, s[0]), li(4, s[1]);
    line("vcolsum.f32 r1, r2, r3, r4");
  } else {
    // Any other axes: the kept axes first and the reduced ones last, then rows sum.
    const std::uint64_t permuted = reducedLast(n, x, axes);
    li(1, std::int64_t(dst)), li(2, std::int64_t(permuted));
    li(3, std::int64_t(count(x) / reduced)), li(4, std::int64_t(reduced));
    line("vrowsum.f32 r1, r2, r3, r4");
  }
  if (mean) vscalar("vmuls", dst, dst, 1.0 / double(reduced), padded(n.outputs[0]));
}

void Lowering::allreduce(const Node& n, std::uint64_t dst) {
  // `allreduce_mean` runs over the data-parallel ring; `allreduce` over this core's line of the
  // tensor-parallel grid along its `axis` (sum, or max with reduce="max"). Each kind of ring has
  // its own semaphores (data arrived, receiver free, all-gather chunk arrived), so a neighbour
  // already in the next all-reduce of another line never feeds this one.
  const int x = n.inputs[0];
  if (n.op == Op::allreduce_mean && groupsOf(x).first) return allreduceInGroups(n, dst, groupsOf(x).first);
  const std::vector<int>& ring = ringOf(n);
  const std::uint64_t p = ring.size();
  const bool isMax = n.op == Op::allreduce && n.attrs.count("reduce") && std::get<std::string>(n.attrs.at("reduce")) == "max";
  const int sem = semOf(n);
  const std::string arrived = std::to_string(sem), freed = std::to_string(sem + 1), gathered = std::to_string(sem + 2);
  dma2d(dst, addr(x), 1, count(x) * 4, 0, 0);
  if (p > 1) {
    // Ring all-reduce: P-1 reduce-scatter steps, then P-1 all-gather steps, chunk by chunk. A
    // core first tells its predecessor that its receive buffer is ready, and again after each
    // chunk it has consumed but the last; a core puts a chunk only when told so.
    const std::uint64_t chunk = chunkOf(x, p), bytes = chunk * 4;
    const std::uint64_t recv = temp(chunk, n.name + ".recv");
    const int r = rankOf(n);
    const int next = ring[std::size_t((r + 1) % int(p))], prev = ring[std::size_t((r + int(p) - 1) % int(p))];
    const auto mod = [p](long v) { return std::uint64_t(((v % long(p)) + long(p)) % long(p)); };
    li(20, next), li(21, prev), li(22, std::int64_t(bytes)), li(23, std::int64_t(recv)), li(4, std::int64_t(chunk));
    line("sincr r21, " + freed + ", 1");
    for (std::uint64_t step = 0; step + 1 < p; ++step) {
      const std::uint64_t send = mod(long(r) - long(step)), into = mod(long(r) - long(step) - 1);
      line("swait " + freed + ", 1");
      li(24, std::int64_t(dst + send * bytes));
      line("put r20, r23, r24, r22, " + arrived);
      line("swait " + arrived + ", 1");
      li(25, std::int64_t(dst + into * bytes));
      line(std::string(isMax ? "vmax" : "vadd") + ".f32 r25, r25, r23, r4");
      if (step + 2 < p) line("sincr r21, " + freed + ", 1");
    }
    {
      // 2(P-1) ring steps, each a chunk to the next core (serialization at the link's bytes per
      // cycle, a hop or so) and about 6 cycles of signalling, and P-1 adds; neighbouring cores'
      // steps overlap (calibrated on the transformer example's rings of 4 to 32 cores).
      const double hop = double(c_.die.hop_latency_cycles) + double(bytes) / double(c_.die.link_bytes_per_cycle);
      cost(double(2 * (p - 1)) * (hop + 6) + double(p - 1) * (lines(bytes) + double(c_.core.vector_latency_cycles)), "mesh");
    }
    for (std::uint64_t step = 0; step + 1 < p; ++step) {
      const std::uint64_t send = mod(long(r) + 1 - long(step));
      li(24, std::int64_t(dst + send * bytes));
      line("put r20, r24, r24, r22, " + gathered);
      line("swait " + gathered + ", 1");
    }
  }
  if (n.op == Op::allreduce_mean) vscalar("vmuls", dst, dst, 1.0 / double(p), padded(n.outputs[0]));
}

void Lowering::allreduceInGroups(const Node& n, std::uint64_t dst, std::uint64_t groupSize) {
  // The data-parallel ring cut into R groups of C consecutive cores (neighbours on the mesh):
  // (1) a ring reduce-scatter inside each group leaves core j of a group the group's sum of
  // chunk j; (2) the cores j of all groups all-reduce that chunk over a ring of R; (3) a ring
  // all-gather inside each group. 2(C-1) + 2(R-1) ring steps instead of 2(CR-1), the same bytes
  // per core. Semaphores: 1-3 inside groups, 10-12 across them.
  const int x = n.inputs[0];
  const std::uint64_t p = ctx_.ring.size(), C = groupSize, R = p / C, c1 = groupsOf(x).second, c2 = c1 / R;
  const std::uint64_t b1 = c1 * 4, b2 = c2 * 4;
  const std::uint64_t rank = std::uint64_t(ctx_.rank), group = rank / C, pos = rank % C;
  const auto groupCore = [&](std::uint64_t k) { return ctx_.ring[std::size_t(group * C + k % C)]; };
  const auto crossCore = [&](std::uint64_t g) { return ctx_.ring[std::size_t((g % R) * C + pos)]; };
  const auto mod = [](long v, std::uint64_t m) { return std::uint64_t(((v % long(m)) + long(m)) % long(m)); };
  if (C * c1 > count(x)) vfill(dst + roundUp(count(x), 16) * 4, 0.0, C * c1 - roundUp(count(x), 16));
  dma2d(dst, addr(x), 1, count(x) * 4, 0, 0);
  const std::uint64_t recv = temp(c1, n.name + ".recv");
  // (1) reduce-scatter inside the group, ending with chunk `pos`.
  li(20, groupCore(pos + 1)), li(21, groupCore(pos + C - 1)), li(22, std::int64_t(b1)), li(23, std::int64_t(recv)), li(4, std::int64_t(c1));
  line("sincr r21, 2, 1");
  for (std::uint64_t step = 0; step + 1 < C; ++step) {
    line("swait 2, 1");
    li(24, std::int64_t(dst + mod(long(pos) - long(step) - 1, C) * b1));
    line("put r20, r23, r24, r22, 1");
    line("swait 1, 1");
    li(25, std::int64_t(dst + mod(long(pos) - long(step) - 2, C) * b1));
    line("vadd.f32 r25, r25, r23, r4");
    if (step + 2 < C) line("sincr r21, 2, 1");
  }
  // (2) all-reduce chunk `pos` across the groups, in R pieces.
  const std::uint64_t mine = dst + pos * b1;
  li(20, crossCore(group + 1)), li(21, crossCore(group + R - 1)), li(22, std::int64_t(b2)), li(23, std::int64_t(recv)), li(4, std::int64_t(c2));
  line("sincr r21, 11, 1");
  for (std::uint64_t step = 0; step + 1 < R; ++step) {
    line("swait 11, 1");
    li(24, std::int64_t(mine + mod(long(group) - long(step), R) * b2));
    line("put r20, r23, r24, r22, 10");
    line("swait 10, 1");
    li(25, std::int64_t(mine + mod(long(group) - long(step) - 1, R) * b2));
    line("vadd.f32 r25, r25, r23, r4");
    if (step + 2 < R) line("sincr r21, 11, 1");
  }
  for (std::uint64_t step = 0; step + 1 < R; ++step) {
    li(24, std::int64_t(mine + mod(long(group) + 1 - long(step), R) * b2));
    line("put r20, r24, r24, r22, 12");
    line("swait 12, 1");
  }
  // (3) all-gather inside the group.
  li(20, groupCore(pos + 1)), li(22, std::int64_t(b1));
  for (std::uint64_t step = 0; step + 1 < C; ++step) {
    li(24, std::int64_t(dst + mod(long(pos) - long(step), C) * b1));
    line("put r20, r24, r24, r22, 3");
    line("swait 3, 1");
  }
  {
    const double link = double(c_.die.link_bytes_per_cycle), hopc = double(c_.die.hop_latency_cycles);
    const double step1 = hopc + double(b1) / link + 6, step2 = 3 * hopc + double(b2) / link + 6;
    cost(double(2 * (C - 1)) * step1 + double(C - 1) * (lines(b1) + double(c_.core.vector_latency_cycles)) + double(2 * (R - 1)) * step2 +
             double(R - 1) * (lines(b2) + double(c_.core.vector_latency_cycles)),
         "mesh");
  }
  vscalar("vmuls", dst, dst, 1.0 / double(p), padded(n.outputs[0]));
}

void Lowering::allgather(const Node& n, std::uint64_t dst) {
  // Ring all-gather of row blocks along this core's grid line: block k of the result comes from
  // the line's core k (every core has the same layout, so a put names its own addresses). Blocks
  // that are not whole 64-byte vectors travel in a scratch buffer of vector-aligned slots and are
  // packed at the end. The result's rows past `size` are the padding of the last blocks.
  const int x = n.inputs[0];
  const std::vector<int>& ring = ringOf(n);
  const std::uint64_t p = ring.size(), chunk = count(x), stride = roundUp(chunk, 16), bytes = stride * 4;
  const bool packed = stride == chunk;
  const int r = rankOf(n), sem = semOf(n);
  const std::string freed = std::to_string(sem + 1), gathered = std::to_string(sem + 2);
  const std::uint64_t slots = packed ? dst : temp(p * stride, n.name + ".slots");
  dma2d(slots + std::uint64_t(r) * bytes, addr(x), 1, chunk * 4, 0, 0);
  if (p > 1) {
    const int next = ring[std::size_t((r + 1) % int(p))], prev = ring[std::size_t((r + int(p) - 1) % int(p))];
    li(20, next), li(21, prev), li(22, std::int64_t(bytes));
    line("sincr r21, " + freed + ", 1");  // my buffer is ready for my predecessor's blocks
    line("swait " + freed + ", 1");
    const auto blockAt = [&](std::uint64_t step) { return std::uint64_t((long(r) - long(step) + long(p) * 2) % long(p)); };
    if (p > 2 && stride % 32 == 0) {
      // In two halves: the first half of a block travels on as soon as it has arrived, while the
      // second is still on its way (semaphores 20-21 along grid axis 0, 24-25 along axis 1).
      const std::uint64_t halfBytes = bytes / 2;
      const int base = 20 + 4 * int(n.intAttr("axis", 0));
      li(22, std::int64_t(halfBytes));
      for (int h = 0; h < 2; ++h) {
        li(24, std::int64_t(slots + blockAt(0) * bytes + std::uint64_t(h) * halfBytes));
        line("put r20, r24, r24, r22, " + std::to_string(base + h));
      }
      for (std::uint64_t step = 0; step + 1 < p; ++step)
        for (int h = 0; h < 2; ++h) {
          line("swait " + std::to_string(base + h) + ", 1");
          if (step + 2 < p) {
            li(24, std::int64_t(slots + blockAt(step + 1) * bytes + std::uint64_t(h) * halfBytes));
            line("put r20, r24, r24, r22, " + std::to_string(base + h));
          }
        }
    } else {
      for (std::uint64_t step = 0; step + 1 < p; ++step) {
        li(24, std::int64_t(slots + blockAt(step) * bytes));
        line("put r20, r24, r24, r22, " + gathered);
        line("swait " + gathered + ", 1");
      }
    }
    const double hop = double(c_.die.hop_latency_cycles) * 3 + double(bytes) / double(c_.die.link_bytes_per_cycle);
    cost(double(p - 1) * (hop + 12) + 24, "mesh");
  }
  if (!packed) dma2d(dst, slots, p, chunk * 4, chunk * 4, bytes);
}

void Lowering::reducescatter(const Node& n, std::uint64_t dst) {
  // Ring reduce-scatter of row blocks: the input (the whole extent, summed over the line) is cut
  // into blocks of the output's rows, each in a vector-aligned slot (zeros for the padding rows
  // of the last blocks); after P-1 steps this core's slot `rank` holds its block, summed.
  const int x = n.inputs[0];
  const std::vector<int>& ring = ringOf(n);
  const std::uint64_t p = ring.size(), chunk = count(n.outputs[0]), stride = roundUp(chunk, 16), bytes = stride * 4;
  const int r = rankOf(n), sem = semOf(n);
  const std::string arrived = std::to_string(sem), freed = std::to_string(sem + 1);
  const bool inPlace = inPlaceScatter_.count(x) > 0;
  const std::uint64_t slots = inPlace ? addr(x) : temp(p * stride, n.name + ".slots"), recv = temp(stride, n.name + ".recv");
  const std::uint64_t have = count(x), whole = std::min<std::uint64_t>(p, have / chunk), rest = have - whole * chunk;
  if (inPlace) {
    // The input's rows already sit in whole-vector blocks (its size is whole vectors too);
    // zeros after them for the padding.
    if (p * chunk > have) vfill(slots + have * 4, 0.0, p * chunk - have);
  } else {
    if (p * chunk > have) vfill(slots + whole * bytes, 0.0, (p - whole) * stride);  // the padding rows
    if (whole) dma2d(slots, addr(x), whole, chunk * 4, bytes, chunk * 4);
    if (rest) dma2d(slots + whole * bytes, addr(x) + whole * chunk * 4, 1, rest * 4, 0, 0);
  }
  const int next = ring[std::size_t((r + 1) % int(p))], prev = ring[std::size_t((r + int(p) - 1) % int(p))];
  const auto mod = [p](long v) { return std::uint64_t(((v % long(p)) + long(p)) % long(p)); };
  if (p > 2 && stride % 32 == 0) {
    // In two halves, pipelined: the first half of a block goes on to the next core as soon as it
    // is added, while the second half is still arriving. Each half has its own receive buffer
    // and semaphores (arrived, free): 20-23 along grid axis 0, 24-27 along axis 1.
    const std::uint64_t half = stride / 2, halfBytes = half * 4;
    const int base = 20 + 4 * int(n.intAttr("axis", 0));
    const auto A = [&](int h) { return std::to_string(base + h); };
    const auto F = [&](int h) { return std::to_string(base + 2 + h); };
    li(20, next), li(21, prev), li(22, std::int64_t(halfBytes)), li(4, std::int64_t(half));
    li(26, std::int64_t(recv)), li(27, std::int64_t(recv + halfBytes));
    const auto putHalf = [&](std::uint64_t block, int h) {
      line("swait " + F(h) + ", 1");
      li(24, std::int64_t(slots + block * bytes + std::uint64_t(h) * halfBytes));
      line("put r20, r" + std::to_string(26 + h) + ", r24, r22, " + A(h));
    };
    line("sincr r21, " + F(0) + ", 1");
    line("sincr r21, " + F(1) + ", 1");
    putHalf(mod(long(r) - 1), 0);
    putHalf(mod(long(r) - 1), 1);
    for (std::uint64_t step = 0; step + 1 < p; ++step) {
      const std::uint64_t into = mod(long(r) - long(step) - 2);
      for (int h = 0; h < 2; ++h) {
        line("swait " + A(h) + ", 1");
        li(25, std::int64_t(slots + into * bytes + std::uint64_t(h) * halfBytes));
        line("vadd.f32 r25, r25, r" + std::to_string(26 + h) + ", r4");
        if (step + 2 < p) {
          line("sincr r21, " + F(h) + ", 1");
          putHalf(into, h);  // what was just added travels on
        }
      }
    }
    const double hop = double(c_.die.hop_latency_cycles) * 3 + double(halfBytes) / double(c_.die.link_bytes_per_cycle);
    cost(double(p - 1) * (hop + 12 + lines(bytes) + double(c_.core.vector_latency_cycles)), "mesh");
  } else if (p > 1) {
    li(20, next), li(21, prev), li(22, std::int64_t(bytes)), li(23, std::int64_t(recv)), li(4, std::int64_t(stride));
    line("sincr r21, " + freed + ", 1");
    for (std::uint64_t step = 0; step + 1 < p; ++step) {
      const std::uint64_t send = mod(long(r) - long(step) - 1), into = mod(long(r) - long(step) - 2);
      line("swait " + freed + ", 1");
      li(24, std::int64_t(slots + send * bytes));
      line("put r20, r23, r24, r22, " + arrived);
      line("swait " + arrived + ", 1");
      li(25, std::int64_t(slots + into * bytes));
      line("vadd.f32 r25, r25, r23, r4");
      if (step + 2 < p) line("sincr r21, " + freed + ", 1");
    }
    const double hop = double(c_.die.hop_latency_cycles) * 3 + double(bytes) / double(c_.die.link_bytes_per_cycle);
    cost(double(p - 1) * (hop + 12 + lines(bytes) + double(c_.core.vector_latency_cycles)), "mesh");
  }
  dma2d(dst, slots + std::uint64_t(r) * bytes, 1, chunk * 4, 0, 0);
}

void Lowering::lowerNode(const Node& n, std::uint64_t dst) {
  const Op op = n.op;
  const int out = n.outputs[0];
  const std::uint64_t np = padded(out);
  const Shape& os = shape(out);
  const auto in = [&](std::size_t k) { return n.inputs[k]; };
  if (op == Op::add || op == Op::sub || op == Op::mul || op == Op::max || op == Op::min || op == Op::div) {
    const int a = in(0), b = in(1);
    if (isScalarConst(b) && (op == Op::add || op == Op::sub || op == Op::mul || op == Op::div) && count(a) == count(out)) {
      const double c = scalarOf(b);
      if (op == Op::add) vscalar("vadds", dst, addr(a), c, np);
      else if (op == Op::sub) vscalar("vadds", dst, addr(a), -c, np);
      else if (op == Op::mul) vscalar("vmuls", dst, addr(a), c, np);
      else vscalar("vmuls", dst, addr(a), 1.0 / c, np);
      return;
    }
    if (isScalarConst(a) && (op == Op::add || op == Op::mul) && count(b) == count(out)) {
      vscalar(op == Op::add ? "vadds" : "vmuls", dst, addr(b), scalarOf(a), np);
      return;
    }
    if (isScalarConst(a) && op == Op::sub && count(b) == count(out)) {  // c - b
      vscalar("vmuls", dst, addr(b), -1.0, np);
      vscalar("vadds", dst, dst, scalarOf(a), np);
      return;
    }
    const std::uint64_t pa = broadcast(n, a, os), pb = broadcast(n, b, os);
    if (op == Op::div) {
      const std::uint64_t r = temp(count(out), n.name + ".rcp");
      vun("vrcp", r, pb, np);
      vbin("vmul", dst, pa, r, np);
      return;
    }
    vbin(op == Op::add ? "vadd" : op == Op::sub ? "vsub" : op == Op::mul ? "vmul" : op == Op::max ? "vmax" : "vmin", dst, pa, pb, np);
    return;
  }
  if (op == Op::relu || op == Op::relu_grad) {
    const std::uint64_t zero = temp(count(out), n.name + ".zero");
    vfill(zero, 0.0, np);
    if (op == Op::relu) {
      vbin("vmax", dst, addr(in(0)), zero, np);
    } else {
      const std::uint64_t dy = broadcast(n, in(0), os), x = broadcast(n, in(1), os);
      const std::uint64_t mask = temp(count(out), n.name + ".mask");
      vbin("vcmplt", mask, zero, x, np);
      li(1, std::int64_t(dst)), li(2, std::int64_t(mask)), li(3, std::int64_t(dy)), li(5, std::int64_t(zero)), li(4, std::int64_t(np));
      line("vsel.f32 r1, r2, r3, r5, r4");
      vectorCost(np, 3);
    }
    return;
  }
  if (op == Op::exp || op == Op::log) return vun(op == Op::exp ? "vexp" : "vlog", dst, addr(in(0)), np);
  if (op == Op::reciprocal) return vun("vrcp", dst, addr(in(0)), np);
  if (op == Op::neg) return vscalar("vmuls", dst, addr(in(0)), -1.0, np);
  if (op == Op::sqrt) {
    vun("vrsqrt", dst, addr(in(0)), np);
    vun("vrcp", dst, dst, np);
    return;
  }
  if (op == Op::sigmoid || op == Op::tanh) {
    // sigmoid(x) = 1 / (1 + e^-x); tanh(x) = 2 sigmoid(2x) - 1
    vscalar("vmuls", dst, addr(in(0)), op == Op::tanh ? -2.0 : -1.0, np);
    vun("vexp", dst, dst, np);
    vscalar("vadds", dst, dst, 1.0, np);
    vun("vrcp", dst, dst, np);
    if (op == Op::tanh) {
      vscalar("vmuls", dst, dst, 2.0, np);
      vscalar("vadds", dst, dst, -1.0, np);
    }
    return;
  }
  if (op == Op::erf) {
    // Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7): for a = |x|, t = 1 / (1 + p a),
    // erf(a) = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^(-a^2); the sign of x restored.
    const std::uint64_t x = addr(in(0)), a = temp(np, n.name + ".abs"), t = temp(np, n.name + ".t");
    const std::uint64_t q = temp(np, n.name + ".poly"), e = temp(np, n.name + ".gauss");
    vscalar("vmuls", a, x, -1.0, np);
    vbin("vmax", a, a, x, np);
    vscalar("vmuls", t, a, 0.3275911, np);
    vscalar("vadds", t, t, 1.0, np);
    vun("vrcp", t, t, np);
    vscalar("vmuls", q, t, 1.061405429, np);
    for (const double c : {-1.453152027, 1.421413741, -0.284496736}) {
      vscalar("vadds", q, q, c, np);
      vbin("vmul", q, q, t, np);
    }
    vscalar("vadds", q, q, 0.254829592, np);
    vbin("vmul", q, q, t, np);
    vbin("vmul", e, a, a, np);
    vscalar("vmuls", e, e, -1.0, np);
    vun("vexp", e, e, np);
    vbin("vmul", q, q, e, np);
    vscalar("vmuls", q, q, -1.0, np);
    vscalar("vadds", q, q, 1.0, np);  // erf(|x|)
    vfill(e, 0.0, np);
    vbin("vcmplt", t, x, e, np);      // x < 0
    vscalar("vmuls", a, q, -1.0, np);
    li(1, std::int64_t(dst)), li(2, std::int64_t(t)), li(3, std::int64_t(a)), li(5, std::int64_t(q)), li(4, std::int64_t(np));
    line("vsel.f32 r1, r2, r3, r5, r4");
    vectorCost(np, 2);
    return;
  }
  if (op == Op::pow) {
    // A constant integer exponent (|c| <= 64): products by squaring, a reciprocal for c < 0;
    // 0.5: the square root; anything else: e^(b ln a) (NaN for a < 0, as pow with a non-integer).
    const int a = in(0), b = in(1);
    if (isScalarConst(b) && count(a) == count(out)) {
      const double c = scalarOf(b);
      if (c == 0.0) return vfill(dst, 1.0, np);
      if (c == 0.5) {
        vun("vrsqrt", dst, addr(a), np);
        return vun("vrcp", dst, dst, np);
      }
      if (c == std::floor(c) && std::fabs(c) <= 64) {
        std::uint64_t e = std::uint64_t(std::fabs(c));
        const std::uint64_t sq = temp(np, n.name + ".square");
        dma2d(sq, addr(a), 1, np * 4, 0, 0);  // x^(2^k), squared as k grows
        bool started = false;
        while (e) {
          if (e & 1) {
            if (started) vbin("vmul", dst, dst, sq, np);
            else dma2d(dst, sq, 1, np * 4, 0, 0), started = true;
          }
          e >>= 1;
          if (e) vbin("vmul", sq, sq, sq, np);
        }
        if (c < 0) vun("vrcp", dst, dst, np);
        return;
      }
    }
    const std::uint64_t pa = broadcast(n, a, os), pb = broadcast(n, b, os);
    vun("vlog", dst, pa, np);
    vbin("vmul", dst, dst, pb, np);
    return vun("vexp", dst, dst, np);
  }
  if (op == Op::where) {
    const std::uint64_t c = broadcast(n, in(0), os), a = broadcast(n, in(1), os), b = broadcast(n, in(2), os);
    li(1, std::int64_t(dst)), li(2, std::int64_t(c)), li(3, std::int64_t(a)), li(5, std::int64_t(b)), li(4, std::int64_t(np));
    line("vsel.f32 r1, r2, r3, r5, r4");
    vectorCost(np, 3);
    return;
  }
  if (op == Op::take) return take(n, dst);
  if (op == Op::gather || op == Op::gather_grad) return gatherRows(n, dst);
  if (op == Op::concat) {
    // Each input is a block of rows of the output: one strided DMA each.
    std::int64_t axis = n.intAttr("axis", 0);
    if (axis < 0) axis += std::int64_t(os.size());
    std::uint64_t outer = 1, inner = 1;
    for (std::int64_t d = 0; d < axis; ++d) outer *= std::uint64_t(os[std::size_t(d)]);
    for (std::size_t d = std::size_t(axis); d < os.size(); ++d) inner *= std::uint64_t(os[d]);
    std::uint64_t offset = 0;
    for (int v : n.inputs) {
      const std::uint64_t part = count(v) / outer;
      dma2d(dst + offset * 4, addr(v), outer, part * 4, inner * 4, part * 4);
      offset += part;
    }
    return;
  }
  if (op == Op::slice) {
    // A gather of the kept elements (one DMA when they are contiguous).
    const auto st = n.intsAttr("starts");
    const auto strides = rowMajorStrides(shape(in(0)));
    std::int64_t base = 0;
    for (std::size_t d = 0; d < st.size(); ++d) base += st[d] * strides[d];
    const std::vector<std::int64_t> idx = stridedIndices(os, strides, base);
    bool contiguous = true;
    for (std::size_t k = 1; k < idx.size() && contiguous; ++k) contiguous = idx[k] == idx[0] + std::int64_t(k);
    if (contiguous) dma2d(dst, addr(in(0)) + std::uint64_t(idx[0]) * 4, 1, count(out) * 4, 0, 0);
    else gatherElements(n.name, dst, addr(in(0)), idx);
    return;
  }
  if (op == Op::matmul) return matmul(n, dst);
  if (op == Op::allreduce_mean || op == Op::allreduce) return allreduce(n, dst);
  if (op == Op::allgather) return allgather(n, dst);
  if (op == Op::reducescatter) return reducescatter(n, dst);
  if (op == Op::transpose) {
    const auto perm = n.intsAttr("perm");
    if (perm != std::vector<std::int64_t>{1, 0}) unsupported(n, "transposes other than 2D");
    li(1, std::int64_t(dst)), li(2, std::int64_t(addr(in(0)))), li(3, shape(in(0))[0]), li(4, shape(in(0))[1]);
    line("vtr.f32 r1, r2, r3, r4");
    vectorCost(count(out), 1);
    return;
  }
  if (op == Op::broadcast_to) {
    const std::uint64_t b = broadcast(n, in(0), os);
    if (b != dst) dma2d(dst, b, 1, count(out) * 4, 0, 0);
    return;
  }
  if (op == Op::reduce_sum || op == Op::reduce_mean) {
    std::vector<bool> axes(shape(in(0)).size(), false);
    for (auto a : n.intsAttr("axes")) axes[std::size_t(a < 0 ? a + std::int64_t(axes.size()) : a)] = true;
    return reduce(n, dst, in(0), axes, op == Op::reduce_mean);
  }
  if (op == Op::reduce_max) {
    // The maximum of each row of the kept-by-reduced view (the reduced axes moved last first).
    const Shape& s = shape(in(0));
    std::vector<bool> axes(s.size(), false);
    for (auto a : n.intsAttr("axes")) axes[std::size_t(a < 0 ? a + std::int64_t(axes.size()) : a)] = true;
    std::uint64_t reduced = 1;
    for (std::size_t d = 0; d < s.size(); ++d)
      if (axes[d]) reduced *= std::uint64_t(s[d]);
    const std::uint64_t src = reducedLast(n, in(0), axes);
    li(1, std::int64_t(dst)), li(2, std::int64_t(src)), li(3, std::int64_t(count(in(0)) / reduced)), li(4, std::int64_t(reduced));
    line("vrowmax.f32 r1, r2, r3, r4");
    vectorCost(count(in(0)), 1);
    return;
  }
  if (op == Op::sum_to) {
    const Shape& s = shape(in(0));
    std::vector<bool> axes(s.size(), false);
    const std::size_t off = s.size() - os.size();
    for (std::size_t d = 0; d < s.size(); ++d) axes[d] = d < off || (os[d - off] == 1 && s[d] != 1);
    return reduce(n, dst, in(0), axes, false);
  }
  if (op == Op::softmax || op == Op::log_softmax) {
    const Shape& s = shape(in(0));
    std::int64_t axis = n.intAttr("axis", -1);
    if (axis < 0) axis += std::int64_t(s.size());
    if (s.size() < 2 || axis != std::int64_t(s.size()) - 1) unsupported(n, "softmax other than along the last axis");
    const std::uint64_t N = std::uint64_t(s.back()), M = count(in(0)) / N;  // rows of the last axis
    const std::uint64_t rowv = temp(M, n.name + ".row"), wide = temp(M * N, n.name + ".wide"), d = temp(M * N, n.name + ".shifted");
    li(1, std::int64_t(rowv)), li(2, std::int64_t(addr(in(0)))), li(3, std::int64_t(M)), li(4, std::int64_t(N));
    line("vrowmax.f32 r1, r2, r3, r4");
    vectorCost(M * N, 1);
    const auto spread = [&](std::uint64_t col) { spreadColumn(col, wide, M, N); };
    spread(rowv);
    vbin("vsub", d, addr(in(0)), wide, np);
    const std::uint64_t e = op == Op::softmax ? dst : temp(M * N, n.name + ".exp");
    vun("vexp", e, d, np);
    li(1, std::int64_t(rowv)), li(2, std::int64_t(e)), li(3, std::int64_t(M)), li(4, std::int64_t(N));
    line("vrowsum.f32 r1, r2, r3, r4");
    vectorCost(M * N, 1);
    if (op == Op::softmax) {
      vun("vrcp", rowv, rowv, roundUp(M, 16));
      spread(rowv);
      vbin("vmul", dst, e, wide, np);
    } else {
      vun("vlog", rowv, rowv, roundUp(M, 16));
      spread(rowv);
      vbin("vsub", dst, d, wide, np);
    }
    return;
  }
  unsupported(n, "op '" + std::string(opName(op)) + "'");
}

LoweredProgram Lowering::run() {
  verify(g_);
  LoweredProgram out;
  // Last use of every value (outputs live to the end).
  std::map<int, std::size_t> lastUse;
  for (std::size_t i = 0; i < g_.nodes.size(); ++i)
    for (int v : g_.nodes[i].inputs) lastUse[v] = i;
  std::set<int> outputs(g_.outputs.begin(), g_.outputs.end());
  int nextBuffer = 0;
  const auto place = [&](int v) {
    const int producer = g_.values[std::size_t(v)].producer;
    const Node* pn = producer >= 0 ? &g_.nodes[std::size_t(producer)] : nullptr;
    const bool ring = pn && (pn->op == Op::allreduce_mean || pn->op == Op::allreduce);
    const std::uint64_t p = ring ? ringOf(*pn).size() : 1;
    std::uint64_t bytes = ring ? chunkOf(pn->inputs[0], p) * 4 * p : roundUp(count(v), 16) * 4;
    if (pn && pn->op == Op::allreduce_mean && groupsOf(pn->inputs[0]).first)
      bytes = std::max(bytes, groupsOf(pn->inputs[0]).first * groupsOf(pn->inputs[0]).second * 4);
    if (pn && pn->op == Op::allgather) bytes = std::max(bytes, roundUp(count(pn->inputs[0]) * ringOf(*pn).size(), 16) * 4);
    // A value only a reduce-scatter reads is reduced in place: room for the padding rows of its
    // last blocks (see reducescatter).
    if (inPlaceScatter_.count(v)) bytes = std::max(bytes, inPlaceScatter_.at(v));
    const int b = nextBuffer++;
    buffer_[v] = b;
    addr_[b] = alloc_.allocate(bytes, g_.values[std::size_t(v)].name);
    size_[b] = bytes;
  };
  // Inputs, parameters and constants first (constants that are scalars become immediates too).
  if (ctx_.stream) {
    // Parameters, optimizer state and their updates (by their roles) live in HBM, each at its
    // own address.
    std::uint64_t next = ctx_.hbmBase;
    for (std::size_t v = 0; v < g_.values.size(); ++v) {
      const Value& val = g_.values[v];
      const bool home = val.role == Role::Parameter || (val.kind == ValueKind::Input && val.role == Role::OptimizerState) ||
                        (outputs.count(int(v)) && val.role == Role::Update);
      if (!home) continue;
      hbm_[int(v)] = next;
      next += roundUp(count(int(v)) * 4, 64);
    }
  }
  for (std::size_t v = 0; v < g_.values.size(); ++v) {
    const Value& val = g_.values[v];
    if (val.kind == ValueKind::Intermediate) continue;
    if (hbm_.count(int(v))) {
      out.layout[val.name] = {hbm_.at(int(v)), roundUp(count(int(v)) * 4, 64), true};
      if (val.kind == ValueKind::Parameter && !val.data.empty() && ctx_.initParameters)
        out.hbmInit.emplace_back(hbm_.at(int(v)), std::vector<float>(val.data.begin(), val.data.end()));
      continue;
    }
    place(int(v));
    out.layout[val.name] = {addr(int(v)), size_.at(buffer_.at(int(v)))};
    if (val.kind != ValueKind::Input && !val.data.empty() && (ctx_.initParameters || val.kind != ValueKind::Parameter)) {
      head_ << ".init " << addr(int(v)) << " f32 values";
      char buf[32];
      for (double d : val.data) std::snprintf(buf, sizeof buf, " %.9g", double(float(d))), head_ << buf;
      head_ << "\n";
    }
  }
  // 2D transposes whose every user is a matrix-unit matmul are not made: the matmul reads the
  // operand transposed (see matmulMixed).
  if (ctx_.precision == "mixed") {
    std::map<int, std::vector<const Node*>> users;
    for (const Node& n : g_.nodes)
      for (int in : n.inputs) users[in].push_back(&n);
    for (const Node& n : g_.nodes) {
      const int v = n.outputs[0];
      if (n.op != Op::transpose || shape(v).size() != 2 || outputs.count(v) || !users.count(v)) continue;
      bool fuse = true;
      for (const Node* u : users.at(v)) fuse = fuse && u->op == Op::matmul && shape(u->inputs[0]).size() == 2 && shape(u->inputs[1]).size() == 2;
      if (fuse) transposed_.insert(v);
    }
  }
  {
    std::map<int, int> uses;
    for (const Node& n : g_.nodes)
      for (int in : n.inputs) ++uses[in];
    for (const Node& n : g_.nodes) {
      const int x = n.inputs.empty() ? -1 : n.inputs[0];
      if (n.op != Op::reducescatter || uses[x] != 1 || outputs.count(x) || g_.values[std::size_t(x)].kind != ValueKind::Intermediate) continue;
      const std::uint64_t chunk = count(n.outputs[0]);
      if (chunk % 16 == 0 && count(x) % 16 == 0) inPlaceScatter_[x] = ringOf(n).size() * chunk * 4;
    }
  }
  std::map<int, int> refs;  // buffer -> values still needing it
  const auto resident = [&](int x) { return buffer_.count(x) && size_.count(buffer_.at(x)); };
  for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
    const Node& n = g_.nodes[i];
    const int v = n.outputs[0];
    for (int in : n.inputs)
      if (hbm_.count(in) && !resident(in)) {  // streamed in for this op
        place(in);
        code_ << "; " << g_.values[std::size_t(in)].name << " from HBM\n";
        est_.clear();
        hbmTransfer(true, addr(in), hbm_.at(in), count(in) * 4);
        OpCost oc;
        oc.node = g_.values[std::size_t(in)].name, oc.op = "hbm_read", oc.shape = shapeText(shape(in)), oc.bound = "mesh";
        for (const auto& [bound, c] : est_) oc.cycles += c;
        oc.partition = "streamed";
        out.ops.push_back(oc);
      }
    if (n.op == Op::reshape || n.op == Op::identity || transposed_.count(v)) {
      buffer_[v] = buffer_.at(n.inputs[0]);  // same bytes, another shape (or read transposed)
    } else {
      // An elementwise op writes over an operand of its size that dies here (an updated weight
      // over the weight, a momentum update over the scaled momentum), so a training step keeps
      // one copy of each weight and of its optimizer state.
      int reuse = -1;
      if (n.op == Op::add || n.op == Op::sub || n.op == Op::mul || n.op == Op::relu || n.op == Op::neg) {
        bool sameSize = true;
        for (int in : n.inputs) sameSize = sameSize && (count(in) == count(v) || isScalarConst(in));
        for (int in : n.inputs) {
          if (!sameSize || reuse >= 0 || count(in) != count(v) || g_.values[std::size_t(in)].kind == ValueKind::Constant) continue;
          const int b = buffer_.at(in);
          bool free = size_.count(b) > 0 && size_.at(b) == roundUp(count(v), 16) * 4;
          for (const auto& [val, buf] : buffer_)
            if (buf == b && (outputs.count(val) || (lastUse.count(val) && lastUse.at(val) > i))) free = false;
          if (free) reuse = in;
        }
      }
      if (reuse >= 0) buffer_[v] = buffer_.at(reuse);
      else place(v);
      code_ << "; " << n.name << " = " << opName(n.op) << " " << shapeText(shape(v)) << "\n";
      est_.clear();
      const std::uint32_t first = pc_;
      lowerNode(n, addr(v));
      OpCost oc;
      oc.node = n.name, oc.op = opName(n.op), oc.shape = shapeText(shape(v)), oc.firstPc = first, oc.endPc = pc_;
      double best = -1;
      for (const auto& [bound, c] : est_) {
        oc.cycles += c;
        if (c > best) best = c, oc.bound = bound;
      }
      oc.partition = ctx_.ring.size() > 1 ? "data parallel over " + std::to_string(ctx_.ring.size()) + " cores" : "one core";
      out.ops.push_back(oc);
      for (const auto& [a, bytes] : temps_) alloc_.release(a, bytes);
      temps_.clear();
    }
    // Release buffers whose values are all dead (never inputs of later nodes, not outputs).
    for (int in : n.inputs) {
      if (lastUse.at(in) != i || outputs.count(in)) continue;
      const int b = buffer_.at(in);
      bool needed = false;
      for (const auto& [val, buf] : buffer_)
        if (buf == b && (outputs.count(val) || (lastUse.count(val) && lastUse.at(val) > i) || val == v)) needed = true;
      if (!needed && size_.count(b)) {
        alloc_.release(addr_.at(b), size_.at(b));
        size_.erase(b);
      }
    }
    if (!hbm_.empty()) {
      if (hbm_.count(v)) {  // an update: written back at once
        code_ << "; " << g_.values[std::size_t(v)].name << " to HBM\n";
        hbmTransfer(false, addr(v), hbm_.at(v), count(v) * 4);
      }
      // Values streamed in (or written back) leave SRAM after the op unless something else
      // still needs their bytes; a later op reads them from HBM again.
      std::vector<int> touched(n.inputs.begin(), n.inputs.end());
      touched.push_back(v);
      for (int x : touched) {
        if (!hbm_.count(x) || !resident(x)) continue;
        const int b = buffer_.at(x);
        bool needed = false;
        for (const auto& [val, buf] : buffer_)
          if (buf == b && !hbm_.count(val) && (outputs.count(val) || (lastUse.count(val) && lastUse.at(val) > i))) needed = true;
        if (!needed) {
          alloc_.release(addr_.at(b), size_.at(b));
          size_.erase(b);
        }
      }
    }
  }
  for (int o : g_.outputs) {
    const Value& val = g_.values[std::size_t(o)];
    if (hbm_.count(o)) {  // in HBM: the caller reads it from there
      out.layout[val.name] = {hbm_.at(o), roundUp(count(o) * 4, 64), true};
      continue;
    }
    out.layout[val.name] = {addr(o), roundUp(count(o), 16) * 4};
    std::string dims;
    for (std::size_t d = 0; d < val.shape.size(); ++d) dims += (d ? "x" : "") + std::to_string(val.shape[d]);
    head_ << ".output " << val.name << " " << addr(o) << " f32 " << (dims.empty() ? "1" : dims) << "\n";
  }
  code_ << "    halt\n";
  out.tasm = "; " + g_.name + ": lowered for one core by tatami compile\n" + head_.str() + code_.str();
  out.sramPeakBytes = alloc_.peak();
  return out;
}

}  // namespace

LoweredProgram lowerToCore(const Graph& g, const ArchConfig& config, const CoreContext& ctx) {
  if (ctx.ring.empty() || ctx.rank < 0 || ctx.rank >= int(ctx.ring.size())) throw CompileError("bad core context");
  Graph decomposed;
  const Graph* graph = &g;
  if (needsDecomposition(g)) {
    decomposed = g;  // spatial ops, batched matmuls and N-D transposes run as gathers and matmuls
    decomposeSpatial(decomposed);
    graph = &decomposed;
  }
  // The first pass learns how many bytes the constant tables take (if any); the second keeps
  // them at the top of the SRAM.
  Lowering first(*graph, config, ctx, -1);
  LoweredProgram p = first.run();
  if (first.tableBytes() == 0) return p;
  return Lowering(*graph, config, ctx, std::int64_t(first.tableBytes())).run();
}

std::vector<int> sliceRing(const ArchConfig& c, int rows, int cols) {
  if (rows < 1 || cols < 1 || rows > c.die.rows * c.system.die_rows || cols > c.die.cols * c.system.die_cols)
    throw CompileError("slice " + std::to_string(rows) + "x" + std::to_string(cols) + " does not fit the system's " +
                       std::to_string(c.die.rows * c.system.die_rows) + " x " + std::to_string(c.die.cols * c.system.die_cols) +
                       " grid");
  const int systemCols = int(c.die.cols * c.system.die_cols);
  std::set<int> disabled;
  for (int dr = 0; dr < c.system.die_rows; ++dr)
    for (int dc = 0; dc < c.system.die_cols; ++dc)
      for (const GridPos& p : c.die.disabled_cores)
        disabled.insert(int((dr * c.die.rows + p.row) * systemCols + dc * c.die.cols + p.col));
  std::vector<int> ring;
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < cols; ++k) {
      const int col = r % 2 ? cols - 1 - k : k;
      const int id = r * systemCols + col;
      if (!disabled.count(id)) ring.push_back(id);
    }
  if (ring.empty()) throw CompileError("the slice has no active core");
  return ring;
}

}  // namespace tatami::compiler
