// Gathers, broadcasts and takes: index tables lowered to vtr blocks, strided DMAs or gather DMAs; embeddings by run-time ids.
#include "lowering.h"

namespace tatami::compiler::lowering {

Lowering::Repeat Lowering::repeatOf(const Shape& s, const Shape& out) {
  Repeat r;
  if (s.size() > out.size()) return r;
  const std::size_t off = out.size() - s.size();
  std::size_t d0 = out.size(), d1 = 0;
  for (std::size_t d = off; d < out.size(); ++d)
    if (s[d - off] != 1) d0 = std::min(d0, d), d1 = d + 1;
  r.ok = d0 < d1;
  for (std::size_t d = 0; d < out.size() && r.ok; ++d) {
    const std::int64_t sd = d < off ? 1 : s[d - off];
    if (d < d0) r.outer *= std::uint64_t(out[d]);
    else if (d < d1) r.ok = sd == out[d], r.mid *= std::uint64_t(out[d]);
    else r.inner *= std::uint64_t(out[d]);
  }
  return r;
}

int Lowering::smallerOperand(const Node& n) const {
  const int a = n.inputs[0], b = n.inputs[1], out = n.outputs[0];
  if (count(a) == count(out) && count(b) < count(a)) return b;
  if (count(b) == count(out) && count(a) < count(b)) return a;
  return -1;
}

int Lowering::perRunOperand(const Node& n) const {
  if (n.op != Op::add && n.op != Op::sub && n.op != Op::mul && n.op != Op::div) return -1;
  const int small = smallerOperand(n), out = n.outputs[0];
  if (small < 0) return -1;
  const Repeat r = repeatOf(shape(small), shape(out));
  if (!r.ok || r.inner % 16 || r.inner < 16 || count(small) != r.mid) return -1;
  return small;
}

bool Lowering::scalarRuns(const Node& n, std::uint64_t dst) {
  const int small = perRunOperand(n);
  if (small < 0) return false;
  const bool smallA = small == n.inputs[0], smallB = !smallA;
  const int full = smallA ? n.inputs[1] : n.inputs[0];
  const Repeat r = repeatOf(shape(small), shape(n.outputs[0]));
  std::uint64_t values = addr(small);
  tatami::Op vop = n.op == Op::add || n.op == Op::sub ? tatami::Op::Vadds : tatami::Op::Vmuls;
  bool negate = false;
  std::uint64_t src = addr(full);
  if (n.op == Op::sub && smallA) {  // s - x = (-x) + s, exactly
    vscalar(tatami::Op::Vmuls, dst, src, -1.0, roundUp(count(full), 16));
    src = dst;
  } else if (n.op == Op::sub) {  // x - s = x + (-s), exactly
    negate = true;
  } else if (n.op == Op::div && smallB) {  // x / s as x * (1/s), as the elementwise division
    values = temp(r.mid, n.name + ".rcp");
    vun(tatami::Op::Vrcp, values, addr(small), roundUp(r.mid, 16));
  } else if (n.op == Op::div) {  // s / x as (1/x) * s
    vun(tatami::Op::Vrcp, dst, src, roundUp(count(full), 16));
    src = dst;
  }
  // for every outer position, for every value: r3 = the value (sign flipped for x - s), then
  // dst[run] = src[run] OP r3 over the run of `inner` elements.
  const LabelId outerLoop = emit_.newLabel(), runLoop = emit_.newLabel();
  li(13, std::int64_t(dst)), li(14, std::int64_t(src)), li(4, std::int64_t(r.inner)), li(16, std::int64_t(values));
  li(8, 0), li(9, std::int64_t(r.outer)), li(11, std::int64_t(r.mid)), li(17, std::int64_t(0x80000000));
  emit_.bind(outerLoop);
  emit_.emit(tatami::Op::Add, {R(12), R(16), 0});
  li(10, 0);
  emit_.bind(runLoop);
  emit_.emit(tatami::Op::Lw, {R(3), Mem{R(12)}});
  if (negate) emit_.emit(tatami::Op::Xor, {R(3), R(3), R(17)});
  emit_.emit(vop, DType::F32, {R(13), R(14), R(3), R(4)});
  emit_.emit(tatami::Op::Add, {R(12), R(12), 4});
  emit_.emit(tatami::Op::Add, {R(13), R(13), r.inner * 4});
  emit_.emit(tatami::Op::Add, {R(14), R(14), r.inner * 4});
  emit_.emit(tatami::Op::Add, {R(10), R(10), 1});
  emit_.emit(tatami::Op::Blt, {R(10), R(11), runLoop});
  emit_.emit(tatami::Op::Add, {R(8), R(8), 1});
  emit_.emit(tatami::Op::Blt, {R(8), R(9), outerLoop});
  // The runs are independent: the vector unit streams them back to back, each run's occupancy
  // or the loop's scalar instructions, whichever is longer, and one pipeline latency at the end.
  const double ports = double(c_.core.sram_read_ports);
  const double l = lines(r.inner * 4);
  const double occupancy = std::max(l * std::max(1.0, 1.0 / ports), double(r.inner * 4) / double(c_.core.fp32_fma_per_cycle * 4));
  const double loop = (negate ? 8.0 : 7.0) * double(c_.core.scalar_cycles);
  const double runs = double(r.outer * r.mid);
  cost(runs * std::max(occupancy, loop) + double(r.outer) * 3 * double(c_.core.scalar_cycles) + double(c_.core.vector_latency_cycles),
       occupancy >= loop ? "compute" : "latency");
  return true;
}

bool Lowering::blockRuns(const Node& n, std::uint64_t dst) {
  const int small = smallerOperand(n), out = n.outputs[0];
  if (small < 0) return false;
  const bool smallA = small == n.inputs[0], smallB = !smallA;
  const int full = smallA ? n.inputs[1] : n.inputs[0];
  const Shape& os = shape(out);
  const Repeat r = repeatOf(shape(small), os);
  const std::uint64_t block = r.mid * r.inner;  // one outer position's elements
  if (!r.ok || r.outer < 2 || r.inner < 16 || block % 16 || count(small) != r.mid) return false;
  // The small operand broadcast over one outer position (the axes before its block set to 1).
  Shape one = os;
  const std::size_t off = os.size() - shape(small).size();
  for (std::size_t d = 0; d < os.size(); ++d) {
    if (d >= off && shape(small)[d - off] != 1) break;
    one[d] = 1;
  }
  const std::uint64_t e = broadcast(n, small, one);
  tatami::Op op = n.op == Op::add ? tatami::Op::Vadd
                  : n.op == Op::sub ? tatami::Op::Vsub
                  : n.op == Op::mul ? tatami::Op::Vmul
                  : n.op == Op::max ? tatami::Op::Vmax
                  : n.op == Op::min ? tatami::Op::Vmin
                                    : tatami::Op::Vmul;
  std::uint64_t fullAt = addr(full);
  if (n.op == Op::div && smallB) vun(tatami::Op::Vrcp, e, e, block);  // x / s as x * (1/s)
  if (n.op == Op::div && smallA) {                                     // s / x as s * (1/x)
    vun(tatami::Op::Vrcp, dst, fullAt, roundUp(count(full), 16));
    fullAt = dst;
  }
  // Each outer position: one vector operation of `block` elements against the one block.
  const LabelId loop = emit_.newLabel();
  li(1, std::int64_t(dst)), li(2, std::int64_t(smallA ? e : fullAt)), li(3, std::int64_t(smallA ? fullAt : e)), li(4, std::int64_t(block));
  li(10, 0), li(11, std::int64_t(r.outer));
  emit_.bind(loop);
  emit_.emit(op, DType::F32, {R(1), R(2), R(3), R(4)});
  emit_.emit(tatami::Op::Add, {R(1), R(1), block * 4});
  emit_.emit(tatami::Op::Add, {smallA ? R(3) : R(2), smallA ? R(3) : R(2), block * 4});
  emit_.emit(tatami::Op::Add, {R(10), R(10), 1});
  emit_.emit(tatami::Op::Blt, {R(10), R(11), loop});
  for (std::uint64_t o = 0; o < r.outer; ++o) vectorCost(block, 2);
  return true;
}

void Lowering::spreadColumn(std::uint64_t col, std::uint64_t wide, std::uint64_t M, std::uint64_t N) {
  // wide[i, :] = col[i]: one DMA per row, its source stride 0 repeating the element.
  const LabelId loop = emit_.newLabel();
  li(10, 0), li(11, std::int64_t(M)), li(12, std::int64_t(col)), li(13, std::int64_t(wide));
  li(3, std::int64_t(N)), li(4, 4), li(5, 4), li(6, 0);
  emit_.bind(loop);
  emit_.emit(tatami::Op::Dma2d, {R(13), R(12), R(3), R(4), R(5), R(6), 0});
  emit_.emit(tatami::Op::Swait, {0, 1});
  emit_.emit(tatami::Op::Add, {R(12), R(12), 4});
  emit_.emit(tatami::Op::Add, {R(13), R(13), N * 4});
  emit_.emit(tatami::Op::Add, {R(10), R(10), 1});
  emit_.emit(tatami::Op::Blt, {R(10), R(11), loop});
  cost(double(M) * (dmaCycles(N, 4) + 6 * double(c_.core.scalar_cycles)), "sram");
}

std::uint64_t Lowering::broadcast(const Node& n, int v, const Shape& out) {
  const Shape& s = shape(v);
  if (elementCount(s) == elementCount(out)) return addr(v);
  const std::uint64_t total = std::uint64_t(elementCount(out));
  const std::uint64_t t = temp(total, n.name + ".broadcast");
  if (elementCount(s) == 1) {
    li(7, std::int64_t(addr(v)));
    emit_.emit(tatami::Op::Lw, {R(3), Mem{R(7)}});
    cost(double(c_.core.scalar_cycles), "compute");
    li(1, std::int64_t(t)), li(4, std::int64_t(roundUp(total, 16)));
    emit_.emit(tatami::Op::Vfill, DType::F32, {R(1), R(3), R(4)});
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
    const Repeat r = repeatOf(s, out);
    const bool block = r.ok;
    const std::uint64_t outer = r.outer, mid = r.mid, inner = r.inner;
    if (block && inner >= 16) {
      const std::uint64_t rowElems = roundUp(inner, 16), rows = temp(mid * rowElems, n.name + ".rows");
      const LabelId loop = emit_.newLabel();
      li(1, std::int64_t(rows)), li(4, std::int64_t(rowElems)), li(5, std::int64_t(outer)), li(6, std::int64_t(inner * 4));
      li(7, std::int64_t(mid * inner * 4)), li(8, 0), li(10, 0), li(11, std::int64_t(mid)), li(12, std::int64_t(addr(v))), li(13, std::int64_t(t));
      emit_.bind(loop);
      emit_.emit(tatami::Op::Lw, {R(3), Mem{R(12)}});
      emit_.emit(tatami::Op::Vfill, DType::F32, {R(1), R(3), R(4)});
      emit_.emit(tatami::Op::Dma2d, {R(13), R(1), R(5), R(6), R(7), R(8), kNoSemaphore});
      emit_.emit(tatami::Op::Add, {R(12), R(12), 4});
      emit_.emit(tatami::Op::Add, {R(1), R(1), rowElems * 4});
      emit_.emit(tatami::Op::Add, {R(13), R(13), inner * 4});
      emit_.emit(tatami::Op::Add, {R(10), R(10), 1});
      emit_.emit(tatami::Op::Blt, {R(10), R(11), loop});
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
    const LabelId loop = emit_.newLabel();
    li(1, std::int64_t(dst)), li(2, std::int64_t(src + std::uint64_t(base) * 4)), li(3, std::int64_t(rows)), li(4, std::int64_t(cols));
    li(10, 0), li(11, std::int64_t(blocks));
    emit_.bind(loop);
    emit_.emit(tatami::Op::Vtr, DType::F32, {R(1), R(2), R(3), R(4)});
    emit_.emit(tatami::Op::Add, {R(1), R(1), bytes});
    emit_.emit(tatami::Op::Add, {R(2), R(2), bytes});
    emit_.emit(tatami::Op::Add, {R(10), R(10), 1});
    emit_.emit(tatami::Op::Blt, {R(10), R(11), loop});
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
    std::vector<double> addrs;
    for (std::int64_t first : starts) addrs.push_back(double(src + std::uint64_t(first) * 4));
    emit_.init(table, DType::I32, std::move(addrs));
    const LabelId loop = emit_.newLabel();
    li(1, std::int64_t(dst)), li(3, std::int64_t(table)), li(4, std::int64_t(runRows)), li(5, std::int64_t(run * 4));
    li(6, std::int64_t(run * 4)), li(7, stride * 4), li(10, 0), li(11, std::int64_t(starts.size()));
    emit_.bind(loop);
    emit_.emit(tatami::Op::Lw, {R(2), Mem{R(3)}});
    emit_.emit(tatami::Op::Dma2d, {R(1), R(2), R(4), R(5), R(6), R(7), kNoSemaphore});
    emit_.emit(tatami::Op::Add, {R(1), R(1), runRows * run * 4});
    emit_.emit(tatami::Op::Add, {R(3), R(3), 4});
    emit_.emit(tatami::Op::Add, {R(10), R(10), 1});
    emit_.emit(tatami::Op::Blt, {R(10), R(11), loop});
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
  std::vector<double> elements;
  for (std::uint64_t k = 0; k < L; ++k) elements.push_back(double(src / 4 + std::uint64_t(idx[k] < 0 ? valid : idx[k])));
  emit_.init(table, DType::I32, std::move(elements));
  std::uint64_t mask = 0, fill = 0;
  if (hasFill) {
    mask = alloc_.allocateStatic(roundUp(L, 16) * 4);
    std::vector<double> keep;
    for (std::uint64_t k = 0; k < L; ++k) keep.push_back(idx[k] < 0 ? 0.0 : 1.0);
    emit_.init(mask, DType::I32, std::move(keep));
    fill = temp(L, what + ".fill");
    vfill(fill, fillValue, roundUp(L, 16));
  }
  const LabelId loop = emit_.newLabel();
  li(1, std::int64_t(dst)), li(2, 0), li(3, std::int64_t(table)), li(4, std::int64_t(L)), li(5, 4);
  li(6, std::int64_t(mask)), li(7, std::int64_t(fill)), li(8, std::int64_t(roundUp(L, 16))), li(10, 0), li(11, std::int64_t(blocks));
  emit_.bind(loop);
  emit_.emit(tatami::Op::Gather, {R(1), R(2), R(3), R(4), R(5), 0});
  emit_.emit(tatami::Op::Swait, {0, 1});
  if (hasFill) emit_.emit(tatami::Op::Vsel, DType::F32, {R(1), R(6), R(1), R(7), R(8)});
  emit_.emit(tatami::Op::Add, {R(1), R(1), L * 4});
  emit_.emit(tatami::Op::Add, {R(2), R(2), shift * 4});
  emit_.emit(tatami::Op::Add, {R(10), R(10), 1});
  emit_.emit(tatami::Op::Blt, {R(10), R(11), loop});
  const double rd = double(c_.core.noc_read_bytes_per_cycle);
  const double perBlock = double(c_.core.dma_setup_cycles) + std::ceil(double(L) * 4 / rd) + double(L) + 5 * double(c_.core.scalar_cycles);
  cost(double(blocks) * perBlock, "sram");
  if (hasFill) cost(double(blocks) * (lines(roundUp(L, 16) * 4) * 1.5 + double(c_.core.vector_latency_cycles)), "compute");
}

std::uint64_t Lowering::indicesOf(const Node& n, int v, std::int64_t len) {
  const std::uint64_t np = padded(v);
  const std::uint64_t idx = temp(np, n.name + ".indices"), zero = temp(np, n.name + ".zero"), wrapped = temp(np, n.name + ".wrapped");
  li(1, std::int64_t(idx)), li(2, std::int64_t(addr(v))), li(4, std::int64_t(np));
  emit_.emit(tatami::Op::Vcvt, DType::I32, {R(1), R(2), R(4)}, DType::F32);  // truncates, as the oracle's integer conversion
  vectorCost(np, 1);
  li(1, std::int64_t(zero)), li(3, 0), li(4, std::int64_t(np));
  emit_.emit(tatami::Op::Vfill, DType::I32, {R(1), R(3), R(4)});
  vectorCost(np, 0);
  li(1, std::int64_t(wrapped)), li(2, std::int64_t(idx)), li(3, len), li(4, std::int64_t(np));
  emit_.emit(tatami::Op::Vadds, DType::I32, {R(1), R(2), R(3), R(4)});  // i + len, for the negative ones
  vectorCost(np, 1);
  li(1, std::int64_t(zero)), li(2, std::int64_t(idx)), li(3, std::int64_t(zero)), li(4, std::int64_t(np));
  emit_.emit(tatami::Op::Vcmplt, DType::I32, {R(1), R(2), R(3), R(4)});  // the mask of negative indices (over the zeros)
  vectorCost(np, 2);
  li(1, std::int64_t(idx)), li(2, std::int64_t(zero)), li(3, std::int64_t(wrapped)), li(5, std::int64_t(idx)), li(4, std::int64_t(np));
  emit_.emit(tatami::Op::Vsel, DType::I32, {R(1), R(2), R(3), R(5), R(4)});
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
      emit_.emit(tatami::Op::Gather, {R(1), R(2), R(3), R(4), R(5), 0});
      emit_.emit(tatami::Op::Swait, {0, 1});
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
    const LabelId loop = emit_.newLabel();
    li(10, 0), li(11, std::int64_t(ni)), li(12, std::int64_t(idx)), li(13, std::int64_t(addr(n.inputs[0]) + o * ni * rowBytes));
    li(14, std::int64_t(dst + o * std::uint64_t(len) * rowBytes)), li(15, std::int64_t(rowBytes)), li(16, std::int64_t(vecs));
    li(17, std::int64_t(acc)), li(18, std::int64_t(add)), li(19, 1), li(20, 0);
    emit_.bind(loop);
    emit_.emit(tatami::Op::Lw, {R(3), Mem{R(12)}});
    emit_.emit(tatami::Op::Mul, {R(4), R(3), R(15)});
    emit_.emit(tatami::Op::Add, {R(4), R(4), R(14)});  // the row of the result this index adds into
    if (aligned) {
      emit_.emit(tatami::Op::Vadd, DType::F32, {R(4), R(4), R(13), R(16)});
    } else {
      emit_.emit(tatami::Op::Dma2d, {R(17), R(4), R(19), R(15), R(20), R(20), kNoSemaphore});
      emit_.emit(tatami::Op::Dma2d, {R(18), R(13), R(19), R(15), R(20), R(20), kNoSemaphore});
      emit_.emit(tatami::Op::Vadd, DType::F32, {R(17), R(17), R(18), R(16)});
      emit_.emit(tatami::Op::Dma2d, {R(4), R(17), R(19), R(15), R(20), R(20), kNoSemaphore});
    }
    emit_.emit(tatami::Op::Add, {R(12), R(12), 4});
    emit_.emit(tatami::Op::Add, {R(13), R(13), rowBytes});
    emit_.emit(tatami::Op::Add, {R(10), R(10), 1});
    emit_.emit(tatami::Op::Blt, {R(10), R(11), loop});
    const double row = lines(vecs * 4) + double(c_.core.vector_latency_cycles) + 7 * double(c_.core.scalar_cycles);
    cost(double(ni) * (aligned ? row : row + 3 * dmaCycles(1, rowBytes)), "compute");
  }
}

void Lowering::take(const Node& n, std::uint64_t dst) {
  gatherElements(n.name, dst, addr(n.inputs[0]), n.intsAttr("index"), n.realAttr("fill", 0.0));
}


}  // namespace tatami::compiler::lowering
