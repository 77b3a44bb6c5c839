// Fast model against flit-level reference, and both against bounds and formulas.
#include "tatami/runtime/validation.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "tatami/tlm/flit_network.h"
#include "tatami/tlm/network.h"

namespace tatami::runtime {

namespace {

ArchConfig withNetwork(ArchConfig c, const std::string& model) {
  setParam(c, "sim.network", model, "validation");
  return c;
}

/// The flit model's arrival of one transfer alone, in cycles from its creation.
std::uint64_t flitAlone(const ArchConfig& c, int src, int dst, std::uint64_t packets) {
  tlm::FlitNetwork net(c);
  net.send(src, dst, packets);
  for (int k = 0; k < 100000; ++k) {
    net.step();
    for (const auto& a : net.takeArrivals()) return a.cycle;
  }
  return 0;
}

}  // namespace

ArchConfig meshConfig(int rows, int cols, int dieRows, int dieCols) {
  ArchConfig c;
  setParam(c, "die.rows", std::to_string(rows), "validation");
  setParam(c, "die.cols", std::to_string(cols), "validation");
  setParam(c, "die.disabled_cores", "", "validation");
  setParam(c, "system.die_rows", std::to_string(dieRows), "validation");
  setParam(c, "system.die_cols", std::to_string(dieCols), "validation");
  validate(c);
  return c;
}

std::vector<NamedConfig> validationMeshes() {
  return {{"8x8", meshConfig(8, 8, 1, 1)},
          {"16x16", meshConfig(16, 16, 1, 1)},
          {"two 8x8 dies", meshConfig(8, 8, 1, 2)},
          {"four 8x8 dies", meshConfig(8, 8, 2, 2)}};
}

const std::vector<double>& sweepFractions() {
  static const std::vector<double> f = {0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
  return f;
}

PatternValidation validatePattern(const NamedConfig& mesh, const std::string& pattern, const TrafficOptions& base) {
  PatternValidation v;
  v.mesh = mesh.name, v.pattern = pattern;
  TrafficOptions o = base;
  o.pattern = pattern;
  v.bound = throughputBound(mesh.config, o);
  const ArchConfig fast = withNetwork(mesh.config, "fast"), flit = withNetwork(mesh.config, "flit");
  const auto run = [&](const ArchConfig& c, double rate, double& seconds) {
    o.rate = std::min(1.0, rate);
    const TrafficPoint p = runTraffic(c, o);
    seconds += p.hostSeconds;
    return p;
  };
  for (double f : sweepFractions()) {
    v.saturationFast = std::max(v.saturationFast, run(fast, f * v.bound, v.hostSecondsFast).acceptedRate);
    v.saturationFlit = std::max(v.saturationFlit, run(flit, f * v.bound, v.hostSecondsFlit).acceptedRate);
  }
  const double at[3] = {0.1, 0.5, 0.8};
  for (int k = 0; k < 3; ++k) {
    v.latencyFast[k] = run(fast, at[k] * v.saturationFlit, v.hostSecondsFast).avgLatencyCycles;
    v.latencyFlit[k] = run(flit, at[k] * v.saturationFlit, v.hostSecondsFlit).avgLatencyCycles;
  }
  return v;
}

std::vector<ZeroLoadCase> zeroLoadCases() {
  std::vector<ZeroLoadCase> cases;
  const auto add = [&](const std::string& what, const ArchConfig& c, GridPos a, GridPos b, std::uint64_t bytes) {
    const tlm::Network net(c);
    const int src = net.node(a.row, a.col), dst = net.node(b.row, b.col);
    ZeroLoadCase z;
    z.what = what;
    // docs/timing.md: routers x hop + crossings x d2d + ceil(bytes / narrowest width).
    const auto route = net.route(src, dst);
    double narrowest = 1e30;
    std::uint64_t crossings = 0;
    for (int l : route) {
      const tlm::Link& link = net.links()[std::size_t(l)];
      narrowest = std::min(narrowest, double(link.serDen) * double(tlm::kSubCycles) / double(link.serNum));
      crossings += link.crossing ? 1 : 0;
    }
    const std::uint64_t routers = route.size() - 1;
    z.formula = routers * std::uint64_t(c.die.hop_latency_cycles) + crossings * std::uint64_t(d2dLatencyCycles(c)) +
                std::uint64_t(std::ceil(double(bytes) / narrowest - 1e-9));
    tlm::Network fresh(c);
    z.fast = fresh.send(0, src, dst, bytes, tlm::TrafficClass::Request).arrivalCycle;
    z.flit = flitAlone(c, src, dst, (bytes + tlm::kPacketBytes - 1) / tlm::kPacketBytes);
    cases.push_back(z);
  };
  const ArchConfig m8 = meshConfig(8, 8, 1, 1), two = meshConfig(8, 8, 1, 2);
  ArchConfig wide = m8;
  setParam(wide, "die.link_bytes_per_cycle", "128", "validation");
  ArchConfig slowHop = m8;
  setParam(slowHop, "die.hop_latency_cycles", "3", "validation");
  add("8x8, (0,0) to (7,7), one packet", m8, {0, 0}, {7, 7}, 64);
  add("8x8, (0,0) to (7,7), 10 packets", m8, {0, 0}, {7, 7}, 640);
  add("8x8, neighbours, 4 KiB", m8, {3, 3}, {3, 4}, 4096);
  add("8x8, 3-cycle hops, (0,0) to (7,7), 10 packets", slowHop, {0, 0}, {7, 7}, 640);
  add("8x8, 128 B/cycle links, (0,0) to (7,7), 10 packets", wide, {0, 0}, {7, 7}, 640);
  add("two dies, (0,0) to (0,15), one packet", two, {0, 0}, {0, 15}, 64);
  add("two dies, (0,7) to (0,8), 4 KiB across the edge", two, {0, 7}, {0, 8}, 4096);
  return cases;
}

}  // namespace tatami::runtime
