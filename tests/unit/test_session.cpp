// The runtime session: the carried parameters and optimizer state are replaced by their updates
// step after step, exactly as the host oracle computes two steps in a row; feeds that do not fit
// the bundle are refused by name.
#include <doctest/doctest.h>

#include <cmath>

#include "tatami/compiler/interpreter.h"
#include "tatami/driver/job.h"
#include "tatami/runtime/session.h"

using namespace tatami;

namespace {

const std::string kModel = TATAMI_SOURCE_DIR "/tests/cli/fixtures/tiny_mlp.tir";

driver::CompileRequest tinyStep() {
  driver::CompileRequest r;
  r.model = kModel;
  r.loss = "xent";
  r.precision = "fp32";
  r.optimizer.momentum = 0.9;
  return r;
}

}  // namespace

TEST_CASE("a session carries weights and momentum from step to step as the oracle does") {
  const ArchConfig config;
  const driver::CompiledJob job = driver::compileJob(tinyStep(), config);
  runtime::Session session(config, job.bundle);
  const compiler::Graph& g = job.step;
  // Every parameter and every optimizer state is carried, at zero until set.
  std::size_t parameters = 0, states = 0;
  for (const auto& t : job.bundle.tensors) parameters += t.purpose == "parameter", states += t.purpose == "state";
  REQUIRE(parameters > 0);
  REQUIRE(states == parameters);  // one momentum per parameter
  CHECK(session.carried().size() == parameters + states);
  std::map<std::string, compiler::Tensor> oracle = driver::seededInputs(g, "xent", 7);
  for (int p : g.parameters) {
    const compiler::Value& v = g.values[std::size_t(p)];
    session.setCarried(v.name, std::vector<double>(v.data.begin(), v.data.end()));
    oracle[v.name] = compiler::Tensor{v.shape, v.data};
  }
  std::vector<runtime::NamedArray> batch;
  for (int in : g.inputs) {
    const compiler::Value& v = g.values[std::size_t(in)];
    if (v.role == compiler::Role::OptimizerState) oracle[v.name].data.assign(oracle[v.name].data.size(), 0.0);  // as carried
    else
      batch.push_back({v.name, std::vector<std::uint64_t>(v.shape.begin(), v.shape.end()), oracle.at(v.name).data});
  }
  compiler::EvalOptions fp32;
  fp32.roundToFloat = true;
  for (int step = 0; step < 2; ++step) {
    const runtime::Session::Step s = session.step(batch);
    REQUIRE(s.result.run.error.empty());
    const auto want = compiler::evaluate(g, oracle, fp32);
    CHECK(std::fabs(s.loss - want[std::size_t(g.findRole(compiler::Role::Loss))].data[0]) < 1e-6);
    for (auto& item : session.carried()) {
      const std::string& name = item.first;  // not a binding: INFO captures it
      auto& values = item.second;
      const int update = g.findRole(compiler::Role::Update, name);
      REQUIRE(update >= 0);
      const std::vector<double>& expect = want[std::size_t(update)].data;
      REQUIRE(values.size() == expect.size());
      double worst = 0;
      for (std::size_t i = 0; i < values.size(); ++i) worst = std::max(worst, std::fabs(values[i] - expect[i]));
      INFO(name << " after step " << step);
      CHECK(worst < 1e-6);
      oracle[name] = compiler::Tensor{g.values[std::size_t(g.find(name))].shape, expect};
    }
  }
  // The momentum moved off zero: the second step used the first's.
  for (const auto& t : job.bundle.tensors)
    if (t.purpose == "state") {
      double norm = 0;
      for (double x : session.carried().at(t.name)) norm += x * x;
      CHECK(norm > 0);
    }
}

TEST_CASE("a session refuses feeds that do not fit its bundle, by name") {
  const ArchConfig config;
  runtime::Session session(config, driver::compileJob(tinyStep(), config).bundle);
  const runtime::BundleTensor* x = session.withPurpose("batch");
  REQUIRE(x);
  CHECK_THROWS_WITH_AS(session.run({{"nope", {1}, {0.0}}}), "'nope' is not a tensor of the bundle", runtime::BundleError);
  CHECK_THROWS_WITH_AS(session.run({{x->name, {1, 1}, {0.0}}}), doctest::Contains("has shape 1x1; the bundle expects"), runtime::BundleError);
  CHECK_THROWS_WITH_AS(session.run({{x->name, std::vector<std::uint64_t>(x->shape.begin(), x->shape.end()), {0.0}}}),
                       doctest::Contains("holds 1 values, not the"), runtime::BundleError);
  const runtime::BundleTensor* loss = session.withPurpose("loss");
  REQUIRE(loss);
  CHECK_THROWS_WITH_AS(session.run({{loss->name, {}, {0.0}}}), doctest::Contains("is an output of the bundle"), runtime::BundleError);
}
