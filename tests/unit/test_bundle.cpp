// Bundles: `tatami compile -o` writes one, `tatami run` (runBundle) loads and runs it; one core,
// a data-parallel slice and a tensor-parallel grid give the same training step; malformed files
// are refused with the file and line.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tatami/arch/assembler.h"
#include "tatami/runtime/bundle.h"
#include "tatami/tools/cli.h"
#include "tatami/arch/config_files.h"

using namespace tatami;

namespace {

const std::string kModel = TATAMI_SOURCE_DIR "/tests/cli/fixtures/tiny_mlp.tir";

int tatamiCli(std::vector<std::string> args, std::string* text = nullptr) {
  args.insert(args.begin(), "tatami");
  std::ostringstream out, err;
  const int rc = cli::run(args, out, err);
  if (text) *text = out.str() + err.str();
  return rc;
}

/// The step's outputs with x and target fed (4 examples of 3 features, 2 classes).
std::map<std::string, std::vector<double>> runStep(const std::string& bundlePath) {
  const runtime::Bundle b = runtime::readBundle(bundlePath);
  ArchConfig config;
  std::vector<runtime::NamedArray> feeds = {
      {"x", {4, 3}, {0.5, -1.0, 0.25, 1.0, 0.75, -0.5, -0.25, 0.125, 1.5, 0.0, -2.0, 0.5}},
      {"target", {4, 2}, {1, 0, 0, 1, 1, 0, 0, 1}},
  };
  const runtime::BundleRun r = runtime::runBundle(config, b, feeds);
  REQUIRE(r.run.error.empty());
  std::map<std::string, std::vector<double>> out;
  for (const auto& o : r.outputs) out[o.name] = o.data;
  return out;
}

double relativeError(const std::vector<double>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < want.size(); ++i) num += (got[i] - want[i]) * (got[i] - want[i]), den += want[i] * want[i];
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace

TEST_CASE("a step compiled to bundles for one core, a slice and a grid gives the same results") {
  const std::vector<std::string> step = {"--loss", "xent", "--momentum", "0.9", "--precision", "fp32"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"compile", kModel};
    a.insert(a.end(), step.begin(), step.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  std::string text;
  REQUIRE(tatamiCli(with({"-o", "b_one.bundle"}), &text) == 0);
  CHECK(text.find("wrote b_one.bundle (1 program(s), 15 tensors") != std::string::npos);
  REQUIRE(tatamiCli(with({"--slice", "2x2", "--batch", "4", "-o", "b_slice.bundle"})) == 0);
  REQUIRE(tatamiCli(with({"--grid", "2x2", "--slice", "2x2", "-o", "b_grid.bundle"})) == 0);
  const auto one = runStep("b_one.bundle"), slice = runStep("b_slice.bundle"), grid = runStep("b_grid.bundle");
  REQUIRE(one.size() == 7);  // the loss, and for w1, b1, w2: the next weight and momentum
  CHECK(one.at("loss_3")[0] > 0.1);
  for (const auto& item : one) {
    const std::string& name = item.first;  // not a binding: INFO captures it
    const auto& want = item.second;
    INFO(name);
    REQUIRE(slice.count(name));
    REQUIRE(grid.count(name));
    CHECK(relativeError(slice.at(name), want) < 1e-6);
    CHECK(relativeError(grid.at(name), want) < 1e-6);
  }
  // The grid bundle places x's blocks: 2 examples x 2 (of 3) features on core 0, the rest padded.
  const runtime::Bundle g = runtime::readBundle("b_grid.bundle");
  REQUIRE(g.programs.size() == 4);
  const runtime::BundleTensor* x = g.find("x");
  REQUIRE(x != nullptr);
  CHECK(x->role == "input");
  CHECK(x->pieces.size() == 4);
  CHECK(x->pieces[3].block.begin == std::vector<std::int64_t>{2, 2});
  CHECK(x->pieces[3].block.real == std::vector<std::int64_t>{2, 1});
  CHECK(g.find("w1.m")->role == "state");
  CHECK(g.find("w1")->role == "parameter");
  CHECK(g.find("w1.next")->role == "output");
  // What each tensor is to the step, from the compiler's value roles (not from the names).
  CHECK(x->purpose == "batch");
  CHECK(g.find("target")->purpose == "target");
  CHECK(g.find("w1")->purpose == "parameter");
  CHECK(g.find("w1.m")->purpose == "state");
  CHECK(g.find("w1.m")->of == "w1");
  CHECK(g.find("w1.next")->purpose == "update");
  CHECK(g.find("w1.next")->of == "w1");
  CHECK(g.find("w1.m.next")->of == "w1.m");
  for (const char* f : {"b_one.bundle", "b_slice.bundle", "b_grid.bundle"}) std::remove(f);
}

TEST_CASE("a bundle survives writing and reading unchanged") {
  runtime::Bundle b;
  b.model = "m.onnx", b.step = "loss xent", b.configIni = "[core]\nthreads = 4\n";
  b.tensors.push_back({"x", "input", "batch", "", {4, 3}, {{0, 64, {{0, 0}, {2, 3}, {2, 3}}}, {1, 64, {{2, 0}, {2, 3}, {2, 3}}}}});
  b.tensors.push_back({"loss", "output", "", "", {}, {{0, 128, {{}, {}, {}}}}});
  b.tensors.push_back({"w.next", "output", "update", "w", {3}, {{0, 256, {{0}, {3}, {3}}}}});
  b.programs = {{0, assemble("    halt\n", "a")}, {1, assemble("    li r1, 2\n    halt\n", "b")}};
  b.usefulMatrixFlops = 123456789012ull;
  runtime::writeBundle("b_roundtrip.bundle", b);
  CHECK(runtime::isBundleFile("b_roundtrip.bundle"));
  const runtime::Bundle r = runtime::readBundle("b_roundtrip.bundle");
  CHECK(r.model == b.model);
  CHECK(r.step == b.step);
  CHECK(r.configIni == b.configIni);
  CHECK(r.usefulMatrixFlops == b.usefulMatrixFlops);
  REQUIRE(r.tensors.size() == 3);
  CHECK(r.tensors[0].purpose == "batch");
  CHECK(r.tensors[1].purpose.empty());
  CHECK(r.tensors[2].purpose == "update");
  CHECK(r.tensors[2].of == "w");
  CHECK(r.tensors[0].pieces[1].core == 1);
  CHECK(r.tensors[0].pieces[1].block.begin == std::vector<std::int64_t>{2, 0});
  CHECK(r.tensors[1].shape.empty());
  REQUIRE(r.programs.size() == 2);
  CHECK(r.programs[1].core == 1);
  CHECK(r.programs[0].program == b.programs[0].program);
  CHECK(r.programs[1].program == b.programs[1].program);
}

TEST_CASE("a compiled step's run counts the graph's useful matrix FLOPs beside the padded ones the units issue") {
  REQUIRE(tatamiCli({"compile", kModel, "--loss", "xent", "-o", "b_mixed.bundle"}) == 0);
  const runtime::Bundle b = runtime::readBundle("b_mixed.bundle");
  // Forward x[4,3] w1[3,5] and a[4,5] w2[5,2]; backward a^T dy (dW2), dy w2^T (da), x^T dh
  // (dW1): 2 x (60 + 40 + 40 + 40 + 60) multiply-adds. x needs no gradient.
  REQUIRE(b.usefulMatrixFlops);
  CHECK(*b.usefulMatrixFlops == 480);
  ArchConfig config;
  const runtime::BundleRun r = runtime::runBundle(config, b, {});
  REQUIRE(r.run.error.empty());
  CHECK(r.run.usefulFlops() == 480);
  // Each product is one 16x16 tile over K rounded up to even: 2 x 256 x (4 + 6 + 4 + 2 + 4).
  CHECK(r.run.stats.matrixFlops == 2 * 256 * 20);
  CHECK(r.run.matrixUtilization(config) == doctest::Approx(r.run.issuedUtilization(config) * 480.0 / 10240.0));
  // In FP32 the products run on the vector units: no useful matrix work.
  REQUIRE(tatamiCli({"compile", kModel, "--loss", "xent", "--precision", "fp32", "-o", "b_fp32.bundle"}) == 0);
  CHECK(runtime::readBundle("b_fp32.bundle").usefulMatrixFlops == std::uint64_t(0));
}

TEST_CASE("malformed bundles are refused with the file and line") {
  const auto refused = [](const std::string& text) {
    std::ofstream("b_bad.bundle") << text;
    try {
      runtime::readBundle("b_bad.bundle");
    } catch (const runtime::BundleError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(refused("tatami-bundle 2\n") == "b_bad.bundle:1: not a bundle: the first line must be 'tatami-bundle 1'");
  CHECK(refused("tatami-bundle 1\ntensor x weights 4x3\n") == "b_bad.bundle:2: tensor 'x': role 'weights' is not input, parameter, state or output");
  CHECK(refused("tatami-bundle 1\ntensor x input 4x3 weights\n") ==
        "b_bad.bundle:2: tensor 'x': purpose 'weights' is not batch, target, parameter, state, update, loss or metric");
  CHECK(refused("tatami-bundle 1\ntensor x output 4x3 update\n") == "b_bad.bundle:2: tensor 'x': its purpose update needs the tensor it belongs to");
  CHECK(refused("tatami-bundle 1\ntensor x input 4x3\npiece 0 0 3,0 2,3 2,3\n") ==
        "b_bad.bundle:3: piece of 'x': its block does not fit the tensor in dimension 0");
  CHECK(refused("tatami-bundle 1\ntensor x input 4x3\npiece 0 0 0,0 4,3 4,3 sram\n") ==
        "b_bad.bundle:3: 'sram': a piece ends with 'hbm', 'hbm staged SRAM_ADDR' or nothing");
  CHECK(refused("tatami-bundle 1\ntensor x input 4x3\npiece 0 0 0,0 4,3 4,3 hbm staged\n") ==
        "b_bad.bundle:3: 'staged': after 'hbm' a piece has nothing or 'staged SRAM_ADDR'");
  CHECK(refused("tatami-bundle 1\ntensor x input 4x3\npiece 0 0 0,0 4,3 4,3 hbm staged 64 more\n") ==
        "b_bad.bundle:3: 'more': a piece ends after its staged address");
  CHECK(refused("tatami-bundle 1\nprogram 0 3\n    halt\n") == "b_bad.bundle:3: the file ends inside a block of 3 lines");
  CHECK(refused("tatami-bundle 1\nprogram 0 1\n    halt\n") == "b_bad.bundle:3: the file ends without 'end' (truncated?)");
  CHECK(refused("tatami-bundle 1\nmodel m\nfrobnicate 3\n") == "b_bad.bundle:3: unknown entry 'frobnicate'");
  // Sizes from the file are checked without overflow: a block whose begin and size overflow a
  // signed 64-bit sum, a shape of more elements than any step has, a core id past an int.
  CHECK(refused("tatami-bundle 1\ntensor x input 4\npiece 0 0 9223372036854775807 9223372036854775807 9223372036854775807\n") ==
        "b_bad.bundle:3: piece of 'x': its block does not fit the tensor in dimension 0");
  CHECK(refused("tatami-bundle 1\ntensor x input 1048576x1048576x2\n") == "b_bad.bundle:2: tensor 'x': shape 1048576x1048576x2 has more than 2^40 elements");
  CHECK(refused("tatami-bundle 1\ntensor x input 4\npiece 4294967296 0 0 4 4\n") == "b_bad.bundle:3: core 4294967296 is not a core id");
}

TEST_CASE("running a bundle checks what it is fed and the configuration") {
  REQUIRE(tatamiCli({"compile", kModel, "--loss", "xent", "-o", "b_feed.bundle"}) == 0);
  const runtime::Bundle b = runtime::readBundle("b_feed.bundle");
  ArchConfig config;
  CHECK_THROWS_WITH_AS(runtime::runBundle(config, b, {{"x", {3, 4}, std::vector<double>(12, 0.0)}}),
                       "'x' has shape 3x4; the bundle expects 4x3", runtime::BundleError);
  CHECK_THROWS_WITH_AS(runtime::runBundle(config, b, {{"nope", {1}, {0.0}}}), "'nope' is not a tensor of the bundle",
                       runtime::BundleError);
  std::string text;
  CHECK(tatamiCli({"run", "b_feed.bundle", "--set", "core.sram_kib=2048"}, &text) == 2);
  CHECK(text.find("core.sram_kib = 2048 differs from the bundle's core.sram_kib = 1280, and the compiled programs depend on it (its SRAM "
                  "layout)") != std::string::npos);
  // A timing parameter is a variant the bundle runs under.
  CHECK(tatamiCli({"run", "b_feed.bundle", "--timing-only", "--set", "core.vector_latency_cycles=9"}, &text) == 0);
  CHECK(text.find("timing variant: core.vector_latency_cycles = 9 (compiled with") != std::string::npos);
}

TEST_CASE("a step too large for SRAM streams its weights from HBM and computes the same numbers") {
  const std::string mlp = TATAMI_SOURCE_DIR "/examples/fashion_mnist/mlp.onnx", tile = TATAMI_SOURCE_DIR "/configs/tile.ini";
  const std::vector<std::string> step = {"compile", mlp, "--batch", "32", "--slice", "1x1", "--loss", "xent", "--momentum", "0.9",
                                         "--precision", "fp32"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = step;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  std::string text;
  // 768 KiB of SRAM: the step does not fit on a die without an interface processor ...
  CHECK(tatamiCli(with({"--set", "core.sram_kib=768", "--set", "dip.edge_sources=0", "-o", "s_fail.bundle"}), &text) == 2);
  CHECK(text.find("SRAM: tensor") != std::string::npos);
  // ... but on a training tile its weights and momentum live in HBM.
  REQUIRE(tatamiCli(with({"--config", tile, "--set", "core.sram_kib=768", "-o", "s_stream.bundle"})) == 0);
  REQUIRE(tatamiCli(with({"-o", "s_sram.bundle"})) == 0);
  const runtime::Bundle streamed = runtime::readBundle("s_stream.bundle"), resident = runtime::readBundle("s_sram.bundle");
  CHECK(streamed.find("fc1.weight")->pieces.at(0).hbm);
  CHECK(streamed.find("fc1.weight.m")->pieces.at(0).hbm);
  CHECK(streamed.find("fc1.weight.next")->pieces.at(0).hbm);
  CHECK_FALSE(resident.find("fc1.weight")->pieces.at(0).hbm);
  CHECK(streamed.hbmInit.size() == 4);  // the initial values of the four parameters
  std::vector<double> x(32 * 784), target(320, 0.0);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = double((i * 37) % 101) / 101.0;
  for (std::size_t i = 0; i < 32; ++i) target[i * 10 + i % 10] = 1.0;
  const std::vector<runtime::NamedArray> feeds = {{"input", {32, 1, 28, 28}, x}, {"target", {32, 10}, target}};
  ArchConfig tileConfig;
  applyIni(tileConfig, streamed.configIni, "s_stream.bundle");
  const runtime::BundleRun a = runtime::runBundle(ArchConfig{}, resident, feeds), b = runtime::runBundle(tileConfig, streamed, feeds);
  REQUIRE(a.run.error.empty());
  REQUIRE(b.run.error.empty());
  CHECK(b.run.network.hbmBytesRead > 0);
  CHECK(b.run.network.hbmBytesWritten > 0);
  // The same operations in the same order: the same bits, whether the weights stayed in SRAM.
  REQUIRE(a.outputs.size() == 9);
  REQUIRE(b.outputs.size() == 9);
  for (std::size_t k = 0; k < a.outputs.size(); ++k) {
    INFO(a.outputs[k].name);
    CHECK(a.outputs[k].name == b.outputs[k].name);
    CHECK(a.outputs[k].data == b.outputs[k].data);
  }
}

TEST_CASE("replicated outputs must agree: a bundle run names the output, the cores and the first difference") {
  const auto bundleWith = [](const char* second) {
    runtime::Bundle b;
    b.model = "replicas", b.configIni = toIni(ArchConfig{});
    b.tensors.push_back({"y", "output", "update", "w", {4}, {{0, 64, {{0}, {4}, {4}}}, {1, 64, {{0}, {4}, {4}}}}});
    b.programs = {{0, assemble(".init 64 f32 values 1 2 3 4\n.output y 64 f32 4\n    halt\n", "a")},
                  {1, assemble(std::string(".init 64 f32 values ") + second + "\n.output y 64 f32 4\n    halt\n", "b")}};
    return b;
  };
  const runtime::BundleRun same = runtime::runBundle(ArchConfig{}, bundleWith("1 2 3 4"), {});
  CHECK(same.run.error.empty());
  REQUIRE(same.outputs.size() == 1);
  CHECK(same.outputs[0].data == std::vector<double>{1, 2, 3, 4});
  const runtime::BundleRun differ = runtime::runBundle(ArchConfig{}, bundleWith("1 2 3 5"), {});
  CHECK(differ.run.error == "output 'y': its copies on core 0 and core 1 differ (element 3 of the block: 4.000000 vs 5.000000)");
}
