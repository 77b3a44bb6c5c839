// Graph -> one core's tile program (see lower.h): the walk over the graph in order, placing each
// value with the memory planner and lowering each op (elementwise ops, reductions and softmax
// here; matmuls, gathers and collectives in lower_*.cpp), and the cost model's estimate per op.
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
#include <ostream>
#include <sstream>

#include "lowering.h"

namespace tatami::compiler {

namespace lowering {

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

bool Lowering::reduceInStages(const Node& n, std::uint64_t dst, int x, const std::vector<bool>& axes) {
  // The axes as runs of reduced and of kept ones (axes of size 1 dropped): [kept, reduced, kept,
  // reduced] at most, e.g. a batch norm's [N, C, H, W] over N, H and W is [reduced, kept, reduced].
  const Shape& s = shape(x);
  std::vector<std::pair<bool, std::uint64_t>> runs;
  for (std::size_t d = 0; d < s.size(); ++d) {
    if (s[d] == 1) continue;
    if (!runs.empty() && runs.back().first == axes[d]) runs.back().second *= std::uint64_t(s[d]);
    else runs.emplace_back(axes[d], std::uint64_t(s[d]));
  }
  if (runs.empty()) return false;
  std::uint64_t trailing = 1;  // the trailing reduced run, summed first (rows)
  if (runs.back().first) trailing = runs.back().second, runs.pop_back();
  const bool columns = runs.size() == 2 && runs[0].first && !runs[1].first;
  const bool blocks = runs.size() == 3 && !runs[0].first && runs[1].first && !runs[2].first && runs[2].second % 16 == 0;
  if (!columns && !blocks) return false;
  const std::uint64_t outer = blocks ? runs[0].second : 1, rows = runs[runs.size() - 2].second, cols = runs.back().second;
  std::uint64_t src = addr(x);
  if (trailing > 1) {  // sums of the trailing rows into a temporary of the kept-and-leading size
    const std::uint64_t t = temp(outer * rows * cols, n.name + ".rows");
    li(1, std::int64_t(t)), li(2, std::int64_t(src)), li(3, std::int64_t(outer * rows * cols)), li(4, std::int64_t(trailing));
    emit_.emit(tatami::Op::Vrowsum, DType::F32, {R(1), R(2), R(3), R(4)});  // reduce() counted this pass over x
    src = t;
  }
  // Sums of columns: of the whole [rows, cols] block, or of each of `outer` blocks.
  const LabelId loop = emit_.newLabel();
  li(1, std::int64_t(dst)), li(2, std::int64_t(src)), li(3, std::int64_t(rows)), li(4, std::int64_t(cols));
  li(10, 0), li(11, std::int64_t(outer));
  emit_.bind(loop);
  emit_.emit(tatami::Op::Vcolsum, DType::F32, {R(1), R(2), R(3), R(4)});
  emit_.emit(tatami::Op::Add, {R(1), R(1), cols * 4});
  emit_.emit(tatami::Op::Add, {R(2), R(2), rows * cols * 4});
  emit_.emit(tatami::Op::Add, {R(10), R(10), 1});
  emit_.emit(tatami::Op::Blt, {R(10), R(11), loop});
  // reduce() counted one pass over x: the column sums of the row sums come on top of it.
  if (trailing > 1)
    for (std::uint64_t o = 0; o < outer; ++o) vectorCost(rows * cols, 1);
  cost(double(outer) * 4 * double(c_.core.scalar_cycles), "compute");
  return true;
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
    emit_.emit(tatami::Op::Vrowsum, DType::F32, {R(1), R(2), R(3), R(4)});
  } else if (std::is_sorted(axes.begin(), axes.end())) {  // trailing axes: sums of rows
    li(3, std::int64_t(count(x) / reduced)), li(4, std::int64_t(reduced));
    emit_.emit(tatami::Op::Vrowsum, DType::F32, {R(1), R(2), R(3), R(4)});
  } else if (s.size() == 2 && axes[0] && !axes[1]) {
    li(3, s[0]), li(4, s[1]);
    emit_.emit(tatami::Op::Vcolsum, DType::F32, {R(1), R(2), R(3), R(4)});
  } else if (!reduceInStages(n, dst, x, axes)) {
    // Any other axes: the kept axes first and the reduced ones last, then rows sum.
    const std::uint64_t permuted = reducedLast(n, x, axes);
    li(1, std::int64_t(dst)), li(2, std::int64_t(permuted));
    li(3, std::int64_t(count(x) / reduced)), li(4, std::int64_t(reduced));
    emit_.emit(tatami::Op::Vrowsum, DType::F32, {R(1), R(2), R(3), R(4)});
  }
  if (mean) vscalar(tatami::Op::Vmuls, dst, dst, 1.0 / double(reduced), padded(n.outputs[0]));
}


// Long by design: one case per IR op (the lowering entry of the op table), side by side so that every op's lowering is found in one place; each case is a few lines
// and the helpers it calls hold the work.
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
      if (op == Op::add) vscalar(tatami::Op::Vadds, dst, addr(a), c, np);
      else if (op == Op::sub) vscalar(tatami::Op::Vadds, dst, addr(a), -c, np);
      else if (op == Op::mul) vscalar(tatami::Op::Vmuls, dst, addr(a), c, np);
      else vscalar(tatami::Op::Vmuls, dst, addr(a), 1.0 / c, np);
      return;
    }
    if (isScalarConst(a) && (op == Op::add || op == Op::mul) && count(b) == count(out)) {
      vscalar(op == Op::add ? tatami::Op::Vadds : tatami::Op::Vmuls, dst, addr(b), scalarOf(a), np);
      return;
    }
    if (isScalarConst(a) && op == Op::sub && count(b) == count(out)) {  // c - b
      vscalar(tatami::Op::Vmuls, dst, addr(b), -1.0, np);
      vscalar(tatami::Op::Vadds, dst, dst, scalarOf(a), np);
      return;
    }
    if (op != Op::max && op != Op::min && scalarRuns(n, dst)) return;
    if (blockRuns(n, dst)) return;
    const std::uint64_t pa = broadcast(n, a, os), pb = broadcast(n, b, os);
    if (op == Op::div) {
      const std::uint64_t r = temp(count(out), n.name + ".rcp");
      vun(tatami::Op::Vrcp, r, pb, np);
      vbin(tatami::Op::Vmul, dst, pa, r, np);
      return;
    }
    vbin(op == Op::add   ? tatami::Op::Vadd
         : op == Op::sub ? tatami::Op::Vsub
         : op == Op::mul ? tatami::Op::Vmul
         : op == Op::max ? tatami::Op::Vmax
                         : tatami::Op::Vmin,
         dst, pa, pb, np);
    return;
  }
  if (op == Op::relu || op == Op::relu_grad) {
    // In chunks of at most kChunkElements against one block of zeros (and one mask block): the
    // temporaries stay small however large the tensor.
    const std::uint64_t chunk = std::min<std::uint64_t>(np, kChunkElements);
    const std::uint64_t zero = temp(chunk, n.name + ".zero");
    vfill(zero, 0.0, chunk);
    const std::uint64_t dy = op == Op::relu ? 0 : broadcast(n, in(0), os), x = op == Op::relu ? addr(in(0)) : broadcast(n, in(1), os);
    const std::uint64_t mask = op == Op::relu ? 0 : temp(chunk, n.name + ".mask");
    for (std::uint64_t at = 0; at < np; at += chunk) {
      const std::uint64_t len = std::min(chunk, np - at), off = at * 4;
      if (op == Op::relu) {
        vbin(tatami::Op::Vmax, dst + off, x + off, zero, len);
        continue;
      }
      vbin(tatami::Op::Vcmplt, mask, zero, x + off, len);
      li(1, std::int64_t(dst + off)), li(2, std::int64_t(mask)), li(3, std::int64_t(dy + off)), li(5, std::int64_t(zero)), li(4, std::int64_t(len));
      emit_.emit(tatami::Op::Vsel, DType::F32, {R(1), R(2), R(3), R(5), R(4)});
      vectorCost(len, 3);
    }
    return;
  }
  if (op == Op::exp || op == Op::log) return vun(op == Op::exp ? tatami::Op::Vexp : tatami::Op::Vlog, dst, addr(in(0)), np);
  if (op == Op::reciprocal) return vun(tatami::Op::Vrcp, dst, addr(in(0)), np);
  if (op == Op::neg) return vscalar(tatami::Op::Vmuls, dst, addr(in(0)), -1.0, np);
  if (op == Op::sqrt) {
    vun(tatami::Op::Vrsqrt, dst, addr(in(0)), np);
    vun(tatami::Op::Vrcp, dst, dst, np);
    return;
  }
  if (op == Op::sigmoid || op == Op::tanh) {
    // sigmoid(x) = 1 / (1 + e^-x); tanh(x) = 2 sigmoid(2x) - 1
    vscalar(tatami::Op::Vmuls, dst, addr(in(0)), op == Op::tanh ? -2.0 : -1.0, np);
    vun(tatami::Op::Vexp, dst, dst, np);
    vscalar(tatami::Op::Vadds, dst, dst, 1.0, np);
    vun(tatami::Op::Vrcp, dst, dst, np);
    if (op == Op::tanh) {
      vscalar(tatami::Op::Vmuls, dst, dst, 2.0, np);
      vscalar(tatami::Op::Vadds, dst, dst, -1.0, np);
    }
    return;
  }
  if (op == Op::erf) {
    // Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7): for a = |x|, t = 1 / (1 + p a),
    // erf(a) = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^(-a^2); the sign of x restored.
    const std::uint64_t x = addr(in(0)), a = temp(np, n.name + ".abs"), t = temp(np, n.name + ".t");
    const std::uint64_t q = temp(np, n.name + ".poly"), e = temp(np, n.name + ".gauss");
    vscalar(tatami::Op::Vmuls, a, x, -1.0, np);
    vbin(tatami::Op::Vmax, a, a, x, np);
    vscalar(tatami::Op::Vmuls, t, a, 0.3275911, np);
    vscalar(tatami::Op::Vadds, t, t, 1.0, np);
    vun(tatami::Op::Vrcp, t, t, np);
    vscalar(tatami::Op::Vmuls, q, t, 1.061405429, np);
    for (const double c : {-1.453152027, 1.421413741, -0.284496736}) {
      vscalar(tatami::Op::Vadds, q, q, c, np);
      vbin(tatami::Op::Vmul, q, q, t, np);
    }
    vscalar(tatami::Op::Vadds, q, q, 0.254829592, np);
    vbin(tatami::Op::Vmul, q, q, t, np);
    vbin(tatami::Op::Vmul, e, a, a, np);
    vscalar(tatami::Op::Vmuls, e, e, -1.0, np);
    vun(tatami::Op::Vexp, e, e, np);
    vbin(tatami::Op::Vmul, q, q, e, np);
    vscalar(tatami::Op::Vmuls, q, q, -1.0, np);
    vscalar(tatami::Op::Vadds, q, q, 1.0, np);  // erf(|x|)
    vfill(e, 0.0, np);
    vbin(tatami::Op::Vcmplt, t, x, e, np);      // x < 0
    vscalar(tatami::Op::Vmuls, a, q, -1.0, np);
    li(1, std::int64_t(dst)), li(2, std::int64_t(t)), li(3, std::int64_t(a)), li(5, std::int64_t(q)), li(4, std::int64_t(np));
    emit_.emit(tatami::Op::Vsel, DType::F32, {R(1), R(2), R(3), R(5), R(4)});
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
        vun(tatami::Op::Vrsqrt, dst, addr(a), np);
        return vun(tatami::Op::Vrcp, dst, dst, np);
      }
      if (c == std::floor(c) && std::fabs(c) <= 64) {
        std::uint64_t e = std::uint64_t(std::fabs(c));
        const std::uint64_t sq = temp(np, n.name + ".square");
        dma2d(sq, addr(a), 1, np * 4, 0, 0);  // x^(2^k), squared as k grows
        bool started = false;
        while (e) {
          if (e & 1) {
            if (started) vbin(tatami::Op::Vmul, dst, dst, sq, np);
            else dma2d(dst, sq, 1, np * 4, 0, 0), started = true;
          }
          e >>= 1;
          if (e) vbin(tatami::Op::Vmul, sq, sq, sq, np);
        }
        if (c < 0) vun(tatami::Op::Vrcp, dst, dst, np);
        return;
      }
    }
    const std::uint64_t pa = broadcast(n, a, os), pb = broadcast(n, b, os);
    vun(tatami::Op::Vlog, dst, pa, np);
    vbin(tatami::Op::Vmul, dst, dst, pb, np);
    return vun(tatami::Op::Vexp, dst, dst, np);
  }
  if (op == Op::where) {
    const std::uint64_t c = broadcast(n, in(0), os), a = broadcast(n, in(1), os), b = broadcast(n, in(2), os);
    li(1, std::int64_t(dst)), li(2, std::int64_t(c)), li(3, std::int64_t(a)), li(5, std::int64_t(b)), li(4, std::int64_t(np));
    emit_.emit(tatami::Op::Vsel, DType::F32, {R(1), R(2), R(3), R(5), R(4)});
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
  if (poolAsVectors(g_, n)) return poolByVectors(n, dst);
  if (ctx_.precision == "mixed" && convAsImplicitGemm(g_, n))
    return op == Op::conv2d_grad_weight ? convWeightGradientChosen(n, dst) : convImplicitGemm(n, dst);
  if (op == Op::allreduce_mean || op == Op::allreduce) return allreduce(n, dst);
  if (op == Op::allgather) return allgather(n, dst);
  if (op == Op::reducescatter) return reducescatter(n, dst);
  if (op == Op::transpose) {
    const auto perm = n.intsAttr("perm");
    if (perm != std::vector<std::int64_t>{1, 0}) unsupported(n, "transposes other than 2D");
    li(1, std::int64_t(dst)), li(2, std::int64_t(addr(in(0)))), li(3, shape(in(0))[0]), li(4, shape(in(0))[1]);
    emit_.emit(tatami::Op::Vtr, DType::F32, {R(1), R(2), R(3), R(4)});
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
    emit_.emit(tatami::Op::Vrowmax, DType::F32, {R(1), R(2), R(3), R(4)});
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
    emit_.emit(tatami::Op::Vrowmax, DType::F32, {R(1), R(2), R(3), R(4)});
    vectorCost(M * N, 1);
    const auto spread = [&](std::uint64_t col) { spreadColumn(col, wide, M, N); };
    spread(rowv);
    vbin(tatami::Op::Vsub, d, addr(in(0)), wide, np);
    const std::uint64_t e = op == Op::softmax ? dst : temp(M * N, n.name + ".exp");
    vun(tatami::Op::Vexp, e, d, np);
    li(1, std::int64_t(rowv)), li(2, std::int64_t(e)), li(3, std::int64_t(M)), li(4, std::int64_t(N));
    emit_.emit(tatami::Op::Vrowsum, DType::F32, {R(1), R(2), R(3), R(4)});
    vectorCost(M * N, 1);
    if (op == Op::softmax) {
      vun(tatami::Op::Vrcp, rowv, rowv, roundUp(M, 16));
      spread(rowv);
      vbin(tatami::Op::Vmul, dst, e, wide, np);
    } else {
      vun(tatami::Op::Vlog, rowv, rowv, roundUp(M, 16));
      spread(rowv);
      vbin(tatami::Op::Vsub, dst, d, wide, np);
    }
    return;
  }
  unsupported(n, "op '" + std::string(opName(op)) + "'");
}

// The walk: inputs, parameters and constants placed first, then each node in order (streamed
// operands read in, its result placed or written over a dying operand, its instructions, dead
// buffers released, updates written back to HBM), then the outputs.
LoweredProgram Lowering::run() {
  verify(g_);
  LoweredProgram out;
  for (std::size_t i = 0; i < g_.nodes.size(); ++i)
    for (int v : g_.nodes[i].inputs) {
      lastUse_[v] = i;
      if (uses_[v].empty() || uses_[v].back() != i) uses_[v].push_back(i);
    }
  outputs_.insert(g_.outputs.begin(), g_.outputs.end());
  if (ctx_.precision == "mixed") findFusedTransposes();
  for (int v : transposed_) out.fusedTransposes.push_back(g_.values[std::size_t(v)].name);
  findInPlaceScatters();
  if (ctx_.stream) assignHbmHomes();
  placeGraphInputs(out);
  if (ctx_.loadInputs) issueInputLoads(out);
  for (const auto& [v, a] : hbm_) out.hbmHomes.emplace_back(g_.values[std::size_t(v)].name, a);
  out.offloadGap = ctx_.offloadGap;
  out.offloadReduced = ctx_.offloadReduced;
  for (int v : offloaded_) out.offloaded.push_back(g_.values[std::size_t(v)].name);
  // Each node's code (with the HBM transfers around it) is a segment of its own; once all are
  // lowered, the segments are planned over the core's hardware threads (thread_schedule.h).
  std::vector<Segment> segments;
  Emitter head = std::move(emit_);
  alloc_.takeAllocated();
  if (c_.core.threads > 1) alloc_.setCooling(kCoolingOps);
  double elapsed = 0;  // the segments' estimates so far, one after another
  for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
    const Node& n = g_.nodes[i];
    const int v = n.outputs[0];
    alloc_.nextSegment();
    for (int in : n.inputs)
      if (offloaded_.count(in) && !resident(in)) segments.push_back(readBack(in, out));
    emit_ = Emitter{};
    Segment seg;
    seg.firstOp = out.ops.size();
    for (int in : n.inputs)
      if (hbm_.count(in) && !resident(in)) streamIn(in, out);
    if (n.op == Op::reshape || n.op == Op::identity || transposed_.count(v)) {
      bind(v, buffer_.at(n.inputs[0]));  // same bytes, another shape (or read transposed)
    } else {
      try {
        const int reuse = dyingOperandToReuse(n, i);
        if (reuse >= 0) bind(v, buffer_.at(reuse));
        else place(v);
        emitNode(n, out);
      } catch (const SramOverflow& e) {
        throw SramOverflow(std::string(e.what()) + "; lowering " + opName(n.op) + " '" + n.name + "', " + largestLive());
      }
    }
    std::vector<int> touched(n.inputs.begin(), n.inputs.end());
    touched.push_back(v);
    for (int x : touched)
      if (resident(x)) seg.needs.bytes.emplace_back(addr(x), addr(x) + size_.at(buffer_.at(x)));
    // The result's bytes (before an offloaded one leaves SRAM below).
    const std::pair<std::uint64_t, std::uint64_t> made = resident(v) ? std::make_pair(addr(v), addr(v) + size_.at(buffer_.at(v))) : std::make_pair(std::uint64_t(0), std::uint64_t(0));
    const std::vector<int> dead = releaseDeadInputs(n, i);
    est_.clear();
    if (!hbm_.empty()) streamOut(n, i);
    if (emit_.pc() != 0) {  // else no code: an alias of its input
      // What it writes: its result and what it placed (an op that writes an operand in place, a
      // collective whose neighbours write here, say nothing).
      const bool writesOwn = !inPlaceScatter_.count(n.inputs.empty() ? -1 : n.inputs[0]) && !opHas(n.op, kCollective) && made.second > 0;
      if (writesOwn) seg.needs.writesKnown = true, seg.needs.writes.push_back(made);
      for (const auto& r : alloc_.takeAllocated()) {
        seg.needs.bytes.push_back(r);
        if (writesOwn) seg.needs.writes.push_back(r);
      }
      seg.endOp = out.ops.size();
      for (const auto& [bound, c] : est_) seg.needs.cycles += c;  // the write-back to HBM
      for (std::size_t o = seg.firstOp; o < seg.endOp; ++o) seg.needs.cycles += out.ops[o].cycles;
      seg.code = std::move(emit_);
      elapsed += seg.needs.cycles;
      classify(seg);
      segments.push_back(std::move(seg));
    }
    if (offloaded_.count(v) && !aliases_.count(v)) segments.push_back(writeOut(v, made, out));
    for (int b : dead) segments.push_back(prefetchInput(b, elapsed));
  }
  awaitPrefetches(segments, elapsed, out);
  emit_ = std::move(head);
  placeOutputs(out);
  assembleThreads(segments, out);
  out.notes = emit_.notes();
  out.program = std::move(emit_).finish();
  out.header = g_.name + ": lowered for one core by tatami compile";
  out.sramPeakBytes = alloc_.peak();
  out.collectives = collectives_;
  return out;
}

std::string Lowering::largestLive() const {
  std::vector<std::pair<std::uint64_t, std::string>> live;
  for (const auto& [b, bytes] : size_) {
    const auto in = valuesIn_.find(b);
    live.emplace_back(bytes, in == valuesIn_.end() || in->second.empty() ? "?" : g_.values[std::size_t(in->second.back())].name);  // the latest value in the buffer
  }
  std::sort(live.begin(), live.end(), [](const auto& x, const auto& y) { return x.first != y.first ? x.first > y.first : x.second < y.second; });
  std::uint64_t total = 0;
  for (const auto& l : live) total += l.first;
  std::string text = std::to_string(live.size()) + " values in SRAM (" + std::to_string(total) + " bytes), the largest";
  for (std::size_t k = 0; k < live.size() && k < 4; ++k) text += (k ? ", '" : " '") + live[k].second + "' " + std::to_string(live[k].first);
  return text;
}

void Lowering::place(int v) {
  const std::uint64_t bytes = placedBytes(v);
  const int b = nextBuffer_++;
  bind(v, b);
  addr_[b] = alloc_.allocate(bytes, g_.values[std::size_t(v)].name);
  size_[b] = bytes;
}

std::uint64_t Lowering::placedBytes(int v) const {
  const int producer = g_.values[std::size_t(v)].producer;
  const Node* pn = producer >= 0 ? &g_.nodes[std::size_t(producer)] : nullptr;
  const bool ring = pn && (pn->op == Op::allreduce_mean || pn->op == Op::allreduce);
  const std::uint64_t p = ring ? ringOf(*pn).size() : 1;
  std::uint64_t bytes = ring ? chunkOf(pn->inputs[0], p) * 4 * p : roundUp(count(v), 16) * 4;
  // The data-parallel all-reduce's buffer: a chunk per core of one ring, a chunk per core of a
  // group in two or three levels, or the vector alone in a tree (no more than the plan needs:
  // what keeps a core's SRAM from growing with the cores).
  if (pn && pn->op == Op::allreduce_mean && groupsOf(pn->inputs[0]).size) {
    const AllreducePlan plan = groupsOf(pn->inputs[0]);
    bytes = std::max(roundUp(count(v), 16) * 4, plan.size * plan.chunk * 4);
  }
  if (pn && pn->op == Op::allreduce_mean && groupsOf(pn->inputs[0]).fanIn) bytes = roundUp(count(v), 16) * 4;
  if (pn && pn->op == Op::allgather) bytes = std::max(bytes, roundUp(count(pn->inputs[0]) * ringOf(*pn).size(), 16) * 4);
  // A value only a reduce-scatter reads is reduced in place: room for the padding rows of its
  // last blocks (see reducescatter).
  if (inPlaceScatter_.count(v)) bytes = std::max(bytes, inPlaceScatter_.at(v));
  return bytes;
}

bool Lowering::resident(int x) const { return buffer_.count(x) && size_.count(buffer_.at(x)); }

void Lowering::bind(int v, int b) {
  const auto was = buffer_.find(v);
  if (was != buffer_.end()) {
    auto& others = valuesIn_[was->second];
    others.erase(std::remove(others.begin(), others.end(), v), others.end());
  }
  buffer_[v] = b;
  valuesIn_[b].push_back(v);
}

bool Lowering::bufferNeeded(int b, std::size_t i, int also, bool onlyResident) const {
  const auto in = valuesIn_.find(b);
  if (in == valuesIn_.end()) return false;
  for (int val : in->second) {
    if (onlyResident && hbm_.count(val) && !usedSoon(val, i)) continue;
    if (outputs_.count(val) || (lastUse_.count(val) && lastUse_.at(val) > i) || val == also) return true;
  }
  return false;
}

bool Lowering::usedSoon(int x, std::size_t i) const {
  if (!offloaded_.count(x)) return false;
  const auto u = uses_.find(x);
  if (u == uses_.end()) return false;
  const auto next = std::upper_bound(u->second.begin(), u->second.end(), i);
  return next != u->second.end() && *next - i <= ctx_.offloadGap;
}

void Lowering::releaseBuffer(int b) {
  alloc_.release(addr_.at(b), size_.at(b));
  size_.erase(b);
}

void Lowering::assignHbmHomes() {
  // Parameters, optimizer state and their updates (by their roles) live in HBM, each at its own
  // address.
  std::uint64_t next = ctx_.hbmBase;
  for (std::size_t v = 0; v < g_.values.size(); ++v) {
    const Value& val = g_.values[v];
    const bool home = val.role == Role::Parameter || (val.kind == ValueKind::Input && val.role == Role::OptimizerState) ||
                      (outputs_.count(int(v)) && val.role == Role::Update);
    if (!home) continue;
    hbm_[int(v)] = next;
    next += roundUp(count(int(v)) * 4, 64);
  }
  if (ctx_.offloadGap) assignOffloadHomes(next);
}

void Lowering::assignOffloadHomes(std::uint64_t next) {
  // Values that share bytes without a copy (a reshape's or identity's result, a transpose the
  // matmuls read in place) form one group under the value that made the bytes; the group's uses
  // decide, and every member is read back from the same HBM copy.
  std::map<int, int> root;
  std::map<int, std::vector<int>> members;
  for (const Node& n : g_.nodes) {
    const int v = n.outputs[0];
    const bool alias = n.op == Op::reshape || n.op == Op::identity || transposed_.count(v);
    const int r = alias && root.count(n.inputs[0]) ? root.at(n.inputs[0]) : v;
    root[v] = r;
    members[r].push_back(v);
  }
  for (std::size_t p = 0; p < g_.nodes.size(); ++p) {
    const Node& n = g_.nodes[p];
    const int r = n.outputs[0];
    if (root.at(r) != r || inPlaceScatter_.count(r)) continue;
    // A collective's result is written by its neighbours while it runs; a data-parallel
    // all-reduce's (a weight's averaged gradient) is whole when it ends and may leave then
    // (offloadReduced; its copy out waits for it: a collective names no writes, so every byte it
    // touches counts). Other collectives' results feed the next op at once.
    if (opHas(n.op, kCollective) && !(n.op == Op::allreduce_mean && ctx_.offloadReduced)) continue;
    if (count(r) * 4 < kOffloadMinBytes) continue;
    std::vector<std::size_t> at = {p};
    bool keep = false;
    for (int m : members.at(r)) {
      keep = keep || outputs_.count(m) || g_.values[std::size_t(m)].kind != ValueKind::Intermediate;
      if (uses_.count(m)) at.insert(at.end(), uses_.at(m).begin(), uses_.at(m).end());
    }
    if (keep) continue;
    std::sort(at.begin(), at.end());
    bool gap = false;
    for (std::size_t k = 1; k < at.size(); ++k) gap = gap || at[k] - at[k - 1] > ctx_.offloadGap;
    if (!gap) continue;
    const std::uint64_t bytes = roundUp(count(r) * 4, 64);
    if (ctx_.hbmBytes && next + bytes > ctx_.hbmBase + ctx_.hbmBytes)
      throw CompileError("offloading '" + g_.values[std::size_t(r)].name + "' to HBM: the core's " + std::to_string(ctx_.hbmBytes) +
                         " bytes of HBM are full");
    for (int m : members.at(r)) {
      hbm_[m] = next;
      offloaded_.insert(m);
      if (m != r) aliases_.insert(m);
    }
    next += bytes;
  }
}

void Lowering::placeGraphInputs(LoweredProgram& out) {
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
      std::vector<double> values(val.data.size());
      std::transform(val.data.begin(), val.data.end(), values.begin(), [](double d) { return double(float(d)); });
      emit_.init(addr(int(v)), DType::F32, std::move(values));
    }
  }
}

void Lowering::findFusedTransposes() {
  // 2D transposes whose every user is a matrix-unit matmul are not made: the matmul reads the
  // operand transposed (see matmulMixed).
  std::map<int, std::vector<const Node*>> users;
  for (const Node& n : g_.nodes)
    for (int in : n.inputs) users[in].push_back(&n);
  for (const Node& n : g_.nodes) {
    const int v = n.outputs[0];
    if (n.op != Op::transpose || shape(v).size() != 2 || outputs_.count(v) || !users.count(v)) continue;
    bool fuse = true;
    for (const Node* u : users.at(v)) fuse = fuse && u->op == Op::matmul && shape(u->inputs[0]).size() == 2 && shape(u->inputs[1]).size() == 2;
    if (fuse) transposed_.insert(v);
  }
}

void Lowering::findInPlaceScatters() {
  std::map<int, int> uses;
  for (const Node& n : g_.nodes)
    for (int in : n.inputs) ++uses[in];
  for (const Node& n : g_.nodes) {
    const int x = n.inputs.empty() ? -1 : n.inputs[0];
    if (n.op != Op::reducescatter || uses[x] != 1 || outputs_.count(x) || g_.values[std::size_t(x)].kind != ValueKind::Intermediate) continue;
    const std::uint64_t chunk = count(n.outputs[0]);
    if (chunk % 16 == 0 && count(x) % 16 == 0) inPlaceScatter_[x] = ringOf(n).size() * chunk * 4;
  }
}

void Lowering::streamIn(int in, LoweredProgram& out) {
  place(in);
  emit_.note(g_.values[std::size_t(in)].name + " from HBM");
  est_.clear();
  const std::uint32_t first = emit_.pc();
  hbmTransfer(true, addr(in), hbm_.at(in), count(in) * 4);
  OpCost oc;
  oc.node = g_.values[std::size_t(in)].name, oc.op = "hbm_read", oc.shape = shapeText(shape(in)), oc.bound = "mesh";
  oc.firstPc = first, oc.endPc = emit_.pc();
  for (const auto& [bound, c] : est_) oc.cycles += c;
  oc.partition = "streamed";
  out.ops.push_back(oc);
}

Lowering::Segment Lowering::readBack(int in, LoweredProgram& out) {
  // An offloaded value read back for its next use: a segment of its own, so that the thread plan
  // can run it beside the ops before. The read does not wait for its data: the op that uses it
  // does, by the core's hazard checks on the same thread, else behind the fence of the plan's
  // signal. The DMA engine is free once the request is out; the data comes over the mesh.
  place(in);
  const auto placed = alloc_.takeAllocated();
  Segment seg = offloadCopy(true, in, addr(in), out);
  seg.needs.bytes = placed;
  seg.needs.units = kMeshPort;
  return seg;
}

Lowering::Segment Lowering::writeOut(int v, std::pair<std::uint64_t, std::uint64_t> bytes, LoweredProgram& out) {
  // An offloaded value's copy to HBM, made as soon as it is: a segment of its own that only reads
  // the value, so that the ops that read it too may run beside it. It holds the DMA engine while
  // the data streams out; whatever writes over the bytes later waits for it (the core's hazard
  // checks on the same thread, else the fence of the plan's signal).
  Segment seg = offloadCopy(false, v, bytes.first, out);
  seg.needs.bytes.push_back(bytes);
  seg.needs.readsOnly = true;
  return seg;
}

Lowering::Segment Lowering::offloadCopy(bool read, int v, std::uint64_t sram, LoweredProgram& out) {
  emit_ = Emitter{};
  const std::string& name = g_.values[std::size_t(v)].name;
  emit_.note(name + (read ? " from HBM (offloaded)" : " to HBM (offloaded)"));
  li(1, std::int64_t(sram)), li(2, std::int64_t(hbm_.at(v))), li(3, std::int64_t(count(v) * 4));
  if (read) emit_.emit(tatami::Op::HbmRead, {R(1), R(2), R(3), kNoSemaphore});
  else emit_.emit(tatami::Op::HbmWrite, {R(2), R(1), R(3), kNoSemaphore});
  OpCost oc;
  oc.node = name, oc.op = read ? "hbm_read" : "hbm_write", oc.shape = shapeText(shape(v)), oc.bound = "mesh", oc.partition = "offloaded";
  oc.firstPc = 0, oc.endPc = emit_.pc();
  oc.cycles = hbmTransferCycles(c_, count(v) * 4);
  Segment seg;
  seg.firstOp = out.ops.size();
  out.ops.push_back(oc);
  seg.endOp = out.ops.size();
  seg.needs.cycles = oc.cycles;
  seg.code = std::move(emit_);
  classify(seg);
  return seg;
}

void Lowering::issueInputLoads(LoweredProgram& out) {
  // Each input the step consumes is in SRAM when the step starts (the last step's prefetch put it
  // there) and the next step's comes from HBM (the interface processor's copy of the batches): its
  // read is issued as soon as this step's copy is dead, into the same buffer, with a semaphore
  // of its own, and waited for at the end of the step (docs/abi.md).
  std::uint64_t next = ctx_.inputBase;
  for (std::size_t v = 0; v < g_.values.size(); ++v) {
    const Value& val = g_.values[v];
    if (val.kind != ValueKind::Input || (val.role != Role::Batch && val.role != Role::Target)) continue;
    if (hbm_.count(int(v)) || outputs_.count(int(v)) || !lastUse_.count(int(v)) || count(int(v)) == 0) continue;
    const int k = int(loads_.size());
    if (k >= kInputSemaphores)
      throw CompileError("the step has more than " + std::to_string(kInputSemaphores) + " inputs to read from HBM ('" + val.name + "')");
    const std::uint64_t bytes = count(int(v)) * 4, room = roundUp(bytes, 64);
    if (next + room > ctx_.inputBase + ctx_.inputBytes)
      throw CompileError("input '" + val.name + "': the step's inputs need more than the " + std::to_string(ctx_.inputBytes) +
                         " bytes of HBM each core has for them");
    TensorPlacement& at = out.layout[val.name];
    at.staged = at.addr, at.addr = next, at.hbm = true;
    loads_[buffer_.at(int(v))] = {int(v), kFirstInputSemaphore + k, next, bytes, false};
    next += room;
  }
}

Lowering::Segment Lowering::prefetchInput(int b, double elapsed) {
  // This step's copy is dead: the next step's is read into its buffer, a segment of its own
  // after every reader of the buffer. Nothing waits for it through the thread plan (the step's
  // end waits on its semaphore), so no fence holds its thread until the data is in.
  InputLoad& load = loads_.at(b);
  const std::string& name = g_.values[std::size_t(load.value)].name;
  emit_ = Emitter{};
  emit_.note(name + ": the next step's from HBM");
  li(1, std::int64_t(addr_.at(b))), li(2, std::int64_t(load.hbm)), li(3, std::int64_t(load.bytes));
  emit_.emit(tatami::Op::HbmRead, {R(1), R(2), R(3), std::int64_t(load.semaphore)});
  load.issued = true, load.issuedAt = elapsed;
  Segment seg;
  seg.needs.bytes.emplace_back(addr_.at(b), addr_.at(b) + size_.at(b));
  seg.code = std::move(emit_);
  classify(seg);
  // Asynchronous: no later op waits for it as the previous op of a unit, and it takes its thread
  // no time the plan should weigh (a few instructions to issue).
  seg.needs.units = 0, seg.needs.cycles = 0;
  return seg;
}

void Lowering::awaitPrefetches(std::vector<Segment>& segments, double elapsed, LoweredProgram& out) {
  // The step ends when the next step's inputs are in: a segment of its own that waits for them
  // (what the step after their reads does not hide is its estimate).
  if (loads_.empty()) return;
  emit_ = Emitter{};
  Segment seg;
  seg.firstOp = seg.endOp = out.ops.size();
  double exposed = 0;
  for (const auto& [b, load] : loads_) {
    if (!load.issued) continue;
    emit_.note(g_.values[std::size_t(load.value)].name + ": the next step's has arrived");
    emit_.emit(tatami::Op::Swait, {load.semaphore, 1});  // no bytes: its semaphore orders it
    exposed = std::max(exposed, hbmTransferCycles(c_, load.bytes) - (elapsed - load.issuedAt));
  }
  if (emit_.pc() == 0) return;
  seg.needs.cycles = std::max(0.0, exposed);
  seg.code = std::move(emit_);
  classify(seg);
  segments.push_back(std::move(seg));
}

int Lowering::dyingOperandToReuse(const Node& n, std::size_t i) const {
  // An elementwise op writes over an operand of its size that dies here (an updated weight over
  // the weight, a momentum update over the scaled momentum), so a training step keeps one copy of
  // each weight and of its optimizer state.
  // A per-channel operand applied run by run (scalarRuns) lets the other be written over too.
  // A data-parallel all-reduce works in place on the gradient it averages when that dies there,
  // so that the step holds one copy of it. (Not a grid line's: in place, the ResNet of
  // cli.grid_resnet_cifar no longer fits its cores' SRAM, its buffers placed otherwise.)
  const int perRun = perRunOperand(n);
  if (!(n.op == Op::add || n.op == Op::sub || n.op == Op::mul || n.op == Op::relu || n.op == Op::neg || n.op == Op::allreduce_mean ||
        perRun >= 0))
    return -1;
  const int v = n.outputs[0];
  bool sameSize = true;
  for (int in : n.inputs) sameSize = sameSize && (count(in) == count(v) || isScalarConst(in) || in == perRun);
  if (!sameSize) return -1;
  for (int in : n.inputs) {
    if (count(in) != count(v) || g_.values[std::size_t(in)].kind == ValueKind::Constant) continue;
    const int b = buffer_.at(in);
    // (An all-reduce's ring may need more than the value: a chunk per core.)
    bool free = size_.count(b) > 0 && size_.at(b) == roundUp(count(v), 16) * 4 && size_.at(b) >= placedBytes(v) && !loads_.count(b);
    if (bufferNeeded(b, i, -1, false)) free = false;
    if (free) return in;
  }
  return -1;
}

void Lowering::emitNode(const Node& n, LoweredProgram& out) {
  const int v = n.outputs[0];
  emit_.note(n.name + " = " + opName(n.op) + " " + shapeText(shape(v)));
  est_.clear();
  choice_.clear();
  usefulFlops_ = 0;
  const std::uint32_t first = emit_.pc();
  lowerNode(n, addr(v));
  OpCost oc;
  oc.node = n.name, oc.op = opName(n.op), oc.shape = shapeText(shape(v)), oc.firstPc = first, oc.endPc = emit_.pc();
  double best = -1;
  for (const auto& [bound, c] : est_) {
    oc.cycles += c;
    if (c > best) best = c, oc.bound = bound;
  }
  oc.partition = ctx_.ring.size() > 1 ? "data parallel over " + std::to_string(ctx_.ring.size()) + " cores" : "one core";
  oc.choice = choice_;
  oc.usefulFlops = usefulFlops_;
  out.ops.push_back(oc);
  for (const auto& [a, bytes] : temps_) alloc_.release(a, bytes);
  temps_.clear();
}

std::vector<int> Lowering::releaseDeadInputs(const Node& n, std::size_t i) {
  // Buffers whose values are all dead (never inputs of later nodes, not outputs); a step input's
  // buffer is kept for the next step's (returned: to read into it now).
  std::vector<int> inputs;
  for (int in : n.inputs) {
    if (lastUse_.at(in) != i || outputs_.count(in)) continue;
    const int b = buffer_.at(in);
    if (bufferNeeded(b, i, n.outputs[0], false) || !size_.count(b)) continue;
    const auto load = loads_.find(b);
    if (load == loads_.end()) releaseBuffer(b);
    else if (!load->second.issued && std::find(inputs.begin(), inputs.end(), b) == inputs.end()) inputs.push_back(b);
  }
  return inputs;
}

void Lowering::streamOut(const Node& n, std::size_t i) {
  const int v = n.outputs[0];
  if (hbm_.count(v) && !offloaded_.count(v)) {  // an update: written back at once (an offloaded value: writeOut)
    emit_.note(g_.values[std::size_t(v)].name + " to HBM");
    hbmTransfer(false, addr(v), hbm_.at(v), count(v) * 4);
  }
  // Values streamed in (or written back) leave SRAM after the op unless something else still
  // needs their bytes; a later op reads them from HBM again.
  std::vector<int> touched(n.inputs.begin(), n.inputs.end());
  touched.push_back(v);
  for (int x : touched) {
    if (!hbm_.count(x) || !resident(x)) continue;
    const int b = buffer_.at(x);
    if (!bufferNeeded(b, i, -1, true)) releaseBuffer(b);
  }
}

void Lowering::placeOutputs(LoweredProgram& out) {
  for (int o : g_.outputs) {
    const Value& val = g_.values[std::size_t(o)];
    if (hbm_.count(o)) {  // in HBM: the caller reads it from there
      out.layout[val.name] = {hbm_.at(o), roundUp(count(o) * 4, 64), true};
      continue;
    }
    out.layout[val.name] = {addr(o), roundUp(count(o), 16) * 4};
    std::vector<std::uint64_t> dims(val.shape.begin(), val.shape.end());
    if (dims.empty()) dims = {1};
    emit_.output(val.name, addr(o), DType::F32, dims);
  }
}

}  // namespace lowering

using lowering::Lowering;


namespace {

bool wants(const CoreContext& ctx, const std::string& stage) {
  if (!ctx.print) return false;
  for (const auto& p : ctx.printAfter)
    if (p == stage || p == "all") return true;
  return false;
}

void printStages(const CoreContext& ctx, const LoweredProgram& p) {
  if (!ctx.print) return;
  std::ostream& out = *ctx.print;
  if (wants(ctx, "fuse-transposes")) {
    out << "# after fuse-transposes: " << p.fusedTransposes.size() << " transpose(s) read transposed by the matrix unit\n";
    for (const auto& n : p.fusedTransposes) out << "fused %" << n << "\n";
    out << "\n";
  }
  if (wants(ctx, "hbm-residency")) {
    out << "# after hbm-residency: " << p.hbmHomes.size() << " value(s) homed in HBM";
    if (p.offloadGap)
      out << ", " << p.offloaded.size() << " of them intermediates offloaded (kept across more than " << p.offloadGap << " ops"
          << (p.offloadReduced ? ", all-reduced gradients included" : "") << ")";
    out << "\n";
    for (const auto& [n, a] : p.hbmHomes) out << "hbm %" << n << " " << a << "\n";
    out << "\n";
  }
  if (wants(ctx, "plan-memory")) {
    out << "# after plan-memory: SRAM peak " << p.sramPeakBytes << " bytes; inputs, parameters and outputs:\n";
    for (const auto& [n, at] : p.layout) out << (at.hbm ? "hbm  %" : "sram %") << n << " " << at.addr << " " << at.bytes << "\n";
    out << "\n";
  }
  if (wants(ctx, "codegen")) out << "# after codegen\n" << p.tasm() << "\n";
}

}  // namespace

std::uint64_t LoweredProgram::usefulMatrixFlops() const {
  std::uint64_t sum = 0;
  for (const OpCost& op : ops) sum += op.usefulFlops;
  return sum;
}

LoweredProgram lowerToCore(const Graph& g, const ArchConfig& config, const CoreContext& ctx) {
  if (ctx.ring.empty() || ctx.rank < 0 || ctx.rank >= int(ctx.ring.size())) throw CompileError("bad core context");
  // What the other cores of the ring learnt of this graph (their lowerings differ by rank only);
  // the first lowering of a graph learns it holding the lock, the others copy it.
  std::unique_lock<std::recursive_mutex> lock;
  if (ctx.collectivePlans) lock = std::unique_lock<std::recursive_mutex>(ctx.collectivePlans->mutex);
  CollectivePlans::Prepared local;
  CollectivePlans::Prepared& shared = ctx.collectivePlans ? ctx.collectivePlans->byGraph[{&g, ctx.precision, ctx.stream}] : local;
  CollectivePlans::Prepared known = shared;
  if (known.tableBytes >= 0 && lock.owns_lock()) lock.unlock();
  const Graph* graph = &g;
  if (known.decomposed) {
    graph = known.decomposed.get();
  } else if (known.tableBytes < 0 && needsDecomposition(g)) {
    auto decomposed = std::make_shared<Graph>(g);  // spatial ops, batched matmuls and N-D transposes run as gathers and matmuls
    // (in mixed precision convolutions stay where the matrix unit runs them as implicit GEMM;
    // so does pooling whose windows tile the input: vector operations run it)
    KeepNative keep;
    keep.implicitGemm = ctx.precision == "mixed", keep.vectorPooling = true;
    decomposeSpatial(*decomposed, keep);
    known.decomposed = shared.decomposed = decomposed;
    graph = decomposed.get();
  }
  // The first pass learns how many bytes the constant tables take (if any); the second keeps
  // them at the top of the SRAM. Known from another core, one pass does.
  LoweredProgram p;
  bool done = false;
  if (known.tableBytes >= 0) {
    Lowering once(*graph, config, ctx, known.tableBytes);
    p = once.run();
    done = std::int64_t(once.tableBytes()) == known.tableBytes;
  }
  if (!done) {
    Lowering first(*graph, config, ctx, -1);
    p = first.run();
    known.tableBytes = std::int64_t(first.tableBytes());
    if (!lock.owns_lock() && ctx.collectivePlans) lock.lock();
    shared.tableBytes = known.tableBytes;
    if (lock.owns_lock()) lock.unlock();
    if (first.tableBytes() != 0) p = Lowering(*graph, config, ctx, known.tableBytes).run();
  }
  // Printed once the core's program is made (a caller may lower again, streaming from HBM).
  if (wants(ctx, "decompose-spatial")) *ctx.print << "# IR after decompose-spatial\n" << printGraph(*graph) << "\n";
  printStages(ctx, p);
  return p;
}

std::shared_ptr<CollectivePlans> newCollectivePlans() { return std::make_shared<CollectivePlans>(); }

std::vector<std::pair<int, int>> dieCycle(int rows, int cols) {
  if (rows < 1 || cols < 1) throw CompileError("a block of " + std::to_string(rows) + " x " + std::to_string(cols) + " dies");
  std::vector<std::pair<int, int>> order;
  if (rows == 1 || cols == 1) {
    // A line is folded: 0, 2, 4, ..., then the odd ones back (0 2 4 3 1); each step, the closing
    // one too, crosses two die edges at most.
    const int n = std::max(rows, cols);
    const auto at = [&](int i) { return rows == 1 ? std::pair{0, i} : std::pair{i, 0}; };
    for (int i = 0; i < n; i += 2) order.push_back(at(i));
    for (int i = n - 1 - (n % 2); i > 0; i -= 2) order.push_back(at(i));
    return order;
  }
  if (rows % 2 && !(cols % 2)) {  // an even number of columns: the transposed block's cycle
    for (const auto& [r, c] : dieCycle(cols, rows)) order.emplace_back(c, r);
    return order;
  }
  // A comb: along row 0, a snake over the other rows in columns 1 and on, and back up column 0.
  // With an even number of rows the snake ends in column 1, beside column 0. With an odd number
  // of both, the last two rows are covered column by column (down, up, ...) from the last column
  // to column 1, ending at row rows - 2: the one step across a corner, to (rows - 1, 0).
  for (int c = 0; c < cols; ++c) order.emplace_back(0, c);
  const int snakeRows = rows % 2 ? rows - 3 : rows - 1;  // rows 1 .. snakeRows, an odd count when even
  for (int r = 1; r <= snakeRows; ++r)
    for (int k = 0; k < cols - 1; ++k) order.emplace_back(r, r % 2 ? cols - 1 - k : 1 + k);
  if (rows % 2)
    for (int k = 0; k < cols - 1; ++k) {
      const int c = cols - 1 - k;
      order.emplace_back(k % 2 ? rows - 1 : rows - 2, c);
      order.emplace_back(k % 2 ? rows - 2 : rows - 1, c);
    }
  for (int r = rows - 1; r >= 1; --r) order.emplace_back(r, 0);
  return order;
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
  // Die by die, each die's part of the slice in a snake over its rows: consecutive cores are mesh
  // neighbours within a die. The dies follow a cycle over the block of dies (dieCycle) in which
  // each step, the closing one included, crosses one die edge, or two once when the block has an
  // odd number of dies in each direction. A slice within one die is one snake.
  const int dieRows = int(c.die.rows), dieCols = int(c.die.cols);
  const std::vector<std::pair<int, int>> dies = dieCycle((rows - 1) / dieRows + 1, (cols - 1) / dieCols + 1);
  std::vector<int> ring;
  for (const auto& [dr, dc] : dies) {
    const int r0 = dr * dieRows, r1 = std::min(rows, r0 + dieRows), c0 = dc * dieCols, c1 = std::min(cols, c0 + dieCols);
    for (int r = r0; r < r1; ++r)
      for (int j = 0; j < c1 - c0; ++j) {
        const int col = (r - r0) % 2 ? c1 - 1 - j : c0 + j;
        const int id = r * systemCols + col;
        if (!disabled.count(id)) ring.push_back(id);
      }
  }
  if (ring.empty()) throw CompileError("the slice has no active core");
  return ring;
}

}  // namespace tatami::compiler
