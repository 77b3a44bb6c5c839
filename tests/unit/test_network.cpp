// The mesh: zero-load latency against the docs/timing.md formula worked by hand, on a die and
// across dies; contention; bisection and die-edge bandwidth; routing around dead links; ordering.
#include <doctest/doctest.h>

#include "tatami/tlm/network.h"

using namespace tatami;
using tlm::Network;
using tlm::TrafficClass;

namespace {

ArchConfig config(const std::vector<std::pair<std::string, std::string>>& set) {
  ArchConfig c;
  for (const auto& [k, v] : set) setParam(c, k, v, "test");
  validate(c);
  return c;
}

ArchConfig mesh(int rows, int cols) {
  return config({{"die.rows", std::to_string(rows)}, {"die.cols", std::to_string(cols)}, {"die.disabled_cores", ""}});
}

}  // namespace

TEST_CASE("zero-load latency on a die: routers x hop + serialization at the narrowest link") {
  Network net(mesh(4, 4));
  // (0,0) -> (3,3): 6 hops, 7 routers; one packet serializes in 1 cycle at 64 B/cycle.
  const int a = net.node(0, 0), b = net.node(3, 3);
  CHECK(net.send(100, a, b, 64, TrafficClass::Request).arrivalCycle == 100 + 7 + 1);
  // Ten packets: 7 + 10.
  Network fresh(mesh(4, 4));
  const auto d = fresh.send(0, a, b, 640, TrafficClass::Request);
  CHECK(d.arrivalCycle == 7 + 10);
  CHECK(d.routers == 7);
  CHECK(d.injectedCycle == 10);
  CHECK(fresh.zeroLoadCycles(a, b, 640) == 17);
  // A partial packet serializes by its bytes: 100 B = ceil(100/64) = 2 cycles.
  Network partial(mesh(4, 4));
  CHECK(partial.send(0, a, net.node(0, 1), 100, TrafficClass::Request).arrivalCycle == 2 + 2);
  // Narrower links and longer hops, from the config.
  Network slow(config({{"die.rows", "4"}, {"die.cols", "4"}, {"die.disabled_cores", ""},
                       {"die.link_bytes_per_cycle", "16"}, {"die.hop_latency_cycles", "3"}}));
  CHECK(slow.send(0, a, b, 640, TrafficClass::Request).arrivalCycle == 7 * 3 + 640 / 16);
  // To itself: the local router only.
  Network self(mesh(4, 4));
  CHECK(self.send(5, a, a, 64, TrafficClass::Request).arrivalCycle == 5 + 1 + 1);
}

TEST_CASE("zero-load latency across dies: crossings add d2d latency, the edge's share serializes") {
  // Two D1 dies side by side: (0,0) -> (0,39) is 39 hops (40 routers) and one crossing of an
  // east edge shared by 18 links: 1000/18 B/cycle, narrower than the 64 B/cycle links.
  Network net(config({{"system.die_cols", "2"}}));
  const int a = net.node(0, 0), b = net.node(0, 39);
  const auto d = net.send(0, a, b, 6400, TrafficClass::Request);
  CHECK(d.crossings == 1);
  CHECK(d.arrivalCycle == 40 + 200 + 116);  // ceil(6400 * 18 / 1000) = ceil(115.2)
  CHECK(net.zeroLoadCycles(a, b, 6400) == 356);
  // Down and across a 2 x 2 system of small dies: two crossings; the edge (1000 B/cycle over 2
  // links) is wider than a link, so 64 B/cycle serializes.
  Network small(config({{"die.rows", "2"}, {"die.cols", "2"}, {"die.disabled_cores", ""},
                        {"system.die_rows", "2"}, {"system.die_cols", "2"}}));
  const auto e = small.send(10, small.node(0, 0), small.node(3, 3), 640, TrafficClass::Request);
  CHECK(e.crossings == 2);
  CHECK(e.arrivalCycle == 10 + 7 + 2 * 200 + 10);
}

TEST_CASE("a crossing between tiles takes the tile edge's latency and its share of the tile edge") {
  // Three 2 x 2 dies in a row, tiles of 1 x 2 dies: (0,1) -> (0,2) crosses a die edge inside
  // the first tile, (0,3) -> (0,4) the edge between the tiles. A tile edge of 200 GB/s is shared
  // by its 1 x 2 = 2 links: 50 B/cycle each at 2 GHz (the die edge would give 1000 / 2), and its
  // 300 ns are 600 cycles. 640 B: 2 routers + the crossing + ceil(640 / 50) = 13 at the
  // narrowest link.
  const ArchConfig c = config({{"die.rows", "2"}, {"die.cols", "2"}, {"die.disabled_cores", ""}, {"system.die_cols", "3"},
                               {"tile.die_rows", "1"}, {"tile.die_cols", "2"}, {"tile.edge_gb_per_s", "200"},
                               {"tile.edge_latency_ns", "300"}});
  Network net(c);
  const auto inside = net.send(0, net.node(0, 1), net.node(0, 2), 640, TrafficClass::Request);
  CHECK(inside.arrivalCycle == 2 + 200 + 10);
  const auto between = net.send(0, net.node(1, 3), net.node(1, 4), 640, TrafficClass::Request);
  CHECK(between.crossings == 1);
  CHECK(between.arrivalCycle == 2 + 600 + 13);
  CHECK(net.zeroLoadCycles(net.node(1, 3), net.node(1, 4), 640) == 615);
  const Crossing x = dieCrossing(c, {0, 1}, {0, 2});
  CHECK(x.betweenTiles);
  CHECK(x.latencyCycles == 600);
  CHECK(x.linkBytesPerCycle == 50.0);
  CHECK_FALSE(dieCrossing(c, {0, 0}, {0, 1}).betweenTiles);
}

TEST_CASE("transfers sharing a link take turns") {
  Network net(mesh(1, 4));
  // Both cross (0,1)->(0,2); the second waits for the first's 10 packets on the shared links.
  const auto first = net.send(0, net.node(0, 0), net.node(0, 3), 640, TrafficClass::Request);
  const auto second = net.send(0, net.node(0, 1), net.node(0, 2), 640, TrafficClass::Request);
  CHECK(first.arrivalCycle == 4 + 10);
  // The shared link carries the second's first packet in the gap at cycle 0, the first's ten
  // packets in [1, 11), then the second's other nine in [11, 20); the last is at (0,2) at 20,
  // ejected in [20, 21), in SRAM a hop later: 22 (alone it takes 2 + 10 = 12: ten packets later).
  CHECK(second.arrivalCycle == 22);
  std::uint64_t shared = 0;
  for (std::size_t l = 0; l < net.links().size(); ++l)
    if (net.links()[l].from == net.node(0, 1) && net.links()[l].to == net.node(0, 2)) shared = net.linkStats()[l].packets;
  CHECK(shared == 20);
}

TEST_CASE("bisection: traffic across the middle of a die uses every crossing link at full rate") {
  // An 8 x 8 die: 8 rows cross the middle; each row streams 64 KiB from column 3 to column 4.
  Network net(mesh(8, 8));
  std::uint64_t last = 0;
  for (int r = 0; r < 8; ++r) last = std::max(last, net.send(0, net.node(r, 3), net.node(r, 4), 65536, TrafficClass::Request).arrivalCycle);
  // 2 routers + 1024 cycles: 8 x 64 KiB in 1024 cycles, 8 x 64 B/cycle = the bisection of 8 links.
  CHECK(last == 2 + 1024);
}

TEST_CASE("die edge: one stream gets its link's share, all rows together the edge's rate") {
  ArchConfig c = config({{"system.die_cols", "2"}});
  Network one(c);
  const std::uint64_t bytes = 1000 * 1000;  // one stream across the east edge of die (0,0)
  const auto d = one.send(0, one.node(5, 19), one.node(5, 20), bytes, TrafficClass::Request);
  // 2 routers, one crossing; 1000/18 B/cycle: 18,000 cycles of serialization (buffering at the
  // crossing covers the credit round trip, so the stream is not throttled).
  CHECK(d.arrivalCycle == 2 + 200 + 18000);
  Network all(c);
  std::uint64_t last = 0;
  for (int r = 0; r < 18; ++r) last = std::max(last, all.send(0, all.node(r, 19), all.node(r, 20), bytes, TrafficClass::Request).arrivalCycle);
  CHECK(last == 2 + 200 + 18000);  // 18 MB in 18,000 cycles: 1000 B/cycle, the edge's rate
  // With a small buffer at the crossing, the credit round trip throttles one stream.
  ArchConfig small = c;
  setParam(small, "die.edge_buffer_packets", "16", "test");
  Network throttled(small);
  CHECK(throttled.send(0, throttled.node(5, 19), throttled.node(5, 20), bytes, TrafficClass::Request).arrivalCycle > 40000);
}

TEST_CASE("dead links: the other dimension order, or unroutable with both end points") {
  Network net(config({{"die.rows", "4"}, {"die.cols", "4"}, {"die.disabled_cores", ""}, {"die.dead_links", "(0,1) (0,2)"}}));
  // XY from (0,0) to (2,3) would cross (0,1)->(0,2): YX goes down first.
  const auto r = net.route(net.node(0, 0), net.node(2, 3));
  for (int l : r) CHECK(net.linkName(l) != "(0,1)->(0,2)");
  CHECK(net.send(0, net.node(0, 0), net.node(2, 3), 64, TrafficClass::Request).arrivalCycle == 6 + 1);
  // (0,0) -> (0,3) has no whole dimension-order route.
  CHECK_THROWS_WITH_AS(net.route(net.node(0, 0), net.node(0, 3)),
                       "unroutable transfer from core (0,0) to core (0,3): the XY route crosses dead link "
                       "(0,1)->(0,2) and the YX route crosses dead link (0,1)->(0,2)",
                       tlm::NetworkError);
  CHECK_THROWS_WITH_AS(config({{"die.dead_links", "(0,0) (1,1)"}}),
                       "die.dead_links: (0,0)-(1,1) does not join two adjacent positions", ConfigError);
  // Positions are system-wide: outside the system's grid, or a link listed twice (either way
  // round), is refused.
  CHECK_THROWS_WITH_AS(config({{"die.dead_links", "(17,19) (18,19)"}}),
                       "die.dead_links: (17,19)-(18,19) lies outside the system's 18 x 20 grid of positions", ConfigError);
  CHECK_THROWS_WITH_AS(config({{"die.dead_links", "(0,1) (0,2) (0,2) (0,1)"}}), "die.dead_links: (0,2)-(0,1) is listed twice", ConfigError);
  CHECK_NOTHROW(config({{"system.die_rows", "2"}, {"die.dead_links", "(17,19) (18,19)"}}));  // across the edge to the second die
  CHECK_THROWS_WITH_AS(config({{"sim.rtl_listed", "(0,0) (0,0)"}}), "sim.rtl_listed: (0,0) is listed twice", ConfigError);
  CHECK_THROWS_WITH_AS(config({{"sim.rtl_listed", "(18,0)"}}), "sim.rtl_listed: (18,0) lies outside the system's 18 x 20 grid of positions",
                       ConfigError);
}

TEST_CASE("disabled cores keep their routers") {
  Network net(config({{"die.rows", "3"}, {"die.cols", "3"}, {"die.disabled_cores", "(1,1)"}}));
  CHECK_FALSE(net.isActive(net.node(1, 1)));
  CHECK(net.activeNodes().size() == 8);
  // (1,0) -> (1,2) passes through the disabled (1,1).
  CHECK(net.send(0, net.node(1, 0), net.node(1, 2), 64, TrafficClass::Request).arrivalCycle == 3 + 1);
}

TEST_CASE("a link used by one traffic class and then by the other has buffers for both") {
  // Responses (class 1) cross (0,2) -> (0,1) -> (0,0) first; then requests (class 0) use the same
  // links. Each class's buffer slots are made when that class first uses the link (they were
  // made per link, so the second class found none and the model crashed).
  Network net(mesh(4, 4));
  const int a = net.node(0, 2), b = net.node(0, 0);
  const auto response = net.send(0, a, b, 4096, TrafficClass::Response);
  CHECK(response.arrivalCycle == net.zeroLoadCycles(a, b, 4096));
  const auto request = net.send(0, a, b, 4096, TrafficClass::Request);
  // Behind the response on every link of the path: 64 more packets of serialization.
  CHECK(request.arrivalCycle == response.arrivalCycle + 64);
  // Alone, the request class gets the zero-load latency.
  Network alone(mesh(4, 4));
  CHECK(alone.send(0, a, b, 4096, TrafficClass::Request).arrivalCycle == net.zeroLoadCycles(a, b, 4096));
}

TEST_CASE("links wider than the core's ports: zero-load latency is the narrowest link's serialization") {
  // 128 B/cycle mesh links between 64 B/cycle injection and ejection ports: the ports are the
  // narrowest link, so the latency is the 64 B/cycle one (a faster link in between used to add a
  // cycle: the head waited for the tail before entering it and never caught up).
  const int bytes[] = {64, 640, 100};
  for (int b : bytes) {
    Network narrow(mesh(4, 4));
    ArchConfig wideConfig = mesh(4, 4);
    setParam(wideConfig, "die.link_bytes_per_cycle", "128", "test");
    validate(wideConfig);
    Network wide(wideConfig);
    const int a = narrow.node(0, 0), z = narrow.node(3, 3);
    INFO(b << " bytes");
    CHECK(wide.send(0, a, z, std::uint64_t(b), TrafficClass::Request).arrivalCycle ==
          narrow.send(0, a, z, std::uint64_t(b), TrafficClass::Request).arrivalCycle);
    CHECK(wide.zeroLoadCycles(a, z, std::uint64_t(b)) == narrow.zeroLoadCycles(a, z, std::uint64_t(b)));
  }
  // And with ports as wide as the links, a packet serializes in half a cycle per hop.
  ArchConfig all = mesh(4, 4);
  for (const char* k : {"die.link_bytes_per_cycle", "core.noc_read_bytes_per_cycle", "core.noc_write_bytes_per_cycle"}) setParam(all, k, "128", "test");
  validate(all);
  Network fast(all);
  CHECK(fast.send(0, fast.node(0, 0), fast.node(3, 3), 640, TrafficClass::Request).arrivalCycle == 7 + 5);
}

TEST_CASE("a booking for later in simulated time does not hold buffers before it uses them") {
  // Two 4x4 dies side by side. A 64 KiB stream from (0,3) crosses the die edge to (0,7): its
  // head reaches die 1 about 200 cycles after issue. It is booked first; then a 4 KiB transfer
  // on die 1 over the same links, issued at the same time, finishes long before the stream
  // arrives, so it takes its zero-load time (the stream's bookings used to hold the buffer slots
  // from the moment they were made: 4 x 1 + 64 = 68 cycles became far more).
  Network net(config({{"die.rows", "4"}, {"die.cols", "4"}, {"die.disabled_cores", ""}, {"system.die_cols", "2"}}));
  const auto stream = net.send(0, net.node(0, 3), net.node(0, 7), 65536, TrafficClass::Request);
  CHECK(stream.arrivalCycle > 1000);
  const auto local = net.send(0, net.node(0, 4), net.node(0, 7), 4096, TrafficClass::Request);
  CHECK(local.arrivalCycle == net.zeroLoadCycles(net.node(0, 4), net.node(0, 7), 4096));
  CHECK(local.arrivalCycle == 68);
}

TEST_CASE("what lives outside the core's clock is physical: raising the clock leaves its rates and latencies in ns") {
  // Two 4x4 dies; one packet from (0,3) across the edge to (0,4). At 2 GHz the crossing takes
  // 100 ns = 200 cycles; at 4 GHz the same 100 ns are 400 cycles, while hops stay 1 cycle each.
  for (const char* ghz : {"2", "4"}) {
    Network net(config({{"die.rows", "4"}, {"die.cols", "4"}, {"die.disabled_cores", ""}, {"system.die_cols", "2"}, {"core.clock_ghz", ghz}}));
    const std::uint64_t d2d = std::string(ghz) == "2" ? 200 : 400;
    INFO(ghz << " GHz");
    CHECK(net.send(0, net.node(0, 3), net.node(0, 4), 64, TrafficClass::Request).arrivalCycle == 2 * 1 + d2d + 1);
  }
  ArchConfig fast = config({{"core.clock_ghz", "4"}});
  CHECK(edgeBytesPerCycle(fast) == 500.0);
  CHECK(hbmBytesPerCycle(fast) == 200.0);
  CHECK(dipLinkBytesPerCycle(fast) == 225.0);
  CHECK(d2dLatencyCycles(fast) == 400);
  CHECK(hbmLatencyCycles(fast) == 400);
}

TEST_CASE("head-of-line blocking: a packet behind one that waits for a busy output leaves after it") {
  // On a 4 x 4 die, core (1,1) streams 64 packets east to (1,3), booked first: its router's east
  // output is busy in [0, 64). A packet from (1,0) to (1,2) enters that router from the west at
  // cycle 1 and waits for the east output until 64; it is at (1,2) at 65, ejected, in SRAM at 67.
  // One from (1,0) to (2,1), a cycle behind it on the same input port, wants the free south
  // output, yet leaves only a cycle after the first (an input port forwards in arrival order,
  // docs/timing.md): at (2,1) at 66, in SRAM at 68. Alone it would arrive at 1 + 3 + 1 = 5.
  Network net(mesh(4, 4));
  const auto stream = net.send(0, net.node(1, 1), net.node(1, 3), 64 * 64, TrafficClass::Request);
  const auto blocked = net.send(0, net.node(1, 0), net.node(1, 2), 64, TrafficClass::Request);
  const auto behind = net.send(1, net.node(1, 0), net.node(2, 1), 64, TrafficClass::Request);
  CHECK(stream.arrivalCycle == 3 + 64);
  CHECK(blocked.arrivalCycle == 67);
  CHECK(behind.arrivalCycle == 68);
  Network alone(mesh(4, 4));
  CHECK(alone.send(1, alone.node(1, 0), alone.node(2, 1), 64, TrafficClass::Request).arrivalCycle == 5);
}
