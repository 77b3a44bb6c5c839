// The runtime session: the carried parameters and optimizer state are replaced by their updates
// step after step, exactly as the host oracle computes two steps in a row; feeds that do not fit
// the bundle are refused by name.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

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
  const auto carried = session.carried();
  for (const auto& t : job.bundle.tensors)
    if (t.purpose == "state") {
      double norm = 0;
      for (double x : carried.at(t.name)) norm += x * x;
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

namespace {

/// The tiny step's batch, scaled by `k` (so that two batches differ).
std::vector<runtime::NamedArray> tinyBatch(const compiler::Graph& g, double k) {
  std::map<std::string, compiler::Tensor> seeded = driver::seededInputs(g, "xent", 7);
  std::vector<runtime::NamedArray> batch;
  for (int in : g.inputs) {
    const compiler::Value& v = g.values[std::size_t(in)];
    if (v.role == compiler::Role::OptimizerState) continue;
    std::vector<double> data = seeded.at(v.name).data;
    if (v.role == compiler::Role::Batch)
      for (double& x : data) x *= k;
    batch.push_back({v.name, std::vector<std::uint64_t>(v.shape.begin(), v.shape.end()), data});
  }
  return batch;
}

}  // namespace

TEST_CASE("a session keeps the carried tensors on the machine: the host reads them only when asked") {
  const ArchConfig config;
  const driver::CompiledJob job = driver::compileJob(tinyStep(), config);
  runtime::Session session(config, job.bundle);
  for (int p : job.step.parameters) {
    const compiler::Value& v = job.step.values[std::size_t(p)];
    session.setCarried(v.name, std::vector<double>(v.data.begin(), v.data.end()));
  }
  const auto batch = tinyBatch(job.step, 1.0);
  for (int step = 0; step < 3; ++step) REQUIRE(session.step(batch).result.run.error.empty());
  CHECK(session.carriedReads() == 0);
  const auto w = session.carried();
  CHECK(session.carriedReads() == 1);
  CHECK(w.size() == job.step.parameters.size() * 2);  // and a momentum each
  CHECK_THROWS_WITH_AS(session.setCarried("nope", {}), "'nope' is not a parameter or optimizer state of the bundle", runtime::BundleError);
  CHECK_THROWS_WITH_AS(session.setCarried(w.begin()->first, {1.0}), doctest::Contains("holds 1 values, not the"), runtime::BundleError);
}

TEST_CASE("a step reads the next step's batch from HBM while it runs, and the next step starts from what it read") {
  // On the D1 preset the inputs come from its edge source (--feed auto): staged pieces.
  const ArchConfig config;
  driver::CompileRequest r = tinyStep();
  const driver::CompiledJob dip = driver::compileJob(r, config);
  r.feed = "host";
  const driver::CompiledJob host = driver::compileJob(r, config);
  const runtime::Session fromDip(config, dip.bundle), fromHost(config, host.bundle);
  const runtime::BundleTensor* x = fromDip.withPurpose("batch");
  REQUIRE(x);
  REQUIRE(x->pieces.at(0).staged);
  CHECK(x->pieces.at(0).hbm);
  REQUIRE(fromHost.withPurpose("batch"));
  CHECK_FALSE(fromHost.withPurpose("batch")->pieces.at(0).staged);
  const auto first = tinyBatch(dip.step, 1.0), second = tinyBatch(dip.step, 0.5), third = tinyBatch(dip.step, 0.25);
  // Two steps in a row, the second's batch read by the first, against the same steps fed from the
  // host: the same losses and the same weights, bit for bit; the first step costs more cycles
  // (it reads the next batch), none of them exposed as the step is this tiny.
  runtime::Session a(config, dip.bundle), b(config, host.bundle);
  for (runtime::Session* s : {&a, &b})
    for (int p : dip.step.parameters) {
      const compiler::Value& v = dip.step.values[std::size_t(p)];
      s->setCarried(v.name, std::vector<double>(v.data.begin(), v.data.end()));
    }
  const runtime::Session::Step a1 = a.step(first, {}, &second), b1 = b.step(first);
  REQUIRE(a1.result.run.error.empty());
  const runtime::Session::Step a2 = a.step(second), b2 = b.step(second);
  REQUIRE(a2.result.run.error.empty());
  CHECK(a1.loss == b1.loss);
  CHECK(a2.loss == b2.loss);
  CHECK(a2.loss != a1.loss);
  CHECK(a.carried() == b.carried());
  CHECK(a1.result.run.stats.cycles > b1.result.run.stats.cycles);
  CHECK(a1.result.run.breakdown.all.cycles[std::size_t(tatami::tlm::Activity::DataLoad)] > 0);
  // Told one next batch and fed another: refused, naming the input.
  REQUIRE(a.step(first, {}, &second).result.run.error.empty());
  CHECK_THROWS_WITH_AS(a.step(third), doctest::Contains("is not this step's feed"), runtime::BundleError);
}

TEST_CASE("the host link: each batch reaches HBM at dip.host_gb_per_s, double-buffered, and a step waits for its next batch") {
  ArchConfig slow;
  slow.dip.host_gb_per_s = 0.01;  // 0.005 bytes per cycle at 2 GHz: the tiny batch takes far longer than a step
  ArchConfig unlimited;
  unlimited.dip.host_gb_per_s = 0;
  const driver::CompiledJob job = driver::compileJob(tinyStep(), slow);
  std::uint64_t bytes = 0;  // the staged inputs' bytes, all from the one edge source
  for (const auto& t : job.bundle.tensors)
    for (const auto& p : t.pieces)
      if (p.staged) {
        std::uint64_t elements = 1;
        for (auto d : p.block.local) elements *= std::uint64_t(d);
        bytes += elements * 4;
      }
  REQUIRE(bytes > 0);
  const std::uint64_t perBatch = std::uint64_t(std::ceil(double(bytes) / (0.01 / 2.0) - 1e-9));
  runtime::Session a(slow, job.bundle), b(unlimited, job.bundle);
  for (runtime::Session* s : {&a, &b})
    for (int p : job.step.parameters) {
      const compiler::Value& v = job.step.values[std::size_t(p)];
      s->setCarried(v.name, std::vector<double>(v.data.begin(), v.data.end()));
    }
  const std::vector<std::vector<runtime::NamedArray>> batches = {tinyBatch(job.step, 1.0), tinyBatch(job.step, 0.5), tinyBatch(job.step, 0.25),
                                                                 tinyBatch(job.step, 0.125)};
  std::vector<runtime::Session::Step> sa, sb;
  for (std::size_t k = 0; k + 1 < batches.size(); ++k) {
    sa.push_back(a.step(batches[k], {}, &batches[k + 1]));
    sb.push_back(b.step(batches[k], {}, &batches[k + 1]));
    REQUIRE(sa.back().result.run.error.empty());
    REQUIRE(sb.back().result.run.error.empty());
    CHECK(sa.back().loss == sb.back().loss);  // only the timing differs
    CHECK(sb.back().nextBatchArrival == 0);
  }
  CHECK(a.carried() == b.carried());
  const auto cycles = [](const runtime::Session::Step& s) { return s.result.run.stats.cycles; };
  // Batches 0 and 1 are in place before the first step; batch 2 leaves at once and arrives after
  // perBatch cycles; batch 3 follows it (its buffer, batch 1's, was free when step 0 ended).
  CHECK(sa[0].nextBatchArrival == 0);
  CHECK(cycles(sa[0]) == cycles(sb[0]));
  REQUIRE(perBatch > cycles(sa[0]));
  CHECK(sa[1].nextBatchArrival == perBatch - cycles(sa[0]));
  CHECK(sa[2].nextBatchArrival == 2 * perBatch - cycles(sa[0]) - cycles(sa[1]));
  // A step ends only once its next batch is in SRAM: after it reached HBM.
  CHECK(cycles(sa[1]) > sa[1].nextBatchArrival);
  CHECK(cycles(sa[1]) > cycles(sb[1]));
  CHECK(cycles(sa[2]) > sa[2].nextBatchArrival);
}

TEST_CASE("the relative error: exact infinities agree, a NaN or an infinity on one side is infinite") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  CHECK(driver::relativeError({-inf, 3, 4}, {-inf, 3, 4}) == 0);
  CHECK(driver::relativeError({nan, 3, 4}, {nan, 3, 4}) == 0);
  CHECK(driver::relativeError({-inf, 3, 4}, {inf, 3, 4}) == inf);
  CHECK(driver::relativeError({-inf, 3, 4}, {0, 3, 4}) == inf);
  CHECK(driver::relativeError({nan, 3, 4}, {0, 3, 4}) == inf);
  CHECK(driver::relativeError({0, 3, 5}, {0, 3, 4}) == doctest::Approx(0.2));
}
