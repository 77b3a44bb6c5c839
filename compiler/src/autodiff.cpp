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
  return g.op(Op::sum_to, {grad}, {{"shape", target}});
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
  return g.op(Op::transpose, {v}, {{"perm", perm}});
}

}  // namespace

// Long by design: one case per differentiable op (its gradient rule, as ops.def states it), side by side so that every gradient rule is found in one place; each case is a few lines
// and the helpers it calls hold the work.
std::map<int, int> addBackward(Graph& g, int loss, const std::vector<int>& wrt) {
  if (!shapeOf(g, loss).empty())
    throw CompileError("the loss '" + g.values[std::size_t(loss)].name + "' must be a scalar, not " + shapeText(shapeOf(g, loss)));
  std::map<int, int> grad;  // value -> its gradient value
  grad[loss] = g.scalar(1.0);
  const auto accumulate = [&](int v, int gv) {
    const auto it = grad.find(v);
    grad[v] = it == grad.end() ? gv : g.op(Op::add, {it->second, gv});
  };
  const std::size_t forwardNodes = g.nodes.size();
  // A numerator divided by a smaller (broadcast) divisor is recomputed for the backward pass as
  // quotient x divisor (a batch norm's centred input from its normalized output and the standard
  // deviation per channel): the quotient is usually kept anyway, so the numerator need not be.
  std::map<int, std::pair<int, int>> quotientOf;  // numerator -> (quotient, divisor)
  for (std::size_t idx = 0; idx < forwardNodes; ++idx) {
    const Node& n = g.nodes[idx];
    if (n.op == Op::div && elementCount(shapeOf(g, n.inputs[1])) < elementCount(shapeOf(g, n.inputs[0])) &&
        shapeOf(g, n.outputs[0]) == shapeOf(g, n.inputs[0]))
      quotientOf.emplace(n.inputs[0], std::make_pair(n.outputs[0], n.inputs[1]));
  }
  std::map<int, int> recomputed;
  const auto recomputable = [&](int v) {
    const auto q = quotientOf.find(v);
    if (q == quotientOf.end()) return v;
    const auto r = recomputed.find(v);
    if (r != recomputed.end()) return r->second;
    return recomputed[v] = g.op(Op::mul, {q->second.first, q->second.second});
  };
  for (std::size_t idx = forwardNodes; idx-- > 0;) {
    const Node n = g.nodes[idx];  // copy: adding nodes reallocates
    const int out = n.outputs[0];
    const auto it = grad.find(out);
    if (it == grad.end()) continue;
    const int dy = it->second;
    const Op op = n.op;
    if (!opHas(op, kDifferentiable))
      throw CompileError("node '" + n.name + "': no gradient rule for op '" + opName(op) + "'");
    const int a = n.inputs.empty() ? -1 : n.inputs[0];
    const int b = n.inputs.size() > 1 ? n.inputs[1] : -1;
    if (op == Op::add) {
      accumulate(a, sumTo(g, dy, shapeOf(g, a)));
      accumulate(b, sumTo(g, dy, shapeOf(g, b)));
    } else if (op == Op::sub) {
      accumulate(a, sumTo(g, dy, shapeOf(g, a)));
      accumulate(b, sumTo(g, g.op(Op::neg, {dy}), shapeOf(g, b)));
    } else if (op == Op::mul) {
      accumulate(a, sumTo(g, g.op(Op::mul, {dy, recomputable(b)}), shapeOf(g, a)));
      accumulate(b, sumTo(g, g.op(Op::mul, {dy, recomputable(a)}), shapeOf(g, b)));
    } else if (op == Op::div) {
      accumulate(a, sumTo(g, g.op(Op::div, {dy, b}), shapeOf(g, a)));
      const int q = g.op(Op::div, {g.op(Op::mul, {dy, out}), b});  // dy * a / b^2 = dy * y / b
      accumulate(b, sumTo(g, g.op(Op::neg, {q}), shapeOf(g, b)));
    } else if (op == Op::pow) {
      // d/da a^b = b a^(b-1) = b y / a;  d/db = y ln a
      accumulate(a, sumTo(g, g.op(Op::mul, {dy, g.op(Op::mul, {b, g.op(Op::pow, {a, g.op(Op::sub, {b, g.scalar(1.0)})})})}), shapeOf(g, a)));
      if (g.values[std::size_t(b)].kind != ValueKind::Constant)
        accumulate(b, sumTo(g, g.op(Op::mul, {dy, g.op(Op::mul, {out, g.op(Op::log, {a})})}), shapeOf(g, b)));
    } else if (op == Op::max || op == Op::min) {
      const int pick = g.op(Op::relu_grad, {g.scalar(1.0), g.op(Op::sub, op == Op::max ? std::vector<int>{a, b} : std::vector<int>{b, a})});
      accumulate(a, sumTo(g, g.op(Op::mul, {dy, pick}), shapeOf(g, a)));
      accumulate(b, sumTo(g, g.op(Op::mul, {dy, g.op(Op::sub, {g.scalar(1.0), pick})}), shapeOf(g, b)));
    } else if (op == Op::relu) {
      // y > 0 exactly where x > 0 (a NaN fails both), so the mask comes from the output: the
      // input need not be kept for the backward pass when the output is (the next layer's input).
      accumulate(a, g.op(Op::relu_grad, {dy, out}));
    } else if (op == Op::relu_grad) {
      // Linear in its first operand; piecewise constant (no gradient) in the second.
      accumulate(a, g.op(Op::relu_grad, {dy, b}));
    } else if (op == Op::conv2d_grad_input) {
      // z = A_w^T x (A_w: the convolution by w, a transposed convolution): dx = A_w dz, and the
      // gradient for w is the convolution's weight gradient with dz as its input and x as its dy.
      Attrs fwd = n.attrs, gw = n.attrs;
      fwd.erase("input_shape"), gw.erase("input_shape");
      gw["weight_shape"] = shapeOf(g, b);
      accumulate(a, g.op(Op::conv2d, {dy, b}, fwd));
      accumulate(b, g.op(Op::conv2d_grad_weight, {dy, a}, gw));
    } else if (op == Op::tanh) {
      accumulate(a, g.op(Op::mul, {dy, g.op(Op::sub, {g.scalar(1.0), g.op(Op::mul, {out, out})})}));
    } else if (op == Op::sigmoid) {
      accumulate(a, g.op(Op::mul, {dy, g.op(Op::mul, {out, g.op(Op::sub, {g.scalar(1.0), out})})}));
    } else if (op == Op::exp) {
      accumulate(a, g.op(Op::mul, {dy, out}));
    } else if (op == Op::log) {
      accumulate(a, g.op(Op::div, {dy, a}));
    } else if (op == Op::sqrt) {
      accumulate(a, g.op(Op::div, {dy, g.op(Op::mul, {g.scalar(2.0), out})}));
    } else if (op == Op::reciprocal) {
      accumulate(a, g.op(Op::neg, {g.op(Op::mul, {dy, g.op(Op::mul, {out, out})})}));
    } else if (op == Op::erf) {
      const int e = g.op(Op::exp, {g.op(Op::neg, {g.op(Op::mul, {a, a})})});
      accumulate(a, g.op(Op::mul, {dy, g.op(Op::mul, {g.scalar(2.0 / std::sqrt(M_PI)), e})}));
    } else if (op == Op::neg) {
      accumulate(a, g.op(Op::neg, {dy}));
    } else if (op == Op::identity) {
      accumulate(a, dy);
    } else if (op == Op::allreduce_mean) {
      // y = mean over the cores of x: every core's x reaches every core's y, so x's gradient is
      // the mean over the cores of y's gradients (the losses the cores differentiate average).
      accumulate(a, g.op(Op::allreduce_mean, {dy}));
    } else if (op == Op::where) {
      const int c = n.inputs[0], x = n.inputs[1], z = n.inputs[2];
      const int zero = g.scalar(0.0);
      accumulate(x, sumTo(g, g.op(Op::where, {c, dy, zero}), shapeOf(g, x)));
      accumulate(z, sumTo(g, g.op(Op::where, {c, zero, dy}), shapeOf(g, z)));
    } else if (op == Op::matmul) {
      const int da = g.op(Op::matmul, {dy, transposeLast(g, b)});
      const int db = g.op(Op::matmul, {transposeLast(g, a), dy});
      accumulate(a, sumTo(g, da, shapeOf(g, a)));
      accumulate(b, sumTo(g, db, shapeOf(g, b)));
    } else if (op == Op::transpose) {
      accumulate(a, g.op(Op::transpose, {dy}, {{"perm", inversePerm(n.intsAttr("perm"))}}));
    } else if (op == Op::reshape) {
      accumulate(a, g.op(Op::reshape, {dy}, {{"shape", shapeOf(g, a)}}));
    } else if (op == Op::broadcast_to) {
      accumulate(a, sumTo(g, dy, shapeOf(g, a)));
    } else if (op == Op::sum_to) {
      accumulate(a, g.op(Op::broadcast_to, {dy}, {{"shape", shapeOf(g, a)}}));
    } else if (op == Op::reduce_sum || op == Op::reduce_mean) {
      // Restore the reduced axes as 1s, then broadcast back.
      Shape kept = shapeOf(g, a);
      std::int64_t count = 1;
      for (auto ax : n.intsAttr("axes")) {
        const std::size_t d = std::size_t(ax < 0 ? ax + std::int64_t(kept.size()) : ax);
        count *= kept[d];
        kept[d] = 1;
      }
      int gv = g.op(Op::broadcast_to, {g.op(Op::reshape, {dy}, {{"shape", kept}})}, {{"shape", shapeOf(g, a)}});
      if (op == Op::reduce_mean) gv = g.op(Op::div, {gv, g.scalar(double(count))});
      accumulate(a, gv);
    } else if (op == Op::reduce_max) {
      // To the maxima, shared evenly among equal ones (as PyTorch's amax): with m the maximum
      // broadcast back, x is one where m - x is not above zero.
      Shape kept = shapeOf(g, a);
      for (auto ax : n.intsAttr("axes")) kept[std::size_t(ax < 0 ? ax + std::int64_t(kept.size()) : ax)] = 1;
      const Attrs axes = {{"axes", n.attrs.at("axes")}, {"keepdims", std::int64_t(1)}};
      const int m = g.op(Op::broadcast_to, {g.op(Op::reshape, {out}, {{"shape", kept}})}, {{"shape", shapeOf(g, a)}});
      const int at = g.op(Op::sub, {g.scalar(1.0), g.op(Op::relu_grad, {g.scalar(1.0), g.op(Op::sub, {m, a})})});
      const int share = g.op(Op::div, {g.op(Op::reshape, {dy}, {{"shape", kept}}), g.op(Op::reduce_sum, {at}, axes)});
      accumulate(a, g.op(Op::mul, {at, g.op(Op::broadcast_to, {share}, {{"shape", shapeOf(g, a)}})}));
    } else if (op == Op::softmax) {
      const std::int64_t axis = n.intAttr("axis", -1);
      const int s = g.op(Op::reduce_sum, {g.op(Op::mul, {dy, out})}, {{"axes", std::vector<std::int64_t>{axis}}, {"keepdims", std::int64_t(1)}});
      accumulate(a, g.op(Op::mul, {out, g.op(Op::sub, {dy, s})}));
    } else if (op == Op::log_softmax) {
      const std::int64_t axis = n.intAttr("axis", -1);
      const int s = g.op(Op::reduce_sum, {dy}, {{"axes", std::vector<std::int64_t>{axis}}, {"keepdims", std::int64_t(1)}});
      accumulate(a, g.op(Op::sub, {dy, g.op(Op::mul, {g.op(Op::exp, {out}), s})}));
    } else if (op == Op::conv2d) {
      Attrs gi = n.attrs, gw = n.attrs;
      gi["input_shape"] = shapeOf(g, a);
      gw["weight_shape"] = shapeOf(g, b);
      accumulate(a, g.op(Op::conv2d_grad_input, {dy, b}, gi));
      accumulate(b, g.op(Op::conv2d_grad_weight, {a, dy}, gw));
    } else if (op == Op::max_pool2d) {
      accumulate(a, g.op(Op::max_pool2d_grad, {a, dy}, n.attrs));
    } else if (op == Op::avg_pool2d) {
      Attrs at = n.attrs;
      at["input_shape"] = shapeOf(g, a);
      accumulate(a, g.op(Op::avg_pool2d_grad, {dy}, at));
    } else if (op == Op::concat) {
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
        accumulate(in, g.op(Op::slice, {dy}, {{"starts", st}, {"ends", en}}));
      }
    } else if (op == Op::slice) {
      const auto st = n.intsAttr("starts"), en = n.intsAttr("ends");
      const Shape s = shapeOf(g, a);
      std::vector<std::int64_t> pads(st.begin(), st.end());
      for (std::size_t d = 0; d < s.size(); ++d) pads.push_back(s[d] - en[d]);
      accumulate(a, g.op(Op::pad, {dy}, {{"pads", pads}}));
    } else if (op == Op::pad) {
      const auto p = n.intsAttr("pads");
      const Shape s = shapeOf(g, a);
      std::vector<std::int64_t> st(p.begin(), p.begin() + std::int64_t(s.size())), en;
      for (std::size_t d = 0; d < s.size(); ++d) en.push_back(st[d] + s[d]);
      accumulate(a, g.op(Op::slice, {dy}, {{"starts", st}, {"ends", en}}));
    } else if (op == Op::gather) {
      accumulate(a, g.op(Op::gather_grad, {dy, b}, {{"axis", n.intAttr("axis", 0)}, {"data_shape", shapeOf(g, a)}}));
    } else {
      throw CompileError("node '" + n.name + "': op '" + opName(op) + "' is marked differentiable but autodiff has no rule");
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
