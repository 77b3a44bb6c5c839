// Tensor-parallel placement over a grid of cores (see partition.h): a layout per tensor, chosen by
// propagation through the graph, then the local graph of each grid position.
#include "tatami/compiler/partition.h"
#include "tatami/arch/isa.h"
#include "tatami/compiler/pipeline.h"

#include <algorithm>
#include <ostream>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <set>

namespace tatami::compiler {

namespace {

using Split = std::vector<int>;

bool elementwise(Op op) { return opHas(op, kElementwise); }

[[noreturn]] void refuse(const Node& n, const std::string& why) {
  throw CompileError("node '" + n.name + "' (" + opName(n.op) + "): cannot be split over the grid: " + why);
}

/// How a 2D matmul runs on the grid, from its operands' layouts: which operand dimensions are
/// gathered first (a contracted dimension split differently in the two operands; rows of A split
/// over the axis that splits B's columns or A's own columns), the axis its partial sums are
/// summed over, and whether that sum is a reduce-scatter of rows (the result stays split by rows
/// over that axis: no copy of the whole result on every core) or an all-reduce.
struct MatmulChoice {
  bool gatherA0 = false, gatherA1 = false, gatherB0 = false;
  int contract = -1;
  bool scatter = false;
  Split out;
};

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
    if (n.op == Op::reshape && shape(n.inputs[0]) != shape(y)) {
      const int x = n.inputs[0];
      if (has(x))
        if (auto sy = reshapeSplit(shape(x), of(x), shape(y), rows_, cols_)) set(y, *sy);
      if (has(y) && !has(x))
        if (auto sx = reshapeSplit(shape(y), of(y), shape(x), rows_, cols_)) need(x, *sx);
      return;
    }
    if (elementwise(n.op) || n.op == Op::softmax || n.op == Op::log_softmax) {
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
      const int dy = n.inputs[1];
      if (has(a) && has(dy)) set(y, {of(dy)[1], of(a)[1], -1, -1});
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

}  // namespace

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

Graph localGraph(const Graph& g, const GridPlan& plan, int r, int c) {
  Graph local;
  local.name = g.name;
  std::vector<int> map(g.values.size(), -1);
  const auto split = [&](int v) -> const Split& { return plan.split[std::size_t(v)]; };
  // Padding: the elements of a core's blocks past a tensor's extent (the last blocks of a dimension
  // that does not divide evenly). pad[v][d] is the value v holds where dimension d is padding,
  // tracked through the ops (inputs, weights and state are fed with zeros there); a sum across a
  // padded dimension needs its value there to be zero, else the step is refused.
  using Pad = std::vector<std::optional<double>>;
  const auto paddedDim = [&](int v, std::size_t d) {
    const Shape& s = g.values[std::size_t(v)].shape;
    return split(v)[d] >= 0 && plan.block(s[d], split(v)[d]) * plan.parts(split(v)[d]) != s[d];
  };
  std::vector<Pad> pad(g.values.size());
  for (std::size_t v = 0; v < g.values.size(); ++v) pad[v] = Pad(g.values[v].shape.size(), 0.0);
  const auto rankOf = [&](int v) { return g.values[std::size_t(v)].shape.size(); };
  const auto unknown = [&](int v) { return Pad(rankOf(v), std::nullopt); };
  // What operand x holds where y's dimension d is padding: its own padding there if it has that
  // dimension split alike, a scalar constant's value, else unknown (x repeats real values there).
  const auto padSeen = [&](int x, int y, std::size_t d) -> std::optional<double> {
    const Value& xv = g.values[std::size_t(x)];
    if (elementCount(xv.shape) == 1) return xv.kind == ValueKind::Constant ? std::optional<double>(xv.data.at(0)) : std::nullopt;
    const Shape& ys = g.values[std::size_t(y)].shape;
    const std::size_t off = ys.size() - xv.shape.size();
    if (d < off || xv.shape[d - off] != ys[d] || split(x)[d - off] != split(y)[d]) return std::nullopt;
    return pad[std::size_t(x)][d - off];
  };
  const auto isZero = [](const std::optional<double>& v) { return v && *v == 0; };
  const auto needZeroPad = [&](const Node& n, int x, std::size_t d) {
    const auto& v = pad[std::size_t(x)][d];
    if (!isZero(v))
      refuse(n, "the padding of '" + g.values[std::size_t(x)].name + "' (" + (v ? std::to_string(*v) : std::string("not known")) +
                    ") would enter a sum across a dimension that does not split evenly");
  };
  int serial = 0;
  const auto fresh = [&](const std::string& stem) {
    for (;;) {
      const std::string n = stem + ".grid" + std::to_string(serial++);
      if (g.find(n) < 0 && local.find(n) < 0) return n;
    }
  };
  // x's local value lx with the padding along dimension d replaced by `fill` (a select against a
  // mask of this position's real elements; every position gets one, so all run the same program).
  const auto masked = [&](int x, int lx, std::size_t d, double fill) {
    const Block b = blockOf(g, plan, x, r, c);
    Shape ms(rankOf(x), 1);
    ms[d] = b.local[d];
    std::vector<double> real(std::size_t(ms[d]), 0.0);
    for (std::int64_t k = 0; k < b.real[d]; ++k) real[std::size_t(k)] = 1.0;
    const std::string stem = g.values[std::size_t(x)].name;
    return local.op(Op::where, {local.constant(fresh(stem + ".real"), ms, real), lx, local.scalar(fill)}, {}, fresh(stem + ".unpadded"));
  };
  const auto allreduce = [&](int v, int axis, const char* reduce, const std::string& name) {
    if (plan.parts(axis) == 1) return v;
    return local.op(Op::allreduce, {v}, {{"axis", std::int64_t(axis)}, {"reduce", std::string(reduce)}}, name);
  };
  // Gathers of a full value's split rows (or columns), shared by users a few nodes apart (e.g.
  // an output gradient used for the input gradient and the weight gradient); a later user
  // gathers again, so a gathered copy never stays alive from the forward to the backward pass.
  constexpr std::size_t kShareWithin = 4;
  std::map<std::pair<int, int>, std::pair<int, std::size_t>> gathered;  // (value, dim) -> (local value, node index)
  std::size_t nodeIndex = 0;
  const auto cached = [&](int v, int dim) {
    auto it = gathered.find({v, dim});
    return it != gathered.end() && nodeIndex - it->second.second <= kShareWithin ? it->second.first : -1;
  };
  const auto gatherRows = [&](int v, int lv, int axis) {
    if (const int hit = cached(v, 0); hit >= 0) return hit;
    const int out = local.op(Op::allgather, {lv}, {{"axis", std::int64_t(axis)}, {"size", g.values[std::size_t(v)].shape[0]}},
                             fresh(g.values[std::size_t(v)].name + ".gathered"));
    gathered[{v, 0}] = {out, nodeIndex};
    return out;
  };
  const std::function<int(int, int)> gatherColumns = [&](int v, int axis) {
    if (const int hit = cached(v, 1); hit >= 0) return hit;
    // The columns of a transpose are the rows of its input: gather those, transpose locally.
    const int producer = g.values[std::size_t(v)].producer;
    int rowsGathered;
    if (producer >= 0 && g.nodes[std::size_t(producer)].op == Op::transpose && g.values[std::size_t(v)].shape.size() == 2) {
      const int u = g.nodes[std::size_t(producer)].inputs[0];
      rowsGathered = gatherRows(u, map[std::size_t(u)], axis);
    } else {
      const int t = local.op(Op::transpose, {map[std::size_t(v)]}, {{"perm", std::vector<std::int64_t>{1, 0}}}, fresh(g.values[std::size_t(v)].name + ".t"));
      rowsGathered = local.op(Op::allgather, {t}, {{"axis", std::int64_t(axis)}, {"size", g.values[std::size_t(v)].shape[1]}},
                              fresh(g.values[std::size_t(v)].name + ".t.gathered"));
    }
    const int out = local.op(Op::transpose, {rowsGathered}, {{"perm", std::vector<std::int64_t>{1, 0}}}, fresh(g.values[std::size_t(v)].name + ".gathered"));
    gathered[{v, 1}] = {out, nodeIndex};
    return out;
  };
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    const Value& val = g.values[v];
    if (val.kind == ValueKind::Intermediate) continue;
    const Block b = blockOf(g, plan, int(v), r, c);
    if (val.kind == ValueKind::Input) map[v] = local.input(val.name, b.local);
    else if (val.kind == ValueKind::Parameter) map[v] = local.parameter(val.name, b.local, sliceBlock(b, val.shape, val.data));
    else map[v] = local.constant(val.name, b.local, sliceBlock(b, val.shape, val.data));
    local.setRole(map[v], val.role, val.of);
  }
  for (const Node& n : g.nodes) {
    ++nodeIndex;
    const int y = n.outputs[0];
    const Split& ys = split(y);
    std::vector<int> ins;
    for (int x : n.inputs) ins.push_back(map[std::size_t(x)]);
    std::map<std::string, Attribute> attrs = n.attrs;
    const auto localShape = [&](int v) { return blockOf(g, plan, v, r, c).local; };
    if (n.op == Op::matmul) {
      const Split &sa = split(n.inputs[0]), &sb = split(n.inputs[1]);
      if (sa.size() != 2 || sb.size() != 2) {
        if (std::any_of(sa.begin(), sa.end(), [](int a) { return a >= 0; }) || std::any_of(sb.begin(), sb.end(), [](int a) { return a >= 0; }))
          refuse(n, "batched matmul with a split operand");
        map[std::size_t(y)] = local.op(n.op, ins, attrs, n.name);
        continue;
      }
      const Shape &as = g.values[std::size_t(n.inputs[0])].shape, &bs = g.values[std::size_t(n.inputs[1])].shape;
      const MatmulChoice m = chooseMatmul(sa, sb, as, bs, plan.rows, plan.cols);
      if (m.out != ys) refuse(n, "its result's layout disagrees with the plan");
      int a = ins[0], b = ins[1];
      if (m.contract >= 0 && paddedDim(n.inputs[0], 1)) {  // the padding of both operands meets in the local sums
        if (!isZero(pad[std::size_t(n.inputs[0])][1]) && !isZero(pad[std::size_t(n.inputs[1])][0])) {
          if (m.gatherA0) needZeroPad(n, n.inputs[0], 1);  // (a gathered copy of A may be shared: not masked here)
          a = masked(n.inputs[0], a, 1, 0.0);
        }
      }
      // Padding rows of the result: zeros from a reduce-scatter, else A's padding rows times B;
      // padding columns: A times B's padding columns.
      pad[std::size_t(y)] = {m.scatter || isZero(pad[std::size_t(n.inputs[0])][0]) ? std::optional<double>(0.0) : std::nullopt,
                             isZero(pad[std::size_t(n.inputs[1])][1]) ? std::optional<double>(0.0) : std::nullopt};
      if (m.gatherA1) a = gatherColumns(n.inputs[0], sa[1]);
      if (m.gatherB0) b = gatherRows(n.inputs[1], b, sb[0]);
      if (m.gatherA0) a = m.gatherA1 ? local.op(Op::allgather, {a}, {{"axis", std::int64_t(sa[0])}, {"size", as[0]}}, fresh(n.name + ".rows"))
                                     : gatherRows(n.inputs[0], a, sa[0]);
      if (m.contract < 0) {
        map[std::size_t(y)] = local.op(n.op, {a, b}, attrs, n.name);
      } else {
        const int partial = local.op(n.op, {a, b}, attrs, fresh(n.name + ".partial"));
        if (m.scatter && plan.parts(m.contract) > 1)
          map[std::size_t(y)] = local.op(Op::reducescatter, {partial},
                                         {{"axis", std::int64_t(m.contract)}, {"size", plan.block(as[0], m.contract)}}, n.name);
        else if (plan.parts(m.contract) > 1)
          map[std::size_t(y)] = allreduce(partial, m.contract, "sum", n.name);
        else
          map[std::size_t(y)] = local.op(Op::identity, {partial}, {}, n.name);
      }
      continue;
    }
    if (n.op == Op::reduce_sum || n.op == Op::reduce_mean || n.op == Op::reduce_max || n.op == Op::sum_to) {
      const int x = n.inputs[0];
      const std::vector<bool> axes = reducedAxes(g, n);
      std::vector<int> over;
      std::int64_t full = 1;
      for (std::size_t d = 0; d < axes.size(); ++d)
        if (axes[d]) {
          full *= g.values[std::size_t(x)].shape[d];
          if (split(x)[d] >= 0) over.push_back(split(x)[d]);
        }
      if (n.op == Op::sum_to) attrs["shape"] = localShape(y);
      // Padding across a reduced dimension must not count: made zero for a sum (unless it is
      // already), the lowest float for a maximum.
      for (std::size_t d = 0; d < axes.size(); ++d)
        if (axes[d] && paddedDim(x, d) && (n.op == Op::reduce_max || !isZero(pad[std::size_t(x)][d])))
          ins[0] = masked(x, ins[0], d, n.op == Op::reduce_max ? double(std::numeric_limits<float>::lowest()) : 0.0);
      {
        // The kept dimensions' padding: the reduction of x's padding there.
        const bool keep = n.op != Op::sum_to && n.intAttr("keepdims", 1) != 0;
        const std::size_t skip = n.op == Op::sum_to ? rankOf(x) - rankOf(y) : 0;
        Pad py;
        for (std::size_t d = 0; d < axes.size(); ++d) {
          if (n.op == Op::sum_to ? d < skip : (axes[d] && !keep)) continue;
          const auto& v = pad[std::size_t(x)][d];
          py.push_back(axes[d] ? std::optional<double>(0.0)
                       : v ? std::optional<double>(n.op == Op::reduce_sum || n.op == Op::sum_to ? *v * double(full) : *v) : std::nullopt);
        }
        pad[std::size_t(y)] = py.size() == rankOf(y) ? py : unknown(y);
      }
      if (over.empty()) {
        map[std::size_t(y)] = local.op(n.op, ins, attrs, n.name);
        continue;
      }
      const Op op = n.op == Op::reduce_mean ? Op::reduce_sum : n.op;
      int v = local.op(op, ins, attrs, fresh(n.name + ".local"));
      for (std::size_t k = 0; k < over.size(); ++k)
        v = allreduce(v, over[k], n.op == Op::reduce_max ? "max" : "sum", n.op != Op::reduce_mean && k + 1 == over.size() ? n.name : fresh(n.name + ".sum"));
      if (n.op == Op::reduce_mean) v = local.op(Op::mul, {v, local.scalar(1.0 / double(full))}, {}, n.name);
      map[std::size_t(y)] = v;
      continue;
    }
    if ((n.op == Op::log_softmax || n.op == Op::softmax) && split(n.inputs[0]).size() > 0) {
      const int x = n.inputs[0];
      const std::size_t rank = split(x).size();
      std::int64_t axis = n.intAttr("axis", -1);
      if (axis < 0) axis += std::int64_t(rank);
      const int over = split(x)[std::size_t(axis)];
      {
        // Padding in other dimensions: constant rows; along a padded class axis: masked (softmax 0,
        // log-softmax about -1e30).
        const double n0 = double(g.values[std::size_t(x)].shape[std::size_t(axis)]);
        Pad py = unknown(y);
        for (std::size_t d = 0; d < rank; ++d)
          if (pad[std::size_t(x)][d]) py[d] = n.op == Op::softmax ? 1.0 / n0 : -std::log(n0);
        // A masked class: softmax 0, log-softmax about -1e30 (exp gives 0, times a zero target 0).
        if (over >= 0 && paddedDim(x, std::size_t(axis))) py[std::size_t(axis)] = n.op == Op::softmax ? 0.0 : -1e30;
        pad[std::size_t(y)] = py;
      }
      if (over >= 0) {
        // x - max - log(sum(exp(x - max))), each reduction finished by an all-reduce along the line.
        const std::vector<std::int64_t> ax = {axis};
        int xin = ins[0];
        if (paddedDim(x, std::size_t(axis))) {
          // Classes that do not split evenly: the padding columns get -1e30 added, so they never
          // win the maximum and add exp(-huge) = 0 to the sum.
          const Block b = blockOf(g, plan, x, r, c);
          Shape ms(split(x).size(), 1);
          ms[std::size_t(axis)] = b.local[std::size_t(axis)];
          std::vector<double> mask(std::size_t(ms[std::size_t(axis)]), 0.0);
          for (std::int64_t k = b.real[std::size_t(axis)]; k < ms[std::size_t(axis)]; ++k) mask[std::size_t(k)] = -1e30;
          xin = local.op(Op::add, {xin, local.constant(fresh(n.name + ".mask"), ms, mask)}, {}, fresh(n.name + ".masked"));
        }
        const int m = allreduce(local.op(Op::reduce_max, {xin}, {{"axes", ax}, {"keepdims", std::int64_t(1)}}, fresh(n.name + ".max")),
                                over, "max", fresh(n.name + ".gmax"));
        const int shifted = local.op(Op::sub, {xin, m}, {}, fresh(n.name + ".shifted"));
        const int e = local.op(Op::exp, {shifted}, {}, fresh(n.name + ".exp"));
        const int s = allreduce(local.op(Op::reduce_sum, {e}, {{"axes", ax}, {"keepdims", std::int64_t(1)}}, fresh(n.name + ".sum")),
                                over, "sum", fresh(n.name + ".gsum"));
        if (n.op == Op::softmax) map[std::size_t(y)] = local.op(Op::div, {e, s}, {}, n.name);
        else map[std::size_t(y)] = local.op(Op::sub, {shifted, local.op(Op::log, {s}, {}, fresh(n.name + ".log"))}, {}, n.name);
        continue;
      }
    }
    if (channelOp(n.op)) {
      // Examples and channels must split evenly: a padded example or channel would not stay zero
      // through a convolution's windows or a pool.
      std::vector<int> vs = n.inputs;
      vs.push_back(y);
      for (int v : vs)
        for (std::size_t d = 0; d < 2 && d < rankOf(v); ++d)
          if (paddedDim(v, d)) {
            const bool weight = (n.op == Op::conv2d || n.op == Op::conv2d_grad_input) ? v == n.inputs[1] : n.op == Op::conv2d_grad_weight && v == y;
            const std::string what = d == 1 ? "its channels" : weight ? "its filters" : "its examples";
            refuse(n, what + " (" + std::to_string(g.values[std::size_t(v)].shape[d]) +
                          " of '" + g.values[std::size_t(v)].name + "') do not split evenly over the grid's " +
                          std::to_string(plan.parts(split(v)[d])) + " " + (split(v)[d] == 0 ? "rows" : "columns"));
          }
      int over = -1;  // the grid axis splitting the contracted dimension
      bool agree = true;
      const Split& sa = split(n.inputs[0]);
      if (n.op == Op::conv2d || n.op == Op::conv2d_grad_input) {
        const Split& sw = split(n.inputs[1]);
        const std::size_t k = n.op == Op::conv2d ? 1 : 0;  // the weight's contracted dimension: channels, or filters
        over = sw[k];
        agree = sa[1] == sw[k] && ys == Split({sa[0], sw[1 - k], -1, -1});
        if (n.intAttr("group", 1) != 1 && (sw[0] >= 0 || sw[1] >= 0)) refuse(n, "a grouped convolution with split channels");
        if (n.op == Op::conv2d_grad_input) attrs["input_shape"] = localShape(y);
      } else if (n.op == Op::conv2d_grad_weight) {
        const Split& sd = split(n.inputs[1]);
        over = sa[0];
        agree = sd[0] == sa[0] && ys == Split({sd[1], sa[1], -1, -1});
        if (n.intAttr("group", 1) != 1 && (ys[0] >= 0 || ys[1] >= 0)) refuse(n, "a grouped convolution with split channels");
        attrs["weight_shape"] = localShape(y);
      } else {
        agree = ys == Split({sa[0], sa[1], -1, -1});
        if (n.op == Op::avg_pool2d_grad) attrs["input_shape"] = localShape(y);
      }
      if (!agree) refuse(n, "its operands' layouts disagree with the plan");
      pad[std::size_t(y)] = unknown(y);
      if (over >= 0 && plan.parts(over) > 1)
        map[std::size_t(y)] = allreduce(local.op(n.op, ins, attrs, fresh(n.name + ".partial")), over, "sum", n.name);
      else
        map[std::size_t(y)] = local.op(n.op, ins, attrs, n.name);
      continue;
    }
    if (n.op == Op::reshape && g.values[std::size_t(n.inputs[0])].shape != g.values[std::size_t(y)].shape &&
        std::any_of(ys.begin(), ys.end(), [](int a) { return a >= 0; })) {
      const int x = n.inputs[0];
      const auto sy = reshapeSplit(g.values[std::size_t(x)].shape, split(x), g.values[std::size_t(y)].shape, plan.rows, plan.cols);
      if (!sy || *sy != ys) refuse(n, "a reshape that moves a split dimension");
      attrs["shape"] = localShape(y);
      pad[std::size_t(y)] = unknown(y);
      map[std::size_t(y)] = local.op(n.op, ins, attrs, n.name);
      continue;
    }
    // Every other op runs on the blocks as they are: elementwise ops on operands split alike (a
    // replicated operand of a split result would need slicing, which is not done), transposes,
    // and anything whose operands and result are not split at all.
    const bool anySplit = std::any_of(ys.begin(), ys.end(), [](int a) { return a >= 0; }) ||
                          std::any_of(n.inputs.begin(), n.inputs.end(), [&](int x) {
                            return std::any_of(split(x).begin(), split(x).end(), [](int a) { return a >= 0; });
                          });
    if (anySplit) {
      if (elementwise(n.op) || n.op == Op::softmax || n.op == Op::log_softmax) {
        // An operand laid out differently from the result (e.g. a replicated weight and its
        // reduce-scattered update) is brought to the result's layout: a split dimension the
        // result keeps whole is gathered (2D operands), a whole one the result splits is cut to
        // this position's block (a local take, padding zero).
        const Shape& full = g.values[std::size_t(y)].shape;
        for (std::size_t k = 0; k < n.inputs.size(); ++k) {
          const int x = n.inputs[k];
          const Shape& xs = g.values[std::size_t(x)].shape;
          const std::size_t off = full.size() - xs.size();
          Split want(xs.size(), -1);
          bool differs = false;
          for (std::size_t d = 0; d < xs.size(); ++d) {
            want[d] = xs[d] == full[d + off] ? ys[d + off] : -1;
            differs = differs || (xs[d] == full[d + off] && split(x)[d] != want[d]);
          }
          if (!differs) continue;
          int lx = ins[k];
          Split now = split(x);
          for (std::size_t d = 0; d < xs.size(); ++d)
            if (now[d] >= 0 && now[d] != want[d]) {
              if (xs.size() != 2) refuse(n, "operand '" + g.values[std::size_t(x)].name + "' is split differently from the result");
              lx = d == 0 ? gatherRows(x, lx, now[d]) : gatherColumns(x, now[d]);
              now[d] = -1;
            }
          if (now != want) {
            // cut the block: every dimension `want` splits and `now` does not
            const Shape ls = blockOf(g, plan, x, r, c).local;  // x's own block, for the dims it keeps split
            Shape have(xs.size()), cut(xs.size());
            std::vector<std::int64_t> begin(xs.size(), 0), real(xs.size());
            for (std::size_t d = 0; d < xs.size(); ++d) {
              have[d] = now[d] >= 0 ? ls[d] : xs[d];
              const std::int64_t size = plan.block(xs[d], want[d]);
              const std::int64_t index = want[d] < 0 || now[d] >= 0 ? 0 : (want[d] == 0 ? r : c);
              begin[d] = std::min(xs[d], index * size);
              cut[d] = now[d] >= 0 ? ls[d] : size;
              real[d] = now[d] >= 0 ? ls[d] : std::min(size, xs[d] - begin[d]);
            }
            std::vector<std::int64_t> idx(std::size_t(elementCount(cut)), -1);
            std::vector<std::int64_t> at(xs.size(), 0);
            for (std::size_t e = 0; e < idx.size(); ++e) {
              bool inside = true;
              std::int64_t flat = 0;
              for (std::size_t d = 0; d < xs.size(); ++d) {
                inside = inside && at[d] < real[d];
                flat = flat * have[d] + begin[d] + at[d];
              }
              if (inside) idx[e] = flat;
              for (std::size_t d = xs.size(); d-- > 0;) {
                if (++at[d] < cut[d]) break;
                at[d] = 0;
              }
            }
            lx = local.op(Op::take, {lx}, {{"index", idx}, {"shape", cut}}, fresh(g.values[std::size_t(x)].name + ".block"));
          }
          ins[k] = lx;
        }
      } else if (n.op == Op::transpose && ys.size() == 2) {
        // the layout swaps with the dimensions
      } else if (n.op == Op::reshape && g.values[std::size_t(n.inputs[0])].shape == g.values[std::size_t(y)].shape) {
        attrs["shape"] = localShape(y);
      } else if (n.op == Op::broadcast_to) {
        const int x = n.inputs[0];
        const Shape &xs = g.values[std::size_t(x)].shape, &full = g.values[std::size_t(y)].shape;
        const std::size_t off = full.size() - xs.size();
        for (std::size_t d = 0; d < xs.size(); ++d)
          if (xs[d] == full[d + off] && split(x)[d] != ys[d + off])
            refuse(n, "operand '" + g.values[std::size_t(x)].name + "' is split differently from the result");
      } else {
        refuse(n, "no split rule for this op");
      }
    }
    if (n.op == Op::broadcast_to) attrs["shape"] = localShape(y);
    if (elementwise(n.op)) {
      for (std::size_t d = 0; d < rankOf(y); ++d) {
        std::vector<std::optional<double>> seen;
        for (int x : n.inputs) seen.push_back(padSeen(x, y, d));
        pad[std::size_t(y)][d] = padOfOp(n.op, seen);
      }
    } else if (n.op == Op::transpose && rankOf(y) == 2) {
      pad[std::size_t(y)] = {pad[std::size_t(n.inputs[0])][1], pad[std::size_t(n.inputs[0])][0]};
    } else if (!n.inputs.empty() && n.op != Op::softmax && n.op != Op::log_softmax) {
      pad[std::size_t(y)] = rankOf(n.inputs[0]) == rankOf(y) ? pad[std::size_t(n.inputs[0])] : unknown(y);  // reshape, broadcast
    }
    map[std::size_t(y)] = local.op(n.op, ins, attrs, n.name);
  }
  for (int o : g.outputs) local.markOutput(map[std::size_t(o)], g.values[std::size_t(o)].role, g.values[std::size_t(o)].of);
  eliminateDeadCode(local);  // e.g. a local transpose whose user gathered its input instead
  return local;
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
                    const std::string& precision, bool initParameters, const CoreContext& printing) {
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
      if (r == 0 && c == 0 && printing.print) {  // the first position's stages, on request
        ctx.print = printing.print, ctx.printAfter = printing.printAfter;
        for (const auto& p : printing.printAfter) {
          if (p == "plan-grid" || p == "all") *printing.print << "# after plan-grid\n" << planText(g, job.plan) << "\n";
          if (p == "local-graph" || p == "all") *printing.print << "# IR after local-graph (position 0,0)\n" << printGraph(job.graphs.back()) << "\n";
        }
      }
      job.lowered.push_back(lowerToCore(job.graphs.back(), config, ctx));
    }
  return job;
}

}  // namespace tatami::compiler
