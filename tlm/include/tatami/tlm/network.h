// The 2D mesh that joins every core of the system, across dies: a router at every grid position
// (disabled cores keep theirs), links of configured width and latency, die-edge crossings that
// share their edge's bandwidth, credit-based input buffers per traffic class, and dimension-order
// routing. Transfers are timed by reservation arithmetic: each 64 B packet books its interval on
// each link of its route and a buffer slot ahead of it, without a simulator event per packet per
// hop. Time inside the network is kept in millionths of a cycle, so that a crossing's share of
// an edge (e.g. 1000/18 B/cycle) serializes exactly.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/tlm/port_timeline.h"

namespace tatami::tlm {

constexpr std::uint64_t kSubCycles = 1000000;  ///< network time units per core cycle
constexpr std::uint64_t kPacketBytes = 64;

enum class TrafficClass : std::uint8_t { Request = 0, Response = 1 };

/// A transfer that cannot be routed (dead links on both dimension orders).
class NetworkError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Direction : std::uint8_t { North = 0, East = 1, South = 2, West = 3, Inject = 4, Eject = 5 };
constexpr int kLinksPerNode = 6;

struct LinkStats {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t busySub = 0;     ///< occupied time, in network units
  std::uint32_t peakQueue = 0;   ///< most packets found in the buffer ahead when one was sent
};

struct Link {
  bool exists = false;
  bool dead = false;
  bool crossing = false;      ///< joins two dies
  int from = -1, to = -1;     ///< nodes (from == to for inject/eject)
  int edge = -1;              ///< crossing: index of its die edge (see edgeName)
  std::uint64_t serNum = 0, serDen = 1;  ///< serializing b bytes takes ceil(b * serNum / serDen) units
  std::uint64_t latencySub = 0;          ///< head latency of the hop
  std::uint32_t bufferSlots = 0;         ///< buffer ahead, per class (0: none, the destination NI)
};

/// One transfer's timing: cycles are absolute core cycles.
struct Delivery {
  std::uint64_t injectedCycle = 0;  ///< the last packet has left the source NI (source buffer free)
  std::uint64_t arrivalCycle = 0;   ///< the last byte is in the destination SRAM
  int routers = 0, crossings = 0;
};

class Network {
 public:
  explicit Network(const ArchConfig& config);

  int rows() const { return rows_; }  ///< system-wide grid rows
  int cols() const { return cols_; }
  int nodeCount() const { return rows_ * cols_; }
  int node(int row, int col) const { return row * cols_ + col; }
  GridPos position(int node) const { return {node / cols_, node % cols_}; }
  bool isActive(int node) const { return active_[std::size_t(node)]; }
  std::vector<int> activeNodes() const;
  /// The active cores of the system a config describes, without building a network.
  static std::vector<int> activeNodes(const ArchConfig& config);

  /// Books a transfer of `bytes` from node src to node dst injected at `injectCycle`.
  /// Throws NetworkError if it cannot be routed.
  Delivery send(std::uint64_t injectCycle, int src, int dst, std::uint64_t bytes, TrafficClass cls);

  /// The links of the route from src to dst (injection first, ejection last).
  std::vector<int> route(int src, int dst) const;
  /// The zero-load latency of docs/timing.md for this transfer, in cycles.
  std::uint64_t zeroLoadCycles(int src, int dst, std::uint64_t bytes) const;

  const std::vector<Link>& links() const { return links_; }
  const std::vector<LinkStats>& linkStats() const { return stats_; }
  std::string linkName(int link) const;
  std::string edgeName(int edge) const;
  int edgeCount() const { return edgeCount_; }
  /// The order in which transfers injected in the same cycle book the mesh: a smaller key first.
  std::uint64_t arbitrationKey(std::uint64_t cycle, int src) const {
    return rotating_ ? std::uint64_t((src - int(cycle % std::uint64_t(nodeCount())) + nodeCount()) % nodeCount())
                     : std::uint64_t(src);
  }
  /// Forget bookings that end before `cycle` (no later transfer can be injected earlier).
  void retire(std::uint64_t cycle);

 private:
  std::vector<int> dimensionOrderRoute(int src, int dst, bool xFirst, int* deadLink) const;
  void dimensionOrderRoute(int src, int dst, bool xFirst, int* deadLink, std::vector<int>& out) const;
  int linkId(int node, Direction d) const { return node * kLinksPerNode + int(d); }
  std::uint64_t serialize(const Link& l, std::uint64_t bytes) const {
    return (bytes * l.serNum + l.serDen - 1) / l.serDen;
  }

  int rows_, cols_, dieRows_, dieCols_;
  bool xFirst_;
  bool rotating_;
  bool anyDead_ = false;  ///< some link is dead (routes need checking)
  std::vector<bool> active_;
  std::vector<Link> links_;
  std::vector<LinkStats> stats_;
  std::vector<PortTimeline> busy_;
  /// The buffer ahead of a link, per class: the interval each packet holds a slot in it, from
  /// when it is sent on the link until its credit is back upstream (open while the packet's next
  /// hop is being booked). Kept from the earliest transfer being booked on; a packet takes a slot
  /// when fewer than the buffer's slots are held at that time, so a booking for later in
  /// simulated time never holds a slot before it is used.
  /// Per class and link: the starts and the ends of the closed intervals, each sorted; the
  /// slots held at t are the starts at or before t less the ends at or before t.
  struct HeldSlots {
    std::vector<std::uint64_t> starts, ends;
    std::size_t head = 0;  ///< both are kept from this index (the ones before are over)
    std::uint64_t firstEnd = ~std::uint64_t(0);  ///< ends[head], or never when none is kept
  };
  std::vector<HeldSlots> held_[2];
  /// The one interval still open (the packet's next hop is being booked): its class, link, start.
  int openClass_ = -1, openLink_ = -1;
  std::uint64_t openFrom_ = 0;
  std::uint32_t heldAt(int cls, int link, std::uint64_t t) const;
  /// The earliest time from `t` on when fewer than the link's buffer slots are held.
  std::uint64_t creditFrom(int cls, int link, std::uint64_t t) const;
  void closeOpen(std::uint64_t until);
  /// The input port at the far end of each link (the router's side of it): its crossbar input
  /// forwards one packet per cycle, and packets of a class leave it in the order they arrived.
  /// The second is what an input-first separable switch allocator does when its round-robin
  /// pointer moves only on a grant (docs/network.md): while the packet it offers waits for a busy
  /// output, the packets behind it wait too, in whichever virtual channel (head-of-line blocking).
  struct InputPort {
    PortTimeline crossbar;
    std::uint64_t lastArrival[2] = {0, 0}, lastDeparture[2] = {0, 0};  ///< per class, of the latest packet
    bool used[2] = {false, false};
  };
  std::vector<InputPort> inputs_;
  std::vector<int> path_;                 ///< scratch: the route of the transfer being booked
  std::vector<std::uint64_t> prevEnd_;    ///< scratch: per hop, the end of the previous packet
  std::vector<std::uint64_t> serFull_, serLast_;  ///< scratch: per hop, a full and the last packet's serialization
  int edgeCount_ = 0;
  std::vector<std::string> edgeNames_;
};

}  // namespace tatami::tlm
