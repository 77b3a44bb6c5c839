// The mesh's topology, routing and reservation arithmetic (docs/timing.md, "Network").
#include "tatami/tlm/network.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace tatami::tlm {

namespace {

const char* dirName(Direction d) {
  switch (d) {
    case Direction::North: return "north";
    case Direction::East: return "east";
    case Direction::South: return "south";
    case Direction::West: return "west";
    case Direction::Inject: return "inject";
    case Direction::Eject: return "eject";
  }
  return "?";
}

std::string posText(GridPos p) { return "(" + std::to_string(p.row) + "," + std::to_string(p.col) + ")"; }

}  // namespace

Network::Network(const ArchConfig& c)
    : rows_(int(c.die.rows * c.system.die_rows)),
      cols_(int(c.die.cols * c.system.die_cols)),
      dieRows_(int(c.die.rows)),
      dieCols_(int(c.die.cols)),
      xFirst_(c.die.routing == "xy"),
      rotating_(c.die.arbitration == "rotating") {
  const int n = nodeCount();
  active_.assign(std::size_t(n), true);
  for (int dr = 0; dr < c.system.die_rows; ++dr)
    for (int dc = 0; dc < c.system.die_cols; ++dc)
      for (const GridPos& p : c.die.disabled_cores) active_[std::size_t(node(dr * dieRows_ + p.row, dc * dieCols_ + p.col))] = false;

  links_.assign(std::size_t(n) * kLinksPerNode, Link{});
  const std::uint64_t hop = std::uint64_t(c.die.hop_latency_cycles) * kSubCycles;
  const std::uint64_t linkBytes = std::uint64_t(c.die.link_bytes_per_cycle);
  // The edge is set in GB/s: in bytes per cycle it is edge_gb_per_s / clock_ghz, kept exact as
  // the ratio of the two in thousandths (serialization is bytes x num / den sub-cycles).
  const std::uint64_t edgeMilliGBps = std::uint64_t(std::llround(c.die.edge_gb_per_s * 1000.0));
  const std::uint64_t clockMHz = std::uint64_t(std::llround(c.core.clock_ghz * 1000.0));
  const std::uint64_t tileMilliGBps = std::uint64_t(std::llround(c.tile.edge_gb_per_s * 1000.0));

  // Directed die edges: for each die, east/west/north/south neighbours.
  const int dies = int(c.system.die_rows * c.system.die_cols);
  const auto edgeId = [&](int dieIndex, Direction d) { return dieIndex * 4 + int(d); };
  edgeCount_ = dies * 4;
  edgeNames_.resize(std::size_t(edgeCount_));
  for (int dIdx = 0; dIdx < dies; ++dIdx)
    for (Direction d : {Direction::North, Direction::East, Direction::South, Direction::West})
      edgeNames_[std::size_t(edgeId(dIdx, d))] = "die(" + std::to_string(dIdx / c.system.die_cols) + "," +
                                                 std::to_string(dIdx % c.system.die_cols) + ")." + dirName(d);

  for (int v = 0; v < n; ++v) {
    const GridPos p = position(v);
    const int dieIndex = (p.row / dieRows_) * int(c.system.die_cols) + p.col / dieCols_;
    for (Direction d : {Direction::North, Direction::East, Direction::South, Direction::West}) {
      const int r = p.row + (d == Direction::South) - (d == Direction::North);
      const int col = p.col + (d == Direction::East) - (d == Direction::West);
      if (r < 0 || r >= rows_ || col < 0 || col >= cols_) continue;
      Link& l = links_[std::size_t(linkId(v, d))];
      l.exists = true;
      l.from = v;
      l.to = node(r, col);
      l.crossing = (r / dieRows_ != p.row / dieRows_) || (col / dieCols_ != p.col / dieCols_);
      const Crossing x = l.crossing ? dieCrossing(c, {p.row / dieRows_, p.col / dieCols_}, {r / dieRows_, col / dieCols_}) : Crossing{};
      // A die crossing's latency (a tile's, between tiles) from the one rule (dieCrossing); its
      // rate below is the same rule kept as an exact ratio, so that a share serializes exactly.
      l.latencySub = hop + std::uint64_t(x.latencyCycles) * kSubCycles;
      l.serNum = kSubCycles;
      l.serDen = linkBytes;
      l.bufferSlots = std::uint32_t(c.die.buffer_packets);
      if (l.crossing) {
        l.edge = edgeId(dieIndex, d);
        // The edge's bandwidth is shared by the mesh links that cross it.
        const std::uint64_t sharing = std::uint64_t((d == Direction::East || d == Direction::West) ? dieRows_ : dieCols_);
        if (edgeMilliGBps < linkBytes * sharing * clockMHz) {
          l.serNum = kSubCycles * sharing * clockMHz;
          l.serDen = edgeMilliGBps;
        }
        if (x.betweenTiles) {
          // The tile edge is shared by the links of all its dies: the slower of the two shares.
          const std::uint64_t tileSharing = sharing * std::uint64_t((d == Direction::East || d == Direction::West) ? c.tile.die_rows : c.tile.die_cols);
          const std::uint64_t num = kSubCycles * tileSharing * clockMHz;
          __extension__ typedef unsigned __int128 Wide;
          if (Wide(tileMilliGBps) * l.serNum < Wide(num) * l.serDen) l.serNum = num, l.serDen = tileMilliGBps;
        }
        std::uint64_t slots = std::uint64_t(c.die.edge_buffer_packets);
        if (slots == 0) {
          // Cover the credit round trip (there and back, plus a packet) at the crossing's rate.
          const std::uint64_t roundTripSub = 2 * l.latencySub + 2 * kSubCycles;
          const std::uint64_t packetSub = (kPacketBytes * l.serNum + l.serDen - 1) / l.serDen;
          slots = (roundTripSub + packetSub - 1) / packetSub + 1;
        }
        l.bufferSlots = std::uint32_t(slots);
      }
    }
    Link& in = links_[std::size_t(linkId(v, Direction::Inject))];
    in.exists = true, in.from = in.to = v, in.latencySub = 0, in.serNum = kSubCycles;
    in.serDen = std::uint64_t(c.core.noc_read_bytes_per_cycle), in.bufferSlots = std::uint32_t(c.die.buffer_packets);
    Link& out = links_[std::size_t(linkId(v, Direction::Eject))];
    out.exists = true, out.from = out.to = v, out.latencySub = hop, out.serNum = kSubCycles;
    out.serDen = std::uint64_t(c.core.noc_write_bytes_per_cycle), out.bufferSlots = 0;
  }
  for (std::size_t i = 0; i + 1 < c.die.dead_links.size(); i += 2) {
    const int a = node(c.die.dead_links[i].row, c.die.dead_links[i].col);
    const int b = node(c.die.dead_links[i + 1].row, c.die.dead_links[i + 1].col);
    for (auto& l : links_)
      if (l.exists && ((l.from == a && l.to == b) || (l.from == b && l.to == a)) && l.from != l.to) l.dead = anyDead_ = true;
  }
  stats_.assign(links_.size(), LinkStats{});
  busy_.assign(links_.size(), PortTimeline{});
  for (auto& perClass : held_) perClass.resize(links_.size());
  inputs_.assign(links_.size(), InputPort{});
}

std::vector<int> Network::activeNodes(const ArchConfig& c) {
  const int cols = int(c.die.cols * c.system.die_cols), rows = int(c.die.rows * c.system.die_rows);
  std::vector<bool> active(std::size_t(rows * cols), true);
  for (int dr = 0; dr < c.system.die_rows; ++dr)
    for (int dc = 0; dc < c.system.die_cols; ++dc)
      for (const GridPos& p : c.die.disabled_cores)
        active[std::size_t((dr * c.die.rows + p.row) * cols + dc * c.die.cols + p.col)] = false;
  std::vector<int> v;
  for (int i = 0; i < rows * cols; ++i)
    if (active[std::size_t(i)]) v.push_back(i);
  return v;
}

std::vector<int> Network::activeNodes() const {
  std::vector<int> v;
  for (int i = 0; i < nodeCount(); ++i)
    if (active_[std::size_t(i)]) v.push_back(i);
  return v;
}

std::string Network::linkName(int link) const {
  const Link& l = links_[std::size_t(link)];
  const Direction d = Direction(link % kLinksPerNode);
  if (d == Direction::Inject || d == Direction::Eject) return posText(position(l.from)) + "." + dirName(d);
  return posText(position(l.from)) + "->" + posText(position(l.to));
}

std::string Network::edgeName(int edge) const { return edgeNames_[std::size_t(edge)]; }

std::vector<int> Network::dimensionOrderRoute(int src, int dst, bool xFirst, int* deadLink) const {
  std::vector<int> r;
  dimensionOrderRoute(src, dst, xFirst, deadLink, r);
  return r;
}

void Network::dimensionOrderRoute(int src, int dst, bool xFirst, int* deadLink, std::vector<int>& r) const {
  r.clear();
  r.push_back(linkId(src, Direction::Inject));
  int v = src, row = src / cols_, col = src % cols_;
  const int toRow = dst / cols_, toCol = dst % cols_;
  // One hop in direction d, to the node `delta` away.
  const auto step = [&](Direction d, int delta) {
    const int l = linkId(v, d);
    if (anyDead_ && links_[std::size_t(l)].dead && *deadLink < 0) *deadLink = l;
    r.push_back(l);
    v += delta;
  };
  const auto moveCols = [&] {
    for (; col < toCol; ++col) step(Direction::East, 1);
    for (; col > toCol; --col) step(Direction::West, -1);
  };
  const auto moveRows = [&] {
    for (; row < toRow; ++row) step(Direction::South, cols_);
    for (; row > toRow; --row) step(Direction::North, -cols_);
  };
  if (xFirst) moveCols(), moveRows();
  else moveRows(), moveCols();
  r.push_back(linkId(dst, Direction::Eject));
}

std::vector<int> Network::route(int src, int dst) const {
  int deadA = -1, deadB = -1;
  std::vector<int> r = dimensionOrderRoute(src, dst, xFirst_, &deadA);
  if (deadA < 0) return r;
  // The preferred order crosses a dead link: the other dimension order, if it is whole.
  std::vector<int> other = dimensionOrderRoute(src, dst, !xFirst_, &deadB);
  if (deadB < 0) return other;
  throw NetworkError("unroutable transfer from core " + posText(position(src)) + " to core " + posText(position(dst)) +
                     ": the " + (xFirst_ ? "XY" : "YX") + " route crosses dead link " + linkName(deadA) + " and the " +
                     (xFirst_ ? "YX" : "XY") + " route crosses dead link " + linkName(deadB));
}

std::uint64_t Network::zeroLoadCycles(int src, int dst, std::uint64_t bytes) const {
  std::uint64_t latency = 0, ser = 0;
  for (int l : route(src, dst)) {
    latency += links_[std::size_t(l)].latencySub;
    ser = std::max(ser, serialize(links_[std::size_t(l)], bytes));
  }
  return (latency + ser + kSubCycles - 1) / kSubCycles;
}

Delivery Network::send(std::uint64_t injectCycle, int src, int dst, std::uint64_t bytes, TrafficClass cls) {
  int dead = -1;
  dimensionOrderRoute(src, dst, xFirst_, &dead, path_);
  if (dead >= 0) path_ = route(src, dst);  // the other order, or an unroutable error
  const std::vector<int>& path = path_;
  const std::size_t hops = path.size();
  Delivery d;
  d.routers = int(hops) - 1;
  const std::uint64_t t0 = injectCycle * kSubCycles;
  const int c = int(cls);
  const std::uint64_t packets = std::max<std::uint64_t>(1, (bytes + kPacketBytes - 1) / kPacketBytes);
  // Serialization per hop of a full packet and of the last one (every other packet is full).
  const std::uint64_t lastBytes = bytes - kPacketBytes * (packets - 1);
  serFull_.resize(hops), serLast_.resize(hops);
  prevEnd_.assign(hops, 0);
  std::vector<std::uint64_t>& prevEnd = prevEnd_;
  for (std::size_t k = 0; k < hops; ++k) {
    const int l = path[k];
    const Link& link = links_[std::size_t(l)];
    d.crossings += link.crossing ? 1 : 0;
    serFull_[k] = serialize(link, kPacketBytes), serLast_[k] = serialize(link, lastBytes);
    busy_[std::size_t(l)].retire(t0), inputs_[std::size_t(l)].crossbar.retire(t0);
    if (!link.bufferSlots) continue;
    // Intervals over by t0 matter to no later booking (bookings come in issue order): drop
    // their ends and as many starts at or before t0 (each counts once on both sides for any
    // time from t0 on, so which starts go does not change a count).
    HeldSlots& h = held_[c][std::size_t(l)];
    if (h.firstEnd > t0) continue;  // none kept, or none over
    h.head = firstAfter(h.ends, h.head, t0);
    if (h.head == h.ends.size()) {
      h.starts.clear(), h.ends.clear(), h.head = 0, h.firstEnd = ~std::uint64_t(0);
      continue;
    }
    if (h.head >= 64 && 2 * h.head >= h.ends.size()) {
      h.ends.erase(h.ends.begin(), h.ends.begin() + long(h.head));
      h.starts.erase(h.starts.begin(), h.starts.begin() + long(h.head));
      h.head = 0;
    }
    h.firstEnd = h.ends[h.head];
  }
  std::uint64_t arrival = 0, injected = 0;
  for (std::uint64_t j = 0; j < packets; ++j) {
    const bool last = j + 1 == packets;
    const std::uint64_t pb = last ? lastBytes : kPacketBytes;
    const std::vector<std::uint64_t>& sers = last ? serLast_ : serFull_;
    // Where the packet's head and tail are when it reaches this hop's router; the whole transfer
    // is ready in the source SRAM at issue.
    std::uint64_t head = t0, tail = t0;
    for (std::size_t k = 0; k < hops; ++k) {
      const int l = path[k];
      const Link& link = links_[std::size_t(l)];
      const std::uint64_t ser = sers[k];
      // The head goes on when it has arrived, the link's previous packet is through and the
      // buffer ahead has a credit; the booking ends no earlier than the tail has arrived (a
      // faster link after a slower one waits for the bytes, cut-through).
      std::uint64_t headStart = std::max(head, prevEnd[k]);
      // The router's input port (none at the source): one packet a cycle, in arrival order.
      // A packet crosses it in a cycle, or as fast as its link brings packets when that is faster.
      InputPort* in = k > 0 ? &inputs_[std::size_t(path[k - 1])] : nullptr;
      const std::uint64_t crossSub = k > 0 ? std::min(kSubCycles, serFull_[k - 1]) : 0;
      if (in && in->used[c] && head >= in->lastArrival[c]) headStart = std::max(headStart, in->lastDeparture[c] + crossSub);
      const std::uint64_t tailBound = tail > ser ? tail - ser : 0;
      std::uint64_t slack = 0, s = 0;
      std::uint32_t heldAtStart = 0;  // packets in the buffer ahead at s, when it could fill
      // Fewer intervals kept than slots (the open one included): the buffer cannot be full.
      const HeldSlots& heldHere = held_[c][std::size_t(l)];
      const bool mayFill = link.bufferSlots && heldHere.ends.size() - heldHere.head + 1 >= link.bufferSlots;
      for (;;) {
        if (mayFill) headStart = creditFrom(c, l, headStart);
        slack = tailBound > headStart ? tailBound - headStart : 0;
        s = busy_[std::size_t(l)].earliestFree(headStart + slack, ser);
        if (in) {
          const std::uint64_t crossing = in->crossbar.earliestFree(s - slack, crossSub);
          if (crossing != s - slack) {
            headStart = crossing;  // the input port forwards another packet then: look again from the next
            continue;
          }
        }
        if (!mayFill) break;
        heldAtStart = heldAt(c, l, s);
        if (heldAtStart < link.bufferSlots) break;
        headStart = s;  // the link was free later, when the buffer was full: look again from there
      }
      busy_[std::size_t(l)].reserve(s, ser);
      if (in) {
        in->crossbar.reserve(s - slack, crossSub);
        in->lastArrival[c] = std::max(in->lastArrival[c], head);
        in->lastDeparture[c] = std::max(in->lastDeparture[c], s - slack);
        in->used[c] = true;
      }
      LinkStats& st = stats_[std::size_t(l)];
      st.packets += 1, st.bytes += pb, st.busySub += ser;
      // Leaving the buffer behind returns its credit after the link's latency.
      if (k > 0 && links_[std::size_t(path[k - 1])].bufferSlots) closeOpen(s + links_[std::size_t(path[k - 1])].latencySub);
      if (link.bufferSlots) {
        // Packets in the buffer ahead at s, counted only when there are more intervals than the
        // peak so far (the count cannot exceed them, the open one included).
        // (When the buffer could fill, the count is the one the booking found; the open interval
        // it may include is the previous hop's, on another link.)
        if (heldHere.ends.size() - heldHere.head + 1 > st.peakQueue)
          st.peakQueue = std::max(st.peakQueue, mayFill ? heldAtStart : heldAt(c, l, s));
        openClass_ = c, openLink_ = l, openFrom_ = s;
      }
      prevEnd[k] = s + ser;
      if (k == 0) injected = std::max(injected, s + ser);
      if (k + 1 == hops) {
        arrival = std::max(arrival, s + ser + link.latencySub);
      } else {
        // The head left when it could (the booking only waited for the tail); the tail left
        // at the end of the booking.
        head = s - slack + link.latencySub;
        tail = s + ser + link.latencySub;
      }
    }
  }
  d.injectedCycle = (injected + kSubCycles - 1) / kSubCycles;
  d.arrivalCycle = (arrival + kSubCycles - 1) / kSubCycles;
  return d;
}

std::uint32_t Network::heldAt(int cls, int link, std::uint64_t t) const {
  const HeldSlots& h = held_[cls][std::size_t(link)];
  const std::size_t started = firstAfter(h.starts, h.head, t), ended = firstAfter(h.ends, h.head, t);
  const std::uint32_t open = (openClass_ == cls && openLink_ == link && openFrom_ <= t) ? 1 : 0;
  return std::uint32_t(started - ended) + open;
}

std::uint64_t Network::creditFrom(int cls, int link, std::uint64_t t) const {
  const std::uint32_t slots = links_[std::size_t(link)].bufferSlots;
  std::uint32_t held = heldAt(cls, link, t);
  if (held < slots) return t;
  // Walk the starts and ends after t in time order, counting: the first end that brings the
  // count below the slots is the earliest credit.
  const HeldSlots& h = held_[cls][std::size_t(link)];
  auto start = h.starts.begin() + long(firstAfter(h.starts, h.head, t));
  auto end = h.ends.begin() + long(firstAfter(h.ends, h.head, t));
  const bool openLater = openClass_ == cls && openLink_ == link && openFrom_ > t;
  bool openCounted = !openLater;
  while (end != h.ends.end()) {
    const std::uint64_t nextStart = start != h.starts.end() ? *start : ~std::uint64_t(0);
    const std::uint64_t at = std::min({*end, nextStart, openCounted ? ~std::uint64_t(0) : openFrom_});
    // Everything at `at` at once: starts and the open interval in, ends out.
    while (start != h.starts.end() && *start == at) ++held, ++start;
    if (!openCounted && openFrom_ == at) ++held, openCounted = true;
    while (end != h.ends.end() && *end == at) --held, ++end;
    if (held < slots) return at;
  }
  return t;  // only this transfer's own open interval holds: nothing to wait for
}

void Network::closeOpen(std::uint64_t until) {
  HeldSlots& h = held_[openClass_][std::size_t(openLink_)];
  // Both usually go last (bookings come in time order but for the gaps they fill).
  if (h.starts.size() == h.head || h.starts.back() <= openFrom_) h.starts.push_back(openFrom_);
  else h.starts.insert(h.starts.begin() + long(firstAfter(h.starts, h.head, openFrom_)), openFrom_);
  if (h.ends.size() == h.head || h.ends.back() <= until) h.ends.push_back(until);
  else h.ends.insert(h.ends.begin() + long(firstAfter(h.ends, h.head, until)), until);
  h.firstEnd = std::min(h.firstEnd, until);
  openClass_ = openLink_ = -1;
}

void Network::retire(std::uint64_t cycle) {
  for (auto& b : busy_) b.retire(cycle * kSubCycles);
}

}  // namespace tatami::tlm
