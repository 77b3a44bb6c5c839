// Tensor-parallel placement over a grid of cores (see partition.h): a layout per tensor, chosen by
// propagation through the graph, then the local graph of each grid position.
#include "tatami/compiler/partition.h"
#include "tatami/arch/isa.h"
#include "tatami/compiler/pipeline.h"
#include "tatami/compiler/training.h"
#include "split_rules.h"

#include <algorithm>
#include <ostream>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <set>

namespace tatami::compiler {

namespace grid {

bool elementwise(Op op) { return opHas(op, kElementwise); }

[[noreturn]] void refuse(const Node& n, const std::string& why) {
  throw CompileError("node '" + n.name + "' (" + opName(n.op) + "): cannot be split over the grid: " + why);
}

MatmulChoice chooseMatmul(const Split& sa, const Split& sb, const Shape& as, const Shape& bs, int rows, int cols) {
  MatmulChoice m;
  const auto parts = [&](int axis) { return axis == 0 ? rows : cols; };
  int a0 = sa[0], a1 = sa[1], b0 = sb[0], b1 = sb[1];
  if (a1 != b0) {
    m.gatherA1 = a1 >= 0, m.gatherB0 = b0 >= 0;
    a1 = b0 = -1;
  }
  if (a0 >= 0 && (a0 == b1 || a0 == a1)) m.gatherA0 = true, a0 = -1;
  m.contract = a1;
  if (m.contract >= 0 && a0 < 0 && m.contract != b1 && as[0] >= parts(m.contract)) {
    m.scatter = true;
    m.out = {m.contract, b1};
  } else {
    m.out = {a0, b1};
  }
  return m;
}

/// The value an elementwise op gives in the padding, from its operands' padding values (nullopt:
/// not known at compile time).
std::optional<double> padOfOp(Op op, const std::vector<std::optional<double>>& in) {
  if ((op == Op::mul && ((in[0] && *in[0] == 0) || (in[1] && *in[1] == 0))) || (op == Op::relu_grad && in[0] && *in[0] == 0)) return 0.0;
  for (const auto& v : in)
    if (!v) return std::nullopt;
  const double a = *in[0], b = in.size() > 1 ? *in[1] : 0.0;
  if (op == Op::add) return a + b;
  if (op == Op::sub) return a - b;
  if (op == Op::mul) return a * b;
  if (op == Op::div) return a / b;
  if (op == Op::max) return std::max(a, b);
  if (op == Op::min) return std::min(a, b);
  if (op == Op::pow) return std::pow(a, b);
  if (op == Op::relu_grad) return b > 0 ? a : 0.0;
  if (op == Op::where) return a != 0 ? b : *in[2];
  if (op == Op::relu) return a > 0 ? a : 0.0;
  if (op == Op::neg) return -a;
  if (op == Op::exp) return std::exp(a);
  if (op == Op::log) return std::log(a);
  if (op == Op::sqrt) return std::sqrt(a);
  if (op == Op::tanh) return std::tanh(a);
  if (op == Op::sigmoid) return 1.0 / (1.0 + std::exp(-a));
  if (op == Op::erf) return std::erf(a);
  if (op == Op::reciprocal) return 1.0 / a;
  if (op == Op::identity) return a;
  return std::nullopt;
}

/// The reduced axes of a reduction node (reduce_* by its `axes`, sum_to by its target shape).
std::vector<bool> reducedAxes(const Graph& g, const Node& n) {
  const Shape& in = g.values[std::size_t(n.inputs[0])].shape;
  std::vector<bool> axes(in.size(), false);
  if (n.op == Op::sum_to) {
    const Shape target = n.intsAttr("shape");
    const std::size_t off = in.size() - target.size();
    for (std::size_t d = 0; d < in.size(); ++d) axes[d] = d < off || (target[d - off] == 1 && in[d] != 1);
  } else {
    for (auto a : n.intsAttr("axes")) axes[std::size_t(a < 0 ? a + std::int64_t(in.size()) : a)] = true;
  }
  return axes;
}

/// Convolutions and pools on NCHW tensors, whose examples (N) and channels (C) split like any
/// other dimension and whose spatial dimensions never do.
bool channelOp(Op op) { return opHas(op, kChannel); }

/// The layout of a reshape's result from its operand's, or nullopt when it has none. Dimensions
/// are matched in groups of equal products (a flatten merges C, H and W into one group); a split
/// group keeps its axis on its first dimension of more than one element, which must be the split
/// one. When a group has several such dimensions on either side, a block of the leading one is a
/// contiguous block of the group only if the split dimensions divide evenly (no padding).
std::optional<Split> reshapeSplit(const Shape& from, const Split& s, const Shape& to, int rows, int cols) {
  Split out(to.size(), -1);
  std::size_t i = 0, j = 0;
  while (i < from.size() || j < to.size()) {
    const std::size_t i0 = i, j0 = j;
    std::int64_t pi = 1, pj = 1;
    if (i < from.size()) pi *= from[i++];
    if (j < to.size()) pj *= to[j++];
    while (pi != pj) {  // a group: [i0, i) of `from` and [j0, j) of `to` with equal products
      if (pi < pj) {
        if (i >= from.size()) return std::nullopt;
        pi *= from[i++];
      } else {
        if (j >= to.size()) return std::nullopt;
        pj *= to[j++];
      }
    }
    int axis = -1;
    std::size_t lead = i0, bigFrom = 0, bigTo = 0, leadTo = j0;
    bool leadFound = false;
    for (std::size_t d = i0; d < i; ++d) {
      if (from[d] > 1 && !leadFound) lead = d, leadFound = true;
      bigFrom += from[d] > 1;
      if (s[d] >= 0) {
        if (axis >= 0 || d != lead) return std::nullopt;
        axis = s[d];
      }
    }
    bool toFound = false;
    for (std::size_t d = j0; d < j; ++d) {
      if (to[d] > 1 && !toFound) leadTo = d, toFound = true;
      bigTo += to[d] > 1;
    }
    if (axis < 0) continue;
    if (!toFound) return std::nullopt;
    const std::int64_t parts = axis == 0 ? rows : cols;
    if ((bigFrom > 1 || bigTo > 1) && (from[lead] % parts != 0 || to[leadTo] % parts != 0)) return std::nullopt;
    out[leadTo] = axis;
  }
  return out;
}

bool isLeaf(const Graph& g, int v) { return g.values[std::size_t(v)].kind != ValueKind::Intermediate; }

/// Propagates layouts to a fixpoint. `known[v]` is empty while v's layout is undecided.
class Planner {
 public:
  Planner(const Graph& g, int rows, int cols) : g_(g), known_(g.values.size()), rows_(rows), cols_(cols) {}

  std::vector<Split> run() {
    // Seeds: an input whose features meet a weight in a matmul has them split over the rows,
    // and its examples over the columns when the blocks are whole vectors (gathered for use).
    // The input may reach the matmul through reshapes (a flatten of images: then the features'
    // split lands on the first image dimension of more than one element, which must divide
    // evenly), and the weight may be used transposed (a Gemm with transB, as PyTorch exports
    // Linear).
    const auto producer = [&](int v) -> const Node* {
      const int p = g_.values[std::size_t(v)].producer;
      return p >= 0 ? &g_.nodes[std::size_t(p)] : nullptr;
    };
    for (const Node& n : g_.nodes) {
      if (n.op != Op::matmul || shape(n.inputs[0]).size() != 2 || shape(n.inputs[1]).size() != 2) continue;
      int w = n.inputs[1];
      if (const Node* p = producer(w); p && p->op == Op::transpose) w = p->inputs[0];
      if (g_.values[std::size_t(w)].kind != ValueKind::Parameter) continue;
      std::vector<int> chain = {n.inputs[0]};  // the activation, back through reshapes to an input
      while (const Node* p = producer(chain.back())) {
        if (p->op != Op::reshape) break;
        chain.push_back(p->inputs[0]);
      }
      if (g_.values[std::size_t(chain.back())].kind != ValueKind::Input) continue;
      const Shape& s = shape(n.inputs[0]);
      Split want = {s[0] >= cols_ && cols_ > 1 ? 1 : -1, 0};
      bool ok = true;
      for (std::size_t k = 1; ok && k < chain.size(); ++k) {
        const auto back = reshapeSplit(shape(chain[k - 1]), want, shape(chain[k]), rows_, cols_);
        if (back) want = *back;
        ok = back.has_value();
      }
      if (!ok) continue;
      set(chain.back(), want);
    }
    // An image batch that a convolution reads: its examples over the columns.
    for (const Node& n : g_.nodes)
      if (n.op == Op::conv2d && g_.values[std::size_t(n.inputs[0])].kind == ValueKind::Input) {
        const Shape& s = shape(n.inputs[0]);
        set(n.inputs[0], {s[0] >= cols_ && cols_ > 1 ? 1 : -1, -1, -1, -1});
      }
    for (int round = 0; changed_ && round < 1000; ++round) {
      changed_ = false;
      for (const Node& n : g_.nodes) visit(n);
    }
    for (std::size_t v = 0; v < known_.size(); ++v)
      if (known_[v].empty()) known_[v] = Split(g_.values[v].shape.size(), -1);
    return known_;
  }

 private:
  const Shape& shape(int v) const { return g_.values[std::size_t(v)].shape; }
  bool has(int v) const { return !known_[std::size_t(v)].empty(); }
  const Split& of(int v) const { return known_[std::size_t(v)]; }
  void set(int v, Split s) {
    if (has(v) || s.size() != shape(v).size()) return;
    known_[std::size_t(v)] = std::move(s);
    changed_ = true;
  }
  /// An operand takes the layout its consumer needs: a leaf always, an intermediate only when
  /// none of its producer's operands has a layout yet (so the producer cannot decide; e.g. a
  /// momentum buffer scaled by a constant).
  void need(int v, const Split& s) {
    if (!isLeaf(g_, v)) {
      const Node& p = g_.nodes[std::size_t(g_.values[std::size_t(v)].producer)];
      for (int x : p.inputs)
        if (has(x) && elementCount(shape(x)) > 1) return;
      // A transposed leaf (a weight used as W^T) takes the layout now too, so that a later
      // consumer of the leaf itself (its update) cannot give it another one.
      if (p.op == Op::transpose && s.size() == 2 && isLeaf(g_, p.inputs[0])) set(p.inputs[0], {s[1], s[0]});
    }
    set(v, s);
  }

  void visit(const Node& n) {
    const int y = n.outputs[0];
    if (n.op == Op::matmul && shape(n.inputs[0]).size() == 2 && shape(n.inputs[1]).size() == 2) {
      const int a = n.inputs[0], b = n.inputs[1];
      if (has(a) && !has(b)) need(b, {of(a)[1], of(a)[1] < 0 ? -1 : 1 - of(a)[1]});
      if (has(b) && !has(a)) need(a, {-1, of(b)[0]});
      if (has(a) && has(b)) set(y, chooseMatmul(of(a), of(b), shape(a), shape(b), rows_, cols_).out);
      return;
    }
    if (n.op == Op::transpose && shape(y).size() == 2) {
      const int x = n.inputs[0];
      if (has(x)) set(y, {of(x)[1], of(x)[0]});
      if (has(y) && !has(x)) need(x, {of(y)[1], of(y)[0]});
      return;
    }
    if (channelOp(n.op)) {
      visitChannels(n);
      return;
    }
    if (n.op == Op::pad || n.op == Op::slice) {
      // Zero padding and slicing keep the operand's layout when no split dimension changes.
      const int x = n.inputs[0];
      const Shape& xs = shape(x);
      const auto pads = n.op == Op::pad ? n.intsAttr("pads") : std::vector<std::int64_t>{};
      const auto starts = n.op == Op::slice ? n.intsAttr("starts") : std::vector<std::int64_t>{};
      const auto ends = n.op == Op::slice ? n.intsAttr("ends") : std::vector<std::int64_t>{};
      const auto padded = [&](const Split& s) {
        for (std::size_t d = 0; d < s.size(); ++d) {
          if (s[d] < 0) continue;
          if (n.op == Op::pad ? (pads[d] != 0 || pads[d + s.size()] != 0) : (starts[d] != 0 || ends[d] != xs[d])) return true;
        }
        return false;
      };
      if (has(x) && !padded(of(x))) set(y, of(x));
      if (has(y) && !has(x) && !padded(of(y))) need(x, of(y));
      return;
    }
    if (n.op == Op::reshape && shape(n.inputs[0]) != shape(y)) {
      const int x = n.inputs[0];
      if (has(x))
        if (auto sy = reshapeSplit(shape(x), of(x), shape(y), rows_, cols_)) set(y, *sy);
      if (has(y) && !has(x))
        if (auto sx = reshapeSplit(shape(y), of(y), shape(x), rows_, cols_)) need(x, *sx);
      return;
    }
    if (elementwise(n.op) || n.op == Op::softmax || n.op == Op::log_softmax || n.op == Op::allreduce_mean) {
      const Shape& ys = shape(y);
      bool any = false;
      Split s(ys.size(), -1);
      for (int x : n.inputs) {
        if (!has(x)) continue;
        const std::size_t off = ys.size() - shape(x).size();
        for (std::size_t d = 0; d < shape(x).size(); ++d)
          if (shape(x)[d] == ys[d + off] && of(x)[d] >= 0 && s[d + off] < 0) s[d + off] = of(x)[d];
        any = any || elementCount(shape(x)) > 1;
      }
      if (any) set(y, s);
      if (has(y))
        for (int x : n.inputs)
          if (!has(x) && elementCount(shape(x)) > 1) {
            const std::size_t off = ys.size() - shape(x).size();
            Split sx(shape(x).size(), -1);
            for (std::size_t d = 0; d < sx.size(); ++d)
              if (shape(x)[d] == ys[d + off]) sx[d] = of(y)[d + off];
            need(x, sx);
          }
      return;
    }
    if (n.op == Op::reduce_sum || n.op == Op::reduce_mean || n.op == Op::reduce_max || n.op == Op::sum_to) {
      const int x = n.inputs[0];
      const std::vector<bool> axes = reducedAxes(g_, n);
      if (has(x)) {
        Split s;
        const bool keep = n.op == Op::sum_to ? false : n.intAttr("keepdims", 1) != 0;
        if (n.op == Op::sum_to) {
          const std::size_t off = shape(x).size() - shape(y).size();
          for (std::size_t d = off; d < shape(x).size(); ++d) s.push_back(axes[d] ? -1 : of(x)[d]);
        } else {
          for (std::size_t d = 0; d < axes.size(); ++d)
            if (!axes[d]) s.push_back(of(x)[d]);
            else if (keep) s.push_back(-1);
        }
        set(y, s);
      }
      return;
    }
    if (n.op == Op::broadcast_to) {
      // Dimensions matched from the right: one the operand has whole-extent keeps its split; a
      // broadcast one (extent 1) is whole, or whatever the result's consumer made it.
      const int x = n.inputs[0];
      const std::size_t off = shape(y).size() - shape(x).size();
      if (has(x)) {
        Split s(shape(y).size(), -1);
        for (std::size_t d = 0; d < shape(x).size(); ++d)
          if (shape(x)[d] == shape(y)[d + off]) s[d + off] = of(x)[d];
        set(y, s);
      }
      if (has(y) && !has(x)) {
        Split s(shape(x).size(), -1);
        for (std::size_t d = 0; d < s.size(); ++d)
          if (shape(x)[d] == shape(y)[d + off]) s[d] = of(y)[d + off];
        need(x, s);
      }
      return;
    }
    if (n.op == Op::reshape && has(n.inputs[0]) && shape(n.inputs[0]) == shape(y)) set(y, of(n.inputs[0]));
  }

  /// A free grid axis for a dimension of `extent` next to one split over `used`: the rows first,
  /// if it has more than one part and the dimension at least one element per part.
  int freeAxis(int used, std::int64_t extent) const {
    for (int axis : {0, 1})
      if (axis != used && (axis == 0 ? rows_ : cols_) > 1 && extent >= (axis == 0 ? rows_ : cols_)) return axis;
    return -1;
  }

  /// Convolutions and pools. A convolution contracts its input channels: when they are split, the
  /// weight takes that split for its channels (the partial sums are all-reduced over that axis)
  /// and the result's channels are whole; when they are not, the weight's filters split over the
  /// free axis (when every core gets at least a matrix tile's 16 of them; fewer would fill the
  /// same tiles), and so do the result's channels, with no communication. So consecutive
  /// convolutions alternate, like the layers of an MLP. The gradients follow: grad_input
  /// contracts the filters, grad_weight the examples (the data-parallel all-reduce).
  void visitChannels(const Node& n) {
    const int y = n.outputs[0];
    const auto nc = [](int n0, int c0) { return Split{n0, c0, -1, -1}; };
    const int a = n.inputs[0];
    if (n.op == Op::conv2d) {
      const int w = n.inputs[1];
      if (has(a) && !has(w)) {
        if (of(a)[1] >= 0) need(w, {-1, of(a)[1], -1, -1});
        else need(w, {freeAxis(of(a)[0], shape(w)[0] / kMmaTile), -1, -1, -1});
      }
      if (has(a) && has(w)) set(y, nc(of(a)[0], of(w)[0]));
    } else if (n.op == Op::conv2d_grad_input) {
      const int w = n.inputs[1];
      if (has(a) && has(w)) set(y, nc(of(a)[0], of(w)[1]));
    } else if (n.op == Op::conv2d_grad_weight) {
      // Filters and channels split over the same axis (a residual block's 1x1 shortcut): the
      // filters are gathered and the gradient keeps the channels' split, as its weight has it.
      const int dy = n.inputs[1];
      if (has(a) && has(dy)) {
        const int f = of(dy)[1], c = of(a)[1];
        set(y, {f >= 0 && f == c ? -1 : f, c, -1, -1});
      }
    } else if (n.op == Op::max_pool2d_grad) {
      if (has(a)) set(y, nc(of(a)[0], of(a)[1]));
    } else if (has(a)) {  // max_pool2d, avg_pool2d, avg_pool2d_grad: per example and channel
      set(y, nc(of(a)[0], of(a)[1]));
    }
  }

  const Graph& g_;
  std::vector<Split> known_;
  int rows_, cols_;
  bool changed_ = true;
};

}  // namespace grid

using namespace grid;

std::int64_t GridPlan::block(std::int64_t n, int axis) const {
  if (axis < 0) return n;
  const std::int64_t p = parts(axis);
  return (n + p - 1) / p;
}

GridPlan planGrid(const Graph& g, int rows, int cols) {
  if (rows < 1 || cols < 1) throw CompileError("a tensor-parallel grid needs at least one row and one column");
  GridPlan plan;
  plan.rows = rows, plan.cols = cols;
  plan.split = Planner(g, rows, cols).run();
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    const Split& s = plan.split[v];
    for (std::size_t d = 0; d < s.size(); ++d)
      for (std::size_t e = d + 1; e < s.size(); ++e)
        if (s[d] >= 0 && s[d] == s[e])
          throw CompileError("tensor '" + g.values[v].name + "' would be split twice over grid axis " + std::to_string(s[d]));
  }
  return plan;
}

Block blockOf(const Graph& g, const GridPlan& plan, int value, int r, int c) {
  const Shape& s = g.values[std::size_t(value)].shape;
  const Split& sp = plan.split[std::size_t(value)];
  Block b;
  for (std::size_t d = 0; d < s.size(); ++d) {
    const std::int64_t size = plan.block(s[d], sp[d]);
    const std::int64_t index = sp[d] < 0 ? 0 : (sp[d] == 0 ? r : c);
    const std::int64_t begin = std::min(s[d], index * size);
    b.begin.push_back(begin);
    b.real.push_back(std::min(size, s[d] - begin));
    b.local.push_back(size);
  }
  return b;
}

std::vector<int> gridCores(const ArchConfig& config, int sliceRows, int sliceCols, int rows, int cols) {
  if (rows < 1 || cols < 1) throw CompileError("a tensor-parallel grid needs at least one row and one column");
  std::vector<int> active = sliceRing(config, sliceRows, sliceCols);
  std::sort(active.begin(), active.end());
  const int systemCols = int(config.die.cols * config.system.die_cols);
  std::vector<std::vector<int>> byRow(static_cast<std::size_t>(sliceRows));
  for (int id : active) byRow[std::size_t(id / systemCols)].push_back(id);
  std::vector<int> cores;
  bool rowsFit = rows <= sliceRows;
  for (int k = 0; rowsFit && k < rows; ++k) rowsFit = int(byRow[std::size_t(k)].size()) >= cols;
  if (rowsFit) {
    for (int k = 0; k < rows; ++k) cores.insert(cores.end(), byRow[std::size_t(k)].begin(), byRow[std::size_t(k)].begin() + cols);
    return cores;
  }
  if (active.size() < std::size_t(rows) * std::size_t(cols))
    throw CompileError("a " + std::to_string(rows) + "x" + std::to_string(cols) + " grid needs " + std::to_string(rows * cols) +
                       " cores; the slice has " + std::to_string(active.size()) + " active");
  active.resize(std::size_t(rows) * std::size_t(cols));
  return active;
}

std::string layoutText(const GridPlan& plan, int value) {
  std::string layout;
  for (int a : plan.split[std::size_t(value)]) layout += std::string(layout.empty() ? "" : ",") + (a < 0 ? "-" : a == 0 ? "r" : "c");
  return layout;
}

std::string planText(const Graph& g, const GridPlan& plan) {
  std::string t;
  for (std::size_t v = 0; v < g.values.size(); ++v)
    if (!plan.split[v].empty()) t += "%" + g.values[v].name + " " + shapeText(g.values[v].shape) + " [" + layoutText(plan, int(v)) + "]\n";
  return t;
}

GridJob placeOnGrid(const Graph& g, const ArchConfig& config, const std::vector<int>& cores, int rows, int cols,
                    const std::string& precision, bool initParameters, const CoreContext& printing,
                    const std::function<void(std::size_t position, CoreContext& ctx)>& prepare,
                    const std::function<LoweredProgram(const Graph& local, const CoreContext& ctx, std::size_t position)>& lower) {
  if (cores.size() != std::size_t(rows) * std::size_t(cols))
    throw CompileError("a " + std::to_string(rows) + "x" + std::to_string(cols) + " grid needs " + std::to_string(rows * cols) + " cores, got " +
                       std::to_string(cores.size()));
  GridJob job;
  job.plan = planGrid(g, rows, cols);
  job.cores = cores;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      CoreContext ctx;
      ctx.precision = precision;
      ctx.initParameters = initParameters;
      ctx.ring = {cores[std::size_t(r * cols + c)]};
      ctx.lines[0].clear(), ctx.lines[1].clear();
      for (int k = 0; k < rows; ++k) ctx.lines[0].push_back(cores[std::size_t(k * cols + c)]);
      for (int k = 0; k < cols; ++k) ctx.lines[1].push_back(cores[std::size_t(r * cols + k)]);
      ctx.lineRank = {r, c};
      job.graphs.push_back(localGraph(g, job.plan, r, c));
      bucketAllreduces(job.graphs.back());  // copies of the grid: its gradient blocks averaged over them
      if (r == 0 && c == 0 && printing.print) {  // the first position's stages, on request
        ctx.print = printing.print, ctx.printAfter = printing.printAfter;
        for (const auto& p : printing.printAfter) {
          if (p == "plan-grid" || p == "all") *printing.print << "# after plan-grid\n" << planText(g, job.plan) << "\n";
          if (p == "local-graph" || p == "all") *printing.print << "# IR after local-graph (position 0,0)\n" << printGraph(job.graphs.back()) << "\n";
        }
      }
      if (prepare) prepare(std::size_t(r * cols + c), ctx);
      const std::size_t position = std::size_t(r * cols + c);
      job.lowered.push_back(lower ? lower(job.graphs.back(), ctx, position) : lowerToCore(job.graphs.back(), config, ctx));
    }
  return job;
}

}  // namespace tatami::compiler
