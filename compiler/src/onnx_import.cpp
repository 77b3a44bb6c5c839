// ONNX -> IR: the model's initializers, inputs and outputs, and each node's op mapped to IR ops
// (the layers that become many ops are in onnx_layers.cpp); anything else stops with the op, the
// node and the file. Ops whose inputs are all compile-time constants are evaluated here.
#include <algorithm>
#include <cmath>
#include <fstream>

#include "onnx_importer.h"

namespace tatami::compiler {

namespace onnx_importer {

Shape Importer::tensorShape(const onnx::ValueInfoProto& vi) const {
  Shape s;
  for (const auto& d : vi.type().tensor_type().shape().dim()) {
    if (d.has_dim_value() && d.dim_value() > 0) {
      s.push_back(d.dim_value());
    } else {
      if (opts_.batch <= 0)
        throw CompileError(origin_ + ": input '" + vi.name() + "' has a symbolic dimension '" + d.dim_param() +
                           "': give its size, the batch, with --batch N");
      s.push_back(opts_.batch);
    }
  }
  return s;
}

std::vector<double> Importer::tensorData(const onnx::TensorProto& t) const {
  // Its element count, checked (below 2^48, no negative dimension) before anything is allocated;
  // the values themselves must then be in the file.
  std::int64_t count = 1;
  try {
    count = elementCount(Shape(t.dims().begin(), t.dims().end()));
  } catch (const CompileError& e) {
    throw CompileError(origin_ + ": tensor '" + t.name() + "': " + e.what());
  }
  std::vector<double> out;
  out.reserve(std::size_t(std::min<std::int64_t>(count, std::int64_t(1) << 20)));
  const std::string& raw = t.raw_data();
  const auto fromRaw = [&](auto sample) {
    using T = decltype(sample);
    if (raw.size() != std::size_t(count) * sizeof(T))
      throw CompileError(origin_ + ": tensor '" + t.name() + "' has " + std::to_string(raw.size()) + " bytes of raw data, expected " +
                         std::to_string(std::size_t(count) * sizeof(T)));
    for (std::int64_t i = 0; i < count; ++i) {
      T v;
      std::memcpy(&v, raw.data() + std::size_t(i) * sizeof(T), sizeof(T));
      out.push_back(double(v));
    }
  };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      if (!raw.empty()) fromRaw(float{});
      else for (float v : t.float_data()) out.push_back(v);
      break;
    case onnx::TensorProto::DOUBLE:
      if (!raw.empty()) fromRaw(double{});
      else for (double v : t.double_data()) out.push_back(v);
      break;
    case onnx::TensorProto::INT64:
      if (!raw.empty()) fromRaw(std::int64_t{});
      else for (auto v : t.int64_data()) out.push_back(double(v));
      break;
    case onnx::TensorProto::INT32:
      if (!raw.empty()) fromRaw(std::int32_t{});
      else for (auto v : t.int32_data()) out.push_back(double(v));
      break;
    case onnx::TensorProto::BOOL:
    case onnx::TensorProto::UINT8:
      if (!raw.empty()) fromRaw(std::uint8_t{});
      else for (auto v : t.int32_data()) out.push_back(double(v));
      break;
    default:
      throw CompileError(origin_ + ": tensor '" + t.name() + "' has an unsupported element type (" +
                         std::to_string(t.data_type()) + ")");
  }
  if (std::int64_t(out.size()) != count)
    throw CompileError(origin_ + ": tensor '" + t.name() + "' holds " + std::to_string(out.size()) + " values for " +
                       std::to_string(count) + " elements");
  return out;
}

// Long by design: one case per ONNX operator the importer accepts, side by side so that what each becomes in the IR reads as one table; each case is a few lines
// and the helpers it calls hold the work.
void Importer::node(const onnx::NodeProto& n) {
  const std::string& t = n.op_type();
  static const std::map<std::string, Op> unary = {{"Relu", Op::relu}, {"Tanh", Op::tanh}, {"Sigmoid", Op::sigmoid},
                                                           {"Exp", Op::exp},   {"Log", Op::log},   {"Sqrt", Op::sqrt},
                                                           {"Erf", Op::erf},   {"Neg", Op::neg},   {"Reciprocal", Op::reciprocal},
                                                           {"Identity", Op::identity}};
  static const std::map<std::string, Op> binary = {{"Add", Op::add}, {"Sub", Op::sub}, {"Mul", Op::mul},
                                                            {"Div", Op::div}, {"Pow", Op::pow}, {"Max", Op::max}, {"Min", Op::min}};
  if (!n.domain().empty() && n.domain() != "ai.onnx") fail(n, "operators of domain '" + n.domain() + "' are not supported");
  if (activation(n) || constantOnly(n)) {
    return;
  } else if (unary.count(t)) {
    bind(n, 0, op(n, unary.at(t), {value(n, 0)}));
  } else if (binary.count(t)) {
    bind(n, 0, op(n, binary.at(t), {value(n, 0), value(n, 1)}));
  } else if (t == "Cast") {
    // To an integer type: truncation toward zero (known values) and integer arithmetic after; to
    // a floating-point type: the values as they are (the IR computes in FP32).
    const int x = value(n, 0);
    const std::int32_t to = std::int32_t(intAttr(n, "to", onnx::TensorProto::FLOAT));
    const bool toInteger = integerType(to);
    if (to == onnx::TensorProto::BOOL && !isConst(x)) {
      // Non-zero is true: a 0/1 mask of |x| > 0 (a padding mask made at run time, as
      // nn.MultiheadAttention's key_padding_mask is).
      const int magnitude = op(n, Op::max, {x, op(n, Op::neg, {x})});
      const Shape s = shapeOf(x);
      bind(n, 0, op(n, Op::relu_grad, {constant(s, std::vector<double>(std::size_t(elementCount(s)), 1.0)), magnitude}));
      return;
    }
    if (toInteger && !isConst(x) && !isInteger(x)) fail(n, "a cast to an integer type of values known only at run time");
    if (toInteger && isConst(x)) {
      std::vector<double> d = g_.values[std::size_t(x)].data;
      for (double& e : d) e = std::trunc(e);
      bind(n, 0, integerConstant(shapeOf(x), std::move(d)));
    } else {
      const int y = op(n, Op::identity, {x});
      if (!toInteger) integer_.erase(y);
      bind(n, 0, y);
    }
  } else if (t == "Clip") {
    // min and max: inputs 1 and 2 from opset 11 (either may be absent or empty), known at
    // compile time; absent bounds do not clip.
    int y = value(n, 0);
    if (hasInput(n, 1)) y = op(n, Op::max, {y, constantInput(n, 1)});
    if (hasInput(n, 2)) y = op(n, Op::min, {y, constantInput(n, 2)});
    bind(n, 0, y == value(n, 0) ? op(n, Op::identity, {y}) : y);
  } else if (t == "HardSigmoid" || t == "HardSwish") {
    // HardSigmoid: max(0, min(1, alpha x + beta)) (alpha 0.2, beta 0.5); HardSwish: x times the
    // HardSigmoid with alpha 1/6, beta 1/2.
    const int x = value(n, 0);
    const bool swish = t == "HardSwish";
    const double alpha = swish ? 1.0 / 6.0 : floatAttr(n, "alpha", 0.2), beta = swish ? 0.5 : floatAttr(n, "beta", 0.5);
    const int lin = op(n, Op::add, {op(n, Op::mul, {x, g_.scalar(alpha)}), g_.scalar(beta)});
    const int hs = op(n, Op::min, {op(n, Op::max, {lin, g_.scalar(0.0)}), g_.scalar(1.0)});
    bind(n, 0, swish ? op(n, Op::mul, {x, hs}) : hs);
  } else if (t == "Dropout") {
    // Inference form (training_mode absent or false): the identity. Training mode: a seeded mask,
    // fixed at compile time: element i is kept (and scaled by 1 / (1 - ratio)) when the Philox
    // draw roundingBits(seed, tensor = FNV-1a of the node's output name, i) / 2^32 >= ratio; the
    // `seed` attribute (default 0) chooses the masks. Oracle and emulator use the same mask.
    const bool training = hasInput(n, 2) && !constData(n, 2).empty() && constData(n, 2)[0] != 0;
    const double ratio = hasInput(n, 1) && !constData(n, 1).empty() ? constData(n, 1)[0] : 0.5;
    const int x = value(n, 0);
    if (!training || ratio == 0) {
      bind(n, 0, op(n, Op::identity, {x}));
      bind(n, 1, constant(shapeOf(x), std::vector<double>(std::size_t(elementCount(shapeOf(x))), 1.0)));
    } else {
      if (ratio < 0 || ratio >= 1) fail(n, "dropout ratio " + std::to_string(ratio) + " is outside [0, 1)");
      std::uint64_t tensor = 1469598103934665603ull;
      for (char ch : n.output(0)) tensor = (tensor ^ std::uint8_t(ch)) * 1099511628211ull;
      const std::uint64_t seed = std::uint64_t(intAttr(n, "seed", 0));
      const Shape xs = shapeOf(x);
      std::vector<double> keep(std::size_t(elementCount(xs))), scale(keep.size());
      // On a data-parallel core the element numbers are the whole batch's (its rows from the
      // core's first example), so that every core draws the mask the one-core step draws.
      std::uint64_t first = 0;
      if (opts_.firstExample > 0) {
        if (xs.empty() || xs[0] != opts_.batch)
          fail(n, "a training-mode dropout whose first axis is not the batch cannot be split over a data-parallel slice");
        first = std::uint64_t(opts_.firstExample) * (keep.size() / std::uint64_t(xs[0]));
      }
      for (std::size_t i = 0; i < keep.size(); ++i) {
        keep[i] = double(roundingBits(seed, tensor, first + i)) / 4294967296.0 >= ratio ? 1.0 : 0.0;
        scale[i] = keep[i] / (1.0 - ratio);
      }
      bind(n, 0, op(n, Op::mul, {x, g_.constant(g_.freshName("dropout_mask"), xs, scale)}));
      bind(n, 1, constant(shapeOf(x), keep));
    }
  } else if (t == "Tile") {
    // Each axis repeated: a new axis of the repeats before it, broadcast, merged.
    const int x = value(n, 0);
    const Shape xs = shapeOf(x);
    const std::vector<double>& reps = constData(n, 1);
    if (reps.size() != xs.size()) fail(n, std::to_string(reps.size()) + " repeats for an input of rank " + std::to_string(xs.size()));
    Shape split, wide, out;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const std::int64_t r = dimension(n, reps[i], "a repeat count");
      if (r > 0 && xs[i] > kMaxElements / r) fail(n, "repeating axis " + std::to_string(i) + " " + std::to_string(r) + " times makes more than 2^48 elements");
      split.push_back(1), split.push_back(xs[i]);
      wide.push_back(r), wide.push_back(xs[i]);
      out.push_back(r * xs[i]);
    }
    bind(n, 0, reshaped(n, op(n, Op::broadcast_to, {reshaped(n, x, split)}, {{"shape", wide}}), out));
  } else if (t == "DepthToSpace" || t == "SpaceToDepth") {
    // nn.PixelShuffle / PixelUnshuffle: a reshape, a transpose and a reshape (DepthToSpace in
    // mode DCR or CRD, ONNX's definitions).
    const int x = value(n, 0);
    const Shape xs = shapeOf(x);
    const std::int64_t bs = intAttr(n, "blocksize", 0);
    if (xs.size() != 4 || bs < 1) fail(n, "needs a 4D input and a blocksize of at least 1");
    const std::int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
    std::string mode = "DCR";
    for (const auto& a : n.attribute())
      if (a.name() == "mode") mode = a.s();
    using P = std::vector<std::int64_t>;
    if (t == "DepthToSpace") {
      if (C % (bs * bs) != 0) fail(n, "channels " + std::to_string(C) + " are not a multiple of blocksize^2");
      const std::int64_t c = C / (bs * bs);
      const bool crd = mode == "CRD";
      if (!crd && mode != "DCR") fail(n, "unknown mode '" + mode + "'");
      const int r = reshaped(n, x, crd ? Shape{N, c, bs, bs, H, W} : Shape{N, bs, bs, c, H, W});
      const int p = op(n, Op::transpose, {r}, {{"perm", crd ? P{0, 1, 4, 2, 5, 3} : P{0, 3, 4, 1, 5, 2}}});
      bind(n, 0, reshaped(n, p, {N, c, H * bs, W * bs}));
    } else {
      if (H % bs != 0 || W % bs != 0) fail(n, "height and width must be multiples of the blocksize");
      const int r = reshaped(n, x, {N, C, H / bs, bs, W / bs, bs});
      const int p = op(n, Op::transpose, {r}, {{"perm", P{0, 3, 5, 1, 2, 4}}});
      bind(n, 0, reshaped(n, p, {N, C * bs * bs, H / bs, W / bs}));
    }
  } else if (t == "CumSum") {
    // Along the axis as a matmul by a triangle of ones (exclusive: without the element itself;
    // reverse: from the end).
    const int x = value(n, 0);
    const Shape xs = shapeOf(x);
    const std::int64_t axis = axisOf(n, whole(n, scalarInput(n, 1), "an axis"), xs.size());
    const bool exclusive = intAttr(n, "exclusive", 0) != 0, reverse = intAttr(n, "reverse", 0) != 0;
    const std::int64_t len = xs[std::size_t(axis)];
    checkMap(n, len, len, "the cumulative sum");
    std::vector<std::vector<double>> m(std::size_t(len), std::vector<double>(std::size_t(len), 0.0));
    for (std::int64_t o = 0; o < len; ++o)
      for (std::int64_t i = 0; i < len; ++i)
        m[std::size_t(o)][std::size_t(i)] = (reverse ? (exclusive ? i > o : i >= o) : (exclusive ? i < o : i <= o)) ? 1.0 : 0.0;
    bind(n, 0, alongAxis(n, x, std::size_t(axis), m));
  } else if (t == "Sin" || t == "Cos" || t == "ReduceProd") {
    // On values known at compile time (positional encodings, element counts of shapes).
    const int x = value(n, 0);
    if (!isConst(x)) fail(n, "only values known at compile time are supported");
    std::vector<double> d = g_.values[std::size_t(x)].data;
    if (t != "ReduceProd") {
      for (double& e : d) e = t == "Sin" ? std::sin(e) : std::cos(e);
      return bind(n, 0, constant(shapeOf(x), std::move(d)));
    }
    std::vector<std::int64_t> axes = intsAttr(n, "axes");
    if (axes.empty())
      for (std::size_t i = 0; i < shapeOf(x).size(); ++i) axes.push_back(std::int64_t(i));
    // The product as exp of a sum would round: reduce by hand over the axes.
    const Shape xs = shapeOf(x);
    Shape outShape;
    std::vector<bool> reduced(xs.size(), false);
    for (auto a : axes) reduced[std::size_t(axisOf(n, a, xs.size()))] = true;
    const bool keep = intAttr(n, "keepdims", 1) != 0;
    for (std::size_t i = 0; i < xs.size(); ++i)
      if (!reduced[i] || keep) outShape.push_back(reduced[i] ? 1 : xs[i]);
    std::vector<double> out(std::size_t(elementCount(outShape)), 1.0);
    for (std::int64_t flat = 0; flat < elementCount(xs); ++flat) {
      std::int64_t rest = flat, to = 0, stride = 1;
      for (std::size_t i = xs.size(); i-- > 0;) {
        const std::int64_t idx = rest % xs[i];
        rest /= xs[i];
        if (!reduced[i]) to += idx * stride, stride *= xs[i];
      }
      out[std::size_t(to)] *= d[std::size_t(flat)];
    }
    const int r = constant(outShape, std::move(out));
    if (isInteger(x)) integer_.insert(r);
    bind(n, 0, r);
  } else if (t == "LSTM" || t == "GRU" || t == "RNN") {
    recurrent(n);
  } else if (t == "Einsum") {
    bind(n, 0, einsum(n));
  } else if (t == "MatMul") {
    // numpy's rule for a vector operand: a 1D A is a row [1, k], a 1D B a column [k, 1], and that
    // axis is dropped from the product (`h @ w` with w a vector).
    int a = value(n, 0), b = value(n, 1);
    const bool rowA = shapeOf(a).size() == 1, columnB = shapeOf(b).size() == 1;
    if (rowA) a = reshaped(n, a, {1, shapeOf(a)[0]});
    if (columnB) b = reshaped(n, b, {shapeOf(b)[0], 1});
    int y = op(n, Op::matmul, {a, b});
    Shape ys = shapeOf(y);
    if (columnB) ys.pop_back();
    if (rowA) ys.erase(ys.end() - (columnB ? 1 : 2));
    bind(n, 0, reshaped(n, y, ys));
  } else if (t == "Gemm") {
    int a = value(n, 0), b = value(n, 1);
    if (intAttr(n, "transA", 0)) a = op(n, Op::transpose, {a}, {{"perm", std::vector<std::int64_t>{1, 0}}});
    if (intAttr(n, "transB", 0)) b = op(n, Op::transpose, {b}, {{"perm", std::vector<std::int64_t>{1, 0}}});
    int y = op(n, Op::matmul, {a, b});
    const double alpha = floatAttr(n, "alpha", 1.0), beta = floatAttr(n, "beta", 1.0);
    if (alpha != 1.0) y = op(n, Op::mul, {y, g_.scalar(alpha)});
    if (hasInput(n, 2)) {
      int c = value(n, 2);
      if (beta != 1.0) c = op(n, Op::mul, {c, g_.scalar(beta)});
      y = op(n, Op::add, {y, c});
    }
    bind(n, 0, y);
  } else if (t == "Softmax" || t == "LogSoftmax") {
    // Along the last axis; another axis (opset 13+ semantics: that one axis) is moved last and back.
    // Before opset 13 (axis 1 by default) the input is taken as a matrix, the axes before `axis`
    // its rows and the rest its columns: normalized over all the axes from `axis` on.
    const int x = value(n, 0);
    const Shape xs = shapeOf(x);
    const std::size_t rank = xs.size();
    const std::int64_t axis = axisOf(n, intAttr(n, "axis", opset_ >= 13 ? -1 : 1), rank);
    const Op o = t == "Softmax" ? Op::softmax : Op::log_softmax;
    if (opset_ < 13 && rank > 0 && axis < std::int64_t(rank) - 1) {
      std::int64_t rows = 1, cols = 1;
      for (std::size_t i = 0; i < rank; ++i) (std::int64_t(i) < axis ? rows : cols) *= xs[i];
      const int matrix = op(n, Op::reshape, {x}, {{"shape", Shape{rows, cols}}});
      bind(n, 0, op(n, Op::reshape, {op(n, o, {matrix}, {{"axis", std::int64_t(-1)}})}, {{"shape", xs}}));
    } else if (rank == 0 || axis == std::int64_t(rank) - 1) {
      bind(n, 0, op(n, o, {x}, {{"axis", std::int64_t(-1)}}));
    } else {
      std::vector<std::int64_t> perm;
      for (std::size_t i = 0; i < rank; ++i) perm.push_back(std::int64_t(i));
      std::swap(perm[std::size_t(axis)], perm.back());  // its own inverse
      const int moved = op(n, Op::transpose, {x}, {{"perm", perm}});
      bind(n, 0, op(n, Op::transpose, {op(n, o, {moved}, {{"axis", std::int64_t(-1)}})}, {{"perm", perm}}));
    }
  } else if (t == "Transpose") {
    const int x = value(n, 0);
    std::vector<std::int64_t> perm = intsAttr(n, "perm");
    if (perm.empty())
      for (std::size_t i = shapeOf(x).size(); i-- > 0;) perm.push_back(std::int64_t(i));
    bind(n, 0, op(n, Op::transpose, {x}, {{"perm", perm}}));
  } else if (t == "Flatten") {
    const int x = value(n, 0);
    const Shape s = shapeOf(x);
    const std::int64_t axis = axisOf(n, intAttr(n, "axis", 1), s.size() + 1);
    std::int64_t outer = 1, inner = 1;
    for (std::size_t i = 0; i < s.size(); ++i) (std::int64_t(i) < axis ? outer : inner) *= s[i];
    bind(n, 0, op(n, Op::reshape, {x}, {{"shape", std::vector<std::int64_t>{outer, inner}}}));
  } else if (t == "Reshape" || t == "Expand") {
    const int x = value(n, 0);
    const std::vector<double>& spec = constData(n, 1);
    Shape target;
    if (t == "Reshape") {
      std::int64_t known = 1, infer = -1;
      for (std::size_t i = 0; i < spec.size(); ++i) {
        std::int64_t d = whole(n, spec[i], "a target dimension");
        if (d == 0 && !intAttr(n, "allowzero", 0)) {
          if (i >= shapeOf(x).size()) fail(n, "dimension 0 copies a dimension the input does not have");
          d = shapeOf(x)[i];
        }
        if (d == -1) infer = std::int64_t(i), d = 1;
        if (d < 0 || d > kMaxElements || (d > 0 && known > kMaxElements / d))
          fail(n, "the target shape's dimension " + std::to_string(i) + " (" + std::to_string(spec[i]) + ") is negative or makes more than 2^48 elements");
        target.push_back(d);
        known *= d;
      }
      if (infer >= 0) target[std::size_t(infer)] = elementCount(shapeOf(x)) / std::max<std::int64_t>(known, 1);
      bind(n, 0, op(n, Op::reshape, {x}, {{"shape", target}}));
    } else {
      for (double d : spec) target.push_back(dimension(n, d, "a target dimension"));
      // Expand broadcasts both ways: the result has the broadcast of the two shapes.
      const Shape s = shapeOf(x);
      const std::size_t r = std::max(s.size(), target.size());
      Shape out(r);
      for (std::size_t i = 0; i < r; ++i) {
        const std::int64_t a = i < r - s.size() ? 1 : s[i - (r - s.size())];
        const std::int64_t b = i < r - target.size() ? 1 : target[i - (r - target.size())];
        out[i] = a == 1 ? b : a;  // a 1 stretches to the other size, 0 included
      }
      bind(n, 0, op(n, Op::broadcast_to, {x}, {{"shape", out}}));
    }
  } else if (t == "Unsqueeze" || t == "Squeeze") {
    const int x = value(n, 0);
    std::vector<std::int64_t> axes = hasInput(n, 1) ? std::vector<std::int64_t>() : intsAttr(n, "axes");
    if (hasInput(n, 1))
      for (double a : constData(n, 1)) axes.push_back(std::int64_t(a));
    Shape s = shapeOf(x);
    if (t == "Unsqueeze") {
      const std::size_t rank = s.size() + axes.size();
      std::vector<bool> add(rank, false);
      for (auto a : axes) add[std::size_t(axisOf(n, a, rank))] = true;
      Shape out;
      std::size_t k = 0;
      for (std::size_t i = 0; i < rank; ++i) out.push_back(add[i] ? 1 : s[k++]);
      s = out;
    } else {
      std::vector<bool> drop(s.size(), axes.empty());
      for (auto a : axes) drop[std::size_t(axisOf(n, a, s.size()))] = true;
      Shape out;
      for (std::size_t i = 0; i < s.size(); ++i)
        if (!(drop[i] && s[i] == 1)) out.push_back(s[i]);
      s = out;
    }
    bind(n, 0, op(n, Op::reshape, {x}, {{"shape", s}}));
  } else if (t == "SplitToSequence" || t == "SequenceEmpty" || t == "SequenceAt" || t == "SequenceInsert" || t == "SequenceLength" ||
             t == "ConcatFromSequence") {
    sequence(n);
  } else if (t == "Loop") {
    loop(n);
  } else if (t == "If") {
    // A condition fixed when compiling (PyTorch's exports test shapes, e.g. nn.LocalResponseNorm):
    // the branch it takes, inlined. Its nodes may use any value defined before the If.
    const std::vector<double>& cond = constData(n, 0);
    if (cond.size() != 1) fail(n, "the condition holds " + std::to_string(cond.size()) + " values, not one");
    const std::string which = cond[0] != 0 ? "then_branch" : "else_branch";
    const onnx::GraphProto* branch = nullptr;
    for (const auto& a : n.attribute())
      if (a.name() == which && a.has_g()) branch = &a.g();
    if (!branch) fail(n, "the condition takes the " + which + ", which the node does not have");
    if (branch->output_size() != n.output_size())
      fail(n, "its " + which + " has " + std::to_string(branch->output_size()) + " outputs, the node " + std::to_string(n.output_size()));
    for (const auto& init : branch->initializer()) {
      const Shape s(init.dims().begin(), init.dims().end());
      names_[init.name()] = integerType(init.data_type()) ? integerConstant(s, tensorData(init)) : constant(s, tensorData(init));
    }
    for (const auto& inner : branch->node()) node(inner);
    for (int k = 0; k < n.output_size(); ++k) {
      const auto it = names_.find(branch->output(k).name());
      if (it == names_.end()) fail(n, "its " + which + " never computes its output '" + branch->output(k).name() + "'");
      bind(n, k, it->second);
    }
  } else if (t == "ReduceLogSumExp") {
    // log(sum(exp(x))), computed as m + log(sum(exp(x - m))) with m the maximum (no overflow).
    const int x = value(n, 0);
    const std::vector<std::int64_t> axes = reduceAxes(n, x);
    const int m = op(n, Op::reduce_max, {x}, {{"axes", axes}, {"keepdims", std::int64_t(1)}});
    const int sum = op(n, Op::reduce_sum, {op(n, Op::exp, {op(n, Op::sub, {x, m})})}, {{"axes", axes}, {"keepdims", intAttr(n, "keepdims", 1)}});
    const int mOut = shapeOf(m) == shapeOf(sum) ? m : op(n, Op::reshape, {m}, {{"shape", shapeOf(sum)}});
    bind(n, 0, op(n, Op::add, {op(n, Op::log, {sum}), mOut}));
  } else if (t == "ReduceMean" || t == "ReduceSum" || t == "ReduceMax" || t == "ReduceMin" || t == "ReduceL2" || t == "ReduceL1" ||
             t == "ReduceSumSquare" || t == "ReduceLogSum") {
    // ReduceL2, ReduceL1, ReduceSumSquare, ReduceLogSum: sqrt(sum x^2), sum |x|, sum x^2,
    // log(sum x) (F.normalize exports ReduceL2); ReduceMin: -max(-x).
    const int x = value(n, 0);
    const std::vector<std::int64_t> axes = reduceAxes(n, x);
    const std::map<std::string, Attribute> at = {{"axes", axes}, {"keepdims", intAttr(n, "keepdims", 1)}};
    if (t == "ReduceMean" || t == "ReduceSum" || t == "ReduceMax") {
      bind(n, 0, op(n, t == "ReduceMean" ? Op::reduce_mean : t == "ReduceSum" ? Op::reduce_sum : Op::reduce_max, {x}, at));
    } else if (t == "ReduceMin") {
      bind(n, 0, op(n, Op::neg, {op(n, Op::reduce_max, {op(n, Op::neg, {x})}, at)}));
    } else if (t == "ReduceLogSum") {
      bind(n, 0, op(n, Op::log, {op(n, Op::reduce_sum, {x}, at)}));
    } else {
      const int term = t == "ReduceL1" ? op(n, Op::max, {x, op(n, Op::neg, {x})}) : op(n, Op::mul, {x, x});
      const int sum = op(n, Op::reduce_sum, {term}, at);
      bind(n, 0, t == "ReduceL2" ? op(n, Op::sqrt, {sum}) : sum);
    }
  } else if (t == "LayerNormalization") {
    const int x = value(n, 0), scale = value(n, 1);
    const Shape s = shapeOf(x);
    const std::int64_t axis = axisOf(n, intAttr(n, "axis", -1), s.size());
    std::vector<std::int64_t> axes;
    for (std::size_t i = std::size_t(axis); i < s.size(); ++i) axes.push_back(std::int64_t(i));
    const int norm = normalized(n, x, axes);
    int y = op(n, Op::mul, {norm, scale});
    if (hasInput(n, 2)) y = op(n, Op::add, {y, value(n, 2)});
    bind(n, 0, y);
  } else if (t == "Where") {
    bind(n, 0, op(n, Op::where, {value(n, 0), value(n, 1), value(n, 2)}));
  } else if (t == "Constant") {
    for (const auto& a : n.attribute()) {
      if (a.name() == "value") {
        Shape s(a.t().dims().begin(), a.t().dims().end());
        bind(n, 0, integerType(a.t().data_type()) ? integerConstant(s, tensorData(a.t())) : constant(s, tensorData(a.t())));
        return;
      }
      if (a.name() == "value_float") return bind(n, 0, constant({}, {double(a.f())}));
      if (a.name() == "value_int") return bind(n, 0, integerConstant({}, {double(a.i())}));
      if (a.name() == "value_ints") {
        std::vector<double> v(a.ints().begin(), a.ints().end());
        return bind(n, 0, integerConstant({std::int64_t(v.size())}, v));
      }
    }
    fail(n, "has no value attribute this importer understands");
  } else if (t == "ConstantOfShape") {
    const std::vector<double>& dims = constData(n, 0);
    Shape s;
    for (double d : dims) s.push_back(dimension(n, d, "a dimension"));
    double fill = 0;
    bool integer = false;  // the default value is a float 0
    for (const auto& a : n.attribute())
      if (a.name() == "value") {
        const std::vector<double> v = tensorData(a.t());
        if (v.empty()) fail(n, "the 'value' attribute is empty; it must hold one value");
        fill = v[0], integer = integerType(a.t().data_type());
      }
    const int one = integer ? integerConstant({}, {fill}) : constant({}, {fill});
    // The fill broadcast to the shape: folded when small, an op (not a constant held element by
    // element) when bigger than kMaxFoldedElements.
    bind(n, 0, op(n, Op::broadcast_to, {one}, {{"shape", s}}));
  } else if (t == "Shape") {
    const Shape s = shapeOf(value(n, 0));
    bind(n, 0, integerConstant({std::int64_t(s.size())}, std::vector<double>(s.begin(), s.end())));
  } else if (t == "Gather") {
    const int data = value(n, 0), idx = value(n, 1);
    const std::int64_t axis = axisOf(n, intAttr(n, "axis", 0), shapeOf(data).size());
    if (g_.values[std::size_t(idx)].kind == ValueKind::Intermediate)
      fail(n, "indices computed at run time are not supported yet (they must be inputs or constants)");
    bind(n, 0, op(n, Op::gather, {data, idx}, {{"axis", axis}}));
  } else if (t == "Concat") {
    std::vector<int> ins;
    for (int k = 0; k < n.input_size(); ++k) ins.push_back(value(n, k));
    bind(n, 0, op(n, Op::concat, ins, {{"axis", intAttr(n, "axis", 0)}}));
  } else if (t == "Slice") {
    const int x = value(n, 0);
    const Shape xs = shapeOf(x);
    const std::vector<double>& starts = constData(n, 1);
    const std::vector<double>& ends = constData(n, 2);
    std::vector<std::int64_t> axes;
    if (hasInput(n, 3))
      for (double a : constData(n, 3)) axes.push_back(axisOf(n, whole(n, a, "an axis"), xs.size()));
    else
      for (std::size_t i = 0; i < starts.size() && i < xs.size(); ++i) axes.push_back(std::int64_t(i));
    if (starts.size() != axes.size() || ends.size() != axes.size() || (hasInput(n, 4) && constData(n, 4).size() != axes.size()))
      fail(n, "starts, ends, axes and steps have different lengths");
    if (hasInput(n, 4) && std::any_of(constData(n, 4).begin(), constData(n, 4).end(), [](double st) { return st != 1; })) {
      // Other steps: on known values (a reversed pad list, as exporters write for nn.ZeroPad2d)
      // computed here; on run-time values (torch.flip, x[:, ::2]) a constant selection per axis.
      if (isConst(x)) return bind(n, 0, slicedConstant(n, x, starts, ends, axes, constData(n, 4)));
      for (std::int64_t axis : axes)
        if (xs[std::size_t(axis)] > kMaxSelection)
          fail(n, "a step other than 1 along an axis of " + std::to_string(xs[std::size_t(axis)]) + " run-time elements (at most " +
                      std::to_string(kMaxSelection) + ")");
      const auto picks = slicePicks(n, xs, starts, ends, axes, constData(n, 4), false);
      int y = x;
      for (std::int64_t axis : axes) {
        const auto& p = picks[std::size_t(axis)];
        const std::int64_t in = xs[std::size_t(axis)];
        if (p.empty()) fail(n, "the slice of axis " + std::to_string(axis) + " is empty");
        std::vector<std::vector<double>> m(p.size(), std::vector<double>(std::size_t(in), 0.0));
        for (std::size_t o = 0; o < p.size(); ++o) m[o][std::size_t(p[o])] = 1.0;
        y = alongAxis(n, y, std::size_t(axis), m);
      }
      return bind(n, 0, y);
    }
    std::vector<std::int64_t> st(xs.size(), 0), en(xs.begin(), xs.end());
    for (std::size_t i = 0; i < axes.size(); ++i) {
      const std::int64_t len = xs[std::size_t(axes[i])];
      std::int64_t b = std::int64_t(std::max(-1e18, std::min(1e18, starts[i]))), e = std::int64_t(std::max(-1e18, std::min(1e18, ends[i])));
      if (b < 0) b += len;
      if (e < 0) e += len;
      st[std::size_t(axes[i])] = std::clamp<std::int64_t>(b, 0, len);
      en[std::size_t(axes[i])] = std::clamp<std::int64_t>(e, st[std::size_t(axes[i])], len);
    }
    bind(n, 0, op(n, Op::slice, {x}, {{"starts", st}, {"ends", en}}));
  } else if (t == "Split") {
    const int x = value(n, 0);
    const Shape xs = shapeOf(x);
    const std::int64_t axis = axisOf(n, intAttr(n, "axis", 0), xs.size());
    std::vector<std::int64_t> sizes;
    if (hasInput(n, 1))
      for (double v : constData(n, 1)) sizes.push_back(whole(n, v, "a size"));
    else
      sizes = intsAttr(n, "split");  // before opset 13, the sizes are an attribute
    if (sizes.empty()) {
      if (xs[std::size_t(axis)] % n.output_size() != 0)
        fail(n, "an axis of " + std::to_string(xs[std::size_t(axis)]) + " does not split into " + std::to_string(n.output_size()) +
                    " equal parts");
      sizes.assign(std::size_t(n.output_size()), xs[std::size_t(axis)] / n.output_size());
    }
    if (sizes.size() != std::size_t(n.output_size()))
      fail(n, std::to_string(sizes.size()) + " split sizes for " + std::to_string(n.output_size()) + " outputs");
    const std::vector<int> pieces = piecesAlong(n, x, std::size_t(axis), sizes);
    for (int k = 0; k < n.output_size(); ++k) bind(n, k, pieces[std::size_t(k)]);
  } else if (t == "Pad") {
    const int x = value(n, 0);
    std::string mode = "constant";
    for (const auto& a : n.attribute())
      if (a.name() == "mode") mode = a.s();
    if (mode != "constant" && mode != "reflect" && mode != "edge") fail(n, "padding mode '" + mode + "' is not supported (constant, reflect, edge)");
    if (mode == "constant" && hasInput(n, 2) && !constData(n, 2).empty() && constData(n, 2)[0] != 0) fail(n, "only zero padding is supported");
    std::vector<std::int64_t> pads;
    for (double v : constData(n, 1)) pads.push_back(whole(n, v, "a pad"));
    const Shape xs = shapeOf(x);
    if (pads.size() != 2 * xs.size()) fail(n, std::to_string(pads.size()) + " pads for an input of rank " + std::to_string(xs.size()));
    if (mode == "constant") return bind(n, 0, op(n, Op::pad, {x}, {{"pads", pads}}));
    // Reflected (without repeating the edge) or edge padding: each output element one input's.
    int y = x;
    for (std::size_t axis = 0; axis < xs.size(); ++axis) {
      const std::int64_t before = pads[axis], after = pads[axis + xs.size()], in = xs[axis];
      if (std::abs(before) > kMaxElements || std::abs(after) > kMaxElements) fail(n, "a pad of axis " + std::to_string(axis) + " is out of range");
      const std::int64_t out = in + before + after;
      if (before == 0 && after == 0) continue;
      if (out < 1) fail(n, "the pads leave axis " + std::to_string(axis) + " empty");
      if (mode == "reflect" && (before >= in || after >= in)) fail(n, "reflected pads must be shorter than the axis (" + std::to_string(in) + ")");
      checkMap(n, in, out, "padding axis " + std::to_string(axis));
      std::vector<std::vector<double>> m(std::size_t(out), std::vector<double>(std::size_t(in), 0.0));
      for (std::int64_t o = 0; o < out; ++o) {
        std::int64_t src = o - before;
        if (mode == "edge") src = std::min(std::max<std::int64_t>(src, 0), in - 1);
        else src = src < 0 ? -src : src >= in ? 2 * (in - 1) - src : src;
        m[std::size_t(o)][std::size_t(src)] = 1.0;
      }
      y = alongAxis(n, y, axis, m);
    }
    bind(n, 0, y);
  } else if (t == "Conv") {
    int x = value(n, 0), w = value(n, 1);
    for (const auto& a : n.attribute())
      if (a.name() == "auto_pad" && a.s() != "NOTSET") fail(n, "auto_pad is not supported (PyTorch writes explicit pads)");
    // A 1D convolution ([N, C, L], nn.Conv1d) is a 2D one over [N, C, 1, L]; a 3D one, a sum of 2D
    // ones over the kernel's depth for each output depth (conv3dAsPlanes).
    const Shape xs = shapeOf(x);
    const bool oneD = xs.size() == 3;
    if (xs.size() == 5) return bind(n, 0, conv3dAsPlanes(n, x, w));
    if (xs.size() != 3 && xs.size() != 4) fail(n, "only 1D, 2D and 3D convolutions are supported (input " + shapeText(xs) + ")");
    if (shapeOf(w).size() != xs.size())
      fail(n, "the weight " + shapeText(shapeOf(w)) + " must have the input's rank " + std::to_string(xs.size()) + " (input " + shapeText(xs) + ")");
    checkSpatialAttrs(n, xs.size() - 2);
    std::map<std::string, Attribute> at = {{"group", intAttr(n, "group", 1)}};
    const auto widen = [&](std::vector<std::int64_t> v, std::int64_t one) { return oneD ? std::vector<std::int64_t>{one, v.at(0)} : v; };
    if (!intsAttr(n, "strides").empty()) at["strides"] = widen(intsAttr(n, "strides"), 1);
    if (!intsAttr(n, "dilations").empty()) at["dilations"] = widen(intsAttr(n, "dilations"), 1);
    if (!intsAttr(n, "pads").empty()) {
      const auto pads = intsAttr(n, "pads");
      at["pads"] = oneD ? std::vector<std::int64_t>{0, pads.at(0), 0, pads.at(1)} : pads;
    }
    if (oneD) {
      const Shape ws = shapeOf(w);
      x = op(n, Op::reshape, {x}, {{"shape", std::vector<std::int64_t>{xs[0], xs[1], 1, xs[2]}}});
      w = op(n, Op::reshape, {w}, {{"shape", std::vector<std::int64_t>{ws[0], ws[1], 1, ws[2]}}});
    }
    int y = op(n, Op::conv2d, {x, w}, at);
    if (hasInput(n, 2)) {
      const std::int64_t o = shapeOf(w)[0];
      y = op(n, Op::add, {y, op(n, Op::reshape, {value(n, 2)}, {{"shape", std::vector<std::int64_t>{1, o, 1, 1}}})});
    }
    if (oneD) {
      const Shape ys = shapeOf(y);
      y = op(n, Op::reshape, {y}, {{"shape", std::vector<std::int64_t>{ys[0], ys[1], ys[3]}}});
    }
    bind(n, 0, y);
  } else if (t == "ConvTranspose") {
    // The transpose of a convolution is its gradient for the input: x plays the output gradient
    // and the weight [C_in, C_out / group, kh, kw] the convolution's weight.
    // A 1D one (nn.ConvTranspose1d, [N, C, L]) is a 2D one over [N, C, 1, L].
    int x = value(n, 0), w = value(n, 1);
    const Shape xs0 = shapeOf(x), ws0 = shapeOf(w);
    const bool oneD = xs0.size() == 3;
    if (xs0.size() != 3 && xs0.size() != 4) fail(n, "only 1D and 2D transposed convolutions are supported (input " + shapeText(xs0) + ")");
    if (ws0.size() != xs0.size()) fail(n, "the weight " + shapeText(ws0) + " must have the input's rank " + std::to_string(xs0.size()));
    checkSpatialAttrs(n, xs0.size() - 2);
    for (const auto& a : n.attribute())
      if ((a.name() == "auto_pad" && a.s() != "NOTSET") || a.name() == "output_shape")
        fail(n, "'" + a.name() + "' is not supported (PyTorch writes explicit pads)");
    const std::int64_t group = intAttr(n, "group", 1);
    const auto widen = [&](std::vector<std::int64_t> v, std::int64_t one) { return oneD && !v.empty() ? std::vector<std::int64_t>{one, v.at(0)} : v; };
    std::vector<std::int64_t> strides = widen(intsAttr(n, "strides"), 1), dil = widen(intsAttr(n, "dilations"), 1),
                              extra = widen(intsAttr(n, "output_padding"), 0), pads = intsAttr(n, "pads");
    if (oneD && !pads.empty()) pads = {0, pads.at(0), 0, pads.at(1)};
    if (oneD) {
      x = reshaped(n, x, {xs0[0], xs0[1], 1, xs0[2]});
      w = reshaped(n, w, {ws0[0], ws0[1], 1, ws0[2]});
    }
    const Shape xs = shapeOf(x), ws = shapeOf(w);
    if (strides.empty()) strides = {1, 1};
    if (pads.empty()) pads = {0, 0, 0, 0};
    if (dil.empty()) dil = {1, 1};
    if (extra.empty()) extra = {0, 0};
    Shape out = {xs[0], ws[1] * group, 0, 0};
    for (int d = 0; d < 2; ++d) {
      out[std::size_t(2 + d)] = (xs[std::size_t(2 + d)] - 1) * strides[std::size_t(d)] - pads[std::size_t(d)] - pads[std::size_t(d + 2)] +
                                dil[std::size_t(d)] * (ws[std::size_t(2 + d)] - 1) + extra[std::size_t(d)] + 1;
      if (extra[std::size_t(d)] >= strides[std::size_t(d)] && extra[std::size_t(d)] >= dil[std::size_t(d)])
        fail(n, "output_padding must be smaller than the stride or the dilation");
    }
    int y = op(n, Op::conv2d_grad_input, {x, w},
               {{"strides", strides}, {"pads", pads}, {"dilations", dil}, {"group", group}, {"input_shape", out}});
    if (hasInput(n, 2)) y = op(n, Op::add, {y, op(n, Op::reshape, {value(n, 2)}, {{"shape", std::vector<std::int64_t>{1, out[1], 1, 1}}})});
    bind(n, 0, oneD ? reshaped(n, y, {out[0], out[1], out[3]}) : y);
  } else if (t == "GatherElements") {
    // With indices known at compile time: the elements picked from the flattened data by one
    // gather (its gradient adds them back in place).
    const int x = value(n, 0), idx = value(n, 1);
    if (!isConst(idx)) fail(n, "indices computed at run time are not supported (they must be known at compile time)");
    const Shape xs = shapeOf(x), is = shapeOf(idx);
    if (is.size() != xs.size()) fail(n, "the indices' rank " + std::to_string(is.size()) + " differs from the data's " + std::to_string(xs.size()));
    const std::size_t axis = std::size_t(axisOf(n, intAttr(n, "axis", 0), xs.size()));
    const std::vector<double>& id = g_.values[std::size_t(idx)].data;
    std::vector<double> flat(id.size());
    for (std::size_t k = 0; k < id.size(); ++k) {
      std::size_t rest = k, at = 0, stride = 1;
      for (std::size_t d = is.size(); d-- > 0;) {
        std::int64_t c = std::int64_t(rest % std::size_t(is[d]));
        rest /= std::size_t(is[d]);
        if (d == axis) {
          c = whole(n, id[k], "an index");
          if (c < 0) c += xs[d];
          if (c < 0 || c >= xs[d]) fail(n, "index " + std::to_string(std::int64_t(id[k])) + " is outside an axis of " + std::to_string(xs[d]));
        } else if (c >= xs[d]) {
          fail(n, "the indices' shape " + shapeText(is) + " exceeds the data's " + shapeText(xs) + " on axis " + std::to_string(d));
        }
        at += std::size_t(c) * stride, stride *= std::size_t(xs[d]);
      }
      flat[k] = double(at);
    }
    const int picked = op(n, Op::gather, {reshaped(n, x, {elementCount(xs)}), integerConstant({std::int64_t(flat.size())}, flat)}, {{"axis", std::int64_t(0)}});
    bind(n, 0, reshaped(n, picked, is));
  } else if (t == "MaxPool" || t == "AveragePool") {
    if (n.output_size() > 1 && !n.output(1).empty()) fail(n, "the indices output is not supported");
    for (auto d : intsAttr(n, "dilations"))
      if (d < 1) fail(n, "dilations must be at least 1");
    const auto dilations = intsAttr(n, "dilations");
    if (t == "MaxPool" && std::any_of(dilations.begin(), dilations.end(), [](std::int64_t d) { return d != 1; }))
      return bind(n, 0, dilatedMaxPool(n, value(n, 0)));
    int x = value(n, 0);
    // A 1D pool ([N, C, L], nn.MaxPool1d, nn.AvgPool1d) is a 2D one over [N, C, 1, L].
    const Shape xs0 = shapeOf(x);
    const bool oneD = xs0.size() == 3;
    if (xs0.size() == 5) return bind(n, 0, pool3dAsPlanes(n, x));
    if (xs0.size() != 3 && xs0.size() != 4) fail(n, "only 1D, 2D and 3D pooling is supported (input " + shapeText(xs0) + ")");
    checkSpatialAttrs(n, xs0.size() - 2);
    const auto widen = [&](std::vector<std::int64_t> v, std::int64_t one) { return oneD && !v.empty() ? std::vector<std::int64_t>{one, v.at(0)} : v; };
    std::map<std::string, Attribute> at = {{"kernel", widen(intsAttr(n, "kernel_shape"), 1)}};
    if (!intsAttr(n, "strides").empty()) at["strides"] = widen(intsAttr(n, "strides"), 1);
    if (!intsAttr(n, "pads").empty()) {
      const auto pads = intsAttr(n, "pads");
      at["pads"] = oneD ? std::vector<std::int64_t>{0, pads.at(0), 0, pads.at(1)} : pads;
    }
    const bool includePad = t == "AveragePool" && intAttr(n, "count_include_pad", 0) != 0;
    if (t == "AveragePool") at["count_include_pad"] = std::int64_t(includePad);
    if (oneD) {
      if (intAttr(n, "ceil_mode", 0)) fail(n, "ceil_mode on a 1D pool is not supported");
      x = op(n, Op::reshape, {x}, {{"shape", std::vector<std::int64_t>{xs0[0], xs0[1], 1, xs0[2]}}});
      const int pooled = op(n, t == "MaxPool" ? Op::max_pool2d : Op::avg_pool2d, {x}, at);
      const Shape ys = shapeOf(pooled);
      bind(n, 0, op(n, Op::reshape, {pooled}, {{"shape", std::vector<std::int64_t>{ys[0], ys[1], ys[3]}}}));
      return;
    }
    std::vector<double> divisorFix;  // ceil_mode: the last windows' divisors (see ceilModePads)
    if (intAttr(n, "ceil_mode", 0)) at["pads"] = ceilModePads(n, shapeOf(x), includePad, divisorFix);
    int y = op(n, t == "MaxPool" ? Op::max_pool2d : Op::avg_pool2d, {x}, at);
    if (!divisorFix.empty()) {
      const Shape ys = shapeOf(y);
      y = op(n, Op::mul, {y, constant({1, 1, ys[2], ys[3]}, divisorFix)});
    }
    bind(n, 0, y);
  } else if (t == "GlobalAveragePool" || t == "GlobalMaxPool") {
    // Over every spatial axis ([N, C, ...]: 1D, 2D or more), kept as ones.
    const int x = value(n, 0);
    if (shapeOf(x).size() < 3) fail(n, "needs an input of rank 3 or more, got " + shapeText(shapeOf(x)));
    std::vector<std::int64_t> axes;
    for (std::size_t d = 2; d < shapeOf(x).size(); ++d) axes.push_back(std::int64_t(d));
    bind(n, 0, op(n, t == "GlobalAveragePool" ? Op::reduce_mean : Op::reduce_max, {x}, {{"axes", axes}, {"keepdims", std::int64_t(1)}}));
  } else if (t == "InstanceNormalization") {
    // Each example's and channel's own statistics over the spatial axes (nn.InstanceNorm*d, and
    // nn.GroupNorm as PyTorch exports it: a reshape to [N, groups, ...] around this).
    const int x = value(n, 0), scale = value(n, 1), bias = value(n, 2);
    const Shape xs = shapeOf(x);
    if (xs.size() < 3) fail(n, "needs an input of rank 3 or more, got " + shapeText(xs));
    Shape cshape(xs.size(), 1);
    cshape[1] = xs[1];
    std::vector<std::int64_t> axes;
    for (std::size_t d = 2; d < xs.size(); ++d) axes.push_back(std::int64_t(d));
    const int norm = normalized(n, x, axes);
    const int s4 = op(n, Op::reshape, {scale}, {{"shape", cshape}}), b4 = op(n, Op::reshape, {bias}, {{"shape", cshape}});
    bind(n, 0, op(n, Op::add, {op(n, Op::mul, {norm, s4}), b4}));
  } else if (t == "Resize" || t == "Upsample") {
    // Nearest-neighbour upsampling by whole factors per axis (nn.Upsample(scale_factor=k),
    // F.interpolate(mode="nearest")): each element repeated, as a broadcast of a new axis after
    // every scaled one.
    std::string mode = "nearest";
    for (const auto& a : n.attribute())
      if (a.name() == "mode") mode = a.s();
    if (mode != "nearest" && mode != "linear" && mode != "cubic")
      fail(n, "only modes 'nearest', 'linear' and 'cubic' are supported (got '" + mode + "')");
    const int x = value(n, 0);
    const Shape xs = shapeOf(x);
    std::vector<double> scales;
    const int scaleInput = t == "Upsample" ? 1 : 2;
    Shape sizes;
    if (hasInput(n, scaleInput) && !constData(n, scaleInput).empty()) {
      scales = constData(n, scaleInput);
      for (std::size_t i = 0; i < scales.size() && i < xs.size(); ++i) {
        const double size = std::floor(double(xs[i]) * scales[i] + 1e-9);
        if (!(scales[i] > 0) || !(size >= 1) || size > double(kMaxElements)) fail(n, "scale " + std::to_string(scales[i]) + " on axis " + std::to_string(i) + " is out of range");
        sizes.push_back(std::int64_t(size));
      }
    } else if (t == "Resize" && hasInput(n, 3)) {
      for (std::size_t i = 0; i < constData(n, 3).size() && i < xs.size(); ++i) {
        sizes.push_back(dimension(n, constData(n, 3)[i], "a size"));
        if (sizes.back() < 1 || xs[i] < 1) fail(n, "axis " + std::to_string(i) + " is empty before or after resizing");
        scales.push_back(double(sizes.back()) / double(xs[i]));
      }
    }
    if (scales.size() != xs.size()) fail(n, "needs a scale (or size) per axis of the " + shapeText(xs) + " input");
    if (mode == "linear" || mode == "cubic") return bind(n, 0, interpolatingResize(n, x, scales, sizes, mode == "cubic"));
    Shape split, repeated, out;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double k = scales[i];
      if (k < 1 || k != std::floor(k)) fail(n, "scale " + std::to_string(k) + " on axis " + std::to_string(i) + " is not a whole factor");
      split.push_back(xs[i]), repeated.push_back(xs[i]);
      if (k > 1) split.push_back(1), repeated.push_back(std::int64_t(k));
      out.push_back(xs[i] * std::int64_t(k));
    }
    const int wide = op(n, Op::broadcast_to, {op(n, Op::reshape, {x}, {{"shape", split}})}, {{"shape", repeated}});
    bind(n, 0, op(n, Op::reshape, {wide}, {{"shape", out}}));
  } else if (t == "BatchNormalization") {
    // In training mode (training_mode = 1 from opset 14, the optional outputs before it: what
    // PyTorch exports from a module in train mode) normalize with the batch's own statistics over
    // N, H, W, as a training step computes; the running statistics are not updated by the
    // compiled step. In inference mode with the given mean and variance (a module exported in
    // eval mode). Either way those two are statistics, never trained (batchStatistics).
    const int x = value(n, 0), scale = value(n, 1), bias = value(n, 2);
    const Shape xs = shapeOf(x);
    if (xs.size() < 2) fail(n, "the input has rank " + std::to_string(xs.size()) + "; batch normalization needs [N, C, ...]");
    Shape cshape(xs.size(), 1);
    cshape[1] = xs[1];
    const bool training = opset_ >= 14 ? intAttr(n, "training_mode", 0) != 0 : n.output_size() > 1;
    int norm = -1;
    if (training) {
      std::vector<std::int64_t> axes = {0};
      for (std::size_t d = 2; d < xs.size(); ++d) axes.push_back(std::int64_t(d));
      norm = normalized(n, x, axes);
    } else {
      const int mean = op(n, Op::reshape, {value(n, 3)}, {{"shape", cshape}}), var = op(n, Op::reshape, {value(n, 4)}, {{"shape", cshape}});
      const int sd = op(n, Op::sqrt, {op(n, Op::add, {var, g_.scalar(floatAttr(n, "epsilon", 1e-5))})});
      norm = op(n, Op::div, {op(n, Op::sub, {x, mean}), sd});
    }
    const int s4 = op(n, Op::reshape, {scale}, {{"shape", cshape}}), b4 = op(n, Op::reshape, {bias}, {{"shape", cshape}});
    bind(n, 0, op(n, Op::add, {op(n, Op::mul, {norm, s4}), b4}));
  } else {
    fail(n, "unsupported op");
  }
}

void Importer::sequence(const onnx::NodeProto& n) {
  const std::string& t = n.op_type();
  const auto position = [&](std::int64_t at, std::size_t size, bool insert) {
    const std::int64_t len = std::int64_t(size);
    if (at < 0) at += len;
    if (at < 0 || at > len || (!insert && at == len))
      fail(n, "position " + std::to_string(at) + " is outside the sequence of " + std::to_string(size));
    return std::size_t(at);
  };
  if (t == "SequenceEmpty") {
    sequences_[n.output(0)] = {};
  } else if (t == "SequenceAt") {
    const std::vector<int>& seq = sequenceInput(n, 0);
    bind(n, 0, seq[position(whole(n, scalarInput(n, 1), "a position"), seq.size(), false)]);
  } else if (t == "SequenceInsert") {
    std::vector<int> seq = sequenceInput(n, 0);
    const int x = value(n, 1);
    const std::size_t at = hasInput(n, 2) ? position(whole(n, scalarInput(n, 2), "a position"), seq.size(), true) : seq.size();
    seq.insert(seq.begin() + long(at), x);
    sequences_[n.output(0)] = std::move(seq);
  } else if (t == "SequenceLength") {
    bind(n, 0, integerConstant({}, {double(sequenceInput(n, 0).size())}));
  } else if (t == "SplitToSequence") {
    // Pieces along `axis`: of the sizes given (one size: equal pieces, the last shorter), or of one
    // element each, then without that axis unless keepdims.
    const int x = value(n, 0);
    const Shape s = shapeOf(x);
    const std::size_t axis = std::size_t(axisOf(n, intAttr(n, "axis", 0), s.size()));
    const std::int64_t len = s[axis];
    std::vector<std::int64_t> sizes;
    const bool given = hasInput(n, 1);
    if (given) {
      const std::vector<double>& d = constData(n, 1);
      if (d.size() == 1 && shapeOf(value(n, 1)).empty()) {
        const std::int64_t each = whole(n, d[0], "a split size");
        if (each < 1) fail(n, "split size " + std::to_string(each) + " is not positive");
        for (std::int64_t at = 0; at < len; at += each) sizes.push_back(std::min(each, len - at));
      } else {
        for (double v : d) sizes.push_back(whole(n, v, "a split size"));
      }
    } else {
      sizes.assign(std::size_t(len), 1);
    }
    std::vector<int> seq = piecesAlong(n, x, axis, sizes);
    if (!given && intAttr(n, "keepdims", 1) == 0) {
      Shape out = s;
      out.erase(out.begin() + long(axis));
      for (int& piece : seq) piece = op(n, Op::reshape, {piece}, {{"shape", out}});
    }
    sequences_[n.output(0)] = std::move(seq);
  } else {  // ConcatFromSequence: joined along `axis`, or stacked along a new one (new_axis 1)
    const std::vector<int>& seq = sequenceInput(n, 0);
    if (seq.empty()) fail(n, "the sequence is empty");
    const bool stack = intAttr(n, "new_axis", 0) != 0;
    const Shape s = shapeOf(seq.front());
    const std::int64_t axis = axisOf(n, intAttr(n, "axis", 0), s.size() + (stack ? 1 : 0));
    std::vector<int> parts;
    for (int v : seq) {
      if (!stack) {
        parts.push_back(v);
        continue;
      }
      Shape with = shapeOf(v);
      with.insert(with.begin() + axis, 1);
      parts.push_back(op(n, Op::reshape, {v}, {{"shape", with}}));
    }
    bind(n, 0, parts.size() == 1 ? parts.front() : op(n, Op::concat, parts, {{"axis", axis}}));
  }
}

void Importer::loop(const onnx::NodeProto& n) {
  const onnx::GraphProto* body = nullptr;
  for (const auto& a : n.attribute())
    if (a.name() == "body" && a.has_g()) body = &a.g();
  if (!body) fail(n, "it has no body");
  if (!hasInput(n, 0)) fail(n, "a loop without a trip count (a while loop) is not supported");
  const std::int64_t trips = whole(n, scalarInput(n, 0), "the trip count");
  if (trips < 0 || trips > kMaxLoopTrips) fail(n, "trip count " + std::to_string(trips) + " is outside 0.." + std::to_string(kMaxLoopTrips));
  const bool runs = !hasInput(n, 1) || scalarInput(n, 1) != 0;
  const int carried = n.input_size() - 2;
  if (body->input_size() != carried + 2) fail(n, "its body takes " + std::to_string(body->input_size()) + " inputs, not " + std::to_string(carried + 2));
  if (body->output_size() < carried + 1) fail(n, "its body gives " + std::to_string(body->output_size()) + " outputs, fewer than " + std::to_string(carried + 1));
  const int scans = body->output_size() - 1 - carried;
  // The carried values: each a value or a sequence, by name.
  struct Slot {
    int value = -1;
    std::vector<int> seq;
    bool isSequence = false;
  };
  std::vector<Slot> state(static_cast<std::size_t>(carried));
  for (int k = 0; k < carried; ++k) {
    const std::string& name = n.input(k + 2);
    if (sequences_.count(name)) state[std::size_t(k)].isSequence = true, state[std::size_t(k)].seq = sequences_.at(name);
    else state[std::size_t(k)].value = value(n, k + 2);
  }
  std::vector<std::vector<int>> scanned(static_cast<std::size_t>(scans));
  for (std::int64_t i = 0; runs && i < trips; ++i) {
    names_[body->input(0).name()] = integerConstant({}, {double(i)});
    names_[body->input(1).name()] = integerConstant({}, {1.0});
    for (int k = 0; k < carried; ++k) {
      const Slot& slot = state[std::size_t(k)];
      if (slot.isSequence) sequences_[body->input(k + 2).name()] = slot.seq;
      else names_[body->input(k + 2).name()] = slot.value;
    }
    for (const auto& init : body->initializer()) {
      const Shape s(init.dims().begin(), init.dims().end());
      names_[init.name()] = integerType(init.data_type()) ? integerConstant(s, tensorData(init)) : constant(s, tensorData(init));
    }
    for (const auto& inner : body->node()) node(inner);
    const auto out = [&](int k) -> const std::string& { return body->output(k).name(); };
    const auto cond = names_.find(out(0));
    if (cond == names_.end() || !isConst(cond->second) || g_.values[std::size_t(cond->second)].data.size() != 1)
      fail(n, "its condition must stay a value known when compiling (a loop that decides at run time when to stop is not supported)");
    for (int k = 0; k < carried; ++k) {
      Slot& slot = state[std::size_t(k)];
      if (sequences_.count(out(k + 1))) slot.isSequence = true, slot.seq = sequences_.at(out(k + 1));
      else if (names_.count(out(k + 1))) slot.isSequence = false, slot.value = names_.at(out(k + 1));
      else fail(n, "its body never computes '" + out(k + 1) + "'");
    }
    for (int k = 0; k < scans; ++k) {
      const auto it = names_.find(out(1 + carried + k));
      if (it == names_.end()) fail(n, "its body never computes '" + out(1 + carried + k) + "'");
      scanned[std::size_t(k)].push_back(it->second);
    }
    if (g_.values[std::size_t(cond->second)].data[0] == 0) break;
  }
  for (int k = 0; k < carried; ++k) {
    const Slot& slot = state[std::size_t(k)];
    if (k >= n.output_size() || n.output(k).empty()) continue;
    if (slot.isSequence) sequences_[n.output(k)] = slot.seq;
    else bind(n, k, slot.value);
  }
  for (int k = 0; k < scans; ++k) {  // each iteration's value stacked along a new first axis
    if (carried + k >= n.output_size() || n.output(carried + k).empty()) continue;
    const std::vector<int>& parts = scanned[std::size_t(k)];
    if (parts.empty()) fail(n, "scan output '" + n.output(carried + k) + "' of a loop that runs no iteration is not supported");
    std::vector<int> stacked;
    for (int v : parts) {
      Shape with = shapeOf(v);
      with.insert(with.begin(), 1);
      stacked.push_back(op(n, Op::reshape, {v}, {{"shape", with}}));
    }
    bind(n, carried + k, stacked.size() == 1 ? stacked.front() : op(n, Op::concat, stacked, {{"axis", std::int64_t(0)}}));
  }
}

std::map<std::string, std::string> Importer::foldedTransposes(const std::vector<Initializer>& inits) {
  // A weight used twice, once transposed (a language model's head tied to its embedding, `h @
  // emb.weight.t()`), is written by PyTorch's constant folding (the default) as the parameter and
  // a second initializer, named by the exporter ("onnx::MatMul_12"), holding its transpose. The
  // copy is the parameter transposed, not a parameter of its own: both uses' gradients then reach
  // the one weight, as in PyTorch. A copy is recognized by its exporter's name and by its values,
  // the other's transposed element for element (and not all one value, which any two constant
  // tensors would share).
  std::map<std::string, std::string> tied;
  const auto exporters = [](const std::string& name) { return name.rfind("onnx::", 0) == 0; };
  for (const Initializer& c : inits) {
    if (!c.trained || !exporters(c.name) || c.shape.size() != 2) continue;
    if (std::all_of(c.data.begin(), c.data.end(), [&](double v) { return v == c.data.front(); })) continue;
    const std::int64_t rows = c.shape[0], cols = c.shape[1];
    for (const Initializer& w : inits) {
      if (!w.trained || exporters(w.name) || w.shape != Shape{cols, rows}) continue;
      bool transposed = true;
      for (std::int64_t i = 0; i < rows && transposed; ++i)
        for (std::int64_t j = 0; j < cols && transposed; ++j)
          transposed = c.data[std::size_t(i * cols + j)] == w.data[std::size_t(j * rows + i)];
      if (transposed) {
        tied[c.name] = w.name;
        break;
      }
    }
  }
  return tied;
}

Graph Importer::run(const onnx::ModelProto& model) {
  std::int64_t opset = 0;
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  if (opset < kMinOpset || opset > kMaxOpset)
    throw CompileError(origin_ + ": opset " + std::to_string(opset) + " is outside the supported range " + std::to_string(kMinOpset) +
                       ".." + std::to_string(kMaxOpset));
  opset_ = opset;
  const onnx::GraphProto& gp = model.graph();
  g_.name = gp.name().empty() ? "model" : gp.name();
  // Batch normalization's running mean and variance are statistics, not trained parameters.
  std::set<std::string> batchStatistics;
  for (const auto& n : gp.node())
    if (n.op_type() == "BatchNormalization")
      for (int k = 3; k < 5 && k < n.input_size(); ++k) batchStatistics.insert(n.input(k));
  std::vector<Initializer> inits;
  for (const auto& init : gp.initializer()) {
    Initializer in{init.name(), Shape(init.dims().begin(), init.dims().end()), tensorData(init), false, integerType(init.data_type())};
    // Floating-point initializers are trained; integer ones (shapes, indices) are constants, and
    // so is one with an infinite or NaN value: a mask (a causal mask of -inf that the exporter's
    // constant folding made from a buffer), which SGD cannot train and PyTorch does not.
    const bool finite = std::all_of(in.data.begin(), in.data.end(), [](double v) { return std::isfinite(v); });
    in.trained = (init.data_type() == onnx::TensorProto::FLOAT || init.data_type() == onnx::TensorProto::DOUBLE) &&
                 !batchStatistics.count(init.name()) && finite;
    inits.push_back(std::move(in));
  }
  const std::map<std::string, std::string> tied = foldedTransposes(inits);
  for (Initializer& in : inits) {
    if (tied.count(in.name)) continue;
    names_[in.name] = in.trained ? g_.parameter(in.name, in.shape, std::move(in.data)) : g_.constant(in.name, in.shape, std::move(in.data));
    if (in.integer) integer_.insert(names_[in.name]);
  }
  for (const auto& [copy, of] : tied)
    names_[copy] = g_.op(Op::transpose, {names_.at(of)}, {{"perm", std::vector<std::int64_t>{1, 0}}}, g_.freshName(of + ".t"));
  for (const auto& in : gp.input())
    if (!names_.count(in.name())) names_[in.name()] = g_.input(in.name(), tensorShape(in));
  for (const auto& n : gp.node()) node(n);
  for (const auto& out : gp.output()) {
    const auto it = names_.find(out.name());
    if (it == names_.end()) throw CompileError(origin_ + ": output '" + out.name() + "' is never computed");
    g_.markOutput(it->second);
  }
  verify(g_);
  return g_;
}

}  // namespace onnx_importer

using onnx_importer::Importer;

Graph importOnnxBytes(const std::string& bytes, const std::string& origin, const ImportOptions& options) {
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes)) throw CompileError(origin + ": not a valid ONNX model (protobuf parse failed)");
  return Importer(origin, options).run(model);
}

Graph importOnnx(const std::string& path, const ImportOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CompileError("cannot read ONNX file '" + path + "'");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return importOnnxBytes(bytes.str(), path, options);
}

}  // namespace tatami::compiler
