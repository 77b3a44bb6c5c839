// Reverse-mode automatic differentiation: each op's gradient rule, emitted as IR nodes.
#include <cmath>

#include "tatami/compiler/training.h"

namespace tatami::compiler {

namespace {

using Attrs = std::map<std::string, Attribute>;

Shape shapeOf(const Graph& g, int v) { return g.values[std::size_t(v)].shape; }

/// Sums a gradient down to the shape of the operand it flows to (undoing broadcasting).
int sumTo(Graph& g, int grad, const Shape& target) {
  if (shapeOf(g, grad) == target) return grad;
  return g.op("sum_to", {grad}, {{"shape", target}});
}

std::vector<std::int64_t> inversePerm(const std::vector<std::int64_t>& p) {
  std::vector<std::int64_t> inv(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) inv[std::size_t(p[i])] = std::int64_t(i);
  return inv;
}

/// Swaps the last two axes.
int transposeLast(Graph& g, int v) {
  const std::size_t r = shapeOf(g, v).size();
  std::vector<std::int64_t> perm(r);
  for (std::size_t i = 0; i < r; ++i) perm[i] = std::int64_t(i);
  std::swap(perm[r - 1], perm[r - 2]);
  return g.op("transpose", {v}, {{"perm", perm}});
}

}  // namespace

std::map<int, int> addBackward(Graph& g, int loss, const std::vector<int>& wrt) {
  if (!shapeOf(g, loss).empty())
    throw CompileError("the loss '" + g.values[std::size_t(loss)].name + "' must be a scalar, not " + shapeText(shapeOf(g, loss)));
  std::map<int, int> grad;  // value -> its gradient value
  grad[loss] = g.scalar(1.0);
  const auto accumulate = [&](int v, int gv) {
    const auto it = grad.find(v);
    grad[v] = it == grad.end() ? gv : g.op("add", {it->second, gv});
  };
  const std::size_t forwardNodes = g.nodes.size();
  for (std::size_t idx = forwardNodes; idx-- > 0;) {
    const Node n = g.nodes[idx];  // copy: adding nodes reallocates
    const int out = n.outputs[0];
    const auto it = grad.find(out);
    if (it == grad.end()) continue;
    const int dy = it->second;
    const std::string& op = n.op;
    const int a = n.inputs.empty() ? -1 : n.inputs[0];
    const int b = n.inputs.size() > 1 ? n.inputs[1] : -1;
    if (op == "add") {
      accumulate(a, sumTo(g, dy, shapeOf(g, a)));
      accumulate(b, sumTo(g, dy, shapeOf(g, b)));
    } else if (op == "sub") {
      accumulate(a, sumTo(g, dy, shapeOf(g, a)));
      accumulate(b, sumTo(g, g.op("neg", {dy}), shapeOf(g, b)));
    } else if (op == "mul") {
      accumulate(a, sumTo(g, g.op("mul", {dy, b}), shapeOf(g, a)));
      accumulate(b, sumTo(g, g.op("mul", {dy, a}), shapeOf(g, b)));
    } else if (op == "div") {
      accumulate(a, sumTo(g, g.op("div", {dy, b}), shapeOf(g, a)));
      const int q = g.op("div", {g.op("mul", {dy, out}), b});  // dy * a / b^2 = dy * y / b
      accumulate(b, sumTo(g, g.op("neg", {q}), shapeOf(g, b)));
    } else if (op == "pow") {
      // d/da a^b = b a^(b-1) = b y / a;  d/db = y ln a
      accumulate(a, sumTo(g, g.op("mul", {dy, g.op("mul", {b, g.op("pow", {a, g.op("sub", {b, g.scalar(1.0)})})})}), shapeOf(g, a)));
      if (g.values[std::size_t(b)].kind != ValueKind::Constant)
        accumulate(b, sumTo(g, g.op("mul", {dy, g.op("mul", {out, g.op("log", {a})})}), shapeOf(g, b)));
    } else if (op == "max" || op == "min") {
      const int pick = g.op("relu_grad", {g.scalar(1.0), g.op(op == "max" ? "sub" : "sub", op == "max" ? std::vector<int>{a, b} : std::vector<int>{b, a})});
      accumulate(a, sumTo(g, g.op("mul", {dy, pick}), shapeOf(g, a)));
      accumulate(b, sumTo(g, g.op("mul", {dy, g.op("sub", {g.scalar(1.0), pick})}), shapeOf(g, b)));
    } else if (op == "relu") {
      accumulate(a, g.op("relu_grad", {dy, a}));
    } else if (op == "tanh") {
      accumulate(a, g.op("mul", {dy, g.op("sub", {g.scalar(1.0), g.op("mul", {out, out})})}));
    } else if (op == "sigmoid") {
      accumulate(a, g.op("mul", {dy, g.op("mul", {out, g.op("sub", {g.scalar(1.0), out})})}));
    } else if (op == "exp") {
      accumulate(a, g.op("mul", {dy, out}));
    } else if (op == "log") {
      accumulate(a, g.op("div", {dy, a}));
    } else if (op == "sqrt") {
      accumulate(a, g.op("div", {dy, g.op("mul", {g.scalar(2.0), out})}));
    } else if (op == "reciprocal") {
      accumulate(a, g.op("neg", {g.op("mul", {dy, g.op("mul", {out, out})})}));
    } else if (op == "erf") {
      const int e = g.op("exp", {g.op("neg", {g.op("mul", {a, a})})});
      accumulate(a, g.op("mul", {dy, g.op("mul", {g.scalar(2.0 / std::sqrt(M_PI)), e})}));
    } else if (op == "neg") {
      accumulate(a, g.op("neg", {dy}));
    } else if (op == "identity") {
      accumulate(a, dy);
    } else if (op == "where") {
      const int c = n.inputs[0], x = n.inputs[1], z = n.inputs[2];
      const int zero = g.scalar(0.0);
      accumulate(x, sumTo(g, g.op("where", {c, dy, zero}), shapeOf(g, x)));
      accumulate(z, sumTo(g, g.op("where", {c, zero, dy}), shapeOf(g, z)));
    } else if (op == "matmul") {
      const int da = g.op("matmul", {dy, transposeLast(g, b)});
      const int db = g.op("matmul", {transposeLast(g, a), dy});
      accumulate(a, sumTo(g, da, shapeOf(g, a)));
      accumulate(b, sumTo(g, db, shapeOf(g, b)));
    } else if (op == "transpose") {
      accumulate(a, g.op("transpose", {dy}, {{"perm", inversePerm(n.intsAttr("perm"))}}));
    } else if (op == "reshape") {
      accumulate(a, g.op("reshape", {dy}, {{"shape", shapeOf(g, a)}}));
    } else if (op == "broadcast_to") {
      accumulate(a, sumTo(g, dy, shapeOf(g, a)));
    } else if (op == "sum_to") {
      accumulate(a, g.op("broadcast_to", {dy}, {{"shape", shapeOf(g, a)}}));
    } else if (op == "reduce_sum" || op == "reduce_mean") {
      // Restore the reduced axes as 1s, then broadcast back.
      Shape kept = shapeOf(g, a);
      std::int64_t count = 1;
      for (auto ax : n.intsAttr("axes")) {
        const std::size_t d = std::size_t(ax < 0 ? ax + std::int64_t(kept.size()) : ax);
        count *= kept[d];
        kept[d] = 1;
      }
      int gv = g.op("broadcast_to", {g.op("reshape", {dy}, {{"shape", kept}})}, {{"shape", shapeOf(g, a)}});
      if (op == "reduce_mean") gv = g.op("div", {gv, g.scalar(double(count))});
      accumulate(a, gv);
    } else if (op == "softmax") {
      const std::int64_t axis = n.intAttr("axis", -1);
      const int s = g.op("reduce_sum", {g.op("mul", {dy, out})}, {{"axes", std::vector<std::int64_t>{axis}}, {"keepdims", std::int64_t(1)}});
      accumulate(a, g.op("mul", {out, g.op("sub", {dy, s})}));
    } else if (op == "log_softmax") {
      const std::int64_t axis = n.intAttr("axis", -1);
      const int s = g.op("reduce_sum", {dy}, {{"axes", std::vector<std::int64_t>{axis}}, {"keepdims", std::int64_t(1)}});
      accumulate(a, g.op("sub", {dy, g.op("mul", {g.op("exp", {out}), s})}));
    } else if (op == "conv2d") {
      Attrs gi = n.attrs, gw = n.attrs;
      gi["input_shape"] = shapeOf(g, a);
      gw["weight_shape"] = shapeOf(g, b);
      accumulate(a, g.op("conv2d_grad_input", {dy, b}, gi));
      accumulate(b, g.op("conv2d_grad_weight", {a, dy}, gw));
    } else if (op == "max_pool2d") {
      accumulate(a, g.op("max_pool2d_grad", {a, dy}, n.attrs));
    } else if (op == "avg_pool2d") {
      Attrs at = n.attrs;
      at["input_shape"] = shapeOf(g, a);
      accumulate(a, g.op("avg_pool2d_grad", {dy}, at));
    } else if (op == "concat") {
      std::int64_t axis = n.intAttr("axis", 0);
      const Shape ys = shapeOf(g, out);
      if (axis < 0) axis += std::int64_t(ys.size());
      std::int64_t offset = 0;
      for (int in : n.inputs) {
        const Shape s = shapeOf(g, in);
        std::vector<std::int64_t> st(ys.size(), 0), en(ys.begin(), ys.end());
        st[std::size_t(axis)] = offset;
        en[std::size_t(axis)] = offset + s[std::size_t(axis)];
        offset += s[std::size_t(axis)];
        accumulate(in, g.op("slice", {dy}, {{"starts", st}, {"ends", en}}));
      }
    } else if (op == "slice") {
      const auto st = n.intsAttr("starts"), en = n.intsAttr("ends");
      const Shape s = shapeOf(g, a);
      std::vector<std::int64_t> pads(st.begin(), st.end());
      for (std::size_t d = 0; d < s.size(); ++d) pads.push_back(s[d] - en[d]);
      accumulate(a, g.op("pad", {dy}, {{"pads", pads}}));
    } else if (op == "pad") {
      const auto p = n.intsAttr("pads");
      const Shape s = shapeOf(g, a);
      std::vector<std::int64_t> st(p.begin(), p.begin() + std::int64_t(s.size())), en;
      for (std::size_t d = 0; d < s.size(); ++d) en.push_back(st[d] + s[d]);
      accumulate(a, g.op("slice", {dy}, {{"starts", st}, {"ends", en}}));
    } else if (op == "gather") {
      accumulate(a, g.op("gather_grad", {dy, b}, {{"axis", n.intAttr("axis", 0)}, {"data_shape", shapeOf(g, a)}}));
    } else if (op == "reduce_max" || op == "relu_grad") {
      throw CompileError("node '" + n.name + "': no gradient rule for op '" + op + "'");
    } else {
      throw CompileError("node '" + n.name + "': no gradient rule for op '" + op + "'");
    }
  }
  std::map<int, int> result;
  for (int v : wrt) {
    const auto it = grad.find(v);
    result[v] = it != grad.end() ? it->second
                                 : g.constant(g.freshName(g.values[std::size_t(v)].name + ".zero_grad"), shapeOf(g, v),
                                              std::vector<double>(std::size_t(elementCount(shapeOf(g, v))), 0.0));
  }
  return result;
}

}  // namespace tatami::compiler
