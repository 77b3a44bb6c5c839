// The TLM model of one core: SRAM, up to 4 hardware threads issuing in order, and scalar,
// vector, matrix and DMA units working concurrently, with stalls on a busy unit, a shared SRAM
// port, a same-thread data hazard and on semaphores. One SystemC process per core; the threads
// are scheduled inside it. Values come from the reference semantics (arch/semantics.h).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/arch/program.h"
#include "tatami/arch/semantics.h"
#include "tatami/arch/core_timing.h"
#include "tatami/tlm/activity.h"
#include "tatami/tlm/rtl_datapath.h"
#include "tatami/tlm/port_timeline.h"
#include "tatami/tlm/remote.h"

namespace tatami::tlm {

struct ThreadStats {
  std::uint64_t instructions = 0;
  std::uint64_t stallHazard = 0;     ///< waiting for an earlier instruction's SRAM result
  std::uint64_t stallUnit = 0;       ///< waiting for a busy unit
  std::uint64_t stallPort = 0;       ///< waiting for a shared SRAM port
  std::uint64_t stallSemaphore = 0;  ///< blocked in swait
  std::uint64_t stallBarrier = 0;    ///< blocked in bar
};

struct CoreStats {
  std::uint64_t cycles = 0;  ///< until every thread halted and every unit drained
  std::uint64_t instructions = 0;
  std::array<std::uint64_t, kUnitCount> unitBusy{};
  std::array<std::uint64_t, kUnitCount> unitInstructions{};
  std::vector<std::uint64_t> readPortBusy, writePortBusy;
  std::uint64_t nocReadBusy = 0, nocWriteBusy = 0;
  std::array<ThreadStats, kThreadsMax> threads{};
  std::uint64_t matrixFlops = 0, vectorFlops = 0;
  /// Cycles of [0, cycles) per activity (activity.h), each cycle in one; the rest were idle.
  std::array<std::uint64_t, kActivities> activity{};
  /// Cycles each activity went on at all, overlapped or not (ActivityLog::held): the data-load
  /// entry less its activity entry is the data's way in that compute hid.
  std::array<std::uint64_t, kActivities> held{};
};

/// A thread's wait that a transfer from elsewhere ended (for the step's critical path): blocked
/// over [start, end); the transfer was issued at `sent` by or to `otherCore` and is `carried`.
struct WaitRecord {
  std::uint64_t start = 0, end = 0, sent = 0;
  int otherCore = -1;
  Activity carried = Activity::OnDie;
};

/// One instruction on one unit, for traces: the unit is busy over [start, start + cycles).
struct TraceSlice {
  std::uint64_t start = 0, cycles = 0;
  Unit unit = Unit::Scalar;
  std::uint8_t thread = 0;
  std::uint32_t pc = 0;
  /// Bytes the instruction moved at each level: through the core's SRAM ports (vector and matrix
  /// ports by whole port lines, the DMA's NoC port), over the mesh to or from another core
  /// (put, get), and to or from HBM (hbmrd, hbmwr).
  std::uint32_t sramBytes = 0, meshBytes = 0, hbmBytes = 0;
};

struct CoreOptions {
  bool timingOnly = false;
  bool trace = false;  ///< record a TraceSlice per instruction
  /// Run the instructions the RTL datapath implements on it (values and datapath cycles from the
  /// verilated blocks; see rtl_datapath.h).
  bool rtl = false;
  /// Lockstep: each instruction an RTL core runs is also computed by the reference semantics and
  /// timed by the timing model; a difference in a value or in cycles stops the run, naming it.
  bool rtlCheck = false;
  /// Fault injection for tests of the lockstep check: 1 flips the low bit of every RTL result's
  /// first element, 2 adds a cycle to every RTL latency.
  int rtlFault = 0;
  /// Waveforms of this core's RTL blocks (RtlDatapath::traceTo): a file prefix, empty for none,
  /// and the window of core cycles.
  std::string rtlWaves;
  std::uint64_t rtlWavesFrom = 0, rtlWavesTo = ~std::uint64_t(0);
  std::uint64_t maxInstructions = std::uint64_t(1) << 40;
};

class CoreModel : public sc_core::sc_module {
 public:
  /// Functional access to SRAM (transport_dbg): loaders and checkers read and write without time.
  tlm_utils::simple_target_socket<CoreModel> debugSocket;
  /// Remote transfers (put, get, sincr) go to the mesh through this socket.
  tlm_utils::simple_initiator_socket<CoreModel> toNetwork;
  /// Semaphore signals arrive from the mesh here.
  tlm_utils::simple_target_socket<CoreModel> fromNetwork;

  /// `coreId` is the core's id in the system, `coreCount` the number of grid positions.
  CoreModel(const sc_core::sc_module_name& name, const ArchConfig& config, const Program& program,
            const CoreOptions& options, int coreId, int coreCount);

  /// True when the core has threads that wait (for a semaphore or a barrier) and nothing to run.
  bool blocked() const;
  /// The waiting threads, one line each, for a deadlock report.
  std::string waitingText() const;
  /// Sets stats().cycles for a core that did not finish (a deadlock): what it had booked.
  void finalizeStats();
  /// The semaphores another core's transfer can signal here (bit k: semaphore k), from every
  /// program of the system (remoteSemaphores); all of them unless set. A thread waiting for any
  /// other semaphore waits for this core alone (a sinc, its own DMA, get or HBM transfer, whose
  /// completions are booked when they issue), so the core need not keep step with the kernel.
  void setRemoteSemaphores(std::uint64_t mask) { remoteSemaphores_ = mask; }

  const CoreStats& stats() const { return stats_; }
  const std::vector<TraceSlice>& traceSlices() const { return trace_; }
  /// After the run: [0, stats().cycles) classified by activity (ActivityLog::classify).
  const std::vector<ActivitySegment>& activitySegments() const { return segments_; }
  /// After the run: the waits that transfers from elsewhere ended, in order of their end.
  const std::vector<WaitRecord>& waits() const { return waits_; }
  const Program& program() const { return program_; }
  CoreState& state() { return state_; }
  bool finished() const { return finished_; }
  /// Empty unless the program faulted or deadlocked: then core, thread, pc and instruction.
  const std::string& error() const { return error_; }

 private:
  enum class ThreadStatus : std::uint8_t { Idle, Active, WaitSemaphore, WaitBarrier, Halted };
  struct Pending {
    Access range;
    std::uint64_t done;
  };
  struct ThreadCtl {
    ThreadStatus status = ThreadStatus::Idle;
    std::uint64_t ready = 0;
    int waitSemaphore = -1;
    std::uint64_t blockedSince = 0;
    std::vector<Pending> pendingWrites, pendingReads;
  };
  struct SemEvent {
    std::uint64_t time, seq;
    int semaphore;
    std::int64_t count;
    /// A signal from the mesh or HBM: the far end of its transfer (-1: from this core) and when
    /// the transfer was issued, and what it carried.
    int otherCore = -1;
    std::uint64_t sent = 0;
    Activity carried = Activity::OnDie;
    bool operator>(const SemEvent& o) const { return time != o.time ? time > o.time : seq > o.seq; }
  };

  void run();
  void step(int thread, std::uint64_t now);
  /// put/get/sincr through the mesh: waits for the kernel to reach the start cycle, asks the
  /// network, and books the DMA engine with the answer.
  /// Returns the cycle at which the transfer is done locally (see RemoteTransfer::localDoneCycle).
  std::uint64_t stepRemote(int thread, const Instruction& inst, const Operands& ops, std::uint64_t start);
  void receiveSignal(::tlm::tlm_generic_payload& payload, sc_core::sc_time& delay);
  bool anyThreadWaitsForSemaphore() const;
  /// A thread waits for a semaphore that another core's transfer can signal.
  bool anyThreadWaitsForTransfer() const;
  std::uint64_t hazardTime(const ThreadCtl& t, const AccessList& accesses) const;
  /// The cycle at which everything thread t has in flight has completed (fence).
  std::uint64_t drainTime(const ThreadCtl& t) const;
  /// The trace's record of an instruction that started at `start`, with the bytes it moved.
  TraceSlice traceSlice(const Instruction& inst, const Operands& ops, const Usage& u, std::uint64_t start, int thread,
                        std::uint32_t pc) const;
  struct PortChoice {
    std::uint64_t start;
    std::size_t readRotation, writeRotation;
  };
  /// The earliest start >= from at which all of u's port intervals are free, and the port rotation.
  PortChoice choosePorts(const Usage& u, std::uint64_t from) const;
  void commitPorts(const Usage& u, const PortChoice& choice);
  /// Wakes the threads waiting for `semaphore` at `time`; `cause` is the signal (null: a sinc of
  /// this core) that decides how their wait counts in the breakdown.
  void wakeSemaphoreWaiters(int semaphore, std::uint64_t time, const SemEvent* cause);
  /// The activity a transfer with core `other` counts as (on-die or die-edge).
  Activity transferActivity(int other) const;
  /// Ends the run's bookkeeping at stats_.cycles: classifies the activities.
  void finishActivities();
  void releaseBarrierIfComplete();
  /// An instruction the RTL datapath implements, on an RTL core (values and datapath cycles from
  /// the RTL; `u` gets its occupancy and completion).
  StepResult stepRtl(int thread, std::uint32_t pc, const Instruction& inst, const Operands& ops, Usage& u, std::uint64_t start);
  [[noreturn]] void fault(int thread, std::uint32_t pc, const std::string& what);
  unsigned transportDbg(::tlm::tlm_generic_payload& payload);

  const ArchConfig& config_;
  const Program& program_;
  CoreOptions options_;
  std::unique_ptr<RtlDatapath> rtl_;
  int coreId_;
  CoreTiming timing_;
  CoreState state_;
  std::array<ThreadCtl, kThreadsMax> ctl_{};
  std::array<std::uint64_t, kUnitCount> unitFree_{};
  std::vector<PortTimeline> readPorts_, writePorts_;
  PortTimeline nocRead_, nocWrite_;
  std::uint64_t quantum_;
  std::uint64_t maxCycles_;  ///< sim.max_cycles: a thread still issuing at this cycle is a runaway
  std::priority_queue<SemEvent, std::vector<SemEvent>, std::greater<SemEvent>> events_;
  std::uint64_t eventSeq_ = 0;
  std::uint64_t lastCompletion_ = 0;
  sc_core::sc_event incoming_;
  std::uint64_t lastStep_ = 0;  ///< the cycle of the last instruction issued
  std::uint64_t remoteSeq_ = 0;
  std::uint64_t remoteSemaphores_ = ~std::uint64_t(0);
  CoreStats stats_;
  std::vector<TraceSlice> trace_;
  ActivityLog activity_;
  std::vector<ActivitySegment> segments_;
  std::vector<WaitRecord> waits_;
  bool finished_ = false;
  std::string error_;
};

/// The semaphores another core can signal in a system running these programs (bit k: semaphore
/// k): every put's completion semaphore and every sincr's. A get's or an HBM transfer's completion
/// is signalled to the core that issued it, booked while the instruction issues.
std::uint64_t remoteSemaphores(const std::vector<const Program*>& programs);

}  // namespace tatami::tlm
