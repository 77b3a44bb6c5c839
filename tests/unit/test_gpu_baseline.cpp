// The GPU baseline: the roofline of each op, exactly, and the description file's checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "tatami/compiler/ir.h"
#include "tatami/driver/gpu_baseline.h"

using namespace tatami;
using namespace tatami::compiler;
using namespace tatami::driver;

namespace {

GpuSpec h100() {
  return readGpuSpec(TATAMI_SOURCE_DIR "/configs/gpu/h100_sxm.ini");
}

std::string writeTemp(const std::string& name, const std::string& text) {
  const std::string path = "gpu_test_" + name + ".ini";
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("the GPU preset holds the H100 SXM's published figures") {
  const GpuSpec g = h100();
  CHECK(g.name == "NVIDIA H100 SXM5 80GB");
  CHECK(g.bf16Tflops == 989.5);
  CHECK(g.fp32Tflops == 67);
  CHECK(g.hbmGbPerS == 3350);
  CHECK(g.linkGbPerS == 900);
  CHECK(g.powerW == 700);
}

TEST_CASE("a large matmul on the GPU takes exactly the roofline's time: compute bound in BF16, and in FP32") {
  Graph g;
  const int a = g.input("a", {4096, 4096}), b = g.input("b", {4096, 4096});
  g.op(Op::matmul, {a, b});
  const GpuSpec gpu = h100();
  const double flops = 2.0 * 4096.0 * 4096.0 * 4096.0, elements = 4096.0 * 4096.0;
  std::vector<GpuOp> ops = gpuRoofline(g, gpu, "mixed");
  REQUIRE(ops.size() == 1);
  CHECK(ops[0].matrix);
  CHECK(ops[0].flops == flops);
  CHECK(ops[0].bytes == 2 * elements * 2 + elements * 4);  // BF16 operands, FP32 result
  CHECK(ops[0].seconds == std::max(flops / (989.5e12), (2 * elements * 2 + elements * 4) / 3350e9));
  CHECK(ops[0].seconds == flops / 989.5e12);  // 139 us of compute against 50 us of HBM traffic
  ops = gpuRoofline(g, gpu, "fp32");
  CHECK_FALSE(ops[0].matrix);
  CHECK(ops[0].seconds == flops / 67e12);
}

TEST_CASE("an elementwise op on the GPU is bound by HBM bandwidth, an operand just written comes from L2") {
  Graph g;
  const int x = g.input("x", {1024, 1024}), y = g.input("y", {1024, 1024});
  const int s = g.op(Op::add, {x, y});
  g.op(Op::relu, {s});
  const std::vector<GpuOp> ops = gpuRoofline(g, h100(), "mixed");
  REQUIRE(ops.size() == 2);
  const double e = 1024.0 * 1024.0;
  CHECK(ops[0].bytes == 3 * e * 4);
  CHECK(ops[0].seconds == std::max(e / 67e12, 3 * e * 4 / 3350e9));
  CHECK(ops[0].seconds == 3 * e * 4 / 3350e9);
  CHECK(ops[1].bytes == e * 4);  // the relu's 4 MiB operand was just written: in the 50 MiB L2
}

TEST_CASE("a GPU description is checked: unknown keys, bad numbers and missing figures are named") {
  CHECK_THROWS_WITH_AS(readGpuSpec("nope.ini"), "cannot read GPU description 'nope.ini'", RequestError);
  const std::string all = "[gpu]\nname = X\nbf16_tflops = 1\nfp32_tflops = 1\nhbm_gb_per_s = 1\nhbm_gib = 1\nl2_mib = 1\nlink_gb_per_s = 1\n";
  CHECK_THROWS_WITH_AS(readGpuSpec(writeTemp("missing", all)), "gpu_test_missing.ini: no power_w in [gpu]", RequestError);
  CHECK_THROWS_WITH_AS(readGpuSpec(writeTemp("zero", all + "power_w = 0\n")),
                       "gpu_test_zero.ini:9: power_w = '0' must be a number above 0", RequestError);
  CHECK_THROWS_WITH_AS(readGpuSpec(writeTemp("nan", all + "power_w = 7x\n")), "gpu_test_nan.ini:9: power_w = '7x' is not a number", RequestError);
  CHECK_THROWS_WITH_AS(readGpuSpec(writeTemp("key", all + "tdp = 7\n")), doctest::Contains("gpu_test_key.ini:9: unknown key 'tdp'"), RequestError);
  CHECK(readGpuSpec(writeTemp("ok", all + "power_w = 7\n")).powerW == 7);
}

TEST_CASE("N GPUs split the batch and add a ring all-reduce of the gradients over their links") {
  CompileRequest r;
  r.model = TATAMI_SOURCE_DIR "/examples/fashion_mnist/mlp.onnx";
  r.batch = 64;
  const GpuSpec gpu = h100();
  const GpuEstimate one = estimateOnGpus(r, gpu, 1), four = estimateOnGpus(r, gpu, 4);
  CHECK(one.allreduceSeconds == 0);
  CHECK(one.stepSeconds == one.computeSeconds);
  CHECK(four.allreduceSeconds > 0);
  CHECK(four.computeSeconds < one.computeSeconds);
  // The gradients of the 784x64 + 64 + 64x10 + 10 parameters and the loss (FP32) leave each GPU
  // 2 (N-1)/N times over the 900 GB/s link.
  const double elements = 784.0 * 64 + 64 + 64 * 10 + 10 + 1;
  CHECK(four.allreduceSeconds == doctest::Approx(2.0 * 3 / 4 * elements * 4 / 900e9).epsilon(1e-12));
  CHECK_THROWS_WITH_AS(estimateOnGpus(r, gpu, 0), "--gpus 0: at least 1", RequestError);
  CHECK_THROWS_WITH_AS(estimateOnGpus(r, gpu, 65), "--gpus 65: the batch of 64 has fewer examples than GPUs", RequestError);
}
