// The compiler's IR, passes, host oracle, autodiff (against FP64 finite differences for every
// op), losses and optimizers, and the ONNX front end.
#include <doctest/doctest.h>

#include <onnx/onnx_pb.h>

#include <array>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>

#include "tatami/compiler/flops.h"
#include "tatami/compiler/interpreter.h"
#include "tatami/compiler/ir.h"
#include "tatami/compiler/onnx_import.h"
#include "tatami/compiler/pipeline.h"
#include "tatami/compiler/training.h"
#include "onnx_models.h"

using namespace tatami::compiler;

namespace {

std::vector<double> randomData(std::size_t n, std::mt19937& gen, double lo, double hi) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

/// Checks d(sum(op(params) * R))/d(params) from autodiff against central differences in FP64.
void checkGradient(Op op, const std::vector<Shape>& shapes, std::map<std::string, Attribute> attrs,
                   double lo, double hi, const std::vector<int>& constantInputs = {}) {
  std::mt19937 gen(7);
  Graph g;
  std::vector<int> ins;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    auto data = randomData(std::size_t(elementCount(shapes[i])), gen, lo, hi);
    const bool isConst = std::find(constantInputs.begin(), constantInputs.end(), int(i)) != constantInputs.end();
    if (isConst && op == Op::where)
      for (auto& x : data) x = x > (lo + hi) / 2 ? 1.0 : 0.0;
    ins.push_back(isConst ? g.constant("c" + std::to_string(i), shapes[i], data) : g.parameter("p" + std::to_string(i), shapes[i], data));
  }
  const int y = g.op(op, ins, attrs, "y");
  const Shape ys = g.values[std::size_t(y)].shape;
  const int r = g.constant("r", ys, randomData(std::size_t(elementCount(ys)), gen, -1, 1));
  std::vector<std::int64_t> all(ys.size());
  for (std::size_t i = 0; i < ys.size(); ++i) all[i] = std::int64_t(i);
  const int loss = g.op(Op::reduce_sum, {g.op(Op::mul, {y, r})}, {{"axes", all}, {"keepdims", std::int64_t(0)}}, "loss");
  const std::vector<int> params = g.parameters;
  const auto grads = addBackward(g, loss, params);
  verify(g);
  const auto base = evaluate(g, {});
  for (int p : params) {
    Value& pv = g.values[std::size_t(p)];
    const auto& analytic = base[std::size_t(grads.at(p))].data;
    double worst = 0, scale = 1e-12;
    for (std::size_t k = 0; k < pv.data.size(); ++k) {
      const double x = pv.data[k], h = 1e-6 * std::max(1.0, std::fabs(x));
      pv.data[k] = x + h;
      const double up = evaluate(g, {})[std::size_t(loss)].data[0];
      pv.data[k] = x - h;
      const double down = evaluate(g, {})[std::size_t(loss)].data[0];
      pv.data[k] = x;
      const double numeric = (up - down) / (2 * h);
      worst = std::max(worst, std::fabs(numeric - analytic[k]));
      scale = std::max(scale, std::fabs(numeric));
    }
    INFO("op ", op, " input ", pv.name, " worst abs error ", worst, " scale ", scale);
    CHECK(worst / scale < 1e-6);
  }
}

}  // namespace

TEST_CASE("autodiff matches FP64 finite differences for every differentiable op") {
  const Shape s = {3, 4};
  for (const Op op : {Op::add, Op::sub, Op::mul, Op::max, Op::min}) checkGradient(op, {s, s}, {}, -2, 2);
  checkGradient(Op::add, {{3, 4}, {4}}, {}, -2, 2);  // broadcasting: the gradient sums back
  checkGradient(Op::mul, {{3, 1}, {1, 4}}, {}, -2, 2);
  checkGradient(Op::div, {s, s}, {}, 0.5, 2);
  checkGradient(Op::pow, {s, s}, {}, 0.5, 2);
  for (const Op op : {Op::tanh, Op::sigmoid, Op::exp, Op::erf, Op::neg, Op::identity}) checkGradient(op, {s}, {}, -2, 2);
  for (const Op op : {Op::log, Op::sqrt, Op::reciprocal}) checkGradient(op, {s}, {}, 0.5, 2);
  checkGradient(Op::relu, {s}, {}, 0.1, 2);
  checkGradient(Op::relu, {s}, {}, -2, -0.1);
  checkGradient(Op::where, {s, s, s}, {}, -2, 2, {0});
  checkGradient(Op::matmul, {{3, 5}, {5, 4}}, {}, -1, 1);
  checkGradient(Op::matmul, {{2, 3, 5}, {5, 4}}, {}, -1, 1);  // batched, B broadcast over the batch
  checkGradient(Op::transpose, {{2, 3, 4}}, {{"perm", std::vector<std::int64_t>{2, 0, 1}}}, -1, 1);
  checkGradient(Op::reshape, {{2, 6}}, {{"shape", std::vector<std::int64_t>{3, 4}}}, -1, 1);
  checkGradient(Op::broadcast_to, {{1, 4}}, {{"shape", std::vector<std::int64_t>{3, 4}}}, -1, 1);
  checkGradient(Op::sum_to, {{3, 4}}, {{"shape", std::vector<std::int64_t>{1, 4}}}, -1, 1);
  checkGradient(Op::reduce_sum, {{3, 4}}, {{"axes", std::vector<std::int64_t>{1}}, {"keepdims", std::int64_t(0)}}, -1, 1);
  checkGradient(Op::reduce_mean, {{3, 4}}, {{"axes", std::vector<std::int64_t>{0}}, {"keepdims", std::int64_t(1)}}, -1, 1);
  checkGradient(Op::reduce_max, {{3, 4}}, {{"axes", std::vector<std::int64_t>{1}}, {"keepdims", std::int64_t(0)}}, -1, 1);
  checkGradient(Op::reduce_max, {{2, 3, 4}}, {{"axes", std::vector<std::int64_t>{0, 2}}, {"keepdims", std::int64_t(1)}}, -1, 1);
  checkGradient(Op::softmax, {s}, {{"axis", std::int64_t(1)}}, -2, 2);
  checkGradient(Op::log_softmax, {s}, {{"axis", std::int64_t(-1)}}, -2, 2);
  using V = std::vector<std::int64_t>;
  checkGradient(Op::conv2d, {{2, 3, 5, 6}, {4, 3, 3, 2}}, {{"strides", V{2, 1}}, {"pads", V{1, 0, 1, 1}}}, -1, 1);
  checkGradient(Op::conv2d, {{1, 4, 5, 5}, {4, 2, 3, 3}}, {{"group", std::int64_t(2)}, {"dilations", V{2, 1}}}, -1, 1);
  checkGradient(Op::max_pool2d, {{2, 2, 4, 5}}, {{"kernel", V{2, 2}}, {"strides", V{2, 2}}, {"pads", V{0, 0, 0, 1}}}, -1, 1);
  checkGradient(Op::avg_pool2d, {{2, 2, 4, 5}}, {{"kernel", V{3, 3}}, {"strides", V{1, 2}}, {"pads", V{1, 1, 1, 1}}}, -1, 1);
  checkGradient(Op::concat, {{2, 3}, {2, 2}}, {{"axis", std::int64_t(1)}}, -1, 1);
  checkGradient(Op::slice, {{3, 5}}, {{"starts", V{1, 0}}, {"ends", V{3, 4}}}, -1, 1);
  checkGradient(Op::pad, {{2, 3}}, {{"pads", V{1, 0, 0, 2}}}, -1, 1);
}

TEST_CASE("reduce_max's gradient goes to the maxima, shared evenly among ties (as PyTorch's amax)") {
  Graph g;
  const int x = g.parameter("x", {2, 3}, {1, 5, 5, 7, 2, 3});
  const int m = g.op(Op::reduce_max, {x}, {{"axes", std::vector<std::int64_t>{1}}, {"keepdims", std::int64_t(0)}}, "m");
  const int loss = g.op(Op::reduce_sum, {g.op(Op::mul, {m, g.constant("w", {2}, {2, 3})})},
                        {{"axes", std::vector<std::int64_t>{0}}, {"keepdims", std::int64_t(0)}}, "loss");
  const auto grads = addBackward(g, loss, {x});
  const auto t = evaluate(g, {});
  CHECK(t[std::size_t(m)].data == std::vector<double>{5, 7});
  CHECK(t[std::size_t(grads.at(x))].data == std::vector<double>{0, 1, 1, 3, 0, 0});
}

TEST_CASE("a batch norm's centred input is recomputed for the backward pass from its normalized output, with the same gradient") {
  // y = (x - mean) / sqrt(var + eps) over the examples and the plane, per channel; the variance
  // squares the centred input, whose gradient needs it: the backward pass takes it as y x std.
  std::mt19937 gen(3);
  Graph g;
  const Shape xs = {2, 3, 4, 4};
  const int x = g.parameter("x", xs, randomData(96, gen, -1, 1));
  const std::map<std::string, Attribute> stat = {{"axes", std::vector<std::int64_t>{0, 2, 3}}, {"keepdims", std::int64_t(1)}};
  const int xc = g.op(Op::sub, {x, g.op(Op::reduce_mean, {x}, stat)}, {}, "xc");
  const int var = g.op(Op::reduce_mean, {g.op(Op::mul, {xc, xc})}, stat);
  const int sd = g.op(Op::sqrt, {g.op(Op::add, {var, g.scalar(1e-5)})}, {}, "sd");
  const int y = g.op(Op::div, {xc, sd}, {}, "y");
  const int w = g.constant("w", xs, randomData(96, gen, -1, 1));
  const int loss = g.op(Op::reduce_sum, {g.op(Op::mul, {y, w})}, {{"axes", std::vector<std::int64_t>{0, 1, 2, 3}}, {"keepdims", std::int64_t(0)}});
  const std::size_t forward = g.nodes.size();
  const auto grads = addBackward(g, loss, {x});
  verify(g);
  // No node of the backward pass reads the centred input.
  for (std::size_t n = forward; n < g.nodes.size(); ++n)
    for (int in : g.nodes[n].inputs) CHECK(in != xc);
  // The gradient against central differences in FP64.
  const auto base = evaluate(g, {});
  Value& xv = g.values[std::size_t(x)];
  double worst = 0;
  for (std::size_t k = 0; k < xv.data.size(); ++k) {
    const double x0 = xv.data[k], h = 1e-6;
    xv.data[k] = x0 + h;
    const double up = evaluate(g, {})[std::size_t(loss)].data[0];
    xv.data[k] = x0 - h;
    const double down = evaluate(g, {})[std::size_t(loss)].data[0];
    xv.data[k] = x0;
    worst = std::max(worst, std::fabs((up - down) / (2 * h) - base[std::size_t(grads.at(x))].data[k]));
  }
  CHECK(worst < 1e-6);
}

TEST_CASE("gather on data (embeddings): value and gradient") {
  Graph g;
  const int table = g.parameter("table", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  const int idx = g.constant("idx", {3}, {2, 0, 2});
  const int y = g.op(Op::gather, {table, idx}, {{"axis", std::int64_t(0)}});
  const int loss = g.op(Op::reduce_sum, {y}, {{"axes", std::vector<std::int64_t>{0, 1}}, {"keepdims", std::int64_t(0)}});
  const auto grads = addBackward(g, loss, {table});
  const auto t = evaluate(g, {});
  CHECK(t[std::size_t(y)].data == std::vector<double>{5, 6, 1, 2, 5, 6});
  CHECK(t[std::size_t(grads.at(table))].data == std::vector<double>{1, 1, 0, 0, 2, 2, 0, 0});  // row 2 twice
}

TEST_CASE("spatial ops compute by their definitions") {
  Graph g;
  // A 1x1x3x3 image, a 2x2 kernel of ones, stride 1: each output sums a 2x2 window.
  const int x = g.constant("x", {1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const int w = g.constant("w", {1, 1, 2, 2}, {1, 1, 1, 1});
  const int c = g.op(Op::conv2d, {x, w});
  const int m = g.op(Op::max_pool2d, {x}, {{"kernel", std::vector<std::int64_t>{2, 2}}, {"strides", std::vector<std::int64_t>{1, 1}}});
  const int a = g.op(Op::avg_pool2d, {x}, {{"kernel", std::vector<std::int64_t>{3, 3}}, {"pads", std::vector<std::int64_t>{1, 1, 1, 1}}});
  const auto t = evaluate(g, {});
  CHECK(t[std::size_t(c)].data == std::vector<double>{12, 16, 24, 28});
  CHECK(t[std::size_t(m)].data == std::vector<double>{5, 6, 8, 9});
  CHECK(t[std::size_t(a)].data[0] == doctest::Approx((1 + 2 + 4 + 5) / 4.0));  // padding not counted
  CHECK_THROWS_WITH(g.op(Op::conv2d, {x, g.constant("w3", {1, 2, 2, 2}, std::vector<double>(8, 1.0))}),
                    doctest::Contains("(conv2d): x has 1 channels; w expects 2"));
}

TEST_CASE("the host oracle computes ops by their definitions") {
  Graph g;
  const int a = g.constant("a", {2, 3}, {1, 2, 3, 4, 5, 6});
  const int b = g.constant("b", {3, 2}, {1, 0, 0, 1, 1, 1});
  const int mm = g.op(Op::matmul, {a, b});
  const int sm = g.op(Op::softmax, {g.constant("z", {1, 3}, {0, std::log(2.0), std::log(5.0)})}, {{"axis", std::int64_t(1)}});
  const int st = g.op(Op::sum_to, {a}, {{"shape", std::vector<std::int64_t>{1, 3}}});
  const auto t = evaluate(g, {});
  CHECK(t[std::size_t(mm)].data == std::vector<double>{4, 5, 10, 11});
  CHECK(t[std::size_t(sm)].data[2] == doctest::Approx(5.0 / 8.0));
  CHECK(t[std::size_t(st)].data == std::vector<double>{5, 7, 9});
  // FP32 mode rounds every result.
  Graph f;
  const int x = f.constant("x", {1}, {0.1});
  const int y = f.op(Op::add, {x, f.constant("y", {1}, {0.2})});
  CHECK(evaluate(f, {}, {true})[std::size_t(y)].data[0] == double(float(0.1 + 0.2)));
}

TEST_CASE("the mixed-precision oracle rounds every matrix product's operands to BF16 and nothing else") {
  // 1 + 2^-9 is a quarter of a BF16 unit above 1 (7 fraction bits): it rounds down to 1. 1 + 3 * 2^-9
  // is three quarters above: up to 1 + 2^-7.
  const double lo = 1 + std::ldexp(1.0, -9), hi = 1 + 3 * std::ldexp(1.0, -9);
  Graph g;
  const int a = g.constant("a", {1, 2}, {lo, hi});
  const int b = g.constant("b", {2, 1}, {hi, 1});
  const int mm = g.op(Op::matmul, {a, b});
  const int add = g.op(Op::add, {a, a});
  const int x = g.constant("x", {1, 1, 2, 2}, {lo, hi, 1, 2});
  const int w = g.constant("w", {1, 1, 1, 1}, {hi});
  const int conv = g.op(Op::conv2d, {x, w});
  const int dy = g.constant("dy", {1, 1, 2, 2}, {1, 1, 1, lo});
  const int dw = g.op(Op::conv2d_grad_weight, {x, dy}, {{"weight_shape", std::vector<std::int64_t>{1, 1, 1, 1}}});
  const int dx = g.op(Op::conv2d_grad_input, {dy, w}, {{"input_shape", std::vector<std::int64_t>{1, 1, 2, 2}}});
  EvalOptions mixed;
  mixed.bf16MatrixOperands = true;
  const auto t = evaluate(g, {}, mixed);
  const double up = 1 + std::ldexp(1.0, -7);
  CHECK(t[std::size_t(mm)].data == std::vector<double>{1 * up + up * 1});
  CHECK(t[std::size_t(add)].data == std::vector<double>{2 * lo, 2 * hi});  // not a matrix product: exact
  CHECK(t[std::size_t(conv)].data == std::vector<double>{up, up * up, up, 2 * up});
  CHECK(t[std::size_t(dw)].data == std::vector<double>{1 + up + 1 + 2});
  CHECK(t[std::size_t(dx)].data == std::vector<double>{up, up, up, up});
  // Without the option the same products are exact.
  CHECK(evaluate(g, {})[std::size_t(mm)].data == std::vector<double>{lo * hi + hi});
}

TEST_CASE("the oracle's FP32-noise estimate accumulates every sum in FP32, term by term") {
  // 1 then four terms of 2^-25: each is half of FP32's half-unit at 1, so an FP32 adder drops it.
  const double tiny = std::ldexp(1.0, -25);
  Graph g;
  const int x = g.constant("x", {1, 5}, {1, tiny, tiny, tiny, tiny});
  const int sum = g.op(Op::reduce_sum, {x}, {{"axes", std::vector<std::int64_t>{1}}, {"keepdims", std::int64_t(0)}});
  const int dot = g.op(Op::matmul, {x, g.constant("ones", {5, 1}, {1, 1, 1, 1, 1})});
  const int conv = g.op(Op::conv2d, {g.constant("img", {1, 1, 1, 5}, {1, tiny, tiny, tiny, tiny}), g.constant("k", {1, 1, 1, 5}, {1, 1, 1, 1, 1})});
  EvalOptions naive;
  naive.roundToFloat = naive.accumulateInFloat = true;
  const auto t = evaluate(g, {}, naive);
  CHECK(t[std::size_t(sum)].data[0] == 1.0);
  CHECK(t[std::size_t(dot)].data[0] == 1.0);
  CHECK(t[std::size_t(conv)].data[0] == 1.0);
  // Rounding only the results keeps the sum's last bit: 1 + 2^-23 is an FP32 number.
  EvalOptions fp32;
  fp32.roundToFloat = true;
  CHECK(evaluate(g, {}, fp32)[std::size_t(sum)].data[0] == 1 + 4 * tiny);
}

TEST_CASE("consecutive all-reduces share buckets after the fact: one all-reduce for the small ones, results kept by name") {
  Graph g;
  const int a = g.constant("a", {2, 3}, {1, 2, 3, 4, 5, 6});
  const int b = g.constant("b", {4}, {7, 8, 9, 10});
  const int big = g.constant("big", {20000}, std::vector<double>(20000, 0.5));  // 80,000 bytes: alone
  const int s = g.constant("s", {}, {3});
  const int ra = g.op(Op::allreduce_mean, {a}, {}, "ra");
  const int rb = g.op(Op::allreduce_mean, {b}, {}, "rb");
  const int rbig = g.op(Op::allreduce_mean, {big}, {}, "rbig");
  const int rs = g.op(Op::allreduce_mean, {s}, {}, "rs");
  const int y = g.op(Op::mul, {ra, g.constant("two", {}, {2})});
  for (int v : {y, rb, rbig, rs}) g.markOutput(v);
  const std::vector<Tensor> before = evaluate(g, {});
  bucketAllreduces(g);
  verify(g);
  int allreduces = 0, concats = 0;
  for (const Node& n : g.nodes) allreduces += n.op == Op::allreduce_mean, concats += n.op == Op::concat;
  CHECK(allreduces == 2);  // a, b and s in one bucket (44 bytes); big alone
  CHECK(concats == 1);
  CHECK(g.values[std::size_t(g.nodes[std::size_t(g.values[std::size_t(rb)].producer)].inputs[0])].shape == Shape{4});
  CHECK(g.nodes[std::size_t(g.values[std::size_t(rb)].producer)].op == Op::reshape);
  CHECK(g.values[std::size_t(ra)].name == "ra");
  CHECK(g.values[std::size_t(ra)].shape == Shape{2, 3});
  const std::vector<Tensor> after = evaluate(g, {});
  for (int v : {y, rb, rbig, rs}) CHECK(after[std::size_t(v)].data == before[std::size_t(v)].data);
  // A run broken by another node, or an all-reduce reading another's result, is not joined.
  Graph h;
  const int x = h.constant("x", {2}, {1, 2});
  const int r1 = h.op(Op::allreduce_mean, {x});
  const int r2 = h.op(Op::allreduce_mean, {r1});
  h.markOutput(r2);
  bucketAllreduces(h);
  CHECK(h.nodes.size() == 2);
}

TEST_CASE("a training step: SGD with momentum and AdamW update by their formulas") {
  for (const std::string kind : {"sgd", "adamw"}) {
    Graph g;
    const int x = g.input("x", {4, 3});
    const int t = g.input("t", {4, 2});
    const int w = g.parameter("w", {3, 2}, {0.1, -0.2, 0.3, 0.05, -0.1, 0.2});
    const int loss = addMeanSquaredError(g, g.op(Op::matmul, {x, w}), t);
    OptimizerConfig o;
    o.kind = kind, o.learningRate = 0.1, o.momentum = 0.9, o.weightDecay = 0.01;
    addTrainingStep(g, loss, o);
    verify(g);
    const Tensor xs{{4, 3}, {1, 2, 0, 0, 1, 1, 2, 0, 1, 1, 1, 1}}, ts{{4, 2}, {1, 0, 0, 1, 1, 1, 0, 0}};
    const Tensor zero{{3, 2}, std::vector<double>(6, 0.0)}, m0{{3, 2}, {0.5, 0.5, 0.5, 0.5, 0.5, 0.5}};
    std::map<std::string, Tensor> feeds = {{"x", xs}, {"t", ts}, {"w.m", m0}};
    if (kind == "adamw") feeds["w.v"] = Tensor{{3, 2}, {0.01, 0.01, 0.01, 0.01, 0.01, 0.01}};
    const auto r = evaluate(g, feeds);
    // The gradient by hand: d/dw mean((xw - t)^2) = 2/8 x^T (xw - t).
    Graph h;
    const int hx = h.constant("x", xs.shape, xs.data), hw = h.constant("w", {3, 2}, g.values[std::size_t(w)].data);
    const int d = h.op(Op::sub, {h.op(Op::matmul, {hx, hw}), h.constant("t", ts.shape, ts.data)});
    const int grad = h.op(Op::mul, {h.op(Op::matmul, {h.op(Op::transpose, {hx}, {{"perm", std::vector<std::int64_t>{1, 0}}}), d}), h.scalar(2.0 / 8)});
    const auto gr = evaluate(h, {})[std::size_t(grad)].data;
    const auto& next = r[std::size_t(g.find("w.next"))].data;
    for (std::size_t k = 0; k < 6; ++k) {
      const double p = g.values[std::size_t(w)].data[k];
      double want;
      if (kind == "sgd") {
        const double gk = gr[k] + 0.01 * p, mk = 0.9 * 0.5 + gk;
        want = p - 0.1 * mk;
      } else {
        const double mk = 0.9 * 0.5 + 0.1 * gr[k], vk = 0.999 * 0.01 + 0.001 * gr[k] * gr[k];
        const double mh = mk / (1 - 0.9), vh = vk / (1 - 0.999);
        want = p - 0.1 * (mh / (std::sqrt(vh) + 1e-8) + 0.01 * p);
      }
      CHECK(next[k] == doctest::Approx(want).epsilon(1e-12));
    }
  }
}

TEST_CASE("softmax cross-entropy: value and gradient") {
  Graph g;
  const int z = g.parameter("z", {2, 3}, {1, 2, 3, 0, 0, 0});
  const int y = g.constant("y", {2, 3}, {0, 0, 1, 1, 0, 0});
  const int loss = addSoftmaxCrossEntropy(g, z, y);
  const auto grads = addBackward(g, loss, {z});
  const auto t = evaluate(g, {});
  const double l0 = -std::log(std::exp(3.0) / (std::exp(1.0) + std::exp(2.0) + std::exp(3.0)));
  const double l1 = std::log(3.0);
  CHECK(t[std::size_t(loss)].data[0] == doctest::Approx((l0 + l1) / 2));
  // d/dz = (softmax(z) - y) / batch
  CHECK(t[std::size_t(grads.at(z))].data[5] == doctest::Approx((1.0 / 3.0) / 2));
  CHECK(t[std::size_t(grads.at(z))].data[3] == doctest::Approx((1.0 / 3.0 - 1.0) / 2));
}

TEST_CASE("text IR: print and parse agree, passes in text form") {
  const std::string text =
      "graph g\n"
      "input %x f32[2,3]\n"
      "param %w f32[3,2]\n"
      "const %two f32[] = 2\n"
      "const %three f32[] = 3\n"
      "%six = mul %two, %three\n"
      "%h = matmul %x, %w\n"
      "%unused = relu %h\n"
      "%y = mul %h, %six\n"
      "%s = softmax %y {axis=1}\n"
      "output %s\n";
  Graph g = parseGraph(text, "t.tir");
  verify(g);
  CHECK(printGraph(parseGraph(printGraph(g), "again.tir")) == printGraph(g));
  std::ostringstream out;
  runPipeline(g, standardPasses(), {"dce"}, &out);
  CHECK(out.str() ==
        "# IR after dce\n"
        "graph g\n"
        "input %x f32[2,3]\n"
        "param %w f32[3,2]\n"
        "const %six f32[] = 6\n"
        "%h = matmul %x, %w\n"
        "%y = mul %h, %six\n"
        "%s = softmax %y {axis=1}\n"
        "output %s\n\n");
  CHECK_THROWS_WITH(parseGraph("input %x f32[2,3]\n%y = matmul %x, %x\n", "bad.tir"),
                    "bad.tir:2:19: node 'y' (matmul): inner dimensions differ: [2,3] x [2,3]");
  CHECK_THROWS_WITH(parseGraph("%y = relu %nope\n", "bad.tir"), "bad.tir:1:16: unknown value '%nope'");
}

namespace {

onnx::ModelProto mlpModel(int opset) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* os = m.add_opset_import();
  os->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("mlp");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  tt->mutable_shape()->add_dim()->set_dim_value(2);
  tt->mutable_shape()->add_dim()->set_dim_value(2);
  const auto init = [&](const std::string& name, std::vector<std::int64_t> dims, std::vector<float> v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t->add_dims(d);
    for (float f : v) t->add_float_data(f);
  };
  init("w1", {4, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1});
  init("b1", {3}, {0.5f, -10.0f, 0.0f});
  init("w2", {3, 2}, {1, -1, 2, 0, 0, 3});
  const auto node = [&](const std::string& op, std::vector<std::string> ins, std::string out) -> onnx::NodeProto* {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + out);
    for (auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
  };
  // PyTorch-style shape arithmetic: flatten through Shape/Gather/Unsqueeze/Concat/Reshape.
  node("Shape", {"x"}, "shape");
  auto* idx = node("Constant", {}, "zero");
  auto* a = idx->add_attribute();
  a->set_name("value");
  a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  a->mutable_t()->add_int64_data(0);
  node("Gather", {"shape", "zero"}, "batch");
  auto* c = node("Constant", {}, "minus1");
  auto* a2 = c->add_attribute();
  a2->set_name("value");
  a2->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  a2->mutable_t()->add_dims(1);
  a2->mutable_t()->add_int64_data(-1);
  auto* axes = node("Constant", {}, "axes0");
  auto* a3 = axes->add_attribute();
  a3->set_name("value");
  a3->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  a3->mutable_t()->add_dims(1);
  a3->mutable_t()->add_int64_data(0);
  node("Unsqueeze", {"batch", "axes0"}, "batch1");
  node("Concat", {"batch1", "minus1"}, "newshape")->add_attribute()->set_name("axis");
  node("Reshape", {"x", "newshape"}, "flat");
  node("Gemm", {"flat", "w1", "b1"}, "h");
  node("Relu", {"h"}, "a");
  node("MatMul", {"a", "w2"}, "logits");
  auto* sm = node("Softmax", {"logits"}, "probs");
  auto* ax = sm->add_attribute();
  ax->set_name("axis");
  ax->set_type(onnx::AttributeProto::INT);
  ax->set_i(1);
  g->add_output()->set_name("probs");
  return m;
}

}  // namespace

TEST_CASE("ONNX: an MLP with PyTorch's shape arithmetic imports, folds and computes") {
  const std::string bytes = mlpModel(17).SerializeAsString();
  ImportOptions o;
  o.batch = 2;
  Graph g = importOnnxBytes(bytes, "mlp.onnx", o);
  runPipeline(g, standardPasses(), {}, nullptr);
  CHECK(g.parameters.size() == 3);
  for (const Node& n : g.nodes) {
    CHECK(n.op != Op::gather);  // the shape arithmetic was folded
    CHECK(n.op != Op::concat);
  }
  const auto t = evaluate(g, {{"x", Tensor{{2, 2, 2}, {1, 2, 3, 4, 0, 0, 0, 1}}}});
  // Row 0: h = [1+4+.5, 2+4-10, 3+4] = [5.5, -4, 7] -> relu [5.5, 0, 7] -> logits [5.5, 15.5]
  const auto& p = t[std::size_t(g.outputs[0])].data;
  CHECK(p[1] == doctest::Approx(1.0 / (1.0 + std::exp(-10.0))));
}

TEST_CASE("ONNX: an initializer with an infinite value is a constant (a mask), not a trained parameter") {
  onnx::ModelProto m = mlpModel(17);
  for (auto& t : *m.mutable_graph()->mutable_initializer())
    if (t.name() == "b1") t.set_float_data(1, -std::numeric_limits<float>::infinity());
  ImportOptions o;
  o.batch = 2;
  const Graph g = importOnnxBytes(m.SerializeAsString(), "mlp.onnx", o);
  CHECK(g.parameters.size() == 2);
  const int b1 = g.find("b1");
  REQUIRE(b1 >= 0);
  CHECK(g.values[std::size_t(b1)].kind == ValueKind::Constant);
  CHECK(g.values[std::size_t(g.find("w1"))].kind == ValueKind::Parameter);
}

namespace {

/// The graph of a new opset-17 model named `name`.
onnx::GraphProto* startModel(onnx::ModelProto& m, const std::string& name) {
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name(name);
  return g;
}

/// A graph input of element type `type` and fixed dimensions.
void addInput(onnx::GraphProto* g, const std::string& name, const std::vector<std::int64_t>& dims, int type = onnx::TensorProto::FLOAT) {
  auto* v = g->add_input();
  v->set_name(name);
  v->mutable_type()->mutable_tensor_type()->set_elem_type(type);
  for (auto d : dims) v->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
}

/// x [1, 2] -> MatMul(x, w) [1, 3] -> MatMul(., copy) [1, 2]: w [2, 3] a parameter, `copy` [3, 2]
/// an initializer named `copyName` holding `copyData`.
onnx::ModelProto tiedModel(const std::string& copyName, const std::vector<float>& copyData) {
  onnx::ModelProto m;
  auto* g = startModel(m, "tied");
  addInput(g, "x", {1, 2});
  const auto init = [&](const std::string& name, std::vector<std::int64_t> dims, const std::vector<float>& v) {
    auto* t = g->add_initializer();
    t->set_name(name), t->set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : dims) t->add_dims(d);
    for (float f : v) t->add_float_data(f);
  };
  init("w", {2, 3}, {1, 2, 3, 4, 5, 6});
  init(copyName, {3, 2}, copyData);
  for (const auto& [a, b, out] : std::vector<std::array<std::string, 3>>{{"x", "w", "h"}, {"h", copyName, "y"}}) {
    auto* n = g->add_node();
    n->set_op_type("MatMul"), n->set_name("mm_" + out), n->add_input(a), n->add_input(b), n->add_output(out);
  }
  g->add_output()->set_name("y");
  return m;
}

}  // namespace

TEST_CASE("ONNX: an exporter's folded transpose of a parameter is that parameter transposed (tied weights)") {
  const std::vector<float> wT = {1, 4, 2, 5, 3, 6};
  ImportOptions o;
  const Graph tied = importOnnxBytes(tiedModel("onnx::MatMul_7", wT).SerializeAsString(), "tied.onnx", o);
  REQUIRE(tied.parameters.size() == 1);
  CHECK(tied.values[std::size_t(tied.parameters[0])].name == "w");
  const auto t = evaluate(tied, {{"x", Tensor{{1, 2}, {1, 1}}}});
  // h = [5, 7, 9]; y = h w^T = [5 + 14 + 27, 20 + 35 + 54]
  CHECK(t[std::size_t(tied.outputs[0])].data == std::vector<double>{46, 109});
  // Not tied: a copy whose name is the user's, one that is not the transpose, one of a single value.
  CHECK(importOnnxBytes(tiedModel("head.weight", wT).SerializeAsString(), "tied.onnx", o).parameters.size() == 2);
  CHECK(importOnnxBytes(tiedModel("onnx::MatMul_7", {1, 2, 3, 4, 5, 6}).SerializeAsString(), "tied.onnx", o).parameters.size() == 2);
  CHECK(importOnnxBytes(tiedModel("onnx::MatMul_7", {0, 0, 0, 0, 0, 0}).SerializeAsString(), "tied.onnx", o).parameters.size() == 2);
}

TEST_CASE("ONNX errors name the file, the node, the op and the opset") {
  onnx::ModelProto m = mlpModel(17);
  onnx::ModelProto m2 = m;
  auto* scan = m.mutable_graph()->add_node();
  scan->set_op_type("Scan");
  scan->set_name("scan1");
  scan->add_input("x");
  scan->add_output("y");
  ImportOptions o;
  o.batch = 2;
  CHECK_THROWS_WITH(importOnnxBytes(m.SerializeAsString(), "m.onnx", o), "m.onnx: node 'scan1' (Scan, opset 17): unsupported op");
  auto* conv = m2.mutable_graph()->add_node();
  conv->set_op_type("Conv");
  conv->set_name("conv1");
  conv->add_input("x");
  conv->add_output("y");
  CHECK_THROWS_WITH(importOnnxBytes(m2.SerializeAsString(), "m.onnx", o), "m.onnx: node 'conv1' (Conv, opset 17): input 1 is missing");
  CHECK_THROWS_WITH(importOnnxBytes(mlpModel(10).SerializeAsString(), "old.onnx", o),
                    "old.onnx: opset 10 is outside the supported range 11..17");
  CHECK_THROWS_WITH(importOnnxBytes(mlpModel(18).SerializeAsString(), "new.onnx", o),
                    "new.onnx: opset 18 is outside the supported range 11..17");
  CHECK_THROWS_WITH(importOnnxBytes(mlpModel(17).SerializeAsString(), "m.onnx", {}),
                    "m.onnx: input 'x' has a symbolic dimension 'batch': give its size, the batch, with --batch N");
  CHECK_THROWS_WITH(importOnnxBytes("garbage", "bad.onnx", o), "bad.onnx: not a valid ONNX model (protobuf parse failed)");
  CHECK_THROWS_WITH(importOnnx("missing.onnx", o), "cannot read ONNX file 'missing.onnx'");
}


TEST_CASE("ONNX: a small CNN with batch norm imports, and one training step lowers its loss") {
  ImportOptions o;
  o.batch = 4;
  Graph g = importOnnxBytes(tatami::testing::cnnModel().SerializeAsString(), "cnn.onnx", o);
  CHECK(g.values[std::size_t(g.outputs[0])].shape == Shape{4, 3});
  const int logits = g.outputs[0];
  const int target = g.input("target", {4, 3});
  g.outputs.clear();
  const int loss = addSoftmaxCrossEntropy(g, logits, target);
  OptimizerConfig opt;
  opt.learningRate = 0.5;
  addTrainingStep(g, loss, opt);
  runPipeline(g, standardPasses(), {}, nullptr);
  std::mt19937 gen(9);
  Tensor image{{4, 1, 6, 6}, randomData(144, gen, 0, 1)};
  Tensor onehot{{4, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0}};
  const auto before = evaluate(g, {{"image", image}, {"target", onehot}});
  // Apply the update and evaluate again.
  for (int p : g.parameters) g.values[std::size_t(p)].data = before[std::size_t(g.find(g.values[std::size_t(p)].name + ".next"))].data;
  const auto after = evaluate(g, {{"image", image}, {"target", onehot}});
  const double l0 = before[std::size_t(g.find(g.values[std::size_t(g.outputs[0])].name))].data[0];
  const double l1 = after[std::size_t(g.find(g.values[std::size_t(g.outputs[0])].name))].data[0];
  INFO("loss before ", l0, " after ", l1);
  CHECK(l1 < l0);
}

TEST_CASE("decomposeSpatial: convolution, max and average pooling, pad, forward and backward, as gathers and matmuls") {
  using V = std::vector<std::int64_t>;
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> u(-1, 1);
  const auto rnd = [&](std::size_t n) {
    std::vector<double> v(n);
    for (auto& x : v) x = u(gen);
    return v;
  };
  Graph g;
  const int x = g.input("x", {2, 3, 7, 6});
  const int w1 = g.parameter("w1", {4, 3, 3, 2}, rnd(72));
  const int c1 = g.op(Op::conv2d, {x, w1}, {{"strides", V{2, 1}}, {"pads", V{1, 0, 1, 1}}, {"dilations", V{1, 2}}});
  const int r1 = g.op(Op::relu, {c1});
  // Overlapping windows, padding, and ties (relu zeros): the gradient goes to the first maximum.
  const int p1 = g.op(Op::max_pool2d, {r1}, {{"kernel", V{2, 3}}, {"strides", V{1, 2}}, {"pads", V{0, 1, 1, 0}}});
  const int p2 = g.op(Op::max_pool2d, {x}, {{"kernel", V{2, 2}}, {"strides", V{2, 2}}});
  // Average pooling with padding, counted and not; a pad.
  const int a1 = g.op(Op::avg_pool2d, {c1}, {{"kernel", V{3, 2}}, {"strides", V{2, 1}}, {"pads", V{1, 1, 1, 0}}});
  const int a2 = g.op(Op::avg_pool2d, {g.op(Op::pad, {x}, {{"pads", V{0, 0, 1, 0, 0, 1, 0, 2}}})},
                      {{"kernel", V{2, 2}}, {"pads", V{1, 0, 0, 1}}, {"count_include_pad", std::int64_t(1)}});
  const V all = {0, 1, 2, 3};
  const auto total = [&](int v) { return g.op(Op::reduce_sum, {v}, {{"axes", all}, {"keepdims", std::int64_t(0)}}); };
  const int loss = g.op(Op::add, {g.op(Op::add, {total(g.op(Op::mul, {p1, p1})), total(p2)}),
                                g.op(Op::add, {total(g.op(Op::mul, {a1, a1})), total(g.op(Op::mul, {a2, a2}))})});
  g.markOutput(loss);
  const auto grads = addBackward(g, loss, {x, w1});
  g.markOutput(grads.at(x));
  g.markOutput(grads.at(w1));
  std::map<std::string, Tensor> feeds;
  feeds["x"] = Tensor{{2, 3, 7, 6}, rnd(2 * 3 * 7 * 6)};
  feeds["x"].data[1] = feeds["x"].data[6] = 5;  // a tied maximum in the first window of p2
  feeds["x"].data[0] = feeds["x"].data[7] = -1;
  const auto before = evaluate(g, feeds);
  Graph d = g;
  decomposeSpatial(d);
  verify(d);
  for (const Node& n : d.nodes) CHECK_MESSAGE((!opHas(n.op, kChannel) && n.op != Op::pad), opName(n.op));
  const auto after = evaluate(d, feeds);
  REQUIRE(d.outputs.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    const auto& a = before[std::size_t(g.outputs[k])].data;
    const auto& b = after[std::size_t(d.outputs[k])].data;
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(b[i] == doctest::Approx(a[i]).epsilon(1e-12));
  }
  // Grouped convolution (2 groups, and depthwise), forward and both gradients: one convolution per
  // group, exact against the oracle's own definition.
  for (const std::int64_t groups : {2, 4}) {
    Graph gg;
    const int gx = gg.input("x", {2, 4, 5, 5});
    const int gw = gg.parameter("w", {4, 4 / groups, 3, 3}, rnd(std::size_t(4 * (4 / groups) * 9)));
    const int y = gg.op(Op::conv2d, {gx, gw}, {{"group", groups}, {"strides", V{2, 1}}, {"pads", V{1, 0, 0, 1}}});
    const int l = gg.op(Op::reduce_sum, {gg.op(Op::mul, {y, y})}, {{"axes", all}, {"keepdims", std::int64_t(0)}});
    gg.markOutput(l);
    const auto gr = addBackward(gg, l, {gx, gw});
    gg.markOutput(gr.at(gx));
    gg.markOutput(gr.at(gw));
    const std::map<std::string, Tensor> gf = {{"x", Tensor{{2, 4, 5, 5}, rnd(200)}}};
    const auto want = evaluate(gg, gf);
    Graph gd = gg;
    decomposeSpatial(gd);
    for (const Node& n : gd.nodes) CHECK_MESSAGE(!opHas(n.op, kChannel), opName(n.op));
    const auto got = evaluate(gd, gf);
    for (std::size_t k = 0; k < 3; ++k) {
      const auto& a = want[std::size_t(gg.outputs[k])].data;
      const auto& b = got[std::size_t(gd.outputs[k])].data;
      REQUIRE(a.size() == b.size());
      for (std::size_t i = 0; i < a.size(); ++i) CHECK(b[i] == doctest::Approx(a[i]).epsilon(1e-12));
    }
  }
}

namespace {

/// x [4, 8] (or [batch, 8]) -> Dropout(ratio, training_mode, seed) -> y, as PyTorch exports a
/// model in training mode.
onnx::ModelProto dropoutModel(float ratio, bool training, std::int64_t seed, bool symbolicBatch = false) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  if (symbolicBatch) tt->mutable_shape()->add_dim()->set_dim_param("batch");
  else tt->mutable_shape()->add_dim()->set_dim_value(4);
  tt->mutable_shape()->add_dim()->set_dim_value(8);
  // The ratio and the mode as Constant nodes, as the exporter writes them.
  const auto constant = [&](const char* name, onnx::TensorProto_DataType type, float value) {
    auto* c = g->add_node();
    c->set_op_type("Constant"), c->set_name(std::string("/") + name), c->add_output(name);
    auto* v = c->add_attribute();
    v->set_name("value"), v->set_type(onnx::AttributeProto::TENSOR);
    v->mutable_t()->set_data_type(type);
    if (type == onnx::TensorProto::FLOAT) v->mutable_t()->add_float_data(value);
    else v->mutable_t()->add_int32_data(int(value));
  };
  constant("ratio", onnx::TensorProto::FLOAT, ratio);
  constant("training", onnx::TensorProto::BOOL, training ? 1.0f : 0.0f);
  auto* n = g->add_node();
  n->set_op_type("Dropout"), n->set_name("/drop/Dropout");
  n->add_input("x"), n->add_input("ratio"), n->add_input("training");
  n->add_output("y"), n->add_output("mask");
  auto* a = n->add_attribute();
  a->set_name("seed"), a->set_type(onnx::AttributeProto::INT), a->set_i(seed);
  g->add_output()->set_name("y");
  return m;
}

std::vector<double> dropped(float ratio, bool training, std::int64_t seed) {
  Graph g = importOnnxBytes(dropoutModel(ratio, training, seed).SerializeAsString(), "drop.onnx", {});
  runPipeline(g, standardPasses(), {}, nullptr);
  return evaluate(g, {{"x", Tensor{{4, 8}, std::vector<double>(32, 1.0)}}})[std::size_t(g.outputs[0])].data;
}

}  // namespace

TEST_CASE("ONNX: dropout in training mode is a seeded mask fixed at compile time") {
  const std::vector<double> a = dropped(0.25f, true, 7);
  int zeros = 0;
  for (double v : a) {
    CHECK((v == 0.0 || std::fabs(v - 1.0 / 0.75) < 1e-12));
    zeros += v == 0.0;
  }
  CHECK(zeros >= 3);  // about a quarter of 32
  CHECK(zeros <= 14);
  CHECK(dropped(0.25f, true, 7) == a);  // the same seed, the same mask
  CHECK(dropped(0.25f, true, 8) != a);  // another seed, another
  CHECK(dropped(0.25f, false, 7) == std::vector<double>(32, 1.0));  // inference: the identity
  // A data-parallel core's share draws the whole batch's rows: examples 1..2 of 4.
  const std::string bytes = dropoutModel(0.25f, true, 7, true).SerializeAsString();
  ImportOptions whole, share;
  whole.batch = 4, share.batch = 2, share.firstExample = 1;
  Graph gw = importOnnxBytes(bytes, "drop.onnx", whole), gs = importOnnxBytes(bytes, "drop.onnx", share);
  const auto all = evaluate(gw, {{"x", Tensor{{4, 8}, std::vector<double>(32, 1.0)}}})[std::size_t(gw.outputs[0])].data;
  const auto part = evaluate(gs, {{"x", Tensor{{2, 8}, std::vector<double>(16, 1.0)}}})[std::size_t(gs.outputs[0])].data;
  CHECK(all == a);
  CHECK(part == std::vector<double>(all.begin() + 8, all.begin() + 24));
}

TEST_CASE("the op table: names round-trip, traits drive the verifier, docs/compiler.md lists it") {
  for (const OpInfo& i : opTable()) {
    CHECK(opFromName(i.name) == i.op);
    CHECK(std::string(opName(i.op)) == i.name);
  }
  CHECK_THROWS_WITH_AS(opFromName("frobnicate"), doctest::Contains("unknown op 'frobnicate'"), CompileError);
  Graph g;
  const int x = g.input("x", {2, 3});
  CHECK_THROWS_WITH_AS(g.op(Op::add, {x}), doctest::Contains("takes 2 inputs, got 1"), CompileError);
  CHECK_THROWS_WITH_AS(g.op(Op::where, {x, x}), doctest::Contains("takes 3 inputs, got 2"), CompileError);
  CHECK(opHas(Op::conv2d, kChannel));
  CHECK_FALSE(opHas(Op::gather_grad, kDifferentiable));
  // The table in the docs is the one the code has (scripts/regen-docs.sh rewrites it).
  std::ifstream f(TATAMI_SOURCE_DIR "/docs/compiler.md");
  REQUIRE(f);
  const std::string doc((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::string begin = "<!-- op-table begin -->\n";
  const auto a = doc.find(begin), b = doc.find("<!-- op-table end -->");
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  CHECK_MESSAGE(doc.substr(a + begin.size(), b - a - begin.size()) == opTableMarkdown() + "\n",
                "docs/compiler.md's op table is stale: run scripts/regen-docs.sh");
}

TEST_CASE("value roles: set by the training step, kept by the text form and by the passes") {
  Graph g = parseGraph("graph t\ninput %x f32[4,3]\nparam %w f32[3,2]\n%y = matmul %x, %w\noutput %y\n", "t.tir");
  const int y = g.outputs.front();
  g.outputs.clear();
  OptimizerConfig adam;
  adam.kind = "adamw";
  addTrainingStep(g, addMeanSquaredError(g, y, addTarget(g, y)), adam);
  CHECK(g.values[std::size_t(g.find("x"))].role == Role::Batch);
  CHECK(g.values[std::size_t(g.find("target"))].role == Role::Target);
  CHECK(g.values[std::size_t(g.find("w"))].role == Role::Parameter);
  const int m = g.findRole(Role::OptimizerState, "w");
  REQUIRE(m >= 0);
  CHECK(g.withRole(Role::OptimizerState).size() == 2);
  CHECK(g.values[std::size_t(g.findRole(Role::Update, "w"))].name == "w.next");
  CHECK(g.findRole(Role::Update, g.values[std::size_t(m)].name) >= 0);
  CHECK(g.withRole(Role::Loss).size() == 1);
  // The text form carries the roles, and reads them back.
  const std::string text = printGraph(g);
  CHECK(text.find("input %target f32[4,2] target\n") != std::string::npos);
  CHECK(text.find("input %w.m f32[3,2] state(%w)\n") != std::string::npos);
  CHECK(text.find("output %w.next update(%w)\n") != std::string::npos);
  Graph back = parseGraph(text, "back.tir");
  CHECK(printGraph(back) == text);
  CHECK(back.values[std::size_t(back.find("w.v.next"))].of == "w.v");
  // A pass that rebuilds the graph keeps them.
  runPipeline(back, standardPasses(), {}, nullptr);
  CHECK(back.values[std::size_t(back.findRole(Role::Update, "w"))].name == "w.next");
  CHECK(back.findRole(Role::Target) >= 0);
  // Roles that do not fit are refused with the line.
  CHECK_THROWS_WITH_AS(parseGraph("graph t\ninput %x f32[2] loss\n", "r.tir"), doctest::Contains("r.tir:2:"), CompileError);
  CHECK_THROWS_WITH_AS(parseGraph("graph t\ninput %x f32[2] loss\n", "r.tir"), doctest::Contains("role 'loss' is not a role of an input"), CompileError);
  CHECK_THROWS_WITH_AS(parseGraph("graph t\ninput %x f32[2] state\n", "r.tir"), doctest::Contains("needs the value it belongs to"), CompileError);
  CHECK_THROWS_WITH_AS(parseGraph("graph t\ninput %x f32[2] weights\n", "r.tir"), doctest::Contains("unknown role 'weights'"), CompileError);
}

namespace {

/// x [2, 5] -> Clip(x, min, max) and shape arithmetic as PyTorch's attention exports it: the
/// width 5 over an int64 2 (Div truncates: 2), over a float 2 (2.5), and a float Cast to int64.
onnx::ModelProto integerModel(bool withMax) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("ints");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int d : {2, 5}) tt->mutable_shape()->add_dim()->set_dim_value(d);
  // Integer scalars as initializers, float ones as Constant nodes (float initializers are trained).
  const auto scalar = [&](const std::string& name, int type, double v) {
    onnx::TensorProto* t;
    if (type == onnx::TensorProto::INT64) {
      t = g->add_initializer();
    } else {
      auto* n = g->add_node();
      n->set_op_type("Constant"), n->set_name(name), n->add_output(name);
      auto* a = n->add_attribute();
      a->set_name("value"), a->set_type(onnx::AttributeProto::TENSOR);
      t = a->mutable_t();
    }
    t->set_name(name);
    t->set_data_type(type);
    if (type == onnx::TensorProto::INT64) t->add_int64_data(std::int64_t(v));
    else t->add_float_data(float(v));
  };
  scalar("two_i", onnx::TensorProto::INT64, 2);
  scalar("two_f", onnx::TensorProto::FLOAT, 2);
  scalar("lo", onnx::TensorProto::FLOAT, -0.5);
  scalar("hi", onnx::TensorProto::FLOAT, 0.25);
  scalar("one_i", onnx::TensorProto::INT64, 1);
  const auto node = [&](const std::string& op, std::vector<std::string> ins, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op), n->set_name(out);
    for (auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
  };
  node("Shape", {"x"}, "shape");
  node("Gather", {"shape", "one_i"}, "width");     // int64 5
  node("Div", {"width", "two_i"}, "half_i");      // int64: 2
  node("Cast", {"width"}, "width_f")->add_attribute()->set_name("to");
  g->mutable_node(g->node_size() - 1)->mutable_attribute(0)->set_i(onnx::TensorProto::FLOAT);
  g->mutable_node(g->node_size() - 1)->mutable_attribute(0)->set_type(onnx::AttributeProto::INT);
  node("Div", {"width_f", "two_f"}, "half_f");    // float: 2.5
  auto* cast = node("Cast", {"half_f"}, "half_cast");  // to int64: 2
  auto* to = cast->add_attribute();
  to->set_name("to"), to->set_type(onnx::AttributeProto::INT), to->set_i(onnx::TensorProto::INT64);
  node("Clip", withMax ? std::vector<std::string>{"x", "lo", "hi"} : std::vector<std::string>{"x", "lo"}, "clipped");
  for (const char* out : {"half_i", "half_f", "half_cast", "clipped"}) g->add_output()->set_name(out);
  return m;
}

}  // namespace

TEST_CASE("ONNX: integer arithmetic follows ONNX (Div truncates, Cast to int64 truncates), Clip with optional bounds") {
  for (bool withMax : {true, false}) {
    Graph g = importOnnxBytes(integerModel(withMax).SerializeAsString(), "ints.onnx");
    const std::vector<double> x = {-1, -0.25, 0, 0.5, 2, 3, -3, 0.1, 0.3, -0.6};
    const auto t = evaluate(g, {{"x", Tensor{{2, 5}, x}}});
    CHECK(t[std::size_t(g.outputs[0])].data == std::vector<double>{2});    // 5 / 2 in int64
    CHECK(t[std::size_t(g.outputs[1])].data == std::vector<double>{2.5});  // 5.0 / 2.0
    CHECK(t[std::size_t(g.outputs[2])].data == std::vector<double>{2});    // (int64) 2.5
    const auto& c = t[std::size_t(g.outputs[3])].data;
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(c[i] == std::min(std::max(x[i], -0.5), withMax ? 0.25 : 1e300));
  }
}

namespace {

struct Input {
  std::string name;
  std::vector<std::int64_t> dims;
  std::vector<float> init;  // empty: a graph input; else an initializer (a parameter)
  bool constant = false;    // with init: a Constant node instead (known at compile time)
};

/// One node of `op` (opset 17) over `inputs`, with integer-list and float attributes; outputs y0, y1, ...
onnx::ModelProto oneNodeModel(const std::string& op, const std::vector<Input>& inputs, int outputs,
                              const std::map<std::string, std::vector<std::int64_t>>& ints = {},
                              const std::map<std::string, std::string>& strings = {}, const std::map<std::string, std::int64_t>& one = {}) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name(op);
  for (const auto& in : inputs)
    if (in.constant) {
      auto* c = g->add_node();
      c->set_op_type("Constant"), c->set_name(in.name + "_const"), c->add_output(in.name);
      auto* a = c->add_attribute();
      a->set_name("value"), a->set_type(onnx::AttributeProto::TENSOR);
      auto* t = a->mutable_t();
      t->set_data_type(onnx::TensorProto::FLOAT);
      for (auto d : in.dims) t->add_dims(d);
      for (float f : in.init) t->add_float_data(f);
    }
  auto* n = g->add_node();
  n->set_op_type(op), n->set_name("node");
  for (const auto& in : inputs) {
    n->add_input(in.name);
    if (in.name.empty() || in.constant) continue;
    if (in.init.empty()) {
      auto* v = g->add_input();
      v->set_name(in.name);
      auto* tt = v->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(onnx::TensorProto::FLOAT);
      for (auto d : in.dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
    } else {
      auto* t = g->add_initializer();
      t->set_name(in.name), t->set_data_type(onnx::TensorProto::FLOAT);
      for (auto d : in.dims) t->add_dims(d);
      for (float f : in.init) t->add_float_data(f);
    }
  }
  for (const auto& [name, v] : ints) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }
  for (const auto& [name, v] : one) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::INT), a->set_i(v);
  }
  for (const auto& [name, v] : strings) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::STRING), a->set_s(v);
  }
  for (int k = 0; k < outputs; ++k) n->add_output("y" + std::to_string(k)), g->add_output()->set_name("y" + std::to_string(k));
  return m;
}

std::vector<std::vector<double>> runOneNode(const onnx::ModelProto& m, const Tensor& x) {
  const Graph g = importOnnxBytes(m.SerializeAsString(), "node.onnx");
  const auto t = evaluate(g, {{"x", x}});
  std::vector<std::vector<double>> out;
  for (int o : g.outputs) out.push_back(t[std::size_t(o)].data);
  return out;
}


/// One pooling node with ceil_mode on a 1x1xSxS input.
onnx::ModelProto poolModel(const std::string& op, int size, int kernel, int stride, int pad, int includePad) {
  std::map<std::string, std::int64_t> one = {{"ceil_mode", 1}};
  if (op == "AveragePool") one["count_include_pad"] = includePad;
  return oneNodeModel(op, {{"x", {1, 1, size, size}, {}}}, 1,
                      {{"kernel_shape", {kernel, kernel}}, {"strides", {stride, stride}}, {"pads", {pad, pad, pad, pad}}}, {}, one);
}

std::vector<double> pooled(const std::string& op, int size, int kernel, int stride, int pad, int includePad) {
  Graph g = importOnnxBytes(poolModel(op, size, kernel, stride, pad, includePad).SerializeAsString(), "pool.onnx");
  std::vector<double> x(std::size_t(size * size));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = double(i);
  return evaluate(g, {{"x", Tensor{{1, 1, size, size}, x}}})[std::size_t(g.outputs[0])].data;
}

}  // namespace

TEST_CASE("ONNX: pooling with ceil_mode gives PyTorch's sizes and values (torch.nn.functional, arange inputs)") {
  const auto near = [](const std::vector<double>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
  };
  // avg_pool2d(arange(25).reshape(1,1,5,5), 3, stride=2, padding=1, ceil_mode=True, count_include_pad=...)
  near(pooled("AveragePool", 5, 3, 2, 1, 1), {1.3333333730697632, 3.0, 2.6666667461395264, 7.0, 12.0, 9.0, 8.0, 13.0, 9.333333015441895});
  near(pooled("AveragePool", 5, 3, 2, 1, 0), {3.0, 4.5, 6.0, 10.5, 12.0, 13.5, 18.0, 19.5, 21.0});
  // 4x4: ceil mode adds a window past the floor-mode size
  near(pooled("AveragePool", 4, 3, 2, 1, 1),
       {1.1111111640930176, 2.6666667461395264, 1.6666666269302368, 5.666666507720947, 10.0, 5.5, 4.166666507720947, 7.0, 3.75});
  // max_pool2d(arange(25).reshape(1,1,5,5), 2, stride=2, ceil_mode=True)
  near(pooled("MaxPool", 5, 2, 2, 0, 0), {6.0, 8.0, 9.0, 16.0, 18.0, 19.0, 21.0, 23.0, 24.0});
}

TEST_CASE("ONNX: comparisons, logic, Mod, Range and Trilu on known values fold to constants (numpy broadcasting)") {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("consts");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_value(3);
  const auto ints = [&](const std::string& name, std::vector<std::int64_t> dims, std::vector<std::int64_t> v) {
    auto* t = g->add_initializer();
    t->set_name(name), t->set_data_type(onnx::TensorProto::INT64);
    for (auto d : dims) t->add_dims(d);
    for (auto x : v) t->add_int64_data(x);
  };
  ints("a", {2, 3}, {-7, 0, 5, 3, 3, -3});
  ints("b", {3}, {3, 0, 3});
  ints("three", {}, {3});
  ints("zero", {}, {0});
  ints("one", {}, {1});
  ints("sq", {3, 3}, {1, 1, 1, 1, 1, 1, 1, 1, 1});
  const auto node = [&](const std::string& op, std::vector<std::string> ins, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op), n->set_name(out);
    for (auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
  };
  node("Equal", {"a", "b"}, "eq");
  node("Less", {"a", "b"}, "lt");
  node("Not", {"lt"}, "ge");
  node("Range", {"zero", "three", "one"}, "range");
  node("Trilu", {"sq"}, "upper");  // upper = 1 by default: j >= i kept
  auto* lower = node("Trilu", {"sq"}, "lower");
  auto* at = lower->add_attribute();
  at->set_name("upper"), at->set_type(onnx::AttributeProto::INT), at->set_i(0);
  node("Mod", {"a", "three"}, "mod");  // integers: the sign of the divisor
  node("Add", {"x", "range"}, "y");    // a known value used with the input
  for (const char* o : {"eq", "ge", "upper", "lower", "mod", "y"}) g->add_output()->set_name(o);
  Graph graph = importOnnxBytes(m.SerializeAsString(), "consts.onnx");
  const auto t = evaluate(graph, {{"x", Tensor{{3}, {0.5, 0.5, 0.5}}}});
  const auto out = [&](std::size_t k) { return t[std::size_t(graph.outputs[k])].data; };
  CHECK(out(0) == std::vector<double>{0, 1, 0, 1, 0, 0});
  CHECK(out(1) == std::vector<double>{0, 1, 1, 1, 1, 0});  // not (a < b)
  CHECK(out(2) == std::vector<double>{1, 1, 1, 0, 1, 1, 0, 0, 1});
  CHECK(out(3) == std::vector<double>{1, 0, 0, 1, 1, 0, 1, 1, 1});
  CHECK(out(4) == std::vector<double>{2, 0, 2, 0, 0, 0});
  CHECK(out(5) == std::vector<double>{0.5, 1.5, 2.5});
}

TEST_CASE("sync-batch-statistics: a statistic over the examples is weighted by the share and all-reduced, forward and backward") {
  Graph g;
  const int x = g.input("x", {4, 3});
  const int w = g.parameter("w", {3}, {1.0, 2.0, 3.0});
  const int xw = g.op(Op::mul, {x, w}, {}, "xw");
  const int mean = g.op(Op::reduce_mean, {xw}, {{"axes", std::vector<std::int64_t>{0}}, {"keepdims", std::int64_t(1)}}, "mean");
  const int rows = g.op(Op::reduce_sum, {xw}, {{"axes", std::vector<std::int64_t>{1}}, {"keepdims", std::int64_t(1)}}, "rows");
  const int centred = g.op(Op::sub, {xw, mean}, {}, "centred");
  g.markOutput(g.op(Op::add, {centred, rows}, {}, "y"));
  syncBatchStatistics(g, {"xw"}, 2, 1.5);
  verify(g);
  // The mean over the examples now reaches its consumer through the weighted all-reduce; the sum
  // over each row (axis 1) is untouched.
  const Node& sub = g.nodes[std::size_t(g.values[std::size_t(g.find("centred"))].producer)];
  const Node& synced = g.nodes[std::size_t(g.values[std::size_t(sub.inputs[1])].producer)];
  CHECK(synced.op == Op::allreduce_mean);
  const Node& weighted = g.nodes[std::size_t(g.values[std::size_t(synced.inputs[0])].producer)];
  CHECK(weighted.op == Op::mul);
  CHECK(weighted.inputs[0] == g.find("mean"));
  CHECK(g.values[std::size_t(weighted.inputs[1])].data == std::vector<double>{1.5});
  int syncs = 0;
  for (const Node& n : g.nodes) syncs += n.op == Op::allreduce_mean;
  CHECK(syncs == 1);
  // The oracle takes an all-reduce as one replica's identity: the consumer sees 1.5 x the mean.
  const Tensor xs{{4, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}};
  const auto t = evaluate(g, {{"x", xs}});
  const auto& c = t[std::size_t(g.find("centred"))].data;
  CHECK(c[0] == doctest::Approx(1.0 - 1.5 * 5.5));
  CHECK(c[11] == doctest::Approx(36.0 - 1.5 * 7.5 * 3));
  // Backward: the gradient of an all-reduce is the all-reduce of the gradient.
  const int loss = g.op(Op::reduce_sum, {g.outputs[0]}, {{"axes", std::vector<std::int64_t>{0, 1}}, {"keepdims", std::int64_t(0)}});
  addBackward(g, loss, {w});
  syncs = 0;
  for (const Node& n : g.nodes) syncs += n.op == Op::allreduce_mean;
  CHECK(syncs == 2);

  // A sum over the examples is the cores' sums: the average times the cores.
  Graph s;
  const int sx = s.input("x", {4, 3});
  s.markOutput(s.op(Op::reduce_sum, {sx}, {{"axes", std::vector<std::int64_t>{0}}, {"keepdims", std::int64_t(0)}}, "total"));
  syncBatchStatistics(s, {"x"}, 4, 0.5);
  const Node& times = s.nodes[std::size_t(s.values[std::size_t(s.outputs[0])].producer)];
  CHECK(times.op == Op::mul);
  CHECK(s.values[std::size_t(times.inputs[1])].data == std::vector<double>{4.0});

  // A maximum over the examples has no collective on a slice.
  Graph m;
  const int mx = m.input("x", {4, 3});
  m.markOutput(m.op(Op::reduce_max, {mx}, {{"axes", std::vector<std::int64_t>{-2}}, {"keepdims", std::int64_t(0)}}, "peak"));
  CHECK_THROWS_WITH_AS(syncBatchStatistics(m, {"x"}, 2, 1.0), doctest::Contains("node 'peak' takes a maximum over the examples"), CompileError);
  // Values whose rows are not the examples are left alone.
  const std::size_t before = m.nodes.size();
  syncBatchStatistics(m, {"y"}, 2, 1.0);
  CHECK(m.nodes.size() == before);
}


TEST_CASE("ONNX: Split into several outputs, PRelu, InstanceNormalization, Resize (nearest), 1D Conv by their definitions") {
  // Split on axis 1 into two outputs (the values it adds must not move the input's shape under it).
  const auto split = runOneNode(oneNodeModel("Split", {{"x", {2, 4}, {}}}, 2, {}, {}, {{"axis", 1}}), Tensor{{2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}});
  CHECK(split[0] == std::vector<double>{1, 2, 5, 6});
  CHECK(split[1] == std::vector<double>{3, 4, 7, 8});
  // PRelu: x where x >= 0, slope x elsewhere.
  const auto prelu = runOneNode(oneNodeModel("PRelu", {{"x", {5}, {}}, {"slope", {1}, {0.25f}}}, 1), Tensor{{5}, {-2, -1, 0, 1, 2}});
  CHECK(prelu[0] == std::vector<double>{-0.5, -0.25, 0, 1, 2});
  // InstanceNormalization: each example's and channel's statistics over the spatial axes.
  const auto inorm = runOneNode(oneNodeModel("InstanceNormalization", {{"x", {1, 2, 1, 2}, {}}, {"s", {2}, {1, 2}}, {"b", {2}, {0, 1}}}, 1),
                                Tensor{{1, 2, 1, 2}, {1, 3, 2, 6}});
  const double e = 1e-5;
  CHECK(inorm[0][0] == doctest::Approx(-1 / std::sqrt(1 + e)));
  CHECK(inorm[0][1] == doctest::Approx(1 / std::sqrt(1 + e)));
  CHECK(inorm[0][2] == doctest::Approx(-2 * 2 / std::sqrt(4 + e) + 1));
  CHECK(inorm[0][3] == doctest::Approx(2 * 2 / std::sqrt(4 + e) + 1));
  // Resize, nearest, by whole factors: each element repeated.
  const auto up = runOneNode(oneNodeModel("Resize", {{"x", {1, 1, 1, 2}, {}}, {"", {}, {}}, {"scales", {4}, {1, 1, 2, 2}, true}}, 1, {}, {{"mode", "nearest"}}),
                             Tensor{{1, 1, 1, 2}, {1, 2}});
  CHECK(up[0] == std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2});
  CHECK_THROWS_WITH_AS(runOneNode(oneNodeModel("Resize", {{"x", {1, 1, 1, 2}, {}}, {"", {}, {}}, {"scales", {4}, {1, 1, 2, 2}, true}}, 1, {},
                                               {{"mode", "lanczos"}}),
                                  Tensor{{1, 1, 1, 2}, {1, 2}}),
                       doctest::Contains("only modes 'nearest', 'linear' and 'cubic' are supported (got 'lanczos')"), CompileError);
  // A 1D convolution (nn.Conv1d): [N, C, L] with 1D pads and strides.
  const auto conv = runOneNode(oneNodeModel("Conv", {{"x", {1, 1, 4}, {}}, {"w", {1, 1, 2}, {1, -1}}}, 1, {{"pads", {1, 1}}, {"strides", {1}}}),
                               Tensor{{1, 1, 4}, {1, 2, 3, 4}});
  CHECK(conv[0] == std::vector<double>{-1, -1, -1, -1, 4});
}

TEST_CASE("ONNX before opset 13: Softmax over every axis from its axis on (axis 1 by default), Split sizes as an attribute") {
  const auto atOpset = [](onnx::ModelProto m, std::int64_t opset) {
    m.mutable_opset_import(0)->set_version(opset);
    return m;
  };
  // [2, 2, 2]; opset 11's Softmax with no axis: each example's 4 values normalized together.
  const Tensor x{{2, 2, 2}, {0, 1, 2, 3, 1, 1, 1, 1}};
  const auto s11 = runOneNode(atOpset(oneNodeModel("Softmax", {{"x", {2, 2, 2}, {}}}, 1), 11), x);
  const double z = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  for (int i = 0; i < 4; ++i) CHECK(s11[0][std::size_t(i)] == doctest::Approx(std::exp(double(i)) / z).epsilon(1e-12));
  for (int i = 4; i < 8; ++i) CHECK(s11[0][std::size_t(i)] == doctest::Approx(0.25).epsilon(1e-12));
  // The same node at opset 13: over the last axis alone (pairs).
  const auto s13 = runOneNode(atOpset(oneNodeModel("Softmax", {{"x", {2, 2, 2}, {}}}, 1), 13), x);
  CHECK(s13[0][0] == doctest::Approx(1 / (1 + std::exp(1.0))).epsilon(1e-12));
  CHECK(s13[0][2] == doctest::Approx(1 / (1 + std::exp(1.0))).epsilon(1e-12));
  // LogSoftmax with axis 2 of 3 is the last: the same at every opset.
  const auto l11 = runOneNode(atOpset(oneNodeModel("LogSoftmax", {{"x", {2, 2, 2}, {}}}, 1, {}, {}, {{"axis", 2}}), 11), x);
  CHECK(l11[0][1] == doctest::Approx(-std::log(1 + std::exp(-1.0))).epsilon(1e-12));
  // Split with its sizes as an attribute (opset 11), uneven.
  const auto split = runOneNode(atOpset(oneNodeModel("Split", {{"x", {2, 4}, {}}}, 2, {{"split", {1, 3}}}, {}, {{"axis", 1}}), 11),
                                Tensor{{2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}});
  CHECK(split[0] == std::vector<double>{1, 5});
  CHECK(split[1] == std::vector<double>{2, 3, 4, 6, 7, 8});
  CHECK_THROWS_WITH_AS(runOneNode(atOpset(oneNodeModel("Split", {{"x", {2, 4}, {}}}, 2, {{"split", {1, 2}}}, {}, {{"axis", 1}}), 11),
                                  Tensor{{2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}}),
                       "node.onnx: node 'node' (Split, opset 11): split sizes add up to 3, not the axis's 4", CompileError);
  CHECK_THROWS_WITH_AS(runOneNode(oneNodeModel("Split", {{"x", {2, 4}, {}}}, 3, {}, {}, {{"axis", 1}}), Tensor{{2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}}),
                       "node.onnx: node 'node' (Split, opset 17): an axis of 4 does not split into 3 equal parts", CompileError);
}

TEST_CASE("ONNX: Einsum as sums, transposes and batched matmuls (implicit output, ellipsis, three operands), a diagonal refused") {
  const auto einsum = [](const std::string& eq, const std::vector<Input>& inputs, const Tensor& x) {
    return runOneNode(oneNodeModel("Einsum", inputs, 1, {}, {{"equation", eq}}), x)[0];
  };
  const Tensor x{{2, 3}, {1, 2, 3, 4, 5, 6}};
  // A matmul, against a transposed operand, and the implicit output (letters once, sorted).
  CHECK(einsum("ij,jk->ik", {{"x", {2, 3}, {}}, {"w", {3, 1}, {1, 10, 100}}}, x) == std::vector<double>{321, 654});
  CHECK(einsum("ij,kj->ik", {{"x", {2, 3}, {}}, {"w", {1, 3}, {1, 10, 100}}}, x) == std::vector<double>{321, 654});
  CHECK(einsum("ij,jk", {{"x", {2, 3}, {}}, {"w", {3, 1}, {1, 10, 100}}}, x) == std::vector<double>{321, 654});
  // One operand: a transpose, a sum over an axis, the sum of all.
  CHECK(einsum("ij->ji", {{"x", {2, 3}, {}}}, x) == std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(einsum("ij->j", {{"x", {2, 3}, {}}}, x) == std::vector<double>{5, 7, 9});
  CHECK(einsum("ij->", {{"x", {2, 3}, {}}}, x) == std::vector<double>{21});
  // An outer product, a batch letter kept in the output, an ellipsis, three operands.
  CHECK(einsum("i,j->ij", {{"x", {2}, {}}, {"w", {2}, {1, -1}}}, Tensor{{2}, {3, 5}}) == std::vector<double>{3, -3, 5, -5});
  CHECK(einsum("bi,bi->b", {{"x", {2, 3}, {}}, {"w", {2, 3}, {1, 1, 1, 0, 0, 1}}}, x) == std::vector<double>{6, 6});
  CHECK(einsum("...j,j->...", {{"x", {2, 3}, {}}, {"w", {3}, {1, 0, -1}}}, x) == std::vector<double>{-2, -2});
  CHECK(einsum("ij,jk,kl->il", {{"x", {2, 3}, {}}, {"w", {3, 2}, {1, 0, 0, 1, 1, 1}}, {"v", {2, 1}, {1, 2}}}, x) ==
        std::vector<double>{1 + 3 + 2 * (2 + 3), 4 + 6 + 2 * (5 + 6)});
  CHECK_THROWS_WITH_AS(einsum("ii->i", {{"x", {2, 2}, {}}}, Tensor{{2, 2}, {1, 2, 3, 4}}),
                       doctest::Contains("letter 'i' repeats within operand 0 (a diagonal): not supported"), CompileError);
  CHECK_THROWS_WITH_AS(einsum("ij,jk->ik", {{"x", {2, 3}, {}}, {"w", {2, 1}, {1, 2}}}, x), doctest::Contains("letter 'j' has sizes 3 and 2"),
                       CompileError);
}

TEST_CASE("ONNX: linear and cubic Resize, reflected and edge Pad, CumSum, and Sin, Cos, ReduceProd on constants, by their definitions") {
  const Tensor row{{1, 1, 1, 3}, {0, 3, 6}};
  // Twice as wide, half_pixel: outputs at input coordinates -0.25 (the edge), 0.25, 0.75, ...
  const auto half = runOneNode(oneNodeModel("Resize", {{"x", {1, 1, 1, 3}, {}}, {"", {}, {}}, {"scales", {4}, {1, 1, 1, 2}, true}}, 1, {},
                                            {{"mode", "linear"}, {"coordinate_transformation_mode", "half_pixel"}}),
                               row)[0];
  CHECK(half == std::vector<double>{0, 0.75, 2.25, 3.75, 5.25, 6});
  // To 5 with align_corners: the corners kept, evenly between.
  const auto corners = runOneNode(oneNodeModel("Resize", {{"x", {1, 1, 1, 3}, {}}, {"", {}, {}}, {"", {}, {}}, {"sizes", {4}, {1, 1, 1, 5}, true}},
                                               1, {}, {{"mode", "linear"}, {"coordinate_transformation_mode", "align_corners"}}),
                                  row)[0];
  CHECK(corners == std::vector<double>{0, 1.5, 3, 4.5, 6});
  // Cubic (Keys, a = -0.75), against PyTorch's F.interpolate(mode="bicubic") of [0, 1, 4, 9]:
  // scale_factor 2 (pytorch_half_pixel, edge taps clamped), and size 3 with align_corners.
  const Tensor squares{{1, 1, 1, 4}, {0, 1, 4, 9}};
  const auto cubic = runOneNode(oneNodeModel("Resize", {{"x", {1, 1, 1, 4}, {}}, {"", {}, {}}, {"scales", {4}, {1, 1, 1, 2}, true}}, 1, {},
                                             {{"mode", "cubic"}, {"coordinate_transformation_mode", "pytorch_half_pixel"}}),
                                squares)[0];
  const std::vector<double> torchCubic = {-0.10546875, 0.12109375, 0.45703125, 1.609375, 2.828125, 5.44921875, 7.97265625, 9.52734375};
  REQUIRE(cubic.size() == torchCubic.size());
  for (std::size_t i = 0; i < cubic.size(); ++i) CHECK(cubic[i] == doctest::Approx(torchCubic[i]).epsilon(1e-12));
  const auto cubicCorners = runOneNode(oneNodeModel("Resize", {{"x", {1, 1, 1, 4}, {}}, {"", {}, {}}, {"", {}, {}}, {"sizes", {4}, {1, 1, 1, 3}, true}},
                                                    1, {}, {{"mode", "cubic"}, {"coordinate_transformation_mode", "align_corners"}}),
                                       squares)[0];
  CHECK(cubicCorners == std::vector<double>{0, 2.125, 9});
  // exclude_outside: the first output's two taps left of the axis get no weight, the others
  // are renormalized: (W(0.25) x 0 + W(1.25) x 1) / (W(0.25) + W(1.25)) = -0.10546875 / 0.7734375.
  const auto inside = runOneNode(oneNodeModel("Resize", {{"x", {1, 1, 1, 4}, {}}, {"", {}, {}}, {"scales", {4}, {1, 1, 1, 2}, true}}, 1, {},
                                              {{"mode", "cubic"}, {"coordinate_transformation_mode", "half_pixel"}}, {{"exclude_outside", 1}}),
                                 squares)[0];
  CHECK(inside[0] == doctest::Approx(-0.10546875 / 0.7734375).epsilon(1e-12));
  const Tensor v{{1, 4}, {1, 2, 3, 4}};
  const auto reflect = runOneNode(oneNodeModel("Pad", {{"x", {1, 4}, {}}, {"pads", {4}, {0, 2, 0, 1}, true}}, 1, {}, {{"mode", "reflect"}}), v)[0];
  CHECK(reflect == std::vector<double>{3, 2, 1, 2, 3, 4, 3});
  const auto edge = runOneNode(oneNodeModel("Pad", {{"x", {1, 4}, {}}, {"pads", {4}, {0, 2, 0, 1}, true}}, 1, {}, {{"mode", "edge"}}), v)[0];
  CHECK(edge == std::vector<double>{1, 1, 1, 2, 3, 4, 4});
  CHECK_THROWS_WITH_AS(runOneNode(oneNodeModel("Pad", {{"x", {1, 4}, {}}, {"pads", {4}, {0, 4, 0, 0}, true}}, 1, {}, {{"mode", "reflect"}}), v),
                       doctest::Contains("reflected pads must be shorter than the axis (4)"), CompileError);
  const auto sum = [&](std::int64_t exclusive, std::int64_t reverse) {
    return runOneNode(oneNodeModel("CumSum", {{"x", {1, 4}, {}}, {"axis", {}, {1}, true}}, 1, {}, {}, {{"exclusive", exclusive}, {"reverse", reverse}}), v)[0];
  };
  CHECK(sum(0, 0) == std::vector<double>{1, 3, 6, 10});
  CHECK(sum(1, 0) == std::vector<double>{0, 1, 3, 6});
  CHECK(sum(0, 1) == std::vector<double>{10, 9, 7, 4});
  CHECK(sum(1, 1) == std::vector<double>{9, 7, 4, 0});
  // Sin of a constant folds; of a run-time value it is refused.
  const auto sine = runOneNode(oneNodeModel("Sin", {{"c", {2}, {0, 1}, true}}, 1), v)[0];
  CHECK(sine == std::vector<double>{0, std::sin(1.0)});
  CHECK_THROWS_WITH_AS(runOneNode(oneNodeModel("Cos", {{"x", {1, 4}, {}}}, 1), v), doctest::Contains("only values known at compile time"), CompileError);
  const auto prod = runOneNode(oneNodeModel("ReduceProd", {{"c", {2, 3}, {1, 2, 3, 4, 5, 6}, true}}, 1, {{"axes", {1}}}, {}, {{"keepdims", 0}}), v)[0];
  CHECK(prod == std::vector<double>{6, 120});
}

TEST_CASE("ONNX: Tile, DepthToSpace (DCR and CRD), SpaceToDepth, and Slice with steps on run-time values, by their definitions") {
  const Tensor v{{2, 2}, {1, 2, 3, 4}};
  const auto tile = runOneNode(oneNodeModel("Tile", {{"x", {2, 2}, {}}, {"reps", {2}, {2, 1}, true}}, 1), v)[0];
  CHECK(tile == std::vector<double>{1, 2, 3, 4, 1, 2, 3, 4});
  // Four channels of one pixel each into one channel of 2 x 2: DCR takes the channels as (row,
  // column) of the block, CRD the same for one output channel.
  const Tensor px{{1, 4, 1, 1}, {1, 2, 3, 4}};
  for (const char* mode : {"DCR", "CRD"}) {
    const auto d2s = runOneNode(oneNodeModel("DepthToSpace", {{"x", {1, 4, 1, 1}, {}}}, 1, {}, {{"mode", mode}}, {{"blocksize", 2}}), px)[0];
    CHECK(d2s == std::vector<double>{1, 2, 3, 4});
  }
  // Two output channels from eight: DCR interleaves them, CRD keeps each channel's four together.
  Tensor eight{{1, 8, 1, 1}, {0, 1, 2, 3, 4, 5, 6, 7}};
  CHECK(runOneNode(oneNodeModel("DepthToSpace", {{"x", {1, 8, 1, 1}, {}}}, 1, {}, {{"mode", "DCR"}}, {{"blocksize", 2}}), eight)[0] ==
        std::vector<double>{0, 2, 4, 6, 1, 3, 5, 7});
  CHECK(runOneNode(oneNodeModel("DepthToSpace", {{"x", {1, 8, 1, 1}, {}}}, 1, {}, {{"mode", "CRD"}}, {{"blocksize", 2}}), eight)[0] ==
        std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7});
  const auto s2d = runOneNode(oneNodeModel("SpaceToDepth", {{"x", {1, 1, 2, 2}, {}}}, 1, {}, {}, {{"blocksize", 2}}), Tensor{{1, 1, 2, 2}, {1, 2, 3, 4}})[0];
  CHECK(s2d == std::vector<double>{1, 2, 3, 4});
  // Slice of a run-time value with step -1 (torch.flip) and 2.
  const Tensor row{{1, 5}, {1, 2, 3, 4, 5}};
  const auto flip = runOneNode(oneNodeModel("Slice", {{"x", {1, 5}, {}}, {"starts", {1}, {-1}, true}, {"ends", {1}, {-1e9}, true},
                                                      {"axes", {1}, {1}, true}, {"steps", {1}, {-1}, true}}, 1), row)[0];
  CHECK(flip == std::vector<double>{5, 4, 3, 2, 1});
  const auto every2 = runOneNode(oneNodeModel("Slice", {{"x", {1, 5}, {}}, {"starts", {1}, {0}, true}, {"ends", {1}, {5}, true},
                                                        {"axes", {1}, {1}, true}, {"steps", {1}, {2}, true}}, 1), row)[0];
  CHECK(every2 == std::vector<double>{1, 3, 5});
}

TEST_CASE("ONNX: a 3D convolution (strides, pads, dilations, groups, bias) by its definition") {
  // x [1, 2, 5, 4, 4], weight [4, 1, 3, 2, 2] in 2 groups: out = sum over c, kd, kh, kw.
  const std::int64_t N = 1, C = 2, D = 5, H = 4, W = 4, O = 4, G = 2, KD = 3, KH = 2, KW = 2;
  std::vector<float> wv(std::size_t(O * (C / G) * KD * KH * KW)), bv = {0.5f, -1, 0.25f, 2};
  for (std::size_t i = 0; i < wv.size(); ++i) wv[i] = float(int(i % 7) - 3) / 4;
  std::vector<double> xv(std::size_t(N * C * D * H * W));
  for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = double(int(i * 5 % 11) - 5) / 8;
  struct Case {
    std::vector<std::int64_t> strides, pads, dilations;
  };
  for (const Case& c : {Case{{1, 1, 1}, {1, 0, 1, 1, 1, 0}, {1, 1, 1}}, Case{{2, 1, 2}, {0, 1, 0, 2, 0, 1}, {2, 1, 1}}}) {
    CAPTURE(c.strides[0]);
    const auto got = runOneNode(oneNodeModel("Conv", {{"x", {N, C, D, H, W}, {}}, {"w", {O, C / G, KD, KH, KW}, wv}, {"b", {O}, bv}}, 1,
                                             {{"strides", c.strides}, {"pads", c.pads}, {"dilations", c.dilations}}, {}, {{"group", G}}),
                                Tensor{{N, C, D, H, W}, xv});
    const std::int64_t dims[3] = {D, H, W}, k[3] = {KD, KH, KW};
    std::int64_t out[3];
    for (int a = 0; a < 3; ++a)
      out[a] = (dims[a] + c.pads[std::size_t(a)] + c.pads[std::size_t(a) + 3] - c.dilations[std::size_t(a)] * (k[a] - 1) - 1) / c.strides[std::size_t(a)] + 1;
    REQUIRE(got[0].size() == std::size_t(N * O * out[0] * out[1] * out[2]));
    for (std::int64_t o = 0; o < O; ++o)
      for (std::int64_t od = 0; od < out[0]; ++od)
        for (std::int64_t oh = 0; oh < out[1]; ++oh)
          for (std::int64_t ow = 0; ow < out[2]; ++ow) {
            double want = bv[std::size_t(o)];
            const std::int64_t g = o / (O / G);
            for (std::int64_t ci = 0; ci < C / G; ++ci)
              for (std::int64_t a = 0; a < KD; ++a)
                for (std::int64_t b = 0; b < KH; ++b)
                  for (std::int64_t e = 0; e < KW; ++e) {
                    const std::int64_t id = od * c.strides[0] + a * c.dilations[0] - c.pads[0];
                    const std::int64_t ih = oh * c.strides[1] + b * c.dilations[1] - c.pads[1];
                    const std::int64_t iw = ow * c.strides[2] + e * c.dilations[2] - c.pads[2];
                    if (id < 0 || id >= D || ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                    const std::int64_t ch = g * (C / G) + ci;
                    want += double(wv[std::size_t((((o * (C / G) + ci) * KD + a) * KH + b) * KW + e)]) *
                            xv[std::size_t(((ch * D + id) * H + ih) * W + iw)];
                  }
            CHECK(got[0][std::size_t(((o * out[0] + od) * out[1] + oh) * out[2] + ow)] == doctest::Approx(want).epsilon(1e-12));
          }
  }
  CHECK_THROWS_WITH_AS(runOneNode(oneNodeModel("Conv", {{"x", {1, 1, 2, 4, 4}, {}}, {"w", {1, 1, 3, 1, 1}, std::vector<float>(3, 1.0f)}}, 1),
                                  Tensor{{1, 1, 2, 4, 4}, std::vector<double>(32, 1.0)}),
                       "node.onnx: node 'node' (Conv, opset 17): the kernel's depth 3 (dilated to 3) exceeds the padded input's 2", CompileError);
}

TEST_CASE("ONNX: 3D max and average pooling (pads, strides, count_include_pad) by their definitions") {
  const std::int64_t C = 2, D = 5, H = 4, W = 5;
  std::vector<double> xv(std::size_t(C * D * H * W));
  for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = double(int(i * 7 % 13) - 6) / 4;
  const std::vector<std::int64_t> k = {3, 2, 3}, st = {2, 2, 1}, pads = {1, 0, 1, 1, 1, 0};
  for (const char* kind : {"MaxPool", "AveragePool"})
    for (std::int64_t includePad : {0, 1}) {
      if (std::string(kind) == "MaxPool" && includePad) continue;
      CAPTURE(kind);
      CAPTURE(includePad);
      std::map<std::string, std::int64_t> one;
      if (std::string(kind) == "AveragePool") one["count_include_pad"] = includePad;
      const auto got = runOneNode(oneNodeModel(kind, {{"x", {1, C, D, H, W}, {}}}, 1, {{"kernel_shape", k}, {"strides", st}, {"pads", pads}}, {}, one),
                                  Tensor{{1, C, D, H, W}, xv});
      const std::int64_t dims[3] = {D, H, W};
      std::int64_t out[3];
      for (int a = 0; a < 3; ++a) out[a] = (dims[a] + pads[std::size_t(a)] + pads[std::size_t(a) + 3] - k[std::size_t(a)]) / st[std::size_t(a)] + 1;
      REQUIRE(got[0].size() == std::size_t(C * out[0] * out[1] * out[2]));
      for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t od = 0; od < out[0]; ++od)
          for (std::int64_t oh = 0; oh < out[1]; ++oh)
            for (std::int64_t ow = 0; ow < out[2]; ++ow) {
              double best = -1e300, sum = 0;
              int count = 0;
              for (std::int64_t a = 0; a < k[0]; ++a)
                for (std::int64_t b = 0; b < k[1]; ++b)
                  for (std::int64_t e = 0; e < k[2]; ++e) {
                    const std::int64_t id = od * st[0] + a - pads[0], ih = oh * st[1] + b - pads[1], iw = ow * st[2] + e - pads[2];
                    if (id < 0 || id >= D || ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                    const double v = xv[std::size_t(((c * D + id) * H + ih) * W + iw)];
                    best = std::max(best, v), sum += v, ++count;
                  }
              const double want = std::string(kind) == "MaxPool" ? best : sum / double(includePad ? k[0] * k[1] * k[2] : count);
              CHECK(got[0][std::size_t(((c * out[0] + od) * out[1] + oh) * out[2] + ow)] == doctest::Approx(want).epsilon(1e-12));
            }
    }
  CHECK_THROWS_WITH_AS(runOneNode(oneNodeModel("MaxPool", {{"x", {1, 1, 4, 4, 4}, {}}}, 1, {{"kernel_shape", {2, 2, 2}}}, {}, {{"ceil_mode", 1}}),
                                  Tensor{{1, 1, 4, 4, 4}, std::vector<double>(64, 1.0)}),
                       "node.onnx: node 'node' (MaxPool, opset 17): ceil_mode on a 3D pool is not supported", CompileError);
}

TEST_CASE("ONNX: a 1D ConvTranspose and GatherElements with known indices, by their definitions") {
  // Stride 2, kernel [1, -1]: each input element spreads to two outputs.
  const auto up = runOneNode(oneNodeModel("ConvTranspose", {{"x", {1, 1, 3}, {}}, {"w", {1, 1, 2}, {1, -1}}}, 1, {{"strides", {2}}}),
                             Tensor{{1, 1, 3}, {1, 2, 3}})[0];
  CHECK(up == std::vector<double>{1, -1, 2, -2, 3, -3});
  // out[i][j] = x[i][idx[i][j]] along axis 1; a negative index counts from the end.
  const auto picked = runOneNode(oneNodeModel("GatherElements", {{"x", {2, 3}, {}}, {"idx", {2, 2}, {2, 0, -1, 1}, true}}, 1, {}, {}, {{"axis", 1}}),
                                 Tensor{{2, 3}, {1, 2, 3, 4, 5, 6}})[0];
  CHECK(picked == std::vector<double>{3, 1, 6, 5});
  CHECK_THROWS_WITH_AS(runOneNode(oneNodeModel("GatherElements", {{"x", {2, 3}, {}}, {"idx", {2, 1}, {3, 0}, true}}, 1, {}, {}, {{"axis", 1}}),
                                  Tensor{{2, 3}, {1, 2, 3, 4, 5, 6}}),
                       doctest::Contains("index 3 is outside an axis of 3"), CompileError);
}

TEST_CASE("ONNX: MatMul with a vector operand follows numpy (a row on the left, a column on the right, that axis dropped)") {
  const Tensor m{{2, 3}, {1, 2, 3, 4, 5, 6}};
  const auto mv = runOneNode(oneNodeModel("MatMul", {{"x", {2, 3}, {}}, {"v", {3}, {1, 0, -1}}}, 1), m)[0];
  CHECK(mv == std::vector<double>{-2, -2});
  const auto vm = runOneNode(oneNodeModel("MatMul", {{"v", {2}, {1, -1}}, {"x", {2, 3}, {}}}, 1), m)[0];
  CHECK(vm == std::vector<double>{-3, -3, -3});
  const Graph g = importOnnxBytes(oneNodeModel("MatMul", {{"x", {2, 3}, {}}, {"v", {3}, {1, 0, -1}}}, 1).SerializeAsString(), "mv.onnx");
  CHECK(g.values[std::size_t(g.outputs[0])].shape == Shape{2});
}

TEST_CASE("ONNX: global average and max pooling over every spatial axis, 1D and 2D") {
  const Tensor x1{{1, 2, 3}, {1, 2, 6, -1, -2, 0}};
  CHECK(runOneNode(oneNodeModel("GlobalAveragePool", {{"x", {1, 2, 3}, {}}}, 1), x1)[0] == std::vector<double>{3, -1});
  CHECK(runOneNode(oneNodeModel("GlobalMaxPool", {{"x", {1, 2, 3}, {}}}, 1), x1)[0] == std::vector<double>{6, 0});
  const Tensor x2{{1, 1, 2, 2}, {1, 2, 3, 6}};
  CHECK(runOneNode(oneNodeModel("GlobalAveragePool", {{"x", {1, 1, 2, 2}, {}}}, 1), x2)[0] == std::vector<double>{3});
  CHECK(runOneNode(oneNodeModel("GlobalMaxPool", {{"x", {1, 1, 2, 2}, {}}}, 1), x2)[0] == std::vector<double>{6});
}

TEST_CASE("ONNX: ReduceLogSumExp, ReduceLogSum and ReduceMin by their definitions, with and without keepdims") {
  const Tensor x{{2, 3}, {1, 2, 3, -1, 1000, 0}};
  const std::vector<Input> in = {{"x", {2, 3}, {}}};
  const auto lse = runOneNode(oneNodeModel("ReduceLogSumExp", in, 1, {{"axes", {1}}}, {}, {{"keepdims", 0}}), x)[0];
  REQUIRE(lse.size() == 2);
  CHECK(lse[0] == doctest::Approx(std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0))));
  CHECK(lse[1] == doctest::Approx(1000.0));  // no overflow: exp(1000) is not formed
  const auto lseKeep = runOneNode(oneNodeModel("ReduceLogSumExp", in, 1, {{"axes", {0}}}), x)[0];
  CHECK(lseKeep.size() == 3);
  CHECK(lseKeep[0] == doctest::Approx(std::log(std::exp(1.0) + std::exp(-1.0))));
  CHECK(runOneNode(oneNodeModel("ReduceMin", in, 1, {{"axes", {1}}}, {}, {{"keepdims", 0}}), x)[0] == std::vector<double>{1, -1});
  const Tensor pos{{2, 3}, {1, 2, 3, 4, 5, 6}};
  const auto ls = runOneNode(oneNodeModel("ReduceLogSum", in, 1, {{"axes", {1}}}), pos)[0];
  CHECK(ls[0] == doctest::Approx(std::log(6.0)));
  CHECK(ls[1] == doctest::Approx(std::log(15.0)));
}

namespace {

/// x -> If(cond) { then: Neg(x) } else { Relu(x) } -> y0; the condition a constant, or the input c.
onnx::ModelProto ifModel(int cond) {
  onnx::ModelProto m;
  auto* g = startModel(m, "if");
  addInput(g, "x", {3});
  if (cond < 0) {
    addInput(g, "c", {1}, onnx::TensorProto::BOOL);
  } else {
    auto* c = g->add_node();
    c->set_op_type("Constant"), c->set_name("cond"), c->add_output("c");
    auto* a = c->add_attribute();
    a->set_name("value"), a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(onnx::TensorProto::BOOL), a->mutable_t()->add_int32_data(cond);
  }
  auto* n = g->add_node();
  n->set_op_type("If"), n->set_name("choose"), n->add_input("c"), n->add_output("y0");
  for (const auto& [branch, op] : std::vector<std::pair<std::string, std::string>>{{"then_branch", "Neg"}, {"else_branch", "Relu"}}) {
    auto* a = n->add_attribute();
    a->set_name(branch), a->set_type(onnx::AttributeProto::GRAPH);
    auto* b = a->mutable_g();
    b->set_name(branch);
    auto* inner = b->add_node();
    inner->set_op_type(op), inner->set_name(branch + "_op"), inner->add_input("x"), inner->add_output(branch + "_out");
    b->add_output()->set_name(branch + "_out");
  }
  g->add_output()->set_name("y0");
  return m;
}

}  // namespace

TEST_CASE("ONNX: If with a condition fixed when compiling is the branch it takes, and one known only at run time is refused") {
  const Tensor x{{3}, {-2, 0, 5}};
  CHECK(runOneNode(ifModel(1), x)[0] == std::vector<double>{2, 0, -5});
  CHECK(runOneNode(ifModel(0), x)[0] == std::vector<double>{0, 0, 5});
  CHECK_THROWS_WITH_AS(importOnnxBytes(ifModel(-1).SerializeAsString(), "if.onnx"),
                       doctest::Contains("node 'choose' (If, opset 17): input 0 ('c') must be known at compile time"), CompileError);
}

TEST_CASE("ONNX: MaxPool with dilations (pads, strides, 1D and 2D) by its definition") {
  // 2D: a 1x1x7x6 input, kernel 2x3, dilations 3x2, strides 2x1, pads 1 (top, left) and 0.
  const std::int64_t H = 7, W = 6, kh = 2, kw = 3, dh = 3, dw = 2, sh = 2, sw = 1, pt = 1, pl = 1;
  Tensor x{{1, 1, H, W}, {}};
  for (std::int64_t i = 0; i < H * W; ++i) x.data.push_back(double((i * 37) % 23) - 11);
  const auto y = runOneNode(oneNodeModel("MaxPool", {{"x", {1, 1, H, W}, {}}}, 1,
                                         {{"kernel_shape", {kh, kw}}, {"dilations", {dh, dw}}, {"strides", {sh, sw}}, {"pads", {pt, pl, 0, 0}}}),
                            x)[0];
  const std::int64_t oh = (H + pt - dh * (kh - 1) - 1) / sh + 1, ow = (W + pl - dw * (kw - 1) - 1) / sw + 1;
  REQUIRE(y.size() == std::size_t(oh * ow));
  for (std::int64_t i = 0; i < oh; ++i)
    for (std::int64_t j = 0; j < ow; ++j) {
      double best = -INFINITY;
      for (std::int64_t a = 0; a < kh; ++a)
        for (std::int64_t b = 0; b < kw; ++b) {
          const std::int64_t r = i * sh - pt + a * dh, c = j * sw - pl + b * dw;
          if (r >= 0 && r < H && c >= 0 && c < W) best = std::max(best, x.data[std::size_t(r * W + c)]);
        }
      CHECK(y[std::size_t(i * ow + j)] == best);
    }
  // 1D: kernel 2, dilation 3, stride 2 over [1, 1, 9].
  const Tensor v{{1, 1, 9}, {5, 1, 7, 2, 9, 0, 3, 8, 4}};
  const auto y1 = runOneNode(oneNodeModel("MaxPool", {{"x", {1, 1, 9}, {}}}, 1, {{"kernel_shape", {2}}, {"dilations", {3}}, {"strides", {2}}}), v)[0];
  CHECK(y1 == std::vector<double>{5, 7, 9});  // max(v0, v3), max(v2, v5), max(v4, v7)
}

namespace {

onnx::NodeProto* addNode(onnx::GraphProto* g, const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs) {
  auto* n = g->add_node();
  n->set_op_type(op), n->set_name(op + "_" + outs.front());
  for (auto& i : ins) n->add_input(i);
  for (auto& o : outs) n->add_output(o);
  return n;
}

void intAttribute(onnx::NodeProto* n, const std::string& name, std::int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name), a->set_type(onnx::AttributeProto::INT), a->set_i(v);
}

void int64Constant(onnx::GraphProto* g, const std::string& name, std::vector<std::int64_t> v, bool scalar) {
  auto* c = addNode(g, "Constant", {}, {name});
  auto* a = c->add_attribute();
  a->set_name("value"), a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  if (!scalar) a->mutable_t()->add_dims(std::int64_t(v.size()));
  for (auto x : v) a->mutable_t()->add_int64_data(x);
}

/// x [2, 3] -> SplitToSequence along axis 1 (one column each, axis dropped) -> y0: the columns
/// stacked back by ConcatFromSequence (new_axis 1); y1: the last column (SequenceAt -1); y2: a Loop
/// of 3 trips adding column i to a carried sum (the first column twice); y3: the Loop's scan output.
onnx::ModelProto sequenceModel() {
  onnx::ModelProto m;
  auto* g = startModel(m, "seq");
  addInput(g, "x", {2, 3});
  intAttribute(addNode(g, "SplitToSequence", {"x"}, {"cols"}), "axis", 1);
  intAttribute(g->mutable_node(0), "keepdims", 0);
  auto* cat = addNode(g, "ConcatFromSequence", {"cols"}, {"y0"});
  intAttribute(cat, "axis", 1), intAttribute(cat, "new_axis", 1);
  int64Constant(g, "last", {-1}, true);
  addNode(g, "SequenceAt", {"cols", "last"}, {"y1"});
  int64Constant(g, "zero", {0}, true);
  addNode(g, "SequenceAt", {"cols", "zero"}, {"first"});
  int64Constant(g, "trips", {3}, true);
  auto* loop = addNode(g, "Loop", {"trips", "", "first"}, {"y2", "y3"});
  auto* a = loop->add_attribute();
  a->set_name("body"), a->set_type(onnx::AttributeProto::GRAPH);
  auto* body = a->mutable_g();
  body->set_name("body");
  for (const char* name : {"i", "cond", "acc"}) body->add_input()->set_name(name);
  addNode(body, "SequenceAt", {"cols", "i"}, {"col"});
  addNode(body, "Add", {"acc", "col"}, {"acc_next"});
  addNode(body, "Identity", {"cond"}, {"cond_next"});
  addNode(body, "Mul", {"col", "col"}, {"square"});
  for (const char* name : {"cond_next", "acc_next", "square"}) body->add_output()->set_name(name);
  for (const char* name : {"y0", "y1", "y2", "y3"}) g->add_output()->set_name(name);
  return m;
}

}  // namespace

TEST_CASE("ONNX: sequences (split, at, concatenated or stacked) and Loop with a fixed trip count, unrolled, by their definitions") {
  const auto out = runOneNode(sequenceModel(), Tensor{{2, 3}, {1, 2, 3, 4, 5, 6}});
  CHECK(out[0] == std::vector<double>{1, 2, 3, 4, 5, 6});                    // stacked back along axis 1
  CHECK(out[1] == std::vector<double>{3, 6});                                // the last column
  CHECK(out[2] == std::vector<double>{1 + 1 + 2 + 3, 4 + 4 + 5 + 6});        // the first column plus every column
  CHECK(out[3] == std::vector<double>{1, 16, 4, 25, 9, 36});                 // each trip's square, stacked: [3, 2]
  // A trip count known only at run time is refused by name.
  onnx::ModelProto m = sequenceModel();
  auto* g = m.mutable_graph();
  for (auto& n : *g->mutable_node())
    if (n.op_type() == "Loop") n.set_input(0, "x");
  CHECK_THROWS_WITH_AS(importOnnxBytes(m.SerializeAsString(), "seq.onnx"), doctest::Contains("(Loop, opset 17): input 0 ('x') must be known at compile time"),
                       CompileError);
  // Bad counts and positions are refused by name.
  const auto withConstant = [](const std::string& name, std::int64_t v) {
    onnx::ModelProto bad = sequenceModel();
    for (auto& n : *bad.mutable_graph()->mutable_node())
      if (n.op_type() == "Constant" && n.output(0) == name) n.mutable_attribute(0)->mutable_t()->set_int64_data(0, v);
    return bad.SerializeAsString();
  };
  CHECK_THROWS_WITH_AS(importOnnxBytes(withConstant("trips", 5000), "seq.onnx"), doctest::Contains("trip count 5000 is outside 0..4096"), CompileError);
  CHECK_THROWS_WITH_AS(importOnnxBytes(withConstant("trips", -1), "seq.onnx"), doctest::Contains("trip count -1 is outside 0..4096"), CompileError);
  CHECK_THROWS_WITH_AS(importOnnxBytes(withConstant("last", 7), "seq.onnx"), doctest::Contains("position 7 is outside the sequence of 3"), CompileError);
}

TEST_CASE("ONNX: a cast to bool of values known only at run time is the mask of the non-zero ones") {
  const auto mask = runOneNode(oneNodeModel("Cast", {{"x", {5}, {}}}, 1, {}, {}, {{"to", onnx::TensorProto::BOOL}}), Tensor{{5}, {-2, 0, 0.5, 0, 3}});
  CHECK(mask[0] == std::vector<double>{1, 0, 1, 0, 1});
  CHECK_THROWS_WITH_AS(runOneNode(oneNodeModel("Cast", {{"x", {2}, {}}}, 1, {}, {}, {{"to", onnx::TensorProto::INT64}}), Tensor{{2}, {1, 2}}),
                       doctest::Contains("a cast to an integer type of values known only at run time"), CompileError);
}

TEST_CASE("ONNX: batch normalization in inference mode uses its running statistics, in training mode the batch statistics, neither trained") {
  const std::vector<Input> ins = {{"x", {2, 2}, {}}, {"s", {2}, {2, 1}}, {"b", {2}, {0, 1}}, {"mean", {2}, {1, 0}}, {"var", {2}, {4, 1}}};
  const Tensor x{{2, 2}, {1, 2, 3, 4}};
  const double e = 1e-5;
  for (const std::int64_t mode : {0, 1}) {
    const onnx::ModelProto m = oneNodeModel("BatchNormalization", ins, 1, {}, {}, {{"training_mode", mode}});
    const Graph g = importOnnxBytes(m.SerializeAsString(), "bn.onnx");
    CHECK(g.parameters.size() == 2);  // the scale and the bias
    const auto y = runOneNode(m, x)[0];
    INFO("training_mode " << mode);
    if (mode == 0) {  // (x - mean) / sqrt(var + e) s + b, per channel (the second axis)
      CHECK(y[0] == doctest::Approx(2 * (1 - 1) / std::sqrt(4 + e)));
      CHECK(y[1] == doctest::Approx(1 * (2 - 0) / std::sqrt(1 + e) + 1));
      CHECK(y[2] == doctest::Approx(2 * (3 - 1) / std::sqrt(4 + e)));
      CHECK(y[3] == doctest::Approx(1 * (4 - 0) / std::sqrt(1 + e) + 1));
    } else {  // the batch's mean and variance: channel 0 has {1, 3}, channel 1 {2, 4}
      CHECK(y[0] == doctest::Approx(2 * -1 / std::sqrt(1 + e)));
      CHECK(y[3] == doctest::Approx(1 * 1 / std::sqrt(1 + e) + 1));
    }
  }
}

TEST_CASE("ONNX: run-time comparisons as masks, ReduceL2, softmax on an inner axis, ConvTranspose, Slice with steps on constants") {
  const Tensor x{{2, 3}, {-1, 0, 2, 3, -4, 0.5}};
  // Greater / Less / Equal against a constant, at run time: 0/1 masks.
  const auto gt = runOneNode(oneNodeModel("Greater", {{"x", {2, 3}, {}}, {"zero", {1}, {0}, true}}, 1), x);
  CHECK(gt[0] == std::vector<double>{0, 0, 1, 1, 0, 1});
  const auto le = runOneNode(oneNodeModel("LessOrEqual", {{"x", {2, 3}, {}}, {"zero", {1}, {0}, true}}, 1), x);
  CHECK(le[0] == std::vector<double>{1, 1, 0, 0, 1, 0});
  const auto eq = runOneNode(oneNodeModel("Equal", {{"x", {2, 3}, {}}, {"zero", {1}, {0}, true}}, 1), x);
  CHECK(eq[0] == std::vector<double>{0, 1, 0, 0, 0, 0});
  // ReduceL2 over axis 1 (F.normalize's norm), keeping it.
  const auto l2 = runOneNode(oneNodeModel("ReduceL2", {{"x", {2, 3}, {}}, {"axes", {1}, {1}, true}}, 1), x);
  CHECK(l2[0][0] == doctest::Approx(std::sqrt(5.0)));
  CHECK(l2[0][1] == doctest::Approx(std::sqrt(25.25)));
  // Softmax over axis 0 of a [2, 3]: each column sums to 1.
  onnx::ModelProto sm = oneNodeModel("Softmax", {{"x", {2, 3}, {}}}, 1, {}, {}, {{"axis", 0}});
  const auto s = runOneNode(sm, x);
  for (int c = 0; c < 3; ++c) CHECK(s[0][std::size_t(c)] + s[0][std::size_t(3 + c)] == doctest::Approx(1.0));
  CHECK(s[0][0] == doctest::Approx(std::exp(-1.0) / (std::exp(-1.0) + std::exp(3.0))));
  // ConvTranspose, stride 2: each input element spreads the kernel over its 2x2 block.
  const auto up = runOneNode(oneNodeModel("ConvTranspose", {{"x", {1, 1, 1, 2}, {}}, {"w", {1, 1, 2, 2}, {1, 2, 3, 4}}}, 1, {{"strides", {2, 2}}}),
                             Tensor{{1, 1, 1, 2}, {1, 10}});
  CHECK(up[0] == std::vector<double>{1, 2, 10, 20, 3, 4, 30, 40});
  // Slice with step -1 on a constant (how exporters reverse a pad list), added to x so that the
  // graph has an input; on a run-time value a step other than 1 is refused by name.
  onnx::ModelProto rev = oneNodeModel("Add", {{"x", {4}, {}}, {"reversed", {}, {}}}, 1);
  auto* g = rev.mutable_graph();
  for (const auto& [name, data] : std::vector<std::pair<std::string, std::vector<float>>>{
           {"c", {1, 2, 3, 4}}, {"st", {-1}}, {"en", {-5}}, {"ax", {0}}, {"step", {-1}}}) {
    auto* c = g->add_node();
    c->set_op_type("Constant"), c->set_name(name + "_const"), c->add_output(name);
    auto* at = c->add_attribute();
    at->set_name("value"), at->set_type(onnx::AttributeProto::TENSOR);
    at->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
    at->mutable_t()->add_dims(std::int64_t(data.size()));
    for (float f : data) at->mutable_t()->add_float_data(f);
  }
  auto* sl = g->add_node();
  sl->set_op_type("Slice"), sl->set_name("slice"), sl->add_output("reversed");
  for (const char* in : {"c", "st", "en", "ax", "step"}) sl->add_input(in);
  g->mutable_input()->RemoveLast();  // 'reversed' is the slice's, not a graph input
  for (int i = 0; i + 1 < g->node_size(); ++i) g->mutable_node()->SwapElements(i, i + 1);  // the add last
  const auto reversed = runOneNode(rev, Tensor{{4}, {0, 0, 0, 0}});
  CHECK(reversed[0] == std::vector<double>{4, 3, 2, 1});
}

TEST_CASE("ONNX: Slice of an empty constant whose other axis is 2^40 long: its shape by arithmetic, not index by index") {
  // x + float(Shape(Slice(c, starts 1, ends 10, axes 1, steps 3))) with c of shape [0, 2^40]:
  // the slice is [0, 3] (indices 1, 4 and 7); listing the axis's indices took hours and 16 GB.
  onnx::ModelProto m = oneNodeModel("Add", {{"x", {2}, {}}, {"sizes", {}, {}}}, 1);
  auto* g = m.mutable_graph();
  g->mutable_input()->RemoveLast();  // 'sizes' is made below, not a graph input
  const auto constant = [&](const std::string& name, std::vector<std::int64_t> dims, std::vector<std::int64_t> data) {
    auto* c = g->add_node();
    c->set_op_type("Constant"), c->set_name(name + "_const"), c->add_output(name);
    auto* at = c->add_attribute();
    at->set_name("value"), at->set_type(onnx::AttributeProto::TENSOR);
    at->mutable_t()->set_data_type(onnx::TensorProto::INT64);
    for (auto d : dims) at->mutable_t()->add_dims(d);
    for (auto v : data) at->mutable_t()->add_int64_data(v);
  };
  constant("c", {0, std::int64_t(1) << 40}, {});
  constant("st", {1}, {1}), constant("en", {1}, {10}), constant("ax", {1}, {1}), constant("step", {1}, {3});
  const auto node = [&](const std::string& op, std::vector<std::string> in, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op), n->set_name(out + "_node"), n->add_output(out);
    for (const auto& i : in) n->add_input(i);
    return n;
  };
  node("Slice", {"c", "st", "en", "ax", "step"}, "sliced");
  node("Shape", {"sliced"}, "shape");
  auto* cast = node("Cast", {"shape"}, "sizes")->add_attribute();
  cast->set_name("to"), cast->set_type(onnx::AttributeProto::INT), cast->set_i(onnx::TensorProto::FLOAT);
  g->mutable_node()->SwapElements(0, g->node_size() - 1);  // the add last
  for (int i = 0; i + 2 < g->node_size(); ++i) g->mutable_node()->SwapElements(i, i + 1);
  const auto sizes = runOneNode(m, Tensor{{2}, {0, 0}});
  CHECK(sizes[0] == std::vector<double>{0, 3});
}

TEST_CASE("matrixFlops: 2 x the multiply-adds of matrix products and convolutions, from logical shapes") {
  using V = std::vector<std::int64_t>;
  Graph g;
  const int a = g.input("a", {4, 3}), b = g.input("b", {3, 2}), bb = g.input("bb", {2, 4, 3}), c = g.input("c", {3, 5});
  const int mm = g.op(Op::matmul, {a, b});     // [4,2]: 8 dot products of length 3
  const int bmm = g.op(Op::matmul, {bb, c});   // [2,4,5]: 40 dot products of length 3
  // Two groups of 3 channels, 4 filters, 3x3, stride 2, padding 1: y [2,4,4,4], each of its 128
  // elements 3 x 3 x 3 = 27 products (padding positions count: they are in the definition).
  const int x = g.input("x", {2, 6, 8, 8}), w = g.input("w", {4, 3, 3, 3});
  const std::map<std::string, Attribute> geo = {{"strides", V{2, 2}}, {"pads", V{1, 1, 1, 1}}, {"group", std::int64_t(2)}};
  const int y = g.op(Op::conv2d, {x, w}, geo);
  REQUIRE(g.values[std::size_t(y)].shape == Shape{2, 4, 4, 4});
  auto gi = geo, gw = geo;
  gi["input_shape"] = V{2, 6, 8, 8}, gw["weight_shape"] = V{4, 3, 3, 3};
  const int dy = g.input("dy", {2, 4, 4, 4});
  const int dx = g.op(Op::conv2d_grad_input, {dy, w}, gi);
  const int dw = g.op(Op::conv2d_grad_weight, {x, dy}, gw);
  const int r = g.op(Op::relu, {mm});
  const auto flops = [&](int v) {
    for (const Node& n : g.nodes)
      if (n.outputs[0] == v) return matrixFlops(g, n);
    return std::uint64_t(~0ull);
  };
  CHECK(flops(mm) == 2 * 8 * 3);
  CHECK(flops(bmm) == 2 * 40 * 3);
  CHECK(flops(y) == 2 * 128 * 27);
  CHECK(flops(dx) == 2 * 128 * 27);  // the same products as the forward convolution
  CHECK(flops(dw) == 2 * 128 * 27);
  CHECK(flops(r) == 0);
  CHECK(matrixFlops(g) == 48 + 240 + 3 * 6912);
}
