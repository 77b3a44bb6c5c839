// The reference network: a cycle-by-cycle, flit-level model of the same mesh as network.h, built
// as the classic input-queued virtual-channel router of Dally and Towles ("Principles and
// Practices of Interconnection Networks", ch. 16): per input port and virtual channel a FIFO of
// flits; route computation by dimension order; a separable VC allocator and a separable switch
// allocator (round-robin arbiters, input stage then output stage), one round each per cycle;
// credit-based flow control, a credit returning upstream one link latency after its flit leaves
// the buffer. It spends work on every flit at every hop every cycle: slow, and the reference the
// fast reservation model (network.h) is held to (docs/validation.md).
//
// Timing, chosen so that both models mean the same configuration: a packet is one 64 B flit; a
// flit granted the switch in cycle t is in the next router's input buffer at t + the link's
// latency (die.hop_latency_cycles, plus die.d2d_latency_ns in cycles across a die edge) and may be
// allocated there sim.flit_router_cycles later; a link sends at most one flit per cycle and no
// faster than its bytes per cycle allow (a die-edge crossing: its share of the edge, by a token
// bucket); the injection port takes core.noc_read_bytes_per_cycle, the ejection port gives
// core.noc_write_bytes_per_cycle, and a packet is in the destination SRAM one cycle of
// serialization plus one hop latency after the ejection port takes it, as in the fast model.
// Buffers: die.buffer_packets per input port, shared out among sim.flit_virtual_channels (at
// least one packet each); a die-edge crossing's buffer per VC covers its credit round trip unless
// die.edge_buffer_packets sets it. One traffic class (synthetic traffic is all requests).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "tatami/arch/config.h"

namespace tatami::tlm {

class FlitNetwork {
 public:
  explicit FlitNetwork(const ArchConfig& config);

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  int node(int row, int col) const { return row * cols_ + col; }

  /// Queues a transfer of `packets` 64 B packets from src to dst in the source's queue, in the
  /// current cycle; returns its id (0, 1, ...).
  std::uint64_t send(int src, int dst, std::uint64_t packets);
  /// Simulates the current cycle and moves to the next.
  void step();
  std::uint64_t cycle() const { return cycle_; }
  struct Arrival {
    std::uint64_t transfer;
    std::uint64_t cycle;  ///< the last byte of its last packet is in the destination SRAM
  };
  /// Transfers completed since the last call.
  std::vector<Arrival> takeArrivals();
  /// Packets queued at sources or inside the network.
  std::uint64_t packetsInFlight() const { return inFlight_; }
  /// Flit-hops so far (a flit crossing one link; injection and ejection included).
  std::uint64_t flitHops() const { return flitHops_; }

 private:
  static constexpr int kPorts = 5;  // north, east, south, west, local (injection and ejection)
  static constexpr int kLocal = 4;
  struct Flit {
    std::uint64_t transfer = 0;
    int dst = 0;
    std::uint64_t readyAt = 0;  // the cycle it may be allocated at this router
  };
  struct InputVc {
    std::deque<Flit> buffer;
    int outPort = -1, outVc = -1;  // the route and the VC granted to the packet at the front
  };
  struct OutputPort {
    bool exists = false;
    std::vector<int> credits;  // per downstream VC: free buffer slots
    std::vector<bool> held;    // per downstream VC: held by a packet (released as its tail leaves)
    int vaPointer = 0, saPointer = 0;
    double bytesPerCycle = 64, tokens = 64;
    /// A flit waited for the link's bytes this cycle, or left on it: the link is streaming, and
    /// what it accrues is kept whole (a link idle since last cycle holds one cycle's bytes).
    bool streaming = false;
    std::uint64_t latency = 1;
    int toNode = -1, toPort = -1;  // the downstream router and its input port (-1: the SRAM)
  };
  struct InputPort {
    int fromNode = -1, fromPort = -1;  // the upstream router's output port (-1: the source)
    std::uint64_t latency = 0;         // of the link from upstream: credits take as long back
    int depth = 1;                     // buffer slots per VC
    int saPointer = 0;
  };
  struct Router {
    std::vector<InputVc> vcs;  // kPorts x vcs_
    InputPort in[kPorts];
    OutputPort out[kPorts];
  };
  struct Moving {  // a flit on a link, or a credit on its way back
    std::uint64_t at;
    int node, port, vc;
    Flit flit;
  };
  struct Source {
    std::deque<Flit> queue;  // one flit per packet, in order
    double tokens = 64, bytesPerCycle = 64;
    bool streaming = false;  ///< as OutputPort's
    std::uint64_t serializeCycles = 0;
    int vcPointer = 0;
  };

  int routePort(int at, int dst) const;
  void deliver();
  void inject();
  void allocateVcs(int r);
  void allocateSwitch(int r);
  void move(std::vector<std::deque<Moving>>& lanes, std::uint64_t latency, const Moving& m);
  InputVc& vcOf(int r, int port, int vc) { return routers_[std::size_t(r)].vcs[std::size_t(port * vcs_ + vc)]; }

  int rows_, cols_, dieRows_, dieCols_, vcs_;
  bool xFirst_;
  std::uint64_t routerCycles_, hopCycles_;
  std::vector<Router> routers_;
  std::vector<Source> sources_;
  // Flits and credits in flight, one FIFO per distinct latency (so each stays in arrival order).
  std::vector<std::uint64_t> laneLatency_;
  std::vector<std::deque<Moving>> flitLanes_, creditLanes_;
  std::vector<std::uint64_t> remaining_;  // per transfer: packets not yet in the destination SRAM
  std::vector<Arrival> arrivals_;
  std::uint64_t cycle_ = 0, inFlight_ = 0, flitHops_ = 0;
};

}  // namespace tatami::tlm
