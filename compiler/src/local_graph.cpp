// The local graph of one grid position (partition.h): its blocks of every tensor, the collectives
// where a split dimension is contracted or reduced, the gathers where an operand is split
// differently from its result, and the masks that keep uneven blocks' padding out of sums.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "split_rules.h"
#include "tatami/compiler/partition.h"
#include "tatami/compiler/pipeline.h"

namespace tatami::compiler {

namespace {

using namespace grid;
using Attrs = std::map<std::string, Attribute>;

bool anySplit(const Split& s) {
  return std::any_of(s.begin(), s.end(), [](int a) { return a >= 0; });
}

/// Builds the graph of grid position (r, c) node by node. Padding: the elements of a core's
/// blocks past a tensor's extent (the last blocks of a dimension that does not divide evenly).
/// pad_[v][d] is the value v holds where dimension d is padding, tracked through the ops
/// (inputs, weights and state are fed with zeros there); a sum across a padded dimension needs its
/// value there to be zero, else the step is refused.
class LocalGraph {
 public:
  LocalGraph(const Graph& g, const GridPlan& plan, int r, int c) : g_(g), plan_(plan), r_(r), c_(c), map_(g.values.size(), -1) {
    local_.name = g.name;
    for (std::size_t v = 0; v < g.values.size(); ++v) pad_.emplace_back(g.values[v].shape.size(), 0.0);
  }

  Graph build() {
    placeLeaves();
    for (const Node& n : g_.nodes) {
      ++nodeIndex_;
      node(n);
    }
    for (int o : g_.outputs) local_.markOutput(map_[std::size_t(o)], g_.values[std::size_t(o)].role, g_.values[std::size_t(o)].of);
    eliminateDeadCode(local_);  // e.g. a local transpose whose user gathered its input instead
    return local_;
  }

 private:
  using Pad = std::vector<std::optional<double>>;

  const Split& split(int v) const { return plan_.split[std::size_t(v)]; }
  const Shape& fullShape(int v) const { return g_.values[std::size_t(v)].shape; }
  const std::string& nameOf(int v) const { return g_.values[std::size_t(v)].name; }
  std::size_t rankOf(int v) const { return fullShape(v).size(); }
  Pad unknown(int v) const { return Pad(rankOf(v), std::nullopt); }
  Shape localShape(int v) const { return blockOf(g_, plan_, v, r_, c_).local; }
  static bool isZero(const std::optional<double>& v) { return v && *v == 0; }

  /// Whether v's dimension d is split unevenly (its last blocks are padded).
  bool paddedDim(int v, std::size_t d) const {
    const Shape& s = fullShape(v);
    return split(v)[d] >= 0 && plan_.block(s[d], split(v)[d]) * plan_.parts(split(v)[d]) != s[d];
  }

  /// What operand x holds where y's dimension d is padding: its own padding there if it has that
  /// dimension split alike, a scalar constant's value, else unknown (x repeats real values there).
  std::optional<double> padSeen(int x, int y, std::size_t d) const {
    const Value& xv = g_.values[std::size_t(x)];
    if (elementCount(xv.shape) == 1) return xv.kind == ValueKind::Constant ? std::optional<double>(xv.data.at(0)) : std::nullopt;
    const Shape& ys = fullShape(y);
    const std::size_t off = ys.size() - xv.shape.size();
    if (d < off || xv.shape[d - off] != ys[d] || split(x)[d - off] != split(y)[d]) return std::nullopt;
    return pad_[std::size_t(x)][d - off];
  }

  void needZeroPad(const Node& n, int x, std::size_t d) const {
    const auto& v = pad_[std::size_t(x)][d];
    if (!isZero(v))
      refuse(n, "the padding of '" + nameOf(x) + "' (" + (v ? std::to_string(*v) : std::string("not known")) +
                    ") would enter a sum across a dimension that does not split evenly");
  }

  std::string fresh(const std::string& stem) {
    for (;;) {
      const std::string n = stem + ".grid" + std::to_string(serial_++);
      if (g_.find(n) < 0 && local_.find(n) < 0) return n;
    }
  }

  /// x's local value lx with the padding along dimension d replaced by `fill` (a select against a
  /// mask of this position's real elements; every position gets one, so all run the same program).
  int masked(int x, int lx, std::size_t d, double fill) {
    const Block b = blockOf(g_, plan_, x, r_, c_);
    Shape ms(rankOf(x), 1);
    ms[d] = b.local[d];
    std::vector<double> real(std::size_t(ms[d]), 0.0);
    for (std::int64_t k = 0; k < b.real[d]; ++k) real[std::size_t(k)] = 1.0;
    const std::string& stem = nameOf(x);
    return local_.op(Op::where, {local_.constant(fresh(stem + ".real"), ms, real), lx, local_.scalar(fill)}, {}, fresh(stem + ".unpadded"));
  }

  int allreduce(int v, int axis, const char* reduce, const std::string& name) {
    if (plan_.parts(axis) == 1) return v;
    return local_.op(Op::allreduce, {v}, {{"axis", std::int64_t(axis)}, {"reduce", std::string(reduce)}}, name);
  }

  // Gathers of a full value's split rows (or columns), shared by users a few nodes apart (e.g.
  // an output gradient used for the input gradient and the weight gradient); a later user
  // gathers again, so a gathered copy never stays alive from the forward to the backward pass.
  static constexpr std::size_t kShareWithin = 4;
  int cached(int v, int dim) const {
    const auto it = gathered_.find({v, dim});
    return it != gathered_.end() && nodeIndex_ - it->second.second <= kShareWithin ? it->second.first : -1;
  }

  int gatherRows(int v, int lv, int axis) {
    if (const int hit = cached(v, 0); hit >= 0) return hit;
    const int out = local_.op(Op::allgather, {lv}, {{"axis", std::int64_t(axis)}, {"size", fullShape(v)[0]}}, fresh(nameOf(v) + ".gathered"));
    gathered_[{v, 0}] = {out, nodeIndex_};
    return out;
  }

  /// The channels (dimension 1) of a 4D value split over `axis`, gathered: to the front by a
  /// transpose, all-gathered as rows, and back.
  int gatherChannels(int v, int lv, int axis) {
    const std::vector<std::int64_t> swap = {1, 0, 2, 3};
    const int front = local_.op(Op::transpose, {lv}, {{"perm", swap}}, fresh(nameOf(v) + ".c_first"));
    const int all = local_.op(Op::allgather, {front}, {{"axis", std::int64_t(axis)}, {"size", fullShape(v)[1]}}, fresh(nameOf(v) + ".c_gathered"));
    return local_.op(Op::transpose, {all}, {{"perm", swap}}, fresh(nameOf(v) + ".gathered_channels"));
  }

  int gatherColumns(int v, int axis) {
    if (const int hit = cached(v, 1); hit >= 0) return hit;
    // The columns of a transpose are the rows of its input: gather those, transpose locally.
    const int producer = g_.values[std::size_t(v)].producer;
    int rowsGathered;
    if (producer >= 0 && g_.nodes[std::size_t(producer)].op == Op::transpose && rankOf(v) == 2) {
      const int u = g_.nodes[std::size_t(producer)].inputs[0];
      rowsGathered = gatherRows(u, map_[std::size_t(u)], axis);
    } else {
      const int t = local_.op(Op::transpose, {map_[std::size_t(v)]}, {{"perm", std::vector<std::int64_t>{1, 0}}}, fresh(nameOf(v) + ".t"));
      rowsGathered = local_.op(Op::allgather, {t}, {{"axis", std::int64_t(axis)}, {"size", fullShape(v)[1]}}, fresh(nameOf(v) + ".t.gathered"));
    }
    const int out = local_.op(Op::transpose, {rowsGathered}, {{"perm", std::vector<std::int64_t>{1, 0}}}, fresh(nameOf(v) + ".gathered"));
    gathered_[{v, 1}] = {out, nodeIndex_};
    return out;
  }

  /// Inputs, parameters and constants: this position's blocks.
  void placeLeaves() {
    for (std::size_t v = 0; v < g_.values.size(); ++v) {
      const Value& val = g_.values[v];
      if (val.kind == ValueKind::Intermediate) continue;
      const Block b = blockOf(g_, plan_, int(v), r_, c_);
      if (val.kind == ValueKind::Input) map_[v] = local_.input(val.name, b.local);
      else if (val.kind == ValueKind::Parameter) map_[v] = local_.parameter(val.name, b.local, sliceBlock(b, val.shape, val.data));
      else map_[v] = local_.constant(val.name, b.local, sliceBlock(b, val.shape, val.data));
      local_.setRole(map_[v], val.role, val.of);
    }
  }

  void node(const Node& n) {
    std::vector<int> ins;
    for (int x : n.inputs) ins.push_back(map_[std::size_t(x)]);
    Attrs attrs = n.attrs;
    const int y = n.outputs[0];
    int made = -1;
    if (n.op == Op::matmul) made = matmul(n, ins, attrs);
    else if (n.op == Op::reduce_sum || n.op == Op::reduce_mean || n.op == Op::reduce_max || n.op == Op::sum_to) made = reduction(n, ins, attrs);
    else if ((n.op == Op::log_softmax || n.op == Op::softmax) && !split(n.inputs[0]).empty()) made = softmax(n, ins);
    else if (channelOp(n.op)) made = channel(n, ins, attrs);
    else if (n.op == Op::reshape && fullShape(n.inputs[0]) != fullShape(y) && anySplit(split(y))) made = splitReshape(n, ins, attrs);
    else if (n.op == Op::reshape && fullShape(n.inputs[0]) != fullShape(y) && anySplit(split(n.inputs[0]))) made = wholeReshape(n, ins);
    map_[std::size_t(y)] = made >= 0 ? made : onBlocks(n, ins, attrs);
  }

  /// A 2D matmul: operands gathered as chooseMatmul says, the partial products of a split
  /// contraction summed by a reduce-scatter or an all-reduce along the grid line.
  int matmul(const Node& n, std::vector<int>& ins, Attrs& attrs) {
    const int y = n.outputs[0];
    const Split &sa = split(n.inputs[0]), &sb = split(n.inputs[1]);
    if (sa.size() != 2 || sb.size() != 2) {
      if (anySplit(sa) || anySplit(sb)) refuse(n, "batched matmul with a split operand");
      return local_.op(n.op, ins, attrs, n.name);
    }
    const Shape &as = fullShape(n.inputs[0]), &bs = fullShape(n.inputs[1]);
    const MatmulChoice m = chooseMatmul(sa, sb, as, bs, plan_.rows, plan_.cols);
    if (m.out != split(y)) refuse(n, "its result's layout disagrees with the plan");
    int a = ins[0], b = ins[1];
    if (m.contract >= 0 && paddedDim(n.inputs[0], 1)) {  // the padding of both operands meets in the local sums
      if (!isZero(pad_[std::size_t(n.inputs[0])][1]) && !isZero(pad_[std::size_t(n.inputs[1])][0])) {
        if (m.gatherA0) needZeroPad(n, n.inputs[0], 1);  // (a gathered copy of A may be shared: not masked here)
        a = masked(n.inputs[0], a, 1, 0.0);
      }
    }
    // Padding rows of the result: zeros from a reduce-scatter, else A's padding rows times B;
    // padding columns: A times B's padding columns.
    pad_[std::size_t(y)] = {m.scatter || isZero(pad_[std::size_t(n.inputs[0])][0]) ? std::optional<double>(0.0) : std::nullopt,
                            isZero(pad_[std::size_t(n.inputs[1])][1]) ? std::optional<double>(0.0) : std::nullopt};
    if (m.gatherA1) a = gatherColumns(n.inputs[0], sa[1]);
    if (m.gatherB0) b = gatherRows(n.inputs[1], b, sb[0]);
    if (m.gatherA0)
      a = m.gatherA1 ? local_.op(Op::allgather, {a}, {{"axis", std::int64_t(sa[0])}, {"size", as[0]}}, fresh(n.name + ".rows"))
                     : gatherRows(n.inputs[0], a, sa[0]);
    if (m.contract < 0) return local_.op(n.op, {a, b}, attrs, n.name);
    const int partial = local_.op(n.op, {a, b}, attrs, fresh(n.name + ".partial"));
    if (m.scatter && plan_.parts(m.contract) > 1)
      return local_.op(Op::reducescatter, {partial}, {{"axis", std::int64_t(m.contract)}, {"size", plan_.block(as[0], m.contract)}}, n.name);
    if (plan_.parts(m.contract) > 1) return allreduce(partial, m.contract, "sum", n.name);
    return local_.op(Op::identity, {partial}, {}, n.name);
  }

  /// A sum, mean or maximum: local over the block (padding masked out of it), then all-reduced
  /// along every grid axis that splits a reduced dimension.
  int reduction(const Node& n, std::vector<int>& ins, Attrs& attrs) {
    const int x = n.inputs[0], y = n.outputs[0];
    const std::vector<bool> axes = reducedAxes(g_, n);
    std::vector<int> over;
    std::int64_t full = 1;
    for (std::size_t d = 0; d < axes.size(); ++d)
      if (axes[d]) {
        full *= fullShape(x)[d];
        if (split(x)[d] >= 0) over.push_back(split(x)[d]);
      }
    if (n.op == Op::sum_to) attrs["shape"] = localShape(y);
    // Padding across a reduced dimension must not count: made zero for a sum (unless it is
    // already), the lowest float for a maximum.
    for (std::size_t d = 0; d < axes.size(); ++d)
      if (axes[d] && paddedDim(x, d) && (n.op == Op::reduce_max || !isZero(pad_[std::size_t(x)][d])))
        ins[0] = masked(x, ins[0], d, n.op == Op::reduce_max ? double(std::numeric_limits<float>::lowest()) : 0.0);
    // The kept dimensions' padding: the reduction of x's padding there.
    const bool keep = n.op != Op::sum_to && n.intAttr("keepdims", 1) != 0;
    const std::size_t skip = n.op == Op::sum_to ? rankOf(x) - rankOf(y) : 0;
    Pad py;
    for (std::size_t d = 0; d < axes.size(); ++d) {
      if (n.op == Op::sum_to ? d < skip : (axes[d] && !keep)) continue;
      const auto& v = pad_[std::size_t(x)][d];
      py.push_back(axes[d] ? std::optional<double>(0.0)
                   : v   ? std::optional<double>(n.op == Op::reduce_sum || n.op == Op::sum_to ? *v * double(full) : *v)
                         : std::nullopt);
    }
    pad_[std::size_t(y)] = py.size() == rankOf(y) ? py : unknown(y);
    if (over.empty()) return local_.op(n.op, ins, attrs, n.name);
    const Op op = n.op == Op::reduce_mean ? Op::reduce_sum : n.op;
    int v = local_.op(op, ins, attrs, fresh(n.name + ".local"));
    for (std::size_t k = 0; k < over.size(); ++k)
      v = allreduce(v, over[k], n.op == Op::reduce_max ? "max" : "sum",
                    n.op != Op::reduce_mean && k + 1 == over.size() ? n.name : fresh(n.name + ".sum"));
    if (n.op == Op::reduce_mean) v = local_.op(Op::mul, {v, local_.scalar(1.0 / double(full))}, {}, n.name);
    return v;
  }

  /// Softmax and log-softmax: over a split class axis, x - max - log(sum(exp(x - max))) with each
  /// reduction finished by an all-reduce along the line; otherwise on the blocks (-1).
  int softmax(const Node& n, std::vector<int>& ins) {
    const int x = n.inputs[0], y = n.outputs[0];
    const std::size_t rank = split(x).size();
    std::int64_t axis = n.intAttr("axis", -1);
    if (axis < 0) axis += std::int64_t(rank);
    const std::size_t a = std::size_t(axis);
    const int over = split(x)[a];
    // Padding in other dimensions: constant rows; a masked class: softmax 0, log-softmax about
    // -1e30 (exp gives 0, times a zero target 0).
    const double n0 = double(fullShape(x)[a]);
    Pad py = unknown(y);
    for (std::size_t d = 0; d < rank; ++d)
      if (pad_[std::size_t(x)][d]) py[d] = n.op == Op::softmax ? 1.0 / n0 : -std::log(n0);
    if (over >= 0 && paddedDim(x, a)) py[a] = n.op == Op::softmax ? 0.0 : -1e30;
    pad_[std::size_t(y)] = py;
    if (over < 0) return -1;
    const std::vector<std::int64_t> ax = {axis};
    int xin = ins[0];
    if (paddedDim(x, a)) {
      // Classes that do not split evenly: the padding columns get -1e30 added, so they never
      // win the maximum and add exp(-huge) = 0 to the sum.
      const Block b = blockOf(g_, plan_, x, r_, c_);
      Shape ms(rank, 1);
      ms[a] = b.local[a];
      std::vector<double> mask(std::size_t(ms[a]), 0.0);
      for (std::int64_t k = b.real[a]; k < ms[a]; ++k) mask[std::size_t(k)] = -1e30;
      xin = local_.op(Op::add, {xin, local_.constant(fresh(n.name + ".mask"), ms, mask)}, {}, fresh(n.name + ".masked"));
    }
    const int m = allreduce(local_.op(Op::reduce_max, {xin}, {{"axes", ax}, {"keepdims", std::int64_t(1)}}, fresh(n.name + ".max")), over, "max",
                            fresh(n.name + ".gmax"));
    const int shifted = local_.op(Op::sub, {xin, m}, {}, fresh(n.name + ".shifted"));
    const int e = local_.op(Op::exp, {shifted}, {}, fresh(n.name + ".exp"));
    const int s = allreduce(local_.op(Op::reduce_sum, {e}, {{"axes", ax}, {"keepdims", std::int64_t(1)}}, fresh(n.name + ".sum")), over, "sum",
                            fresh(n.name + ".gsum"));
    if (n.op == Op::softmax) return local_.op(Op::div, {e, s}, {}, n.name);
    return local_.op(Op::sub, {shifted, local_.op(Op::log, {s}, {}, fresh(n.name + ".log"))}, {}, n.name);
  }

  /// Convolutions and pools: examples and channels must split evenly; a split contracted
  /// dimension (input channels, or examples for the weight gradient) is all-reduced.
  int channel(const Node& n, std::vector<int>& ins, Attrs& attrs) {
    const int y = n.outputs[0];
    const Split& ys = split(y);
    // A padded example or channel would not stay zero through a convolution's windows or a pool.
    std::vector<int> vs = n.inputs;
    vs.push_back(y);
    for (int v : vs)
      for (std::size_t d = 0; d < 2 && d < rankOf(v); ++d)
        if (paddedDim(v, d)) {
          const bool weight = (n.op == Op::conv2d || n.op == Op::conv2d_grad_input) ? v == n.inputs[1] : n.op == Op::conv2d_grad_weight && v == y;
          const std::string what = d == 1 ? "its channels" : weight ? "its filters" : "its examples";
          refuse(n, what + " (" + std::to_string(fullShape(v)[d]) + " of '" + nameOf(v) + "') do not split evenly over the grid's " +
                        std::to_string(plan_.parts(split(v)[d])) + " " + (split(v)[d] == 0 ? "rows" : "columns"));
        }
    int over = -1;  // the grid axis splitting the contracted dimension
    bool agree = true;
    const Split& sa = split(n.inputs[0]);
    if (n.op == Op::conv2d || n.op == Op::conv2d_grad_input) {
      const Split& sw = split(n.inputs[1]);
      const std::size_t k = n.op == Op::conv2d ? 1 : 0;  // the weight's contracted dimension: channels, or filters
      over = sw[k];
      // The input gradient of a convolution whose filters are whole while its output gradient's
      // are split (a residual add split them): that gradient's filters are gathered.
      const bool gatherFilters = n.op == Op::conv2d_grad_input && sa[1] >= 0 && sw[k] < 0;
      agree = (sa[1] == sw[k] || gatherFilters) && ys == Split({sa[0], sw[1 - k], -1, -1});
      if (agree && gatherFilters) ins[0] = gatherChannels(n.inputs[0], ins[0], sa[1]);
      if (n.intAttr("group", 1) != 1 && (sw[0] >= 0 || sw[1] >= 0)) refuse(n, "a grouped convolution with split channels");
      if (n.op == Op::conv2d_grad_input) attrs["input_shape"] = localShape(y);
    } else if (n.op == Op::conv2d_grad_weight) {
      const Split& sd = split(n.inputs[1]);
      over = sa[0];
      const bool gatherFilters = sd[1] >= 0 && sd[1] == sa[1];  // (see the plan)
      agree = sd[0] == sa[0] && ys == Split({gatherFilters ? -1 : sd[1], sa[1], -1, -1});
      if (agree && gatherFilters) ins[1] = gatherChannels(n.inputs[1], ins[1], sd[1]);
      if (n.intAttr("group", 1) != 1 && (ys[0] >= 0 || ys[1] >= 0)) refuse(n, "a grouped convolution with split channels");
      attrs["weight_shape"] = localShape(y);
    } else {
      agree = ys == Split({sa[0], sa[1], -1, -1});
      if (n.op == Op::avg_pool2d_grad) attrs["input_shape"] = localShape(y);
    }
    if (!agree) refuse(n, "its operands' layouts disagree with the plan");
    pad_[std::size_t(y)] = unknown(y);
    if (over >= 0 && plan_.parts(over) > 1) return allreduce(local_.op(n.op, ins, attrs, fresh(n.name + ".partial")), over, "sum", n.name);
    return local_.op(n.op, ins, attrs, n.name);
  }

  /// A reshape of a split tensor: the split stays on the leading dimension of its group.
  int splitReshape(const Node& n, std::vector<int>& ins, Attrs& attrs) {
    const int x = n.inputs[0], y = n.outputs[0];
    const auto sy = reshapeSplit(fullShape(x), split(x), fullShape(y), plan_.rows, plan_.cols);
    if (!sy || *sy != split(y)) refuse(n, "a reshape that moves a split dimension");
    attrs["shape"] = localShape(y);
    pad_[std::size_t(y)] = unknown(y);
    return local_.op(n.op, ins, attrs, n.name);
  }

  /// A reshape whose result is whole of a split operand (a batch norm's weight, split like its
  /// gradient, reshaped to [1, C, 1, 1] for a whole activation): the operand gathered first.
  int wholeReshape(const Node& n, std::vector<int>& ins) {
    const int x = n.inputs[0];
    const Split& sx = split(x);
    if (std::count_if(sx.begin(), sx.end(), [](int a) { return a >= 0; }) > 1) refuse(n, "no split rule for this op");
    for (std::size_t d = 0; d < sx.size(); ++d) {
      if (sx[d] < 0) continue;
      if (d == 0) ins[0] = gatherRows(x, ins[0], sx[d]);
      else if (d == 1 && rankOf(x) == 2) ins[0] = gatherColumns(x, sx[d]);
      else if (d == 1 && rankOf(x) == 4) ins[0] = gatherChannels(x, ins[0], sx[d]);
      else refuse(n, "a reshape of an operand split on its dimension " + std::to_string(d) + " to a whole result");
    }
    return local_.op(n.op, ins, n.attrs, n.name);
  }

  /// Operand x (local lx) cut to this position's block along the dimensions `want` splits and
  /// `now` does not (a local take; padding zero).
  int cutBlock(int x, int lx, const Split& now, const Split& want) {
    const Shape& xs = fullShape(x);
    const Shape ls = localShape(x);  // x's own block, for the dims it keeps split
    Shape have(xs.size()), cut(xs.size());
    std::vector<std::int64_t> begin(xs.size(), 0), real(xs.size());
    for (std::size_t d = 0; d < xs.size(); ++d) {
      have[d] = now[d] >= 0 ? ls[d] : xs[d];
      const std::int64_t size = plan_.block(xs[d], want[d]);
      const std::int64_t index = want[d] < 0 || now[d] >= 0 ? 0 : (want[d] == 0 ? r_ : c_);
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
    return local_.op(Op::take, {lx}, {{"index", idx}, {"shape", cut}}, fresh(nameOf(x) + ".block"));
  }

  /// An operand laid out differently from an elementwise result (e.g. a replicated weight and its
  /// reduce-scattered update) brought to the result's layout: a split dimension the result keeps
  /// whole is gathered (2D operands), a whole one the result splits is cut to this block.
  void toResultLayout(const Node& n, std::vector<int>& ins) {
    const Shape& full = fullShape(n.outputs[0]);
    const Split& ys = split(n.outputs[0]);
    for (std::size_t k = 0; k < n.inputs.size(); ++k) {
      const int x = n.inputs[k];
      const Shape& xs = fullShape(x);
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
          if (xs.size() != 2) refuse(n, "operand '" + nameOf(x) + "' is split differently from the result");
          lx = d == 0 ? gatherRows(x, lx, now[d]) : gatherColumns(x, now[d]);
          now[d] = -1;
        }
      if (now != want) lx = cutBlock(x, lx, now, want);
      ins[k] = lx;
    }
  }

  /// Every other op runs on the blocks as they are: elementwise ops on operands split alike (or
  /// brought to it), 2D transposes, shape-keeping reshapes, broadcasts of operands split like the
  /// result, and anything whose operands and result are not split at all.
  int onBlocks(const Node& n, std::vector<int>& ins, Attrs& attrs) {
    const int y = n.outputs[0];
    const Split& ys = split(y);
    const bool splitAny = anySplit(ys) || std::any_of(n.inputs.begin(), n.inputs.end(), [&](int x) { return anySplit(split(x)); });
    if (splitAny) {
      if (elementwise(n.op) || n.op == Op::softmax || n.op == Op::log_softmax || n.op == Op::allreduce_mean) {
        toResultLayout(n, ins);  // (an average over a grid's replicas keeps its operand's block)
      } else if (n.op == Op::transpose && ys.size() == 2) {
        // the layout swaps with the dimensions
      } else if (n.op == Op::reshape && fullShape(n.inputs[0]) == fullShape(y)) {
        attrs["shape"] = localShape(y);
      } else if (n.op == Op::pad || n.op == Op::slice) {
        // Zero padding or a slice of dimensions that are not split (a pooling's border, its
        // gradient): the same on every block, each split dimension whole in its block.
        if (split(n.inputs[0]) != ys) refuse(n, "its operand is split differently from the result");
        const Shape& xs = fullShape(n.inputs[0]);
        const Shape local = localShape(n.inputs[0]);
        if (n.op == Op::pad) {
          const auto pads = n.intsAttr("pads");
          for (std::size_t d = 0; d < ys.size(); ++d)
            if (ys[d] >= 0 && (pads[d] != 0 || pads[d + ys.size()] != 0)) refuse(n, "it pads a split dimension");
        } else {
          auto starts = n.intsAttr("starts"), ends = n.intsAttr("ends");
          for (std::size_t d = 0; d < ys.size(); ++d) {
            if (ys[d] < 0) continue;
            if (starts[d] != 0 || ends[d] != xs[d]) refuse(n, "it slices a split dimension");
            ends[d] = local[d];
          }
          attrs["ends"] = ends;
        }
      } else if (n.op == Op::broadcast_to) {
        const int x = n.inputs[0];
        const Shape &xs = fullShape(x), &full = fullShape(y);
        const std::size_t off = full.size() - xs.size();
        for (std::size_t d = 0; d < xs.size(); ++d)
          if (xs[d] == full[d + off] && split(x)[d] != ys[d + off]) refuse(n, "operand '" + nameOf(x) + "' is split differently from the result");
      } else {
        refuse(n, "no split rule for this op");
      }
    }
    if (n.op == Op::broadcast_to) attrs["shape"] = localShape(y);
    if (elementwise(n.op)) {
      for (std::size_t d = 0; d < rankOf(y); ++d) {
        std::vector<std::optional<double>> seen;
        for (int x : n.inputs) seen.push_back(padSeen(x, y, d));
        pad_[std::size_t(y)][d] = padOfOp(n.op, seen);
      }
    } else if (n.op == Op::transpose && rankOf(y) == 2) {
      pad_[std::size_t(y)] = {pad_[std::size_t(n.inputs[0])][1], pad_[std::size_t(n.inputs[0])][0]};
    } else if (!n.inputs.empty() && n.op != Op::softmax && n.op != Op::log_softmax) {
      pad_[std::size_t(y)] = rankOf(n.inputs[0]) == rankOf(y) ? pad_[std::size_t(n.inputs[0])] : unknown(y);  // reshape, broadcast
    }
    return local_.op(n.op, ins, attrs, n.name);
  }

  const Graph& g_;
  const GridPlan& plan_;
  const int r_, c_;
  Graph local_;
  std::vector<int> map_;  // value of g -> value of local_
  std::vector<Pad> pad_;
  int serial_ = 0;
  std::map<std::pair<int, int>, std::pair<int, std::size_t>> gathered_;  // (value, dim) -> (local value, node index)
  std::size_t nodeIndex_ = 0;
};

}  // namespace

Graph localGraph(const Graph& g, const GridPlan& plan, int r, int c) { return LocalGraph(g, plan, r, c).build(); }

}  // namespace tatami::compiler
