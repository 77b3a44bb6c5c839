// The sensitivity table of the validation report: one parameter at a time, four workloads.
#include "tatami/driver/sensitivity.h"

#include "tatami/arch/assembler.h"
#include "tatami/driver/job.h"
#include "tatami/runtime/run.h"
#include "tatami/runtime/validation.h"

namespace tatami::driver {

namespace {

/// The workloads' machine: two 8x8 dies side by side, every core active (so a slice can be laid on
/// one die or across the edge).
ArchConfig base() { return runtime::meshConfig(8, 8, 1, 2); }

std::uint64_t gemmCycles(const ArchConfig& c, const std::string& sourceDir) {
  const Program p = loadProgramFile(sourceDir + "/examples/gemm/gemm.tasm");
  runtime::RunOptions o;
  o.timingOnly = true;
  const runtime::RunResult r = runtime::runPrograms(c, {{0, &p}}, o);
  return r.error.empty() ? r.stats.cycles : 0;
}

/// The MLP's training step on `slice` (a slice of 2 x 16 spans both dies).
std::uint64_t stepCycles(const ArchConfig& c, const std::string& sourceDir, const std::string& slice, std::int64_t batch) {
  CompileRequest r;
  r.model = sourceDir + "/examples/fashion_mnist/mlp.onnx";
  r.loss = "xent";
  r.batch = batch;
  r.slice = slice;
  r.optimizer.momentum = 0.9;
  const CompiledJob job = compileJob(r, c);
  runtime::RunOptions o;
  o.timingOnly = true;
  const runtime::BundleRun run = runtime::runBundle(c, job.bundle, {}, o);
  return run.run.error.empty() ? run.run.stats.cycles : 0;
}

}  // namespace

Sensitivity sensitivity(const std::string& sourceDir) {
  Sensitivity s;
  s.workloads = {"GEMM 256^3, one core", "MLP step, one core (batch 16)", "MLP step, 4x4 slice of one die (batch 64)",
                 "MLP step, 2x16 slice across two dies (batch 64)"};
  const auto runAll = [&](const ArchConfig& c) {
    return std::vector<std::uint64_t>{gemmCycles(c, sourceDir), stepCycles(c, sourceDir, "1x1", 16), stepCycles(c, sourceDir, "4x4", 64),
                                      stepCycles(c, sourceDir, "2x16", 64)};
  };
  s.baseline = runAll(base());
  const std::vector<SensitivityRow> changes = {
      {"core.clock_ghz", "4", +1, "cycles of the die edge's 100 ns double; on-core work is counted in cycles", {}, true},
      {"core.sram_read_ports", "1", +1, "one read port: matrix and vector operands queue for it", {}, true},
      {"core.matrix_units", "8", -1, "more MACs per cycle (though the read port bounds the feed)", {}, true},
      {"core.matrix_dim", "4", +1, "a quarter of the MACs per unit", {}, true},
      {"core.fp32_fma_per_cycle", "32", -1, "wider FP32 vectors", {}, true},
      {"core.dma_setup_cycles", "64", +1, "every DMA starts later", {}, true},
      {"core.threads", "1", +1, "one thread: no op overlaps another (these FP32 MLP steps are chains, each op needs the last)", {}, true},
      {"die.link_bytes_per_cycle", "32", +1, "narrower mesh links serialize each packet longer", {}, true},
      {"die.hop_latency_cycles", "4", +1, "every router adds latency", {}, true},
      // One packet, not two: two nearly cover the credit round trip of 1-cycle hops, and there
      // the change is second-order and of either sign (docs/network.md, "Input ports").
      {"die.buffer_packets", "1", +1, "one credit per port: a stream waits a credit round trip for every packet", {}, true},
      {"die.routing", "yx", 2, "the same path lengths, other links shared: contention moves either way", {}, true},
      {"die.edge_gb_per_s", "500", +1, "a quarter of the die edge's bandwidth", {}, true},
      {"die.d2d_latency_ns", "400", +1, "four times the die crossing latency", {}, true},
      {"dip.hbm_gb_per_s", "400", +1, "each step's batch is read from the edge source's HBM, now at half the rate", {}, true},
      {"dip.link_gb_per_s", "450", +1, "each step's batch crosses the edge source's link, now at half the rate", {}, true},
      {"dip.edge_sources", "0", -1, "no data source: the batch is written into SRAM before each step, in no cycle", {}, true},
      {"die.disabled_cores", "(7,7)", 0, "a disabled core outside every slice used", {}, true},
  };
  for (SensitivityRow row : changes) {
    ArchConfig c = base();
    setParam(c, row.key, row.value, "sensitivity");
    validate(c);
    row.cycles = runAll(c);
    for (std::size_t w = 0; w < row.cycles.size(); ++w) {
      const std::uint64_t a = s.baseline[w], b = row.cycles[w];
      const bool ok = row.expected == 2 || (row.expected == 1 ? b >= a : row.expected == -1 ? b <= a : b == a);
      row.holds = row.holds && ok && b != 0;
    }
    s.rows.push_back(row);
  }
  return s;
}

}  // namespace tatami::driver
