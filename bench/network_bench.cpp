// The mesh model's speed: simulated packet-hops per host second on 16 x 16 uniform traffic near
// and at saturation; the fast model against the flit-level reference at half saturation in
// router-cycles per host second (routers x cycles simulated, the measure a cycle-by-cycle
// simulator is quoted in); and a traffic run on a full training tile (25 dies, 8,850 cores) with
// its host time and memory. Reports figures; asserts nothing.
#include <sys/resource.h>

#include <cstdio>

#include "tatami/runtime/traffic.h"

using namespace tatami;

namespace {

void report(const char* what, const ArchConfig& c, double rate, std::uint64_t warmup, std::uint64_t measure) {
  runtime::TrafficOptions o;
  o.rate = rate;
  o.warmupCycles = warmup;
  o.measureCycles = measure;
  const runtime::TrafficPoint p = runtime::runTraffic(c, o);
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  std::printf("%-34s offered %.3f accepted %.4f latency %7.1f  %8.3f s  %6.2f M packet-hops/s  max RSS %ld MiB\n", what,
              p.offeredRate, p.acceptedRate, p.avgLatencyCycles, p.hostSeconds, double(p.packetHops) / p.hostSeconds / 1e6,
              u.ru_maxrss / 1024);
}

}  // namespace

extern "C" int sc_main(int, char**) {
  ArchConfig m16;
  setParam(m16, "die.rows", "16", "b");
  setParam(m16, "die.cols", "16", "b");
  setParam(m16, "die.disabled_cores", "", "b");
  report("16x16 uniform, 0.20 (below sat.)", m16, 0.20, 1000, 5000);
  report("16x16 uniform, 0.23 (near sat.)", m16, 0.23, 1000, 5000);
  report("16x16 uniform, 0.30 (saturated)", m16, 0.30, 1000, 5000);
  {
    // Half the saturation throughput of 16x16 uniform traffic (0.22 accepted, docs/validation.md).
    runtime::TrafficOptions o;
    o.rate = 0.11, o.warmupCycles = 1000, o.measureCycles = 20000;
    ArchConfig flit = m16;
    setParam(flit, "sim.network", "flit", "b");
    const runtime::TrafficPoint fast = runtime::runTraffic(m16, o), ref = runtime::runTraffic(flit, o);
    const double routers = 16.0 * 16.0;
    const double fastRate = routers * double(fast.cycles) / fast.hostSeconds, flitRate = routers * double(ref.cycles) / ref.hostSeconds;
    std::printf("16x16 uniform, 0.11 (half sat.), fast: %8.3f s  %7.2f M router-cycles/s\n", fast.hostSeconds, fastRate / 1e6);
    std::printf("16x16 uniform, 0.11 (half sat.), flit: %8.3f s  %7.2f M router-cycles/s\n", ref.hostSeconds, flitRate / 1e6);
    std::printf("  fast / flit: %.1fx (the issue's target: 100x)\n", fastRate / flitRate);
  }
  ArchConfig tile;
  setParam(tile, "system.die_rows", "5", "b");
  setParam(tile, "system.die_cols", "5", "b");
  report("tile 5x5 D1 (8,850 cores), 0.005", tile, 0.005, 3000, 3000);
  return 0;
}
