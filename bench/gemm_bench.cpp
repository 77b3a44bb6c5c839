// The GEMM example's host costs: the values path (the matrix kernel) in GFLOP/s beside a
// single-threaded OpenBLAS SGEMM of the same shape, and full versus timing-only run times.
// Reports figures; asserts nothing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <systemc>
#include <vector>

#include "tatami/arch/assembler.h"
#include "tatami/arch/semantics.h"
#include "tatami/runtime/run.h"
#ifdef TATAMI_HAVE_OPENBLAS
#include <cblas.h>
#endif

using namespace tatami;
using Clock = std::chrono::steady_clock;

namespace {

template <typename F>
double bestSeconds(int repeats, F&& f) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

}  // namespace

extern "C" int sc_main(int, char**) {
  const Program gemm = loadProgramFile(TATAMI_SOURCE_DIR "/examples/gemm/gemm.tasm");
  const double flops = 2.0 * 256 * 256 * 256;

  // 1. The values path alone: 256 mmaz (K = 256) on the example's panels.
  CoreState core(1280 * 1024, 4);
  loadProgram(core, gemm, {});
  Instruction mma;
  mma.op = Op::Mmaz;
  mma.type = DType::Bf16;
  mma.r = {1, 2, 3, 4, 0, 0};
  const auto runTiles = [&](bool reference) {
    ExecOptions opt;
    opt.referenceKernels = reference;
    auto& r = core.threads[0].r;
    for (int t = 0; t < 256; ++t) {
      r[1] = 0x40000 + std::uint64_t(t) * 1024, r[2] = std::uint64_t(t / 16) * 8192,
      r[3] = 0x20000 + std::uint64_t(t % 16) * 8192, r[4] = 256;
      core.threads[0].pc = 0;
      execute(core, 0, mma, opt);
    }
  };
  const double fast = bestSeconds(20, [&] { runTiles(false); });
  const double reference = bestSeconds(3, [&] { runTiles(true); });
  std::printf("matrix values path, 256x256x256 BF16 (fast kernel):      %8.3f ms  %6.2f GFLOP/s\n", fast * 1e3, flops / fast / 1e9);
  std::printf("matrix values path, 256x256x256 BF16 (reference loop):   %8.3f ms  %6.2f GFLOP/s\n", reference * 1e3,
              flops / reference / 1e9);

  double sgemm = 0;
#ifdef TATAMI_HAVE_OPENBLAS
  openblas_set_num_threads(1);
  std::vector<float> a(65536, 0.5f), b(65536, 0.25f), c(65536);
  sgemm = bestSeconds(20, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 256, 256, 256, 1.0f, a.data(), 256, b.data(), 256, 0.0f,
                c.data(), 256);
  });
  std::printf("OpenBLAS SGEMM 256x256x256, 1 thread:                     %8.3f ms  %6.2f GFLOP/s\n", sgemm * 1e3,
              flops / sgemm / 1e9);
  std::printf("  values path / SGEMM time: %.2f (target: at most 2)\n", fast / sgemm);
#else
  std::printf("OpenBLAS not found: SGEMM comparison skipped\n");
#endif

  // 2. Whole runs of the example: full versus timing-only (host time inside the runtime).
  const ArchConfig config;
  runtime::RunOptions full, timing;
  timing.timingOnly = true;
  double fullBest = 1e30, timingBest = 1e30;
  std::uint64_t cycles = 0;
  for (int i = 0; i < 15; ++i) {
    const auto f = runtime::runProgram(config, gemm, full);
    const auto t = runtime::runProgram(config, gemm, timing);
    fullBest = std::min(fullBest, f.hostSeconds);
    timingBest = std::min(timingBest, t.hostSeconds);
    cycles = t.stats.cycles;
  }
  std::printf("run, full:        %8.3f ms  (%llu simulated cycles: %.1f M cycles per host second)\n", fullBest * 1e3,
              static_cast<unsigned long long>(cycles), double(cycles) / fullBest / 1e6);
  std::printf("run, timing-only: %8.3f ms  (%.1f M cycles per host second)\n", timingBest * 1e3,
              double(cycles) / timingBest / 1e6);
  std::printf("  timing-only speed-up: %.1fx (target: at least 5x)\n", fullBest / timingBest);
  if (sgemm > 0)
    std::printf("  full - timing-only = %.3f ms; 2 x SGEMM = %.3f ms (target: full <= timing-only + 2 x SGEMM)\n",
                (fullBest - timingBest) * 1e3, 2 * sgemm * 1e3);
  return 0;
}
