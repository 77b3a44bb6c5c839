// One convolution layer on one core, lowered in mixed precision (implicit GEMM on the matrix
// unit): its cycles, the cost model's estimate and the matrix utilization of useful FLOPs.
//
//   bench_conv [BATCH] [CHANNELS_IN] [CHANNELS_OUT] [SIZE] [KERNEL] [forward | input-gradient | weight-gradient] [SRAM_KIB]
//
// Defaults: 8 64 64 32 3 forward 8192 (the layer of docs/compiler.md: 64 to 64 channels, 3 x 3,
// padding 1, 32 x 32 images, batch 8). The batch's activations (2 MiB in, 2 MiB out in FP32) do
// not fit the D1 core's 1,280 KiB of SRAM, so the default raises core.sram_kib; the timing does
// not depend on the SRAM's size. Timing only (the values are checked by the unit tests).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tatami/compiler/flops.h"
#include "tatami/compiler/lower.h"
#include "tatami/runtime/run.h"

using namespace tatami;
using namespace tatami::compiler;

int sc_main(int argc, char** argv) {
  const auto arg = [&](int i, std::int64_t fallback) { return argc > i ? std::atoll(argv[i]) : fallback; };
  const std::int64_t batch = arg(1, 8), cin = arg(2, 64), cout = arg(3, 64), size = arg(4, 32), k = arg(5, 3);
  const std::string which = argc > 6 ? argv[6] : "forward";
  const std::int64_t sramKib = arg(7, 8192);
  if (which != "forward" && which != "input-gradient" && which != "weight-gradient") {
    std::fprintf(stderr, "bench_conv: '%s' is not forward, input-gradient or weight-gradient\n", which.c_str());
    return 2;
  }
  using V = std::vector<std::int64_t>;
  const std::int64_t pad = k / 2;
  const std::map<std::string, Attribute> geo = {{"pads", V{pad, pad, pad, pad}}, {"strides", V{1, 1}}};
  Graph g;
  const int w = which == "weight-gradient" ? -1 : g.input("w", {cout, cin, k, k});
  if (which == "forward") {
    g.markOutput(g.op(compiler::Op::conv2d, {g.input("x", {batch, cin, size, size}), w}, geo, "y"));
  } else if (which == "input-gradient") {
    auto gi = geo;
    gi["input_shape"] = V{batch, cin, size, size};
    g.markOutput(g.op(compiler::Op::conv2d_grad_input, {g.input("dy", {batch, cout, size, size}), w}, gi, "dx"));
  } else {
    auto gw = geo;
    gw["weight_shape"] = V{cout, cin, k, k};
    const int x = g.input("x", {batch, cin, size, size}), dy = g.input("dy", {batch, cout, size, size});
    g.markOutput(g.op(compiler::Op::conv2d_grad_weight, {x, dy}, gw, "dw"));
  }
  ArchConfig config;
  config.core.sram_kib = int(sramKib);
  LoweredProgram lp;
  try {
    lp = lowerToCore(g, config, CoreContext());
  } catch (const CompileError& e) {
    std::fprintf(stderr, "bench_conv: %s\n", e.what());
    return 1;
  }
  runtime::RunOptions options;
  options.timingOnly = true;
  runtime::RunResult r = runtime::runProgram(config, lp.program, options);
  if (!r.error.empty()) {
    std::fprintf(stderr, "bench_conv: %s\n", r.error.c_str());
    return 1;
  }
  r.usefulMatrixFlops = matrixFlops(g);
  std::printf("conv %s: batch %lld, %lld -> %lld channels, %lldx%lld, kernel %lldx%lld, padding %lld, SRAM %lld KiB\n", which.c_str(),
              (long long)batch, (long long)cin, (long long)cout, (long long)size, (long long)size, (long long)k, (long long)k,
              (long long)pad, (long long)sramKib);
  std::printf("  %llu cycles (cost model %.0f, %.2f of measured), SRAM peak %llu bytes, %llu instructions\n",
              (unsigned long long)r.stats.cycles, lp.ops[0].cycles, lp.ops[0].cycles / double(r.stats.cycles),
              (unsigned long long)lp.sramPeakBytes, (unsigned long long)lp.program.code.size());
  if (!lp.ops[0].choice.empty()) std::printf("  chosen: %s\n", lp.ops[0].choice.c_str());
  std::printf("  useful %llu FLOPs, issued %llu: matrix utilization %.3f of useful work (issued %.3f)\n",
              (unsigned long long)*r.usefulMatrixFlops, (unsigned long long)r.stats.matrixFlops, r.matrixUtilization(config),
              r.issuedUtilization(config));
  return 0;
}
