// The flit-level reference network: zero-load latency as the formula and the fast model give it;
// credit-based flow control limits a stream to its buffers over the credit round trip; heavy
// all-to-all traffic drains (no deadlock); runs are deterministic.
#include <doctest/doctest.h>

#include "tatami/tlm/flit_network.h"
#include "tatami/tlm/network.h"

using namespace tatami;
using tlm::FlitNetwork;

namespace {

ArchConfig config(const std::vector<std::pair<std::string, std::string>>& set) {
  ArchConfig c;
  setParam(c, "die.disabled_cores", "", "test");
  for (const auto& [k, v] : set) setParam(c, k, v, "test");
  validate(c);
  return c;
}

/// Cycles until the transfer's last byte is in the destination SRAM, the transfer alone.
std::uint64_t alone(const ArchConfig& c, GridPos a, GridPos b, std::uint64_t packets) {
  FlitNetwork net(c);
  net.send(net.node(a.row, a.col), net.node(b.row, b.col), packets);
  for (int k = 0; k < 100000; ++k) {
    net.step();
    for (const auto& arrival : net.takeArrivals()) return arrival.cycle;
  }
  return 0;
}

}  // namespace

TEST_CASE("flit network: zero-load latency equals the fast model's and the formula's") {
  const ArchConfig m4 = config({{"die.rows", "4"}, {"die.cols", "4"}});
  // (0,0) -> (3,3): 7 routers x 1 cycle + 1 packet = 8; ten packets: 7 + 10.
  CHECK(alone(m4, {0, 0}, {3, 3}, 1) == 8);
  CHECK(alone(m4, {0, 0}, {3, 3}, 10) == 17);
  const ArchConfig two = config({{"die.rows", "4"}, {"die.cols", "4"}, {"system.die_cols", "2"}});
  const ArchConfig slow = config({{"die.rows", "4"}, {"die.cols", "4"}, {"die.hop_latency_cycles", "3"}});
  // Two tiles of one die each, their edge slower and later than a die edge.
  const ArchConfig tiles = config({{"die.rows", "4"}, {"die.cols", "4"}, {"system.die_cols", "2"}, {"tile.die_rows", "1"},
                                   {"tile.die_cols", "1"}, {"tile.edge_gb_per_s", "300"}, {"tile.edge_latency_ns", "250"}});
  // Two D1 dies: a link across the die edge carries its share, 1000 / 18 B/cycle, less than a
  // flit a cycle (the flit model used to lose the fraction and run such a link at 32).
  const ArchConfig d1 = config({{"system.die_cols", "2"}});
  for (const ArchConfig* c : {&m4, &two, &slow, &tiles, &d1})
    for (std::uint64_t packets : {1, 7, 64}) {
      tlm::Network fast(*c);
      const int a = fast.node(0, 0), b = fast.node(3, fast.cols() - 1);
      INFO(fast.cols() << " columns, hop " << c->die.hop_latency_cycles << ", " << packets << " packets");
      CHECK(alone(*c, {0, 0}, {3, fast.cols() - 1}, packets) == fast.send(0, a, b, packets * 64, tlm::TrafficClass::Request).arrivalCycle);
    }
}

TEST_CASE("flit network: a stream is limited by its buffer over the credit round trip") {
  // One virtual channel of 2 packets, 3-cycle hops: a credit comes back 3 + 3 cycles after its
  // packet was sent, so 2 packets go every 6 cycles: packet k leaves the source router at
  // 6 floor(k/2) + k mod 2. The last of 60 leaves at 175, is at the next router at 178, ejected
  // there and in SRAM 1 + 3 cycles later: 182.
  const ArchConfig c = config({{"die.rows", "4"}, {"die.cols", "4"}, {"die.hop_latency_cycles", "3"}, {"die.buffer_packets", "2"},
                               {"sim.flit_virtual_channels", "1"}});
  CHECK(alone(c, {1, 1}, {1, 2}, 60) == 182);
  // Two VCs of 2 packets each (buffer 4): both fill, twice the rate.
  const ArchConfig wider = config({{"die.rows", "4"}, {"die.cols", "4"}, {"die.hop_latency_cycles", "3"}, {"die.buffer_packets", "4"},
                                   {"sim.flit_virtual_channels", "2"}});
  CHECK(alone(wider, {1, 1}, {1, 2}, 60) < 182 * 6 / 10);
}

TEST_CASE("flit network: all-to-all at once drains, the same way every run") {
  const ArchConfig c = config({{"die.rows", "4"}, {"die.cols", "4"}, {"die.buffer_packets", "1"}, {"sim.flit_virtual_channels", "1"}});
  const auto run = [&] {
    FlitNetwork net(c);
    for (int s = 0; s < 16; ++s)
      for (int d = 0; d < 16; ++d)
        if (s != d) net.send(s, d, 3);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> arrivals;
    for (int k = 0; k < 20000 && net.packetsInFlight() > 0; ++k) {
      net.step();
      for (const auto& a : net.takeArrivals()) arrivals.push_back({a.transfer, a.cycle});
    }
    CHECK(net.packetsInFlight() == 0);
    return arrivals;
  };
  const auto first = run();
  CHECK(first.size() == 240);
  CHECK(first == run());
}
