// Holding the oracle to PyTorch's saved results, and the emulator to the oracle.
#include "tatami/driver/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "tatami/driver/checkpoint.h"
#include "tatami/runtime/results.h"

namespace tatami::driver {

using namespace tatami::compiler;

namespace {

using Arrays = std::map<std::string, runtime::NamedArray>;

const runtime::NamedArray& need(const Arrays& a, const std::string& name, const std::string& path) {
  const auto it = a.find(name);
  if (it == a.end()) throw DataError("reference '" + path + "' has no '" + name + "'");
  return it->second;
}

/// The inputs of the step from the reference: the batch under its input's name, the targets.
std::map<std::string, Tensor> feedsOf(const Graph& g, const Arrays& a, const std::string& path) {
  std::map<std::string, Tensor> feeds;
  for (int in : g.inputs) {
    const Value& v = g.values[std::size_t(in)];
    if (v.role == Role::OptimizerState) continue;
    const runtime::NamedArray& x = need(a, v.role == Role::Target ? "target" : "input/" + v.name, path);
    if (std::int64_t(x.data.size()) != elementCount(v.shape))
      throw DataError("reference '" + path + "': '" + x.name + "' holds " + std::to_string(x.data.size()) + " values; the step's '" + v.name +
                      "' is " + shapeText(v.shape));
    feeds[v.name] = Tensor{v.shape, x.data};
  }
  return feeds;
}

/// The gradient an SGD step without momentum or decay subtracts: `next` = sub(w, mul(lr, grad)).
/// -1 when the update has another form.
int sgdGradient(const Graph& g, int next) {
  const int sub = g.values[std::size_t(next)].producer;
  if (sub < 0 || g.nodes[std::size_t(sub)].op != compiler::Op::sub || g.nodes[std::size_t(sub)].inputs.size() != 2) return -1;
  const int mul = g.values[std::size_t(g.nodes[std::size_t(sub)].inputs[1])].producer;
  if (mul < 0 || g.nodes[std::size_t(mul)].op != compiler::Op::mul || g.nodes[std::size_t(mul)].inputs.size() != 2) return -1;
  return g.nodes[std::size_t(mul)].inputs[1];
}

}  // namespace

std::vector<std::string> ReferenceCheck::failures() const {
  std::vector<std::string> out;
  for (const auto& row : rows)
    if (!(row.relError <= row.tolerance)) {
      std::ostringstream o;
      o << row.tensor << " " << row.relError << " > " << row.tolerance << " (" << (row.against == "pytorch" ? "the oracle against PyTorch" : "the emulator against the oracle") << ")";
      out.push_back(o.str());
    }
  return out;
}

bool ReferenceCheck::passes() const { return failures().empty(); }

ReferenceCheck checkReference(CompileRequest r, const ArchConfig& config, const std::string& refPath, runtime::RunOptions options) {
  std::map<std::string, std::string> attrs;
  Arrays a;
  try {
    for (auto& x : runtime::readArrays(refPath, &attrs)) a[x.name] = std::move(x);
  } catch (const std::runtime_error& e) {
    throw DataError(e.what());
  }
  ReferenceCheck c;
  c.oracleTolerance = r.precision == "fp32" ? 1e-5 : 2e-2;
  try {
    c.lr = std::stod(attrs.at("lr"));
  } catch (const std::exception&) {
    throw DataError("reference '" + refPath + "' has no learning rate (attribute 'lr')");
  }
  const runtime::NamedArray& target = need(a, "target", refPath);
  if (target.shape.size() != 2) throw DataError("reference '" + refPath + "': 'target' must be [batch, classes]");
  // The batch: the leading dimension of the inputs (a language model's targets have a row per
  // position, not per example).
  r.batch = 0;
  for (const auto& [name, x] : a)
    if (name.rfind("input/", 0) == 0 && !x.shape.empty()) r.batch = std::int64_t(x.shape[0]);
  if (r.batch == 0) throw DataError("reference '" + refPath + "' has no input (input/NAME)");
  r.loss = "xent";
  r.optimizer = defaultOptimizer();
  r.optimizer.learningRate = c.lr;
  // The reference must fit the step before it is placed.
  const std::map<std::string, Tensor> feeds = feedsOf(compileModel(r, nullptr), a, refPath);
  c.job = compileJob(r, config);
  const Graph& g = c.job.step;
  const auto row = [&](const std::string& name, const std::string& against, const std::vector<double>& got, const std::vector<double>& want) {
    const double e = got.size() == want.size() ? relativeError(got, want) : std::numeric_limits<double>::infinity();
    c.rows.push_back({name, against, e, against == "pytorch" ? c.pytorchTolerance : c.oracleTolerance});
    (against == "pytorch" ? c.worstPytorch : c.worstOracle) = std::max(against == "pytorch" ? c.worstPytorch : c.worstOracle, e);
  };
  // The oracle in FP64 against PyTorch: the logits (the model alone), the loss, and per parameter
  // its gradient ((w - w') / lr, exact enough in FP64) and its updated value.
  CompileRequest forward = r;
  forward.loss = "none";
  const Graph f = compileModel(forward, nullptr);
  std::map<std::string, Tensor> forwardFeeds;
  for (int in : f.inputs) forwardFeeds[f.values[std::size_t(in)].name] = feeds.at(f.values[std::size_t(in)].name);
  // A PyTorch tensor outside 1e-5 (a long sum that cancels) is held to its estimated FP32 noise:
  // the step (or the model alone, for the logits) as a naive FP32 machine computes it, made once
  // when first needed, against the FP64 oracle, in the row's own norm.
  EvalOptions naive;
  naive.roundToFloat = naive.accumulateInFloat = true;
  std::vector<Tensor> noisy;
  const auto naiveStep = [&]() -> const std::vector<Tensor>& {
    if (noisy.empty()) noisy = evaluate(g, feeds, naive);
    return noisy;
  };
  const auto outside = [&](const ReferenceRow& held) { return held.relError > c.pytorchTolerance && std::isfinite(held.relError); };
  const auto allowNoise = [&](ReferenceRow& held, double noise) {
    held.noise = noise;
    held.tolerance = std::max(c.pytorchTolerance, kNoiseMargin * noise);
  };
  const std::vector<double> logits = evaluate(f, forwardFeeds)[std::size_t(f.outputs.front())].data;
  row("output", "pytorch", logits, need(a, "output", refPath).data);
  if (outside(c.rows.back()))
    allowNoise(c.rows.back(), relativeError(evaluate(f, forwardFeeds, naive)[std::size_t(f.outputs.front())].data, logits));
  const std::vector<Tensor> oracle = evaluate(g, feeds);
  const int loss = g.findRole(Role::Loss);
  row("loss", "pytorch", oracle[std::size_t(loss)].data, need(a, "loss", refPath).data);
  if (outside(c.rows.back())) allowNoise(c.rows.back(), relativeError(naiveStep()[std::size_t(loss)].data, oracle[std::size_t(loss)].data));
  // A gradient is compared relative to its own norm, or to kGradientFloor of the step's largest
  // gradient norm when it is smaller, or to that largest norm when it vanishes in exact
  // arithmetic (the FP64 oracle finds it below kVanishingGradient of it: a bias right before a
  // normalization): PyTorch's is then FP32 rounding noise, which relative to itself would count
  // as an error of 1.
  double largest = 0;
  for (int p : g.parameters)
    if (a.count("grad/" + g.values[std::size_t(p)].name)) {
      double sq = 0;
      for (double v : a.at("grad/" + g.values[std::size_t(p)].name).data) sq += v * v;
      largest = std::max(largest, std::sqrt(sq));
    }
  for (int p : g.parameters) {
    const Value& w = g.values[std::size_t(p)];
    const int next = g.findRole(Role::Update, w.name);
    if (next < 0 || !a.count("grad/" + w.name)) continue;
    const std::vector<double>& updated = oracle[std::size_t(next)].data;
    std::vector<double> grad(updated.size());
    for (std::size_t i = 0; i < grad.size(); ++i) grad[i] = (w.data[i] - updated[i]) / c.lr;
    const std::vector<double>& want = need(a, "grad/" + w.name, refPath).data;
    double diff = 0, norm = 0, exact = 0;
    for (std::size_t i = 0; i < want.size() && i < grad.size(); ++i)
      diff += (grad[i] - want[i]) * (grad[i] - want[i]), norm += want[i] * want[i], exact += grad[i] * grad[i];
    const bool vanishes = std::sqrt(exact) <= kVanishingGradient * largest;
    const double denominator = vanishes ? std::max(largest, 1e-300) : std::max(std::sqrt(norm), kGradientFloor * largest);
    const double e = grad.size() != want.size() ? std::numeric_limits<double>::infinity() : std::sqrt(diff) / denominator;
    ReferenceRow gradRow{"grad/" + w.name, "pytorch", std::isnan(e) ? std::numeric_limits<double>::infinity() : e, c.pytorchTolerance};
    const int gradient = sgdGradient(g, next);
    if (outside(gradRow) && gradient >= 0) {
      const std::vector<double>& g32 = naiveStep()[std::size_t(gradient)].data;
      double d = 0;
      for (std::size_t i = 0; i < g32.size() && i < grad.size(); ++i) d += (g32[i] - grad[i]) * (g32[i] - grad[i]);
      allowNoise(gradRow, std::sqrt(d) / denominator);
    }
    c.rows.push_back(gradRow);
    c.worstPytorch = std::max(c.worstPytorch, gradRow.relError);
    // The updated weight carries its gradient's noise, times the learning rate.
    row("updated/" + w.name, "pytorch", updated, need(a, "updated/" + w.name, refPath).data);
    if (outside(c.rows.back())) allowNoise(c.rows.back(), relativeError(naiveStep()[std::size_t(next)].data, updated));
  }
  // The emulator against the oracle in FP32, on the same batch.
  for (const auto& [name, rel] : runAgainstOracle(c.job, config, feeds, options, c.run)) {
    c.rows.push_back({name, "oracle", rel, c.oracleTolerance});
    c.worstOracle = std::max(c.worstOracle, rel);
  }
  return c;
}

}  // namespace tatami::driver
