// Reference implementations of the IR ops on the host.
#include "tatami/compiler/interpreter.h"

#include "ops_spatial.h"

#include "tatami/arch/formats.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace tatami::compiler {

namespace {

std::vector<std::int64_t> strides(const Shape& s) {
  std::vector<std::int64_t> st(s.size(), 1);
  for (std::size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

/// For each element of `out`, the flat index into `in` under numpy broadcasting.
std::vector<std::int64_t> broadcastIndex(const Shape& in, const Shape& out) {
  const std::int64_t n = elementCount(out);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  const auto so = strides(out), si = strides(in);
  const std::size_t off = out.size() - in.size();
  for (std::int64_t k = 0; k < n; ++k) {
    std::int64_t rem = k, flat = 0;
    for (std::size_t d = 0; d < out.size(); ++d) {
      const std::int64_t c = rem / so[d];
      rem %= so[d];
      if (d >= off && in[d - off] != 1) flat += c * si[d - off];
    }
    idx[std::size_t(k)] = flat;
  }
  return idx;
}

Tensor reduce(const Tensor& x, const std::vector<bool>& axes, const Shape& outShape, int kind /*0 sum 1 mean 2 max*/, bool floatSums) {
  Tensor y{outShape, std::vector<double>(std::size_t(elementCount(outShape)), kind == 2 ? -INFINITY : 0.0)};
  // Map each input element to its output slot: drop (or keep as 1) the reduced axes.
  Shape keep = x.shape;
  for (std::size_t d = 0; d < keep.size(); ++d)
    if (axes[d]) keep[d] = 1;
  const auto sx = strides(x.shape), sk = strides(keep);
  std::int64_t count = 1;
  for (std::size_t d = 0; d < axes.size(); ++d)
    if (axes[d]) count *= x.shape[d];
  for (std::int64_t k = 0; k < elementCount(x.shape); ++k) {
    std::int64_t rem = k, flat = 0;
    for (std::size_t d = 0; d < x.shape.size(); ++d) {
      const std::int64_t c = rem / sx[d];
      rem %= sx[d];
      if (!axes[d]) flat += c * sk[d];
    }
    double& acc = y.data[std::size_t(flat)];
    const double v = x.data[std::size_t(k)];
    if (kind == 2) acc = std::max(acc, v);
    else accumulate(acc, v, floatSums);
  }
  if (kind == 1)
    for (auto& v : y.data) v /= double(count);
  return y;
}

bool isMatrixProduct(Op op) { return op == Op::matmul || op == Op::conv2d || op == Op::conv2d_grad_input || op == Op::conv2d_grad_weight; }

std::vector<bool> axesMask(const Node& n, std::size_t rank) {
  std::vector<bool> m(rank, false);
  for (auto a : n.intsAttr("axes")) m[std::size_t(a < 0 ? a + std::int64_t(rank) : a)] = true;
  return m;
}

}  // namespace

// Long by design: one case per op (its host evaluation), side by side so that the oracle's meaning of every op reads as one reference; each case is a few lines
// and the helpers it calls hold the work.
std::vector<Tensor> evaluate(const Graph& g, const std::map<std::string, Tensor>& feeds, const EvalOptions& options) {
  std::vector<Tensor> t(g.values.size());
  for (std::size_t i = 0; i < g.values.size(); ++i) {
    const Value& v = g.values[i];
    if (v.kind == ValueKind::Intermediate) continue;
    const auto f = feeds.find(v.name);
    if (f != feeds.end()) {
      if (f->second.shape != v.shape || std::int64_t(f->second.data.size()) != elementCount(v.shape))
        throw CompileError("input '" + v.name + "' expects shape " + shapeText(v.shape) + ", fed " + shapeText(f->second.shape));
      t[i] = f->second;
    } else if (v.kind == ValueKind::Input) {
      throw CompileError("input '" + v.name + "' was not fed");
    } else {
      t[i] = {v.shape, v.data};
    }
  }
  for (const Node& n : g.nodes) {
    const Shape outShape = g.values[std::size_t(n.outputs[0])].shape;
    Tensor y{outShape, std::vector<double>(std::size_t(elementCount(outShape)))};
    const Op op = n.op;
    // A matrix product's operands as the matrix unit reads them in mixed precision.
    std::array<Tensor, 2> rounded;
    const bool bf16 = options.bf16MatrixOperands && isMatrixProduct(op);
    if (bf16)
      for (std::size_t k = 0; k < 2; ++k) {
        rounded[k] = t[std::size_t(n.inputs[k])];
        for (double& v : rounded[k].data) v = double(bf16ToFp32(fp32ToBf16(float(v))));
      }
    const auto in = [&](std::size_t k) -> const Tensor& { return bf16 && k < 2 ? rounded[k] : t[std::size_t(n.inputs[k])]; };
    if (opHas(op, kSpatial)) {
      std::vector<const Tensor*> ins;
      for (std::size_t k = 0; k < n.inputs.size(); ++k) ins.push_back(&in(k));
      evalSpatial(n, ins, y, options.accumulateInFloat);
    } else if (opHas(op, kUnary)) {
      const auto& x = in(0).data;
      for (std::size_t k = 0; k < x.size(); ++k) {
        const double v = x[k];
        double r = 0;
        if (op == Op::relu) r = v > 0 ? v : 0.0;
        else if (op == Op::tanh) r = std::tanh(v);
        else if (op == Op::sigmoid) r = 1.0 / (1.0 + std::exp(-v));
        else if (op == Op::exp) r = std::exp(v);
        else if (op == Op::log) r = std::log(v);
        else if (op == Op::sqrt) r = std::sqrt(v);
        else if (op == Op::erf) r = std::erf(v);
        else if (op == Op::neg) r = -v;
        else if (op == Op::reciprocal) r = 1.0 / v;
        else r = v;  // identity; all-reduces on one replica (the oracle sees the whole batch and tensors at once)
        y.data[k] = r;
      }
    } else if (opHas(op, kBinary)) {
      const auto ia = broadcastIndex(in(0).shape, outShape), ib = broadcastIndex(in(1).shape, outShape);
      for (std::size_t k = 0; k < y.data.size(); ++k) {
        const double a = in(0).data[std::size_t(ia[k])], b = in(1).data[std::size_t(ib[k])];
        double r;
        if (op == Op::add) r = a + b;
        else if (op == Op::sub) r = a - b;
        else if (op == Op::mul) r = a * b;
        else if (op == Op::div) r = a / b;
        else if (op == Op::pow) r = std::pow(a, b);
        else if (op == Op::max) r = std::max(a, b);
        else if (op == Op::min) r = std::min(a, b);
        else r = b > 0 ? a : 0.0;  // relu_grad(dy, x)
        y.data[k] = r;
      }
    } else if (op == Op::where) {
      const auto ic = broadcastIndex(in(0).shape, outShape), ia = broadcastIndex(in(1).shape, outShape),
                 ib = broadcastIndex(in(2).shape, outShape);
      for (std::size_t k = 0; k < y.data.size(); ++k)
        y.data[k] = in(0).data[std::size_t(ic[k])] != 0 ? in(1).data[std::size_t(ia[k])] : in(2).data[std::size_t(ib[k])];
    } else if (op == Op::matmul) {
      const Shape &sa = in(0).shape, &sb = in(1).shape;
      const std::int64_t M = sa[sa.size() - 2], K = sa.back(), N = sb.back();
      Shape batch(outShape.begin(), outShape.end() - 2);
      Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
      const auto ia = broadcastIndex(ba, batch), ib = broadcastIndex(bb, batch);
      for (std::int64_t bi = 0; bi < elementCount(batch); ++bi) {
        const double* A = in(0).data.data() + ia[std::size_t(bi)] * M * K;
        const double* B = in(1).data.data() + ib[std::size_t(bi)] * K * N;
        double* C = y.data.data() + bi * M * N;
        for (std::int64_t i = 0; i < M; ++i)
          for (std::int64_t j = 0; j < N; ++j) {
            double acc = 0;
            for (std::int64_t k = 0; k < K; ++k) accumulate(acc, A[i * K + k] * B[k * N + j], options.accumulateInFloat);
            C[i * N + j] = acc;
          }
      }
    } else if (op == Op::transpose) {
      const auto perm = n.intsAttr("perm");
      const auto sx = strides(in(0).shape), sy = strides(outShape);
      for (std::int64_t k = 0; k < elementCount(outShape); ++k) {
        std::int64_t rem = k, flat = 0;
        for (std::size_t d = 0; d < outShape.size(); ++d) {
          const std::int64_t c = rem / sy[d];
          rem %= sy[d];
          flat += c * sx[std::size_t(perm[d])];
        }
        y.data[std::size_t(k)] = in(0).data[std::size_t(flat)];
      }
    } else if (op == Op::reshape) {
      y.data = in(0).data;
    } else if (op == Op::broadcast_to) {
      const auto ix = broadcastIndex(in(0).shape, outShape);
      for (std::size_t k = 0; k < y.data.size(); ++k) y.data[k] = in(0).data[std::size_t(ix[k])];
    } else if (op == Op::sum_to) {
      // Sum over the axes that were broadcast to reach the input's shape.
      const Shape& s = in(0).shape;
      const std::size_t off = s.size() - outShape.size();
      std::vector<bool> axes(s.size(), false);
      for (std::size_t d = 0; d < s.size(); ++d) axes[d] = d < off || (outShape[d - off] == 1 && s[d] != 1);
      Shape kept = s;
      for (std::size_t d = 0; d < s.size(); ++d)
        if (axes[d]) kept[d] = 1;
      Tensor r = reduce(in(0), axes, kept, 0, options.accumulateInFloat);
      y.data = r.data;
    } else if (op == Op::reduce_sum || op == Op::reduce_mean || op == Op::reduce_max) {
      y.data = reduce(in(0), axesMask(n, in(0).shape.size()), outShape, op == Op::reduce_sum ? 0 : op == Op::reduce_mean ? 1 : 2, options.accumulateInFloat).data;
    } else if (op == Op::softmax || op == Op::log_softmax) {
      std::int64_t axis = n.intAttr("axis", -1);
      if (axis < 0) axis += std::int64_t(outShape.size());
      const auto st = strides(outShape);
      const std::int64_t len = outShape[std::size_t(axis)], stride = st[std::size_t(axis)];
      for (std::int64_t k = 0; k < elementCount(outShape); ++k) {
        if ((k / stride) % len != 0) continue;  // k is the first element of a row along the axis
        double mx = -INFINITY;
        for (std::int64_t j = 0; j < len; ++j) mx = std::max(mx, in(0).data[std::size_t(k + j * stride)]);
        double sum = 0;
        for (std::int64_t j = 0; j < len; ++j) accumulate(sum, std::exp(in(0).data[std::size_t(k + j * stride)] - mx), options.accumulateInFloat);
        for (std::int64_t j = 0; j < len; ++j) {
          const double x = in(0).data[std::size_t(k + j * stride)] - mx;
          y.data[std::size_t(k + j * stride)] = op == Op::softmax ? std::exp(x) / sum : x - std::log(sum);
        }
      }
    } else {
      throw CompileError("node '" + n.name + "': no host implementation of op '" + std::string(opName(op)) + "'");
    }
    if (options.roundToFloat)
      for (auto& v : y.data) v = double(float(v));
    t[std::size_t(n.outputs[0])] = std::move(y);
  }
  return t;
}

}  // namespace tatami::compiler
