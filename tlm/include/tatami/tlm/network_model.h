// The mesh as a SystemC module: cores send remote transfers to it through TLM-2.0 (b_transport
// with a RemoteTransfer extension); it times them on the Network, moves the bytes between the
// cores' SRAMs through their debug sockets, and delivers semaphore signals to the cores. Cores
// that run no program are held here as plain state (SRAM and semaphores), made when first used,
// so that a system of thousands of positions costs only what its programs touch. Requests
// made in the same delta are handled together, sorted by (cycle, source core, sequence), so the
// result never depends on the order in which SystemC runs the cores.
#pragma once

#include <map>
#include <memory>
#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <unordered_map>
#include <vector>

#include "tatami/arch/semantics.h"
#include "tatami/tlm/network.h"
#include "tatami/tlm/remote.h"

namespace tatami::tlm {

class NetworkModel : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<NetworkModel> fromCores;  ///< one binding per core
  tlm_utils::multi_passthrough_initiator_socket<NetworkModel> sram;    ///< cores' debug sockets
  tlm_utils::multi_passthrough_initiator_socket<NetworkModel> signals; ///< cores' signal sockets

  NetworkModel(const sc_core::sc_module_name& name, const ArchConfig& config);
  /// Which binding index of `sram`/`signals` serves core id `core` (set by the system builder).
  void mapCore(int core, int bindingIndex) { binding_[core] = bindingIndex; }
  /// false in timing-only runs: transfers check their ranges and take their time, but move no bytes.
  void setMovesValues(bool moves) { movesValues_ = moves; }
  /// The mesh, built when first needed (a run without remote transfers never builds it).
  Network& network();
  bool networkBuilt() const { return net_ != nullptr; }
  /// A core without a program: SRAM and semaphores only, made when first reached.
  CoreState& passiveCore(int core);
  bool hasPassiveCore(int core) const { return passive_.count(core) > 0; }

  /// An interface processor: where it joins the mesh, its link and HBM, and the HBM's contents.
  struct Dip {
    int node = 0;                  ///< the edge router it attaches to
    bool wholeEdge = false;        ///< an edge source: joins at the west-edge router of the row it serves
    PortTimeline link, hbm;        ///< bookings in cycles
    std::map<std::uint64_t, std::unique_ptr<std::uint8_t[]>> pages;  ///< 4 KiB pages, where written
    std::uint64_t bytesRead = 0, bytesWritten = 0;
    /// HBM ranges [begin, end) (offsets in this DIP) that the host is still writing until `cycle`.
    struct Arrival {
      std::uint64_t begin, end, cycle;
    };
    std::vector<Arrival> arrivals;
    /// The first cycle at which [offset, offset + bytes) has all arrived.
    std::uint64_t arrivedBy(std::uint64_t offset, std::uint64_t bytes) const;
  };
  std::vector<Dip>& dips();
  /// Host access to HBM (global addresses, as hbmrd/hbmwr use): data loaded before a run and
  /// results read after it. Throws std::runtime_error for a range outside the DIPs' HBM.
  void writeHbm(std::uint64_t addr, const std::uint8_t* data, std::uint64_t bytes);
  void readHbm(std::uint64_t addr, std::uint8_t* data, std::uint64_t bytes);
  /// [addr, addr + bytes) is still arriving from the host until `cycle`: an hbmrd of any of it
  /// starts its HBM access no earlier (the contents are already there: only the timing waits).
  void holdHbm(std::uint64_t addr, std::uint64_t bytes, std::uint64_t cycle);

 private:
  Dip& dipOf(std::uint64_t addr, std::uint64_t bytes, std::uint64_t& offset);
  struct Pending {
    RemoteTransfer* request;
    sc_core::sc_event* done;
  };
  void b_transport(int from, ::tlm::tlm_generic_payload& p, sc_core::sc_time& delay);
  void processBatch();
  void handle(RemoteTransfer& r);
  void handleHbm(RemoteTransfer& r);
  bool movesValues_ = true;
  bool copy(int fromCore, std::uint64_t fromAddr, int toCore, std::uint64_t toAddr, std::uint64_t bytes, std::string& error);
  /// Delivers `count` to semaphore `semaphore` of `core` at `cycle`; `cause` is the transfer that
  /// signals (the far end and issue cycle ride along, for the step's breakdown).
  void signal(int core, std::uint64_t cycle, int semaphore, std::int64_t count, const RemoteTransfer& cause);

  const ArchConfig& config_;
  std::unique_ptr<Network> net_;
  std::uint64_t sramBytes_;
  int threads_;
  std::map<int, int> binding_;
  std::map<int, std::unique_ptr<CoreState>> passive_;
  std::vector<Dip> dips_;
  bool dipsBuilt_ = false;
  void hbmAccess(Dip& dip, std::uint64_t addr, std::uint8_t* data, std::uint64_t bytes, bool write);
  std::vector<RemoteTransfer*> batch_;
  sc_core::sc_event batchReady_, batchDone_;
  /// Per (source, destination) (source << 32 | destination): when its last delivery lands, so that
  /// a signal never overtakes data.
  std::unordered_map<std::uint64_t, std::uint64_t> lastArrival_;
};

}  // namespace tatami::tlm
