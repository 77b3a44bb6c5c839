// One-core program runs: a fresh SystemC kernel per run, the core model, a debug initiator that
// loads inputs and reads outputs through the core's TLM debug socket.
#include "tatami/runtime/run.h"

#include "tatami/arch/figures.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <stdexcept>
#include <map>
#include <tlm_utils/simple_initiator_socket.h>

#include "tatami/arch/assembler.h"
#include "tatami/tlm/system.h"

namespace tatami::runtime {

namespace {

void freshKernel() {
  // One elaboration per kernel: every run gets a new context. The last run's context is finished
  // (its System, with every module and process, was destroyed when the run returned) and is
  // deleted here, so that a training loop's memory stays flat over any number of steps. The
  // library's own context (the one current before the first run) is never deleted: SystemC's
  // static events are registered in it and unregister themselves at exit.
  static sc_core::sc_simcontext* ours = nullptr;  // the context of the last run, made here
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  sc_core::sc_get_curr_simcontext();  // the library's context exists before any of ours
  if (ours && sc_core::sc_curr_simcontext == ours) delete ours;
  ours = new sc_core::sc_simcontext();
  sc_core::sc_curr_simcontext = ours;
  sc_core::sc_default_global_context = sc_core::sc_curr_simcontext;
}

double ofPeak(const ArchConfig& c, std::uint64_t flops, int cores, std::uint64_t cycles) {
  const double peak = double(computeFigures(c).bf16FlopPerCyclePerCore);
  return cycles == 0 ? 0 : double(flops) / (peak * cores * double(cycles));
}

}  // namespace

std::uint64_t fnv1a(const std::vector<std::uint8_t>& bytes, std::uint64_t hash) {
  // FNV-1a over little-endian 8-byte words (the tail zero-padded), then the length.
  constexpr std::uint64_t kPrime = 1099511628211ull;
  const std::size_t words = bytes.size() / 8;
  for (std::size_t i = 0; i < words; ++i) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + 8 * i, 8);
    hash = (hash ^ w) * kPrime;
  }
  if (bytes.size() % 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, bytes.data() + 8 * words, bytes.size() % 8);
    hash = (hash ^ w) * kPrime;
  }
  return (hash ^ bytes.size()) * kPrime;
}

double RunResult::matrixUtilization(const ArchConfig& c) const { return ofPeak(c, usefulFlops(), coresUsed, stats.cycles); }

double RunResult::issuedUtilization(const ArchConfig& c) const { return ofPeak(c, stats.matrixFlops, coresUsed, stats.cycles); }

std::uint64_t SramImage::size() const {
  if (!bytes.empty()) return bytes.size();
  std::uint64_t n = std::uint64_t(dtypeSize(type));
  for (std::uint64_t d : shape) n *= d;
  return n;
}

RunResult runPrograms(const ArchConfig& config, const std::vector<CoreProgram>& programs, const RunOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  if (programs.empty()) throw std::runtime_error("no program to run");
  if (config.sim.network != "fast")
    throw ConfigError("sim.network = " + config.sim.network +
                                ": the flit-level network is the reference for synthetic traffic (tatami traffic, tatami validate); "
                                "programs and compiled steps run on the fast model (sim.network = fast)");
  freshKernel();
  tlm::CoreOptions coreOptions;
  coreOptions.timingOnly = options.timingOnly;
  coreOptions.trace = options.trace;
  coreOptions.rtlCheck = options.rtlCheck;
  coreOptions.rtlFault = options.rtlFault;
  coreOptions.rtlWaves = options.rtlWaves;
  coreOptions.rtlWavesFrom = options.rtlWavesFrom, coreOptions.rtlWavesTo = options.rtlWavesTo;
  std::map<int, const Program*> byCore;
  {
    const std::vector<int> active = tlm::Network::activeNodes(config);
    const long positions = long(config.die.rows * config.system.die_rows * config.die.cols * config.system.die_cols);
    for (const auto& cp : programs) {
      if (!std::binary_search(active.begin(), active.end(), cp.core))
        throw std::runtime_error("core " + std::to_string(cp.core) + " is not an active core of this system (ids 0.." +
                                 std::to_string(positions - 1) + ", disabled positions excluded)");
      if (!byCore.emplace(cp.core, cp.program).second)
        throw std::runtime_error("two programs for core " + std::to_string(cp.core));
    }
  }
  tlm::System system(config, byCore, coreOptions, options.remoteSemaphores);
  tlm::CoreModel& first = system.core(programs.front().core);

  RunResult result;
  // Inputs go in after the program's .init blocks, which the core loaded at construction.
  // (Functional: no time passes. A timing-only run leaves floating-point contents out, as it does
  // the .init blocks'; integers stay, since addresses may come from them.)
  const auto written = [&](const SramImage& in) { return !options.timingOnly || in.type == DType::I32; };
  for (const auto& in : options.inputs) {
    if (!first.state().sram.contains(in.addr, in.size()))
      throw std::runtime_error("input '" + in.name + "': " + std::to_string(in.size()) + " bytes at address " +
                               std::to_string(in.addr) + " do not fit in the SRAM of " +
                               std::to_string(first.state().sram.size()) + " bytes");
    if (written(in)) first.state().sram.write(in.addr, in.bytes.data(), in.bytes.size());
  }
  for (const auto& cp : programs)
    for (const auto& in : cp.inputs) {
      tlm::CoreModel& core = system.core(cp.core);
      if (!core.state().sram.contains(in.addr, in.size()))
        throw std::runtime_error("input '" + in.name + "' of core " + std::to_string(cp.core) + " does not fit in its SRAM");
      if (written(in)) core.state().sram.write(in.addr, in.bytes.data(), in.bytes.size());
    }
  for (const auto& in : options.hbmInputs)
    if (!in.bytes.empty()) system.network().writeHbm(in.addr, in.bytes.data(), in.bytes.size());
  for (const auto& a : options.hbmArrivals) system.network().holdHbm(a.addr, a.bytes, a.cycle);
  sc_core::sc_start();

  // Faults first (the first core's, in id order), then threads left waiting: a deadlock.
  std::string waiting;
  for (const auto& cp : programs) {
    tlm::CoreModel& core = system.core(cp.core);
    if (!core.finished()) core.finalizeStats();
    if (!core.error().empty() && result.error.empty()) result.error = core.error();
    if (core.blocked()) waiting += core.waitingText();
    const tlm::CoreStats& s = core.stats();
    result.perCore.emplace_back(cp.core, s);
    if (options.trace) {
      RunResult::CoreTrace t;
      t.core = cp.core;
      t.slices = core.traceSlices();
      for (const auto& inst : cp.program->code) t.instructionText.push_back(instructionText(inst, cp.program));
      t.activity = core.activitySegments();
      result.traces.push_back(std::move(t));
    }
    tlm::CoreStats& sum = result.stats;
    sum.cycles = std::max(sum.cycles, s.cycles);
    sum.instructions += s.instructions;
    for (std::size_t u = 0; u < s.unitBusy.size(); ++u) sum.unitBusy[u] += s.unitBusy[u], sum.unitInstructions[u] += s.unitInstructions[u];
    sum.readPortBusy.resize(s.readPortBusy.size(), 0);
    sum.writePortBusy.resize(s.writePortBusy.size(), 0);
    for (std::size_t p = 0; p < s.readPortBusy.size(); ++p) sum.readPortBusy[p] += s.readPortBusy[p];
    for (std::size_t p = 0; p < s.writePortBusy.size(); ++p) sum.writePortBusy[p] += s.writePortBusy[p];
    sum.nocReadBusy += s.nocReadBusy, sum.nocWriteBusy += s.nocWriteBusy;
    for (std::size_t t = 0; t < s.threads.size(); ++t) {
      auto& a = sum.threads[t];
      const auto& b = s.threads[t];
      a.instructions += b.instructions, a.stallHazard += b.stallHazard, a.stallUnit += b.stallUnit;
      a.stallPort += b.stallPort, a.stallSemaphore += b.stallSemaphore, a.stallBarrier += b.stallBarrier;
    }
    sum.matrixFlops += s.matrixFlops, sum.vectorFlops += s.vectorFlops;
  }
  {
    std::vector<CoreActivity> activity;
    for (const auto& cp : programs) {
      const tlm::CoreModel& core = system.core(cp.core);
      activity.push_back({cp.core, core.stats().cycles, &core.activitySegments(), &core.waits(),
                          core.stats().held[std::size_t(tlm::Activity::DataLoad)]});
    }
    result.breakdown = computeBreakdown(config, activity);
  }
  if (system.network().networkBuilt()) {
    tlm::Network& net = system.network().network();
    std::map<int, NetworkSummary::EdgeRow> edges;
    std::map<int, std::uint64_t> routed;
    for (std::size_t l = 0; l < net.links().size(); ++l) {
      const tlm::LinkStats& st = net.linkStats()[l];
      if (st.packets == 0) continue;
      const std::uint64_t busy = (st.busySub + tlm::kSubCycles - 1) / tlm::kSubCycles;
      result.network.links.push_back({net.linkName(int(l)), st.packets, st.bytes, busy, st.peakQueue});
      if (l % tlm::kLinksPerNode == std::size_t(tlm::Direction::Inject)) result.network.packets += st.packets, result.network.bytes += st.bytes;
      if (l % tlm::kLinksPerNode != std::size_t(tlm::Direction::Inject)) routed[net.links()[l].from] += st.packets;
      const int e = net.links()[l].edge;
      if (e >= 0) {
        auto& row = edges[e];
        row.name = net.edgeName(e);
        row.packets += st.packets, row.bytes += st.bytes, row.busyCycles += busy;
      }
    }
    std::stable_sort(result.network.links.begin(), result.network.links.end(),
                     [](const NetworkSummary::LinkRow& a, const NetworkSummary::LinkRow& b) { return a.busyCycles > b.busyCycles; });
    for (auto& [id, row] : edges) result.network.edges.push_back(row);
    for (const auto& [node, packets] : routed) {
      const GridPos p = net.position(node);
      result.network.routers.push_back({"(" + std::to_string(p.row) + "," + std::to_string(p.col) + ")", packets});
    }
    for (const auto& d : system.network().dips()) result.network.hbmBytesRead += d.bytesRead, result.network.hbmBytesWritten += d.bytesWritten;
  }
  if (result.error.empty() && !waiting.empty())
    result.error = "deadlock: every thread is waiting and nothing is pending:" + waiting;
  result.coresUsed = int(programs.size());

  std::uint64_t hash = 1469598103934665603ull;
  for (const auto& cp : programs) {
    tlm::CoreModel& core = system.core(cp.core);
    std::vector<SramImage> regions;
    const std::string prefix = programs.size() > 1 ? "c" + std::to_string(cp.core) + "." : "";
    for (const auto& o : cp.program->outputs) regions.push_back({prefix + o.name, o.addr, o.type, o.shape, {}});
    if (&cp == &programs.front())
      for (const auto& d : options.dumps) regions.push_back(d);
    for (const auto& d : cp.dumps) regions.push_back({prefix + d.name, d.addr, d.type, d.shape, {}});
    for (auto& r : regions) {
      // Its size first, without overflow: a region larger than the SRAM is refused before any
      // buffer is made for it.
      const std::uint64_t sramBytes = core.state().sram.size();
      std::uint64_t bytes = std::uint64_t(dtypeSize(r.type));
      for (auto d : r.shape) bytes = d && bytes > sramBytes / d ? sramBytes + 1 : bytes * d;
      // A timing-only run has no floating-point values to report.
      if (options.timingOnly && r.type != DType::I32) {
        result.outputs.push_back(std::move(r));
        continue;
      }
      if (bytes > sramBytes || !core.state().sram.contains(r.addr, bytes)) {
        result.error += (result.error.empty() ? "" : "\n") + std::string("output '") + r.name + "' lies outside the SRAM (address " +
                        std::to_string(r.addr) + ", " + (bytes > sramBytes ? "more than the SRAM's " + std::to_string(sramBytes) : std::to_string(bytes)) +
                        " bytes)";
      } else {
        r.bytes.resize(bytes);
        core.state().sram.read(r.addr, r.bytes.data(), r.bytes.size());
      }
      hash = fnv1a(r.bytes, hash);
      result.outputs.push_back(std::move(r));
    }
  }
  for (SramImage r : options.hbmDumps) {
    std::uint64_t count = 1;
    for (auto d : r.shape) count *= d;
    if (!(options.timingOnly && r.type != DType::I32)) {
      r.bytes.resize(count * std::uint64_t(dtypeSize(r.type)));
      try {
        system.network().readHbm(r.addr, r.bytes.data(), r.bytes.size());
      } catch (const std::runtime_error& e) {
        result.error += (result.error.empty() ? "" : "\n") + std::string("output '") + r.name + "': " + e.what();
        r.bytes.clear();
      }
      hash = fnv1a(r.bytes, hash);
    }
    result.outputs.push_back(std::move(r));
  }
  result.outputHash = hash;
  result.hostSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

RunResult runProgram(const ArchConfig& config, const Program& program, const RunOptions& options) {
  return runPrograms(config, {{tlm::Network::activeNodes(config).front(), &program}}, options);
}

}  // namespace tatami::runtime
