// Synthetic traffic: throughput follows offered load, then saturates near the k x k mesh bound;
// buffering and pattern move the saturation point; all-to-all completes; bad options are refused.
#include <doctest/doctest.h>
#include <set>

#include "tatami/runtime/traffic.h"
#include "tatami/tlm/network.h"

using namespace tatami;
using runtime::TrafficOptions;

namespace {

ArchConfig mesh(int k, const std::vector<std::pair<std::string, std::string>>& set = {}) {
  ArchConfig c;
  setParam(c, "die.rows", std::to_string(k), "t");
  setParam(c, "die.cols", std::to_string(k), "t");
  setParam(c, "die.disabled_cores", "", "t");
  for (const auto& [key, v] : set) setParam(c, key, v, "t");
  validate(c);
  return c;
}

runtime::TrafficPoint at(const ArchConfig& c, double rate, const std::string& pattern = "uniform") {
  TrafficOptions o;
  o.rate = rate;
  o.pattern = pattern;
  o.warmupCycles = 1000;
  o.measureCycles = 3000;
  return runtime::runTraffic(c, o);
}

}  // namespace

TEST_CASE("uniform traffic on 8 x 8: accepted follows offered, then saturates above 0.8 x 4/k") {
  const ArchConfig c = mesh(8);
  const auto low = at(c, 0.2);
  CHECK(low.acceptedRate == doctest::Approx(low.offeredRate).epsilon(0.02));
  CHECK(low.offeredRate == doctest::Approx(0.2).epsilon(0.03));
  // Zero-load-like latency: about 2(k^2-1)/(3k) = 5.25 hops + a router + a packet.
  CHECK(low.avgLatencyCycles < 10.0);
  const auto high = at(c, 0.7);
  CHECK(high.acceptedRate >= 0.8 * 4.0 / 8);
  CHECK(high.acceptedRate < 0.5 + 1e-9);  // the bisection bound 4/k
  CHECK(high.avgLatencyCycles > 10 * low.avgLatencyCycles);
}

TEST_CASE("uniform traffic on 16 x 16 saturates above 0.8 x 4/k") {
  const auto high = at(mesh(16), 0.35);
  CHECK(high.acceptedRate >= 0.8 * 4.0 / 16);
  CHECK(high.acceptedRate <= 0.25 + 1e-9);
}

TEST_CASE("saturation depends on buffering and on the pattern") {
  // Two-packet buffers cannot cover the credit round trip of a busy link: both network models
  // accept clearly less than with eight (measured 0.37 against 0.47 fast, 0.30 against 0.38 flit).
  for (const char* model : {"fast", "flit"}) {
    INFO(model);
    const double shallow = at(mesh(8, {{"die.buffer_packets", "2"}, {"sim.network", model}}), 0.6).acceptedRate;
    const double deep = at(mesh(8, {{"die.buffer_packets", "8"}, {"sim.network", model}}), 0.6).acceptedRate;
    CHECK(shallow < deep - 0.05);
  }
  const double deep = at(mesh(8, {{"die.buffer_packets", "8"}}), 0.6).acceptedRate;
  const double transpose = at(mesh(8), 0.6, "transpose").acceptedRate;
  CHECK(transpose < deep - 0.1);
  // Nearest-neighbour traffic uses one link per transfer: far above the uniform bound.
  CHECK(at(mesh(8), 0.6, "neighbor").acceptedRate > 0.55);
}

TEST_CASE("traffic runs are deterministic") {
  const auto a = at(mesh(8), 0.45), b = at(mesh(8), 0.45);
  CHECK(a.acceptedRate == b.acceptedRate);
  CHECK(a.avgLatencyCycles == b.avgLatencyCycles);
  CHECK(a.packetHops == b.packetHops);
}

TEST_CASE("all-to-all at full load on a 2 x 2-die system completes") {
  ArchConfig c;
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"die.rows", "4"}, {"die.cols", "4"}, {"die.disabled_cores", ""}, {"system.die_rows", "2"}, {"system.die_cols", "2"}})
    setParam(c, k, v, "t");
  validate(c);
  tlm::Network net(c);
  const int n = net.nodeCount();
  std::uint64_t last = 0, bytes = 0;
  // Every core sends 1 KiB to every other core, all at cycle 0.
  for (int src = 0; src < n; ++src)
    for (int dst = 0; dst < n; ++dst)
      if (src != dst) {
        const auto d = net.send(0, src, dst, 1024, tlm::TrafficClass::Request);
        last = std::max(last, d.arrivalCycle);
        bytes += 1024;
      }
  std::uint64_t ejected = 0;
  for (std::size_t l = 0; l < net.links().size(); ++l)
    if (l % tlm::kLinksPerNode == std::size_t(tlm::Direction::Eject)) ejected += net.linkStats()[l].bytes;
  CHECK(ejected == bytes);  // every byte arrived
  CHECK(last < 100000);
  CHECK(last > 2 * 200);  // at least the crossings' latency
}

TEST_CASE("bad traffic options are refused with the reason") {
  TrafficOptions o;
  o.pattern = "zigzag";
  CHECK_THROWS_WITH(runtime::runTraffic(mesh(4), o),
                    "unknown traffic pattern 'zigzag' (uniform, transpose, bitcomp, hotspot, neighbor)");
  o.pattern = "uniform";
  o.rate = 1.5;
  CHECK_THROWS_WITH(runtime::runTraffic(mesh(4), o), "injection rate 1.500000 is outside (0, 1] packets per node per cycle");
}

TEST_CASE("permutation patterns are permutations on any mesh, the transpose on a square one") {
  for (const auto& size : std::vector<std::pair<int, int>>{{8, 8}, {18, 20}, {4, 16}, {5, 3}})
    for (const char* pattern : {"transpose", "bitcomp"}) {
      const int rows = size.first, cols = size.second;  // not bindings: INFO captures them
      INFO(pattern << " on " << rows << " x " << cols);
      std::set<std::pair<int, int>> hit;
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
          const GridPos to = runtime::permutationDestination(pattern, rows, cols, {r, c});
          CHECK((to.row >= 0 && to.row < rows && to.col >= 0 && to.col < cols));
          hit.insert({to.row, to.col});
        }
      CHECK(hit.size() == std::size_t(rows * cols));  // every position is some position's destination
    }
  // On a square mesh the transpose swaps row and column.
  const GridPos t = runtime::permutationDestination("transpose", 8, 8, {2, 5});
  CHECK(t.row == 5);
  CHECK(t.col == 2);
  // On the D1 die (18 x 20) the old mapping (c mod rows, r mod cols) sent (0,0) and (0,18) to the same
  // core; now (0,18) goes to position 18 x 18 = 324 in row-major order: (16, 4).
  const GridPos d = runtime::permutationDestination("transpose", 18, 20, {0, 18});
  CHECK(d.row == 16);
  CHECK(d.col == 4);
}
