// Internal to the ONNX front end: the importer that maps a model's nodes to IR ops, shared by
// onnx_import.cpp (the graph, the nodes, the ops one by one) and onnx_layers.cpp (layers made of
// many IR ops: Einsum, recurrent layers, constant linear maps along an axis).
#pragma once

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tatami/arch/philox.h"
#include "tatami/compiler/interpreter.h"
#include "tatami/compiler/onnx_import.h"

namespace tatami::compiler::onnx_importer {

class Importer {
 public:
  Importer(const std::string& origin, const ImportOptions& o) : origin_(origin), opts_(o) {}
  Graph run(const onnx::ModelProto& model);

 private:
  [[noreturn]] void fail(const onnx::NodeProto& n, const std::string& why) const {
    throw CompileError(origin_ + ": node '" + n.name() + "' (" + n.op_type() + ", opset " + std::to_string(opset_) + "): " + why);
  }
  /// A size, index or count given as a constant of the model: a whole number a 64-bit integer
  /// holds exactly (|v| < 2^53), never converted when it is not (which would be undefined).
  std::int64_t whole(const onnx::NodeProto& n, double v, const char* what) const {
    if (!(std::fabs(v) < 9007199254740992.0) || v != std::floor(v)) {
      std::ostringstream text;
      text << v;
      fail(n, std::string(what) + " " + text.str() + " is not a whole number below 2^53");
    }
    return std::int64_t(v);
  }
  /// A dimension given as a constant of the model: whole, in 0..kMaxElements.
  std::int64_t dimension(const onnx::NodeProto& n, double v, const char* what) const {
    const std::int64_t d = whole(n, v, what);
    if (d < 0 || d > kMaxElements) fail(n, std::string(what) + " " + std::to_string(d) + " is out of range 0..2^48");
    return d;
  }
  int value(const onnx::NodeProto& n, int k) const {
    if (k >= n.input_size() || n.input(k).empty()) fail(n, "input " + std::to_string(k) + " is missing");
    const auto it = names_.find(n.input(k));
    if (it == names_.end()) fail(n, "input '" + n.input(k) + "' is not defined before this node");
    return it->second;
  }
  bool hasInput(const onnx::NodeProto& n, int k) const { return k < n.input_size() && !n.input(k).empty(); }
  bool isConst(int v) const { return g_.values[std::size_t(v)].kind == ValueKind::Constant; }
  const std::vector<double>& constData(const onnx::NodeProto& n, int k) const {
    const int v = value(n, k);
    if (!isConst(v)) fail(n, "input " + std::to_string(k) + " ('" + n.input(k) + "') must be known at compile time");
    return g_.values[std::size_t(v)].data;
  }
  /// Elementwise activations as compositions of IR ops (their gradients follow from those).
  bool activation(const onnx::NodeProto& n) {
    const std::string& t = n.op_type();
    static const std::set<std::string> known = {"LeakyRelu", "Elu", "Selu", "Celu", "Softplus", "Softsign", "Abs", "PRelu"};
    if (!known.count(t)) return false;
    const int x = value(n, 0);
    const auto scalar = [&](double v) { return g_.scalar(v); };
    const auto abs = [&](int v) { return op(n, Op::max, {v, op(n, Op::neg, {v})}); };
    // alpha (exp(min(x, 0) / c) c - 1): the negative branch of Elu (c = 1) and Celu (c = alpha).
    const auto negativeBranch = [&](double alpha, double c) {
      const int m = op(n, Op::min, {x, scalar(0.0)});
      const int e = op(n, Op::exp, {c == 1.0 ? m : op(n, Op::mul, {m, scalar(1.0 / c)})});
      return op(n, Op::mul, {op(n, Op::sub, {e, scalar(1.0)}), scalar(alpha * c)});
    };
    int y = -1;
    if (t == "PRelu") {
      // relu(x) + slope min(x, 0): the slope (a learned parameter) broadcasts, numpy style.
      y = op(n, Op::add, {op(n, Op::relu, {x}), op(n, Op::mul, {value(n, 1), op(n, Op::min, {x, scalar(0.0)})})});
    } else if (t == "LeakyRelu") {
      const double alpha = floatAttr(n, "alpha", 0.01);
      if (alpha < 0 || alpha > 1) fail(n, "alpha " + std::to_string(alpha) + " outside [0, 1]");
      y = op(n, Op::max, {x, op(n, Op::mul, {x, scalar(alpha)})});
    } else if (t == "Elu") {
      y = op(n, Op::add, {op(n, Op::relu, {x}), negativeBranch(floatAttr(n, "alpha", 1.0), 1.0)});
    } else if (t == "Celu") {
      const double alpha = floatAttr(n, "alpha", 1.0);
      y = op(n, Op::add, {op(n, Op::relu, {x}), negativeBranch(1.0, alpha)});
    } else if (t == "Selu") {
      const double alpha = floatAttr(n, "alpha", 1.67326319217681884765625), gamma = floatAttr(n, "gamma", 1.05070102214813232421875);
      y = op(n, Op::mul, {op(n, Op::add, {op(n, Op::relu, {x}), negativeBranch(alpha, 1.0)}), scalar(gamma)});
    } else if (t == "Softplus") {
      // log(1 + e^x) = relu(x) + log(1 + e^-|x|): no overflow for large x.
      const int tail = op(n, Op::log, {op(n, Op::add, {op(n, Op::exp, {op(n, Op::neg, {abs(x)})}), scalar(1.0)})});
      y = op(n, Op::add, {op(n, Op::relu, {x}), tail});
    } else if (t == "Softsign") {
      y = op(n, Op::div, {x, op(n, Op::add, {abs(x), scalar(1.0)})});
    } else {
      y = abs(x);
    }
    bind(n, 0, y);
    return true;
  }

  /// Comparisons, logic, Mod, Range and Trilu on values known at compile time (masks and index
  /// arithmetic, as exporters emit them): computed here, numpy broadcasting, booleans as 0/1
  /// integers. An operand known only at run time stops with the node's name.
  bool constantOnly(const onnx::NodeProto& n) {
    const std::string& t = n.op_type();
    static const std::set<std::string> binary = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Mod"};
    if ((binary.count(t) && t != "Mod" && !(isConst(value(n, 0)) && isConst(value(n, 1)))) || (t == "Not" && !isConst(value(n, 0)))) {
      bind(n, 0, runtimeMask(n));
      return true;
    }
    if (binary.count(t)) {
      const int a = constantInput(n, 0), b = constantInput(n, 1);
      const Shape as = shapeOf(a), bs = shapeOf(b);
      Shape out(std::max(as.size(), bs.size()), 1);
      for (std::size_t i = 0; i < out.size(); ++i) {
        const std::int64_t da = i + as.size() >= out.size() ? as[i + as.size() - out.size()] : 1;
        const std::int64_t db = i + bs.size() >= out.size() ? bs[i + bs.size() - out.size()] : 1;
        if (da != db && da != 1 && db != 1) fail(n, "operands " + shapeText(as) + " and " + shapeText(bs) + " do not broadcast");
        out[i] = std::max(da, db);
      }
      const auto at = [&](const Shape& s, const std::vector<double>& d, std::int64_t flat) {
        std::int64_t idx = 0, stride = 1, rest = flat;
        std::vector<std::int64_t> coord(out.size());
        for (std::size_t i = out.size(); i-- > 0;) coord[i] = rest % out[i], rest /= out[i];
        for (std::size_t i = s.size(); i-- > 0;) {
          const std::int64_t c = s[i] == 1 ? 0 : coord[i + out.size() - s.size()];
          idx += c * stride, stride *= s[i];
        }
        return d[std::size_t(idx)];
      };
      const std::vector<double> &ad = g_.values[std::size_t(a)].data, &bd = g_.values[std::size_t(b)].data;
      std::vector<double> r(std::size_t(elementCount(out)));
      const bool fmod = t == "Mod" && intAttr(n, "fmod", 0) != 0;
      for (std::size_t i = 0; i < r.size(); ++i) {
        const double x = at(as, ad, std::int64_t(i)), y = at(bs, bd, std::int64_t(i));
        if (t == "Equal") r[i] = x == y;
        else if (t == "Less") r[i] = x < y;
        else if (t == "Greater") r[i] = x > y;
        else if (t == "LessOrEqual") r[i] = x <= y;
        else if (t == "GreaterOrEqual") r[i] = x >= y;
        else if (t == "And") r[i] = (x != 0) && (y != 0);
        else if (t == "Or") r[i] = (x != 0) || (y != 0);
        else if (t == "Xor") r[i] = (x != 0) != (y != 0);
        else {
          if (y == 0) fail(n, "modulo by zero");
          // fmod: the sign of the dividend (C); else the sign of the divisor (Python, integers).
          r[i] = fmod ? std::fmod(x, y) : x - y * std::floor(x / y);
        }
      }
      const bool integer = t != "Mod" || (isInteger(a) && isInteger(b));
      bind(n, 0, integer ? integerConstant(out, std::move(r)) : constant(out, std::move(r)));
      return true;
    }
    if (t == "Not") {
      const int a = constantInput(n, 0);
      std::vector<double> r = g_.values[std::size_t(a)].data;
      for (double& v : r) v = v == 0;
      bind(n, 0, integerConstant(shapeOf(a), std::move(r)));
      return true;
    }
    if (t == "Range") {
      const double start = scalarInput(n, 0), limit = scalarInput(n, 1), delta = scalarInput(n, 2);
      if (delta == 0) fail(n, "delta is zero");
      const double count = std::max(0.0, std::ceil((limit - start) / delta));
      if (count > double(std::int64_t(1) << 32)) fail(n, "more than 2^32 elements");
      std::vector<double> r(static_cast<std::size_t>(count));
      for (std::size_t i = 0; i < r.size(); ++i) r[i] = start + double(i) * delta;
      const bool integer = isInteger(value(n, 0)) && isInteger(value(n, 1)) && isInteger(value(n, 2));
      const Shape shape = {std::int64_t(r.size())};
      bind(n, 0, integer ? integerConstant(shape, std::move(r)) : constant(shape, std::move(r)));
      return true;
    }
    if (t == "Trilu") {
      const int a = constantInput(n, 0);
      const Shape s = shapeOf(a);
      if (s.size() < 2) fail(n, "needs a tensor of rank 2 or more");
      const std::int64_t k = hasInput(n, 1) ? whole(n, scalarInput(n, 1), "k") : 0;
      const bool upper = intAttr(n, "upper", 1) != 0;
      std::vector<double> r = g_.values[std::size_t(a)].data;
      const std::int64_t rows = s[s.size() - 2], cols = s.back();
      for (std::size_t e = 0; e < r.size(); ++e) {
        const std::int64_t i = (std::int64_t(e) / cols) % rows, j = std::int64_t(e) % cols;
        if (upper ? j - i < k : j - i > k) r[e] = 0;
      }
      bind(n, 0, isInteger(a) ? integerConstant(s, std::move(r)) : constant(s, std::move(r)));
      return true;
    }
    return false;
  }

  /// A comparison or logic op on values known only at run time, as a 0/1 mask made of IR ops:
  /// a > b is relu_grad(1, a - b) (1 where a - b > 0); the others follow (a < b is b > a, a >= b
  /// is 1 - (a < b), a == b is 1 - (a > b) - (a < b); and, or, xor, not on 0/1 values). No
  /// gradient flows through a mask (relu_grad's gradient for its second operand is zero).
  int runtimeMask(const onnx::NodeProto& n) {
    const std::string& t = n.op_type();
    const int a = value(n, 0);
    if (t == "Not") return op(n, Op::sub, {g_.scalar(1.0), a});
    const int b = value(n, 1);
    const auto greater = [&](int x, int y) {
      const int diff = op(n, Op::sub, {x, y});
      const Shape ds = shapeOf(diff);
      return op(n, Op::relu_grad, {constant(ds, std::vector<double>(std::size_t(elementCount(ds)), 1.0)), diff});
    };
    const auto complement = [&](int m) { return op(n, Op::sub, {g_.scalar(1.0), m}); };
    if (t == "Greater") return greater(a, b);
    if (t == "Less") return greater(b, a);
    if (t == "GreaterOrEqual") return complement(greater(b, a));
    if (t == "LessOrEqual") return complement(greater(a, b));
    if (t == "Equal") return complement(op(n, Op::add, {greater(a, b), greater(b, a)}));
    if (t == "And") return op(n, Op::mul, {a, b});
    if (t == "Or") return op(n, Op::max, {a, b});
    if (t == "Xor") {
      const int d = op(n, Op::sub, {a, b});
      return op(n, Op::max, {d, op(n, Op::neg, {d})});
    }
    fail(n, "no run-time form");
  }
  /// Slice with any steps, by ONNX's rules (negative steps walk backwards): the indices each axis
  /// keeps: every index of the axes not sliced when `whole` (a constant's, which exists in memory),
  /// else only the sliced axes' picks (the others left empty). starts, ends, axes and steps are of
  /// one length (the importer checks it first).
  std::vector<std::vector<std::int64_t>> slicePicks(const onnx::NodeProto& n, const Shape& xs, const std::vector<double>& starts,
                                                    const std::vector<double>& ends, const std::vector<std::int64_t>& axes,
                                                    const std::vector<double>& steps, bool whole) const {
    std::vector<std::vector<std::int64_t>> picks(xs.size());
    if (whole)
      for (std::size_t d = 0; d < xs.size(); ++d)
        for (std::int64_t i = 0; i < xs[d]; ++i) picks[d].push_back(i);
    for (std::size_t k = 0; k < axes.size(); ++k) {
      const SliceRange r = sliceRange(n, xs[std::size_t(axes[k])], starts[k], ends[k], steps[k]);
      std::vector<std::int64_t> p(std::size_t(r.count));
      for (std::int64_t i = 0; i < r.count; ++i) p[std::size_t(i)] = r.first + i * r.step;
      picks[std::size_t(axes[k])] = p;
    }
    return picks;
  }
  /// The indices one axis of length `len` keeps, by ONNX's rules (negative steps walk backwards):
  /// `count` of them from `first`, `step` apart.
  struct SliceRange {
    std::int64_t first = 0, count = 0, step = 1;
  };
  SliceRange sliceRange(const onnx::NodeProto& n, std::int64_t len, double start, double end, double stepValue) const {
    SliceRange r;
    r.step = whole(n, stepValue, "a step");
    if (r.step == 0) fail(n, "step 0");
    const auto clampTo = [](double v, double lo, double hi) { return std::int64_t(std::max(lo, std::min(hi, v))); };
    const double b = start < 0 ? start + double(len) : start, e = end < 0 ? end + double(len) : end;
    if (r.step > 0) {
      r.first = clampTo(b, 0, double(len));
      const std::int64_t stop = clampTo(e, 0, double(len));
      r.count = stop > r.first ? (stop - r.first + r.step - 1) / r.step : 0;
    } else {
      r.first = clampTo(b, -1, double(len - 1));
      const std::int64_t stop = clampTo(e, -1, double(len - 1));
      r.count = r.first > stop ? (r.first - stop + (-r.step) - 1) / (-r.step) : 0;
    }
    return r;
  }
  /// Slice with any steps on a constant (starts, ends, axes and steps of one length).
  int slicedConstant(const onnx::NodeProto& n, int x, const std::vector<double>& starts, const std::vector<double>& ends,
                     const std::vector<std::int64_t>& axes, const std::vector<double>& steps) {
    const Shape xs = shapeOf(x);
    if (elementCount(xs) == 0) {
      // Nothing to pick from; its other axes may be of any length (not listed one by one).
      Shape out = xs;
      for (std::size_t k = 0; k < axes.size(); ++k)
        out[std::size_t(axes[k])] = sliceRange(n, xs[std::size_t(axes[k])], starts[k], ends[k], steps[k]).count;
      return isInteger(x) ? integerConstant(out, {}) : constant(out, {});
    }
    const std::vector<std::vector<std::int64_t>> picks = slicePicks(n, xs, starts, ends, axes, steps, true);
    Shape out;
    for (const auto& p : picks) out.push_back(std::int64_t(p.size()));
    const std::vector<double>& src = g_.values[std::size_t(x)].data;
    std::vector<double> r(std::size_t(elementCount(out)));
    for (std::size_t flat = 0; flat < r.size(); ++flat) {
      std::size_t rest = flat, at = 0, stride = 1;
      for (std::size_t d = out.size(); d-- > 0;) {
        const std::size_t c = rest % std::size_t(out[d]);
        rest /= std::size_t(out[d]);
        at += std::size_t(picks[d][c]) * stride, stride *= std::size_t(xs[d]);
      }
      r[flat] = src[at];
    }
    return isInteger(x) ? integerConstant(out, std::move(r)) : constant(out, std::move(r));
  }
  /// (x - mean) / sqrt(var + epsilon) over `axes`: batch, instance and layer normalization.
  int normalized(const onnx::NodeProto& n, int x, const std::vector<std::int64_t>& axes) {
    const Attribute ax = axes, keep = std::int64_t(1);
    const int mean = op(n, Op::reduce_mean, {x}, {{"axes", ax}, {"keepdims", keep}});
    const int d = op(n, Op::sub, {x, mean});
    const int var = op(n, Op::reduce_mean, {op(n, Op::mul, {d, d})}, {{"axes", ax}, {"keepdims", keep}});
    return op(n, Op::div, {d, op(n, Op::sqrt, {op(n, Op::add, {var, g_.scalar(floatAttr(n, "epsilon", 1e-5))})})});
  }
  /// x with its axes in the order `perm`; no op when the order is the same.
  int permuted(const onnx::NodeProto& n, int x, const std::vector<std::int64_t>& perm) {
    for (std::size_t i = 0; i < perm.size(); ++i)
      if (perm[i] != std::int64_t(i)) return op(n, Op::transpose, {x}, {{"perm", perm}});
    return x;
  }
  int reshaped(const onnx::NodeProto& n, int x, const Shape& s) { return s == shapeOf(x) ? x : op(n, Op::reshape, {x}, {{"shape", s}}); }

  /// Einsum as transposes, reshapes, sums and batched matmuls: the operands are contracted left to
  /// right, each pair as one matmul over [batch, free, contracted] x [batch, contracted, free]
  /// after summing out the letters nothing later needs. An ellipsis stands for the same leading
  /// axes in every operand; a letter repeated within one operand (a diagonal) is refused.
  int einsum(const onnx::NodeProto& n);
  /// x mapped linearly along one axis: y[..., o, ...] = sum over i of m[o][i] x[..., i, ...], as a
  /// matmul by the constant m^T with that axis moved last and back (linear resizing, reflected
  /// and edge padding, cumulative sums: their gradients are the transposed map).
  static constexpr std::int64_t kMaxSelection = 2048;  ///< the longest axis a constant selection matrix maps
  static constexpr std::int64_t kMaxMap = std::int64_t(1) << 24;  ///< the most entries of such a matrix
  /// Refuses a linear map along an axis of `in` elements to `out` that would not fit (before it is made).
  void checkMap(const onnx::NodeProto& n, std::int64_t in, std::int64_t out, const std::string& what) const;
  int alongAxis(const onnx::NodeProto& n, int x, std::size_t axis, const std::vector<std::vector<double>>& m);
  /// Resize in mode linear: per axis whose size changes, each output the interpolation of its two
  /// nearest inputs at the coordinate ONNX's coordinate_transformation_mode gives (a coordinate
  /// outside the input takes the edge, as PyTorch clamps it).
  /// MaxPool with dilations, by its definition (taps as slices, their running maximum).
  int dilatedMaxPool(const onnx::NodeProto& n, int x);
  /// An initializer as read, before it becomes a parameter or a constant.
  struct Initializer {
    std::string name;
    Shape shape;
    std::vector<double> data;
    bool trained = false, integer = false;
  };
  /// The initializers the exporter folded from a parameter's transpose (tied weights): copy -> parameter.
  static std::map<std::string, std::string> foldedTransposes(const std::vector<Initializer>& inits);
  int interpolatingResize(const onnx::NodeProto& n, int x, const std::vector<double>& scales, const Shape& out, bool cubic);
  /// RNN, LSTM and GRU unrolled over the sequence (its length is known): the input's projection for
  /// every step at once, then per step the recurrent matmul and the gates, by ONNX's equations
  /// (tanh for RNN, gate order i, o, f, c for LSTM and z, r, h for GRU; forward, reverse or bidirectional;
  /// either layout; GRU with or without linear_before_reset). Their gradients follow from those
  /// ops. Activations other than the defaults, clip, input_forget, peepholes and sequence_lens
  /// shorter than the sequence are refused.
  static constexpr std::int64_t kMaxUnrolled = 1024;  ///< the longest sequence a recurrent layer is unrolled over
  void recurrent(const onnx::NodeProto& n);
  /// The first element of a constant input that must hold one (an axis, a bound, a count).
  double scalarInput(const onnx::NodeProto& n, int k) const {
    const std::vector<double>& d = constData(n, k);
    if (d.empty()) fail(n, "input " + std::to_string(k) + " ('" + n.input(k) + "') is empty; it must hold one value");
    return d[0];
  }
  int constantInput(const onnx::NodeProto& n, int k) const {
    constData(n, k);  // refuses a value known only at run time
    return value(n, k);
  }
  const Shape& shapeOf(int v) const { return g_.values[std::size_t(v)].shape; }
  /// Pooling with ceil_mode: the end pads grown so that floor mode gives the ceil-mode output size
  /// (the last window starting inside the input or its begin padding, as ONNX and PyTorch count).
  /// An average that counts padding divides the windows that reach past the original end padding
  /// by the elements inside it: `divisorFix` gets the factor for every output position (left
  /// empty when none differs from 1).
  std::vector<std::int64_t> ceilModePads(const onnx::NodeProto& n, const Shape& xs, bool includePad, std::vector<double>& divisorFix) const {
    const std::vector<std::int64_t> k = intsAttr(n, "kernel_shape");
    std::vector<std::int64_t> s = intsAttr(n, "strides"), p = intsAttr(n, "pads");
    if (k.size() != 2 || xs.size() != 4) fail(n, "ceil_mode is supported for 2D pooling of NCHW tensors");
    if (s.empty()) s = {1, 1};
    if (p.empty()) p = {0, 0, 0, 0};
    std::vector<std::int64_t> grown = p, out(2);
    for (std::size_t d = 0; d < 2; ++d) {
      const std::int64_t in = xs[2 + d] + p[d] + p[d + 2];
      std::int64_t o = (in - k[d] + s[d] - 1) / s[d] + 1;
      if ((o - 1) * s[d] >= xs[2 + d] + p[d]) --o;
      out[d] = o;
      grown[d + 2] += std::max<std::int64_t>(0, (o - 1) * s[d] + k[d] - in);
    }
    if (!includePad) return grown;
    bool any = false;
    for (std::int64_t i = 0; i < out[0]; ++i)
      for (std::int64_t j = 0; j < out[1]; ++j) {
        const std::int64_t h = std::min(i * s[0] + k[0], xs[2] + p[0] + p[2]) - i * s[0];
        const std::int64_t w = std::min(j * s[1] + k[1], xs[3] + p[1] + p[3]) - j * s[1];
        divisorFix.push_back(double(k[0] * k[1]) / double(h * w));
        any = any || divisorFix.back() != 1.0;
      }
    if (!any) divisorFix.clear();
    return grown;
  }
  std::int64_t intAttr(const onnx::NodeProto& n, const std::string& key, std::int64_t fallback) const {
    for (const auto& a : n.attribute())
      if (a.name() == key) return a.i();
    return fallback;
  }
  double floatAttr(const onnx::NodeProto& n, const std::string& key, double fallback) const {
    for (const auto& a : n.attribute())
      if (a.name() == key) return a.f();
    return fallback;
  }
  bool hasAttr(const onnx::NodeProto& n, const std::string& key) const {
    for (const auto& a : n.attribute())
      if (a.name() == key) return true;
    return false;
  }
  /// A convolution's or pool's per-axis attributes, when present, have one entry per spatial
  /// axis (pads two), so that nothing reads past them.
  /// A 3D convolution (nn.Conv3d: x [N, C, D, H, W], weight [O, C / group, KD, KH, KW]) by its
  /// definition along the depth: output plane d is the sum over kernel depths k of the 2D
  /// convolution of input plane d x stride + k x dilation - pad (those inside the input) with the
  /// weight's plane k, plus the bias; the planes are joined along the depth. Built of slice,
  /// reshape, conv2d, add and concat, so training differentiates it like any other graph.
  int conv3dAsPlanes(const onnx::NodeProto& n, int x, int w) {
    const Shape xs = shapeOf(x), ws = shapeOf(w);
    if (ws.size() != 5) fail(n, "the weight " + shapeText(ws) + " must have the input's rank 5 (input " + shapeText(xs) + ")");
    checkSpatialAttrs(n, 3);
    const auto attr = [&](const char* key, std::vector<std::int64_t> otherwise) {
      const std::vector<std::int64_t> v = intsAttr(n, key);
      return v.empty() ? otherwise : v;
    };
    const std::vector<std::int64_t> strides = attr("strides", {1, 1, 1}), dil = attr("dilations", {1, 1, 1}),
                                    pads = attr("pads", {0, 0, 0, 0, 0, 0});
    for (int i = 0; i < 3; ++i)
      if (strides[std::size_t(i)] < 1 || dil[std::size_t(i)] < 1 || pads[std::size_t(i)] < 0 || pads[std::size_t(i) + 3] < 0)
        fail(n, "strides and dilations must be at least 1 and pads at least 0");
    const std::int64_t depth = xs[2], kd = ws[2];
    const std::int64_t span = dil[0] * (kd - 1) + 1, padded = depth + pads[0] + pads[3];
    if (padded < span) fail(n, "the kernel's depth " + std::to_string(kd) + " (dilated to " + std::to_string(span) + ") exceeds the padded input's " + std::to_string(padded));
    const std::int64_t outDepth = (padded - span) / strides[0] + 1;
    const std::map<std::string, Attribute> at = {{"group", intAttr(n, "group", 1)},
                                                 {"strides", std::vector<std::int64_t>{strides[1], strides[2]}},
                                                 {"dilations", std::vector<std::int64_t>{dil[1], dil[2]}},
                                                 {"pads", std::vector<std::int64_t>{pads[1], pads[2], pads[4], pads[5]}}};
    std::vector<int> weightPlanes, inputPlanes(std::size_t(depth), -1), outPlanes;
    for (std::int64_t k = 0; k < kd; ++k) weightPlanes.push_back(depthPlane(n, w, k));
    const int bias = hasInput(n, 2) ? reshaped(n, value(n, 2), {1, ws[0], 1, 1}) : -1;
    for (std::int64_t d = 0; d < outDepth; ++d) {
      int sum = -1;
      for (std::int64_t k = 0; k < kd; ++k) {
        const std::int64_t from = d * strides[0] + k * dil[0] - pads[0];
        if (from < 0 || from >= depth) continue;  // a zero plane of the padding
        if (inputPlanes[std::size_t(from)] < 0) inputPlanes[std::size_t(from)] = depthPlane(n, x, from);
        const int term = op(n, Op::conv2d, {inputPlanes[std::size_t(from)], weightPlanes[std::size_t(k)]}, at);
        sum = sum < 0 ? term : op(n, Op::add, {sum, term});
      }
      if (sum < 0) fail(n, "output depth " + std::to_string(d) + " sees only padding (pads larger than the kernel's depth are not supported)");
      outPlanes.push_back(bias >= 0 ? op(n, Op::add, {sum, bias}) : sum);
    }
    return joinedAlongDepth(n, outPlanes);
  }
  /// A 3D max or average pool (nn.MaxPool3d, nn.AvgPool3d: x [N, C, D, H, W]) by its definition
  /// along the depth: each input plane pooled in 2D once, then output plane d the largest (max:
  /// the earlier plane on a tie, PyTorch's first maximum) or the mean of the pooled planes its
  /// window covers. An average's divisor: kernel depth x the 2D one with count_include_pad, else
  /// the planes inside the input x the 2D one's. ceil_mode is not supported in 3D.
  int pool3dAsPlanes(const onnx::NodeProto& n, int x) {
    const bool isMax = n.op_type() == "MaxPool";
    checkSpatialAttrs(n, 3);
    if (intAttr(n, "ceil_mode", 0)) fail(n, "ceil_mode on a 3D pool is not supported");
    const Shape xs = shapeOf(x);
    const std::vector<std::int64_t> kernel = intsAttr(n, "kernel_shape");
    if (kernel.size() != 3) fail(n, "kernel_shape must have 3 entries for a 3D pool");
    std::vector<std::int64_t> strides = intsAttr(n, "strides"), pads = intsAttr(n, "pads");
    if (strides.empty()) strides = {1, 1, 1};
    if (pads.empty()) pads = {0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 3; ++i)
      if (kernel[std::size_t(i)] < 1 || strides[std::size_t(i)] < 1 || pads[std::size_t(i)] < 0 || pads[std::size_t(i) + 3] < 0 ||
          pads[std::size_t(i)] >= kernel[std::size_t(i)] || pads[std::size_t(i) + 3] >= kernel[std::size_t(i)])
        fail(n, "kernel and strides must be at least 1, and pads at least 0 and smaller than the kernel");
    const std::int64_t depth = xs[2], kd = kernel[0];
    if (depth + pads[0] + pads[3] < kd) fail(n, "the kernel's depth " + std::to_string(kd) + " exceeds the padded input's " + std::to_string(depth + pads[0] + pads[3]));
    const std::int64_t outDepth = (depth + pads[0] + pads[3] - kd) / strides[0] + 1;
    const bool includePad = !isMax && intAttr(n, "count_include_pad", 0) != 0;
    std::map<std::string, Attribute> at = {{"kernel", std::vector<std::int64_t>{kernel[1], kernel[2]}},
                                           {"strides", std::vector<std::int64_t>{strides[1], strides[2]}},
                                           {"pads", std::vector<std::int64_t>{pads[1], pads[2], pads[4], pads[5]}}};
    if (!isMax) at["count_include_pad"] = std::int64_t(includePad);
    std::vector<int> pooled(std::size_t(depth), -1), outPlanes;
    for (std::int64_t d = 0; d < outDepth; ++d) {
      int acc = -1;
      std::int64_t inside = 0;
      for (std::int64_t k = 0; k < kd; ++k) {
        const std::int64_t from = d * strides[0] + k - pads[0];
        if (from < 0 || from >= depth) continue;
        if (pooled[std::size_t(from)] < 0)
          pooled[std::size_t(from)] = op(n, isMax ? Op::max_pool2d : Op::avg_pool2d, {depthPlane(n, x, from)}, at);
        const int term = pooled[std::size_t(from)];
        acc = acc < 0 ? term : op(n, isMax ? Op::max : Op::add, {acc, term});
        ++inside;
      }
      outPlanes.push_back(isMax ? acc : op(n, Op::mul, {acc, g_.scalar(1.0 / double(includePad ? kd : inside))}));
    }
    return joinedAlongDepth(n, outPlanes);
  }
  /// Plane `at` of axis 2 of a 5D tensor [N, C, D, H, W], as a 4D one [N, C, H, W].
  int depthPlane(const onnx::NodeProto& n, int t, std::int64_t at) {
    const Shape s = shapeOf(t);
    std::vector<std::int64_t> st(s.size(), 0), en(s.begin(), s.end());
    st[2] = at, en[2] = at + 1;
    return reshaped(n, op(n, Op::slice, {t}, {{"starts", st}, {"ends", en}}), {s[0], s[1], s[3], s[4]});
  }
  /// 4D planes [N, C, H, W] stacked along a new depth axis 2: [N, C, planes, H, W].
  int joinedAlongDepth(const onnx::NodeProto& n, const std::vector<int>& planes) {
    std::vector<int> deep;
    for (int p : planes) {
      const Shape s = shapeOf(p);
      deep.push_back(reshaped(n, p, {s[0], s[1], 1, s[2], s[3]}));
    }
    return deep.size() == 1 ? deep.front() : op(n, Op::concat, deep, {{"axis", std::int64_t(2)}});
  }
  void checkSpatialAttrs(const onnx::NodeProto& n, std::size_t axes) const {
    for (const char* key : {"kernel_shape", "strides", "dilations", "output_padding", "pads"}) {
      const std::size_t want = std::string(key) == "pads" ? 2 * axes : axes;
      const std::size_t have = intsAttr(n, key).size();
      if (hasAttr(n, key) && have != want)
        fail(n, std::string(key) + " has " + std::to_string(have) + " entries; " + std::to_string(axes) + " spatial axes need " + std::to_string(want));
    }
  }
  std::vector<std::int64_t> intsAttr(const onnx::NodeProto& n, const std::string& key) const {
    for (const auto& a : n.attribute())
      if (a.name() == key) return {a.ints().begin(), a.ints().end()};
    return {};
  }
  void bind(const onnx::NodeProto& n, int k, int v) {
    if (k < n.output_size() && !n.output(k).empty()) names_[n.output(k)] = v;
  }
  int constant(const Shape& s, std::vector<double> data) { return g_.constant(g_.freshName("const"), s, std::move(data)); }
  /// Integer-typed values (ONNX int64, int32, bool ...: shapes, indices, masks): their arithmetic
  /// follows the integer rules (Div truncates toward zero), and Cast to an integer type truncates.
  std::set<int> integer_;
  bool isInteger(int v) const { return integer_.count(v) > 0; }
  static bool integerType(std::int32_t t) {
    return t != onnx::TensorProto::FLOAT && t != onnx::TensorProto::DOUBLE && t != onnx::TensorProto::FLOAT16 &&
           t != onnx::TensorProto::BFLOAT16 && t != onnx::TensorProto::UNDEFINED;
  }
  int integerConstant(const Shape& s, std::vector<double> data) {
    const int v = constant(s, std::move(data));
    integer_.insert(v);
    return v;
  }
  int op(const onnx::NodeProto& n, Op o, const std::vector<int>& ins, std::map<std::string, Attribute> attrs = {}) {
    try {
      const int v = g_.op(o, ins, std::move(attrs), g_.freshName(n.name().empty() ? std::string(opName(o)) : n.name()));
      bool allConst = true;
      for (int i : ins) allConst = allConst && isConst(i);
      // Fold now: shape arithmetic must be known at compile time (and is small: a result too big
      // to fold stays an op).
      if (allConst && elementCount(g_.values[std::size_t(v)].shape) <= kMaxFoldedElements) {
        Value& out = g_.values[std::size_t(v)];
        Graph one;
        std::vector<int> oneIns;
        for (int i : ins) oneIns.push_back(one.constant(one.freshName("in"), shapeOf(i), g_.values[std::size_t(i)].data));
        const int r = one.op(o, oneIns, g_.nodes.back().attrs, "r");
        out.data = std::move(evaluate(one, {})[std::size_t(r)].data);
        out.kind = ValueKind::Constant;
        out.producer = -1;
        g_.nodes.pop_back();
      }
      // An op of integer operands gives integers; integer division truncates toward zero.
      bool allInteger = !ins.empty();
      for (int i : ins) allInteger = allInteger && isInteger(i);
      if (allInteger) {
        integer_.insert(v);
        if (o == Op::div) {
          if (!isConst(v)) fail(n, allConst ? "integer division of more than 2^24 elements (too many to fold)"
                                            : "integer division of values known only at run time");
          for (double& d : g_.values[std::size_t(v)].data) d = std::trunc(d);
        }
      }
      return v;
    } catch (const CompileError& e) {
      fail(n, e.what());
    }
  }
  Shape tensorShape(const onnx::ValueInfoProto& vi) const;
  std::vector<double> tensorData(const onnx::TensorProto& t) const;
  void node(const onnx::NodeProto& n);
  std::int64_t axisOf(const onnx::NodeProto& n, std::int64_t axis, std::size_t rank) const {
    const std::int64_t r = std::int64_t(rank);
    if (axis < -r || axis >= r) fail(n, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
    return axis < 0 ? axis + r : axis;
  }

  /// x cut along `axis` into consecutive slices of `sizes` (Split, SplitToSequence), refused by
  /// name when a size is negative or they do not add up to the axis.
  std::vector<int> piecesAlong(const onnx::NodeProto& n, int x, std::size_t axis, const std::vector<std::int64_t>& sizes) {
    const Shape xs = shapeOf(x);
    std::int64_t total = 0;
    for (std::int64_t v : sizes) {
      if (v < 0) fail(n, "a negative split size");
      total += v;
    }
    if (total != xs[axis]) fail(n, "split sizes add up to " + std::to_string(total) + ", not the axis's " + std::to_string(xs[axis]));
    std::vector<int> pieces;
    std::int64_t offset = 0;
    for (std::int64_t size : sizes) {
      std::vector<std::int64_t> st(xs.size(), 0), en(xs.begin(), xs.end());
      st[axis] = offset, en[axis] = offset + size;
      offset += size;
      pieces.push_back(op(n, Op::slice, {x}, {{"starts", st}, {"ends", en}}));
    }
    return pieces;
  }
  /// A Reduce* node's axes: its attribute's, or (opset 13+ for ReduceSum, 18 for the others) its
  /// second input's; none: every axis of x.
  std::vector<std::int64_t> reduceAxes(const onnx::NodeProto& n, int x) const {
    std::vector<std::int64_t> axes = intsAttr(n, "axes");
    if (hasInput(n, 1))
      for (double a : constData(n, 1)) axes.push_back(std::int64_t(a));
    if (axes.empty())
      for (std::size_t i = 0; i < shapeOf(x).size(); ++i) axes.push_back(std::int64_t(i));
    return axes;
  }
  /// Sequence ops (SplitToSequence, SequenceEmpty, SequenceAt, SequenceInsert, SequenceLength,
  /// ConcatFromSequence): a sequence is a list of values known when compiling.
  void sequence(const onnx::NodeProto& n);
  /// Loop with a trip count known when compiling and a condition that stays a constant true: the
  /// body unrolled (PyTorch 1.13 exports repeat_interleave so).
  void loop(const onnx::NodeProto& n);
  static constexpr std::int64_t kMaxLoopTrips = 4096;  ///< the most iterations a Loop is unrolled to
  const std::vector<int>& sequenceInput(const onnx::NodeProto& n, int k) const {
    if (k >= n.input_size() || n.input(k).empty()) fail(n, "input " + std::to_string(k) + " is missing");
    const auto it = sequences_.find(n.input(k));
    if (it == sequences_.end()) fail(n, "input '" + n.input(k) + "' is not a sequence defined before this node");
    return it->second;
  }

  std::string origin_;
  std::int64_t opset_ = 0;  ///< the model's default-domain opset
  ImportOptions opts_;
  Graph g_;
  std::map<std::string, int> names_;
  std::map<std::string, std::vector<int>> sequences_;  ///< sequence-valued names: their elements
};

}  // namespace tatami::compiler::onnx_importer
