// The flit-level reference network (see flit_network.h): every flit, every hop, every cycle.
#include "tatami/tlm/flit_network.h"
#include "tatami/tlm/network.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace tatami::tlm {

namespace {

constexpr double kFlitBytes = double(kPacketBytes);  // a flit is a packet
constexpr int kNorth = 0, kEast = 1, kSouth = 2, kWest = 3;
constexpr int opposite(int d) { return (d + 2) % 4; }

/// The most bytes a link (or source) of `rate` bytes per cycle holds after a cycle: a link at
/// least a flit wide sends one flit a cycle and keeps its rate; a narrower one keeps whole what
/// it accrues while it streams (it sends a flit each time a flit's bytes are in), and `idle` when
/// nothing waits for it: for a link, one cycle's bytes, so that the first flit after a pause
/// takes its serialization too; for a source, whose serialization is its flits' readyAt, a flit.
double tokenCap(double rate, bool streaming, double idle) {
  if (rate >= kFlitBytes) return rate;
  return streaming ? kFlitBytes + rate : idle;
}

}  // namespace

FlitNetwork::FlitNetwork(const ArchConfig& c)
    : rows_(int(c.die.rows * c.system.die_rows)),
      cols_(int(c.die.cols * c.system.die_cols)),
      dieRows_(int(c.die.rows)),
      dieCols_(int(c.die.cols)),
      vcs_(int(c.sim.flit_virtual_channels)),
      xFirst_(c.die.routing == "xy"),
      routerCycles_(std::uint64_t(c.sim.flit_router_cycles)),
      hopCycles_(std::uint64_t(c.die.hop_latency_cycles)) {
  if (!c.die.dead_links.empty())
    throw std::invalid_argument("the flit-level network does not model die.dead_links; use sim.network = fast");
  const int n = rows_ * cols_;
  routers_.resize(std::size_t(n));
  sources_.resize(std::size_t(n));
  const int depth = std::max(1, int(c.die.buffer_packets) / vcs_);
  for (int v = 0; v < n; ++v) {
    Router& r = routers_[std::size_t(v)];
    r.vcs.resize(std::size_t(kPorts * vcs_));
    const int row = v / cols_, col = v % cols_;
    for (int d = 0; d < 4; ++d) {
      const int nr = row + (d == kSouth) - (d == kNorth), nc = col + (d == kEast) - (d == kWest);
      if (nr < 0 || nr >= rows_ || nc < 0 || nc >= cols_) continue;
      OutputPort& o = r.out[d];
      o.exists = true;
      o.toNode = nr * cols_ + nc;
      o.toPort = opposite(d);
      const bool crossing = nr / dieRows_ != row / dieRows_ || nc / dieCols_ != col / dieCols_;
      const Crossing x = crossing ? dieCrossing(c, {row / dieRows_, col / dieCols_}, {nr / dieRows_, nc / dieCols_}) : Crossing{};
      o.latency = hopCycles_ + (crossing ? std::uint64_t(x.latencyCycles) : 0);
      o.bytesPerCycle = double(c.die.link_bytes_per_cycle);
      int downstreamDepth = depth;
      if (crossing) {
        o.bytesPerCycle = std::min(o.bytesPerCycle, x.linkBytesPerCycle);
        if (c.die.edge_buffer_packets > 0) {
          downstreamDepth = std::max(1, int(c.die.edge_buffer_packets) / vcs_);
        } else {
          // Cover the credit round trip (there and back, plus a packet) at the crossing's rate.
          const double packetCycles = kFlitBytes / o.bytesPerCycle;
          downstreamDepth = int(std::ceil(double(2 * o.latency + 2) / packetCycles)) + 1;
        }
      }
      o.tokens = o.bytesPerCycle;
      o.credits.assign(std::size_t(vcs_), downstreamDepth);
      o.held.assign(std::size_t(vcs_), false);
      InputPort& far = routers_[std::size_t(o.toNode)].in[o.toPort];
      far.fromNode = v, far.fromPort = d, far.latency = o.latency, far.depth = downstreamDepth;
    }
    // Ejection: into the SRAM at the core's NoC write rate; it never backs up.
    OutputPort& ej = r.out[kLocal];
    ej.exists = true;
    ej.bytesPerCycle = double(c.core.noc_write_bytes_per_cycle);
    ej.latency = std::uint64_t(std::ceil(kFlitBytes / ej.bytesPerCycle)) + hopCycles_;
    ej.tokens = std::max(ej.bytesPerCycle, kFlitBytes);
    ej.credits.assign(std::size_t(vcs_), 1 << 30);
    ej.held.assign(std::size_t(vcs_), false);
    r.in[kLocal].depth = depth;
    Source& src = sources_[std::size_t(v)];
    src.bytesPerCycle = double(c.core.noc_read_bytes_per_cycle);
    src.tokens = std::max(src.bytesPerCycle, kFlitBytes);
    // A flit wider than the injection port is all in the buffer (cut-through to the first link)
    // after its serialization less the one cycle a link takes.
    src.serializeCycles = std::uint64_t(std::ceil(kFlitBytes / src.bytesPerCycle)) - 1;
  }
}

std::uint64_t FlitNetwork::send(int src, int dst, std::uint64_t packets) {
  if (src < 0 || src >= rows_ * cols_ || dst < 0 || dst >= rows_ * cols_)
    throw std::invalid_argument("flit network: node " + std::to_string(src < 0 || src >= rows_ * cols_ ? src : dst) + " is not in the mesh");
  const std::uint64_t id = remaining_.size();
  remaining_.push_back(std::max<std::uint64_t>(1, packets));
  for (std::uint64_t p = 0; p < remaining_.back(); ++p) sources_[std::size_t(src)].queue.push_back({id, dst, 0});
  inFlight_ += remaining_.back();
  return id;
}

int FlitNetwork::routePort(int at, int dst) const {
  const int r = at / cols_, c = at % cols_, dr = dst / cols_, dc = dst % cols_;
  const auto cols = [&] { return dc > c ? kEast : dc < c ? kWest : -1; };
  const auto rows = [&] { return dr > r ? kSouth : dr < r ? kNorth : -1; };
  int p = xFirst_ ? cols() : rows();
  if (p < 0) p = xFirst_ ? rows() : cols();
  return p < 0 ? kLocal : p;
}

void FlitNetwork::move(std::vector<std::deque<Moving>>& lanes, std::uint64_t latency, const Moving& m) {
  std::size_t k = 0;
  while (k < laneLatency_.size() && laneLatency_[k] != latency) ++k;
  if (k == laneLatency_.size()) {
    laneLatency_.push_back(latency);
    flitLanes_.emplace_back();
    creditLanes_.emplace_back();
  }
  lanes[k].push_back(m);
}

void FlitNetwork::deliver() {
  for (auto& lane : creditLanes_)
    while (!lane.empty() && lane.front().at <= cycle_) {
      const Moving& m = lane.front();
      ++routers_[std::size_t(m.node)].out[m.port].credits[std::size_t(m.vc)];
      lane.pop_front();
    }
  for (auto& lane : flitLanes_)
    while (!lane.empty() && lane.front().at <= cycle_) {
      Moving m = lane.front();
      lane.pop_front();
      if (m.node < 0) {  // in the destination SRAM
        --inFlight_;
        if (--remaining_[std::size_t(m.flit.transfer)] == 0) arrivals_.push_back({m.flit.transfer, m.at});
        continue;
      }
      m.flit.readyAt = cycle_ + routerCycles_;
      vcOf(m.node, m.port, m.vc).buffer.push_back(m.flit);
    }
}

void FlitNetwork::inject() {
  for (std::size_t v = 0; v < sources_.size(); ++v) {
    Source& s = sources_[v];
    s.tokens = std::min(s.tokens + s.bytesPerCycle, tokenCap(s.bytesPerCycle, s.streaming, kFlitBytes));
    s.streaming = false;
    if (s.queue.empty()) continue;
    if (s.tokens < kFlitBytes) {
      s.streaming = true;
      continue;
    }
    // A packet (one flit) goes into a local VC with room, the VCs taken in turn.
    const int depth = routers_[v].in[kLocal].depth;
    for (int k = 0; k < vcs_; ++k) {
      const int vc = (s.vcPointer + k) % vcs_;
      InputVc& ivc = vcOf(int(v), kLocal, vc);
      if (int(ivc.buffer.size()) >= depth) continue;
      Flit f = s.queue.front();
      s.queue.pop_front();
      f.readyAt = cycle_ + s.serializeCycles;
      ivc.buffer.push_back(f);
      s.tokens -= kFlitBytes;
      s.streaming = true;
      s.vcPointer = (vc + 1) % vcs_;
      ++flitHops_;
      break;
    }
  }
}

void FlitNetwork::allocateVcs(int r) {
  // Input stage: each input VC with a routed head and no VC yet asks for its output port.
  // Output stage: each output port grants its free VCs to the askers in round-robin order.
  Router& router = routers_[std::size_t(r)];
  std::vector<int> askers[kPorts];
  for (int i = 0; i < kPorts * vcs_; ++i) {
    InputVc& ivc = router.vcs[std::size_t(i)];
    if (ivc.buffer.empty() || ivc.outVc >= 0 || ivc.buffer.front().readyAt > cycle_) continue;
    ivc.outPort = routePort(r, ivc.buffer.front().dst);
    askers[ivc.outPort].push_back(i);
  }
  for (int p = 0; p < kPorts; ++p) {
    if (askers[p].empty()) continue;
    OutputPort& o = router.out[p];
    const int n = kPorts * vcs_;
    std::sort(askers[p].begin(), askers[p].end(), [&](int a, int b) { return (a - o.vaPointer + n) % n < (b - o.vaPointer + n) % n; });
    for (int i : askers[p]) {
      // A free VC, the one with the most credits (the emptiest buffer downstream); ties to the
      // lowest number.
      int granted = -1;
      for (int vc = 0; vc < vcs_; ++vc)
        if (!o.held[std::size_t(vc)] && (granted < 0 || o.credits[std::size_t(vc)] > o.credits[std::size_t(granted)])) granted = vc;
      if (granted < 0) break;
      o.held[std::size_t(granted)] = true;
      router.vcs[std::size_t(i)].outVc = granted;
      o.vaPointer = (i + 1) % n;
    }
  }
}

void FlitNetwork::allocateSwitch(int r) {
  // Input stage: each input port offers one of its VCs (round-robin) whose front flit has a VC
  // downstream with a credit. Output stage: each output port takes one offer (round-robin over
  // the input ports) when its link has the bytes for a flit this cycle.
  Router& router = routers_[std::size_t(r)];
  int offer[kPorts];
  for (int p = 0; p < kPorts; ++p) {
    offer[p] = -1;
    InputPort& in = router.in[p];
    for (int k = 0; k < vcs_ && offer[p] < 0; ++k) {
      const int vc = (in.saPointer + k) % vcs_;
      const InputVc& ivc = router.vcs[std::size_t(p * vcs_ + vc)];
      if (ivc.buffer.empty() || ivc.outVc < 0 || ivc.buffer.front().readyAt > cycle_) continue;
      OutputPort& o = router.out[ivc.outPort];
      if (o.credits[std::size_t(ivc.outVc)] <= 0) continue;
      if (o.tokens < kFlitBytes) {
        o.streaming = true;
        continue;
      }
      offer[p] = vc;
    }
  }
  for (int out = 0; out < kPorts; ++out) {
    OutputPort& o = router.out[out];
    if (!o.exists) continue;
    int winner = -1;
    for (int k = 0; k < kPorts && winner < 0; ++k) {
      const int p = (o.saPointer + k) % kPorts;
      if (offer[p] >= 0 && router.vcs[std::size_t(p * vcs_ + offer[p])].outPort == out) winner = p;
    }
    if (winner < 0) continue;
    InputVc& ivc = router.vcs[std::size_t(winner * vcs_ + offer[winner])];
    const Flit f = ivc.buffer.front();
    ivc.buffer.pop_front();
    o.saPointer = (winner + 1) % kPorts;
    router.in[winner].saPointer = (offer[winner] + 1) % vcs_;
    o.tokens -= kFlitBytes;
    o.streaming = true;
    --o.credits[std::size_t(ivc.outVc)];
    ++flitHops_;
    // The slot it left: a credit back upstream, one link latency away.
    const InputPort& in = router.in[winner];
    if (in.fromNode >= 0) move(creditLanes_, in.latency, {cycle_ + in.latency, in.fromNode, in.fromPort, offer[winner], {}});
    move(flitLanes_, o.latency, {cycle_ + o.latency, out == kLocal ? -1 : o.toNode, o.toPort, ivc.outVc, f});
    // One flit per packet: the tail has left, the downstream VC is free for another packet.
    o.held[std::size_t(ivc.outVc)] = false;
    ivc.outPort = ivc.outVc = -1;
  }
}

void FlitNetwork::step() {
  deliver();
  inject();
  for (auto& r : routers_)
    for (auto& o : r.out)
      if (o.exists) {
        o.tokens = std::min(o.tokens + o.bytesPerCycle, tokenCap(o.bytesPerCycle, o.streaming, o.bytesPerCycle));
        o.streaming = false;
      }
  for (int r = 0; r < int(routers_.size()); ++r) {
    allocateVcs(r);
    allocateSwitch(r);
  }
  ++cycle_;
}

std::vector<FlitNetwork::Arrival> FlitNetwork::takeArrivals() {
  std::vector<Arrival> a;
  a.swap(arrivals_);
  return a;
}

}  // namespace tatami::tlm
