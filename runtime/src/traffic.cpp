// Synthetic traffic: Bernoulli injection per node per cycle (drawn as geometric gaps, keyed by
// seed, node and draw, so the run does not depend on processing order), source queues, and measurement of
// accepted throughput and latency over a window after a warm-up.
#include "tatami/runtime/traffic.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <functional>
#include <stdexcept>

#include "tatami/arch/philox.h"
#include "tatami/tlm/flit_network.h"
#include "tatami/tlm/network.h"

namespace tatami::runtime {

const std::vector<std::string>& trafficPatterns() {
  static const std::vector<std::string> p = {"uniform", "transpose", "bitcomp", "hotspot", "neighbor"};
  return p;
}

namespace {

double unit(std::uint32_t bits) { return double(bits) / 4294967296.0; }

/// Mean and 99th percentile of the latencies, and the rates over the measurement window.
void summarize(TrafficPoint& point, std::vector<double>& latencies, std::uint64_t generated, std::uint64_t delivered, std::size_t senders,
               std::uint64_t measureCycles) {
  const double nodeCycles = double(senders) * double(measureCycles);
  point.offeredRate = double(generated) / nodeCycles;
  point.acceptedRate = double(delivered) / nodeCycles;
  point.transfersMeasured = latencies.size();
  if (latencies.empty()) return;
  double sum = 0;
  for (double l : latencies) sum += l;
  point.avgLatencyCycles = sum / double(latencies.size());
  std::sort(latencies.begin(), latencies.end());
  point.p99LatencyCycles = latencies[std::min(latencies.size() - 1, std::size_t(double(latencies.size()) * 0.99))];
}

using Creator = std::function<int(int, std::uint64_t)>;

/// The fast model: a transfer waits in its source's queue until the source has injected the one
/// before it, and is booked then (its arrival is known at once), so that bookings stay near the
/// present however long the queues grow past saturation. As for the flit-level model, traffic
/// goes on after the window until every transfer created in it is booked, or for at most 4 more
/// windows; one still queued then counts with its age at that point.
TrafficPoint runFast(const ArchConfig& config, const TrafficOptions& o, const std::vector<int>& senders, tlm::Network& net, const Creator& created) {
  TrafficPoint point;
  const std::uint64_t bytes = o.packets * tlm::kPacketBytes;
  const std::uint64_t windowEnd = o.warmupCycles + o.measureCycles, drainEnd = windowEnd + 4 * o.measureCycles;
  std::vector<double> latencies;
  std::uint64_t delivered = 0, generated = 0, measuredOut = 0;
  struct Queued {
    std::uint64_t created;
    int dst;
  };
  std::vector<std::deque<Queued>> queue(std::size_t(net.nodeCount()));
  std::vector<std::uint64_t> freeAt(std::size_t(net.nodeCount()), 0);  // the source has injected its last transfer
  std::vector<int> order = senders;
  std::uint64_t cycle = 0;
  for (; cycle < windowEnd || (measuredOut > 0 && cycle < drainEnd); ++cycle) {
    if (cycle % 256 == 0) net.retire(cycle);
    if (config.die.arbitration != "oldest_first")
      std::sort(order.begin(), order.end(), [&](int a, int b) { return net.arbitrationKey(cycle, a) < net.arbitrationKey(cycle, b); });
    for (int src : order) {
      std::deque<Queued>& q = queue[std::size_t(src)];
      const int dst = created(src, cycle);
      if (dst >= 0) {
        q.push_back({cycle, dst});
        if (cycle >= o.warmupCycles && cycle < windowEnd) generated += o.packets, ++measuredOut;
      }
      if (q.empty() || freeAt[std::size_t(src)] > cycle) continue;
      const Queued t = q.front();
      q.pop_front();
      const tlm::Delivery d = net.send(cycle, src, t.dst, bytes, tlm::TrafficClass::Request);
      freeAt[std::size_t(src)] = d.injectedCycle;
      point.packetHops += o.packets * std::uint64_t(d.routers + 1);
      if (t.created >= o.warmupCycles && t.created < windowEnd) {
        latencies.push_back(double(d.arrivalCycle - t.created));
        --measuredOut;
      }
      if (d.arrivalCycle >= o.warmupCycles && d.arrivalCycle < windowEnd) delivered += o.packets;
    }
  }
  for (const auto& q : queue)
    for (const Queued& t : q)
      if (t.created >= o.warmupCycles && t.created < windowEnd) latencies.push_back(double(drainEnd - t.created));
  summarize(point, latencies, generated, delivered, senders.size(), o.measureCycles);
  point.cycles = cycle;
  return point;
}

/// The flit-level reference: transfers wait in their sources' queues; the network is stepped
/// cycle by cycle. After the window, traffic goes on (the load stays) until every transfer
/// created in the window has arrived, or for at most 4 more windows; a transfer still out then
/// counts with its age at that point (a lower bound: the network is past saturation).
TrafficPoint runFlit(const ArchConfig& config, const TrafficOptions& o, const std::vector<int>& senders, const Creator& created) {
  TrafficPoint point;
  tlm::FlitNetwork net(config);
  const std::uint64_t windowEnd = o.warmupCycles + o.measureCycles, drainEnd = windowEnd + 4 * o.measureCycles;
  std::vector<std::uint64_t> createdAt;
  std::vector<double> latencies;
  std::uint64_t delivered = 0, generated = 0, measuredOut = 0;
  std::uint64_t cycle = 0;
  for (; cycle < windowEnd || (measuredOut > 0 && cycle < drainEnd); ++cycle) {
    for (int src : senders) {
      const int dst = created(src, cycle);
      if (dst < 0) continue;
      const std::uint64_t id = net.send(src, dst, o.packets);
      createdAt.push_back(cycle < o.warmupCycles || cycle >= windowEnd ? ~0ull : cycle);
      if (createdAt[id] != ~0ull) generated += o.packets, ++measuredOut;
    }
    net.step();
    for (const auto& a : net.takeArrivals()) {
      if (a.cycle >= o.warmupCycles && a.cycle < windowEnd) delivered += o.packets;
      if (createdAt[a.transfer] == ~0ull) continue;
      latencies.push_back(double(a.cycle - createdAt[a.transfer]));
      createdAt[a.transfer] = ~0ull;
      --measuredOut;
    }
  }
  for (std::uint64_t c : createdAt)
    if (c != ~0ull) latencies.push_back(double(drainEnd - c));
  point.packetHops = net.flitHops();
  summarize(point, latencies, generated, delivered, senders.size(), o.measureCycles);
  point.cycles = cycle;
  return point;
}

}  // namespace

GridPos permutationDestination(const std::string& pattern, int rows, int cols, GridPos p) {
  if (pattern == "bitcomp") return {rows - 1 - p.row, cols - 1 - p.col};
  if (pattern != "transpose") throw std::invalid_argument("'" + pattern + "' is not a permutation pattern");
  const int k = p.col * rows + p.row;
  return {k / cols, k % cols};
}

TrafficPoint runTraffic(const ArchConfig& config, const TrafficOptions& o) {
  if (std::find(trafficPatterns().begin(), trafficPatterns().end(), o.pattern) == trafficPatterns().end())
    throw std::invalid_argument("unknown traffic pattern '" + o.pattern + "' (uniform, transpose, bitcomp, hotspot, neighbor)");
  if (!(o.rate > 0.0) || o.rate > 1.0)
    throw std::invalid_argument("injection rate " + std::to_string(o.rate) + " is outside (0, 1] packets per node per cycle");
  if (o.packets == 0) throw std::invalid_argument("transfer size must be at least one packet");
  if (o.measureCycles == 0) throw std::invalid_argument("the measurement window must be at least one cycle");
  if (o.hotspotFraction < 0.0 || o.hotspotFraction > 1.0)
    throw std::invalid_argument("hotspot fraction must be in [0, 1]");

  const auto t0 = std::chrono::steady_clock::now();
  tlm::Network net(config);
  const std::vector<int> active = net.activeNodes();
  if (active.size() < 2) throw std::invalid_argument("traffic needs at least two active cores");
  const int rows = net.rows(), cols = net.cols();
  const int hotspot = o.hotspotNode >= 0 ? o.hotspotNode : net.node(rows / 2, cols / 2);
  if (o.pattern == "hotspot" && (hotspot >= net.nodeCount() || !net.isActive(hotspot)))
    throw std::invalid_argument("the hotspot node " + std::to_string(hotspot) + " is not an active core");

  // The destination of a transfer from src; -1 when the pattern gives src nothing to send.
  const auto destination = [&](int src, std::uint64_t cycle) -> int {
    const GridPos p = net.position(src);
    const std::uint32_t r1 = roundingBits(o.seed, 2 * std::uint64_t(src) + 1, cycle);
    int dst = -1;
    if (o.pattern == "uniform" || (o.pattern == "hotspot" && unit(roundingBits(o.seed ^ 0x5bd1e995, src, cycle)) >= o.hotspotFraction)) {
      const int pick = int(unit(r1) * double(active.size() - 1));
      dst = active[std::size_t(pick)];
      if (dst == src) dst = active.back();
    } else if (o.pattern == "hotspot") {
      dst = hotspot;
    } else if (o.pattern == "transpose" || o.pattern == "bitcomp") {
      const GridPos to = permutationDestination(o.pattern, rows, cols, p);
      dst = net.node(to.row, to.col);
    } else if (o.pattern == "neighbor") {
      int candidates[4], n = 0;
      const int dr[4] = {-1, 0, 1, 0}, dc[4] = {0, 1, 0, -1};
      for (int d = 0; d < 4; ++d) {
        const int r = p.row + dr[d], c = p.col + dc[d];
        if (r >= 0 && r < rows && c >= 0 && c < cols && net.isActive(net.node(r, c))) candidates[n++] = net.node(r, c);
      }
      dst = n ? candidates[int(unit(r1) * n)] : -1;
    }
    if (dst == src || dst < 0 || !net.isActive(dst)) return -1;
    return dst;
  };

  std::vector<int> senders;
  for (int v : active)
    if (o.pattern != "transpose" && o.pattern != "bitcomp" ? true : destination(v, 0) >= 0) senders.push_back(v);

  const double transferProbability = o.rate / double(o.packets);
  if (transferProbability > 1.0)
    throw std::invalid_argument("rate / transfer size exceeds one transfer per node per cycle");
  // Each node starts a transfer in a cycle with probability p, independently (a Bernoulli
  // process): the gaps between its transfers are geometric, so each node draws the cycle of its
  // next transfer once per transfer (inverse transform of its k-th draw, keyed by seed, node and
  // k, so the run does not depend on processing order), not once per cycle. A transfer starts at
  // src in `cycle` when that cycle comes and the pattern gives it a destination (-1: none).
  const double logMiss = transferProbability < 1.0 ? std::log1p(-transferProbability) : 0.0;
  std::vector<std::uint64_t> nextCycle(std::size_t(net.nodeCount())), drawn(std::size_t(net.nodeCount()), 0);
  const auto gap = [&](int src) -> std::uint64_t {
    if (transferProbability >= 1.0) return 0;
    // U in (0, 1]: P(gap >= k) = (1 - p)^k.
    const double u = (double(roundingBits(o.seed, 2 * std::uint64_t(src), drawn[std::size_t(src)]++)) + 1.0) / 4294967296.0;
    const double g = std::floor(std::log(u) / logMiss);
    return g < 1e15 ? std::uint64_t(g) : std::uint64_t(1e15);
  };
  for (int v : senders) nextCycle[std::size_t(v)] = gap(v);
  const auto created = [&](int src, std::uint64_t cycle) {
    if (nextCycle[std::size_t(src)] != cycle) return -1;
    nextCycle[std::size_t(src)] = cycle + 1 + gap(src);
    return destination(src, cycle);
  };
  TrafficPoint point = config.sim.network == "flit" ? runFlit(config, o, senders, created) : runFast(config, o, senders, net, created);
  point.nodes = int(senders.size());
  point.hostSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return point;
}

double throughputBound(const ArchConfig& config, const TrafficOptions& o) {
  const tlm::Network net(config);
  const std::vector<int> active = net.activeNodes();
  const int rows = net.rows(), cols = net.cols(), n = int(active.size());
  const int hotspot = o.hotspotNode >= 0 ? o.hotspotNode : net.node(rows / 2, cols / 2);
  // Each sender's destinations with their probabilities, as the generator draws them.
  const auto uniformFrom = [&](int src, double weight, std::vector<std::pair<int, double>>& out) {
    for (int k = 0; k + 1 < n; ++k) out.push_back({active[std::size_t(k)] == src ? active.back() : active[std::size_t(k)], weight / double(n - 1)});
  };
  std::vector<double> load(net.links().size(), 0.0);
  for (int src : active) {
    std::vector<std::pair<int, double>> to;
    const GridPos p = net.position(src);
    if (o.pattern == "uniform") {
      uniformFrom(src, 1.0, to);
    } else if (o.pattern == "hotspot") {
      uniformFrom(src, 1.0 - o.hotspotFraction, to);
      to.push_back({hotspot, o.hotspotFraction});
    } else if (o.pattern == "transpose" || o.pattern == "bitcomp") {
      const GridPos d = permutationDestination(o.pattern, rows, cols, p);
      to.push_back({net.node(d.row, d.col), 1.0});
    } else if (o.pattern == "neighbor") {
      std::vector<int> near;
      const int dr[4] = {-1, 0, 1, 0}, dc[4] = {0, 1, 0, -1};
      for (int k = 0; k < 4; ++k) {
        const int r = p.row + dr[k], c = p.col + dc[k];
        if (r >= 0 && r < rows && c >= 0 && c < cols && net.isActive(net.node(r, c))) near.push_back(net.node(r, c));
      }
      for (int d : near) to.push_back({d, 1.0 / double(near.size())});
    }
    for (const auto& [dst, w] : to) {
      if (dst == src || !net.isActive(dst) || w <= 0) continue;
      for (int l : net.route(src, dst)) load[std::size_t(l)] += w;
    }
  }
  // A link carries its bytes per cycle / 64 packets per cycle.
  double bound = 1e30;
  for (std::size_t l = 0; l < load.size(); ++l) {
    if (load[l] <= 0) continue;
    const tlm::Link& link = net.links()[l];
    const double packetsPerCycle = double(link.serDen) * double(tlm::kSubCycles) / double(link.serNum) / double(tlm::kPacketBytes);
    bound = std::min(bound, packetsPerCycle / load[l]);
  }
  return bound;
}

}  // namespace tatami::runtime
