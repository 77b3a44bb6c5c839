// FLOPs of matrix products and convolutions from their logical shapes.
#include "tatami/compiler/flops.h"

namespace tatami::compiler {

namespace {

std::uint64_t elements(const Shape& s) {
  std::uint64_t n = 1;
  for (std::int64_t d : s) n *= std::uint64_t(d);
  return n;
}

}  // namespace

std::uint64_t matrixFlops(const Graph& g, const Node& n) {
  const auto shapeOf = [&](int v) -> const Shape& { return g.values[std::size_t(v)].shape; };
  switch (n.op) {
    case Op::matmul: {  // every output element is a dot product over a's last dimension
      const Shape& a = shapeOf(n.inputs[0]);
      return a.empty() ? 0 : 2 * elements(shapeOf(n.outputs[0])) * std::uint64_t(a.back());
    }
    case Op::conv2d:  // every output element: C/G x kh x kw products (the weight [F, C/G, kh, kw])
    case Op::conv2d_grad_input: {  // the same products as the forward convolution, dy [N, F, oh, ow]
      const Shape& w = shapeOf(n.inputs[1]);
      const Shape& y = shapeOf(n.op == Op::conv2d ? n.outputs[0] : n.inputs[0]);
      return w.empty() || w[0] == 0 ? 0 : 2 * elements(y) * (elements(w) / std::uint64_t(w[0]));
    }
    case Op::conv2d_grad_weight: {  // dw [F, C/G, kh, kw] summed over every position of dy
      const Shape& dw = shapeOf(n.outputs[0]);
      return dw.empty() || dw[0] == 0 ? 0 : 2 * elements(shapeOf(n.inputs[1])) * (elements(dw) / std::uint64_t(dw[0]));
    }
    default:
      return 0;
  }
}

std::uint64_t matrixFlops(const Graph& g) {
  std::uint64_t sum = 0;
  for (const Node& n : g.nodes) sum += matrixFlops(g, n);
  return sum;
}

}  // namespace tatami::compiler
