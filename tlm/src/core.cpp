// The core's event loop: the ready thread with the earliest cycle (lowest id on a tie) issues its
// next instruction; the instruction's start is the first cycle at which its thread, its data, its
// unit and its ports are all free (reservation arithmetic, no per-cycle events); DMA completions
// signal semaphores at their completion cycle.
#include "tatami/tlm/core.h"

#include <cstdio>
#include <cstring>

#include <algorithm>

#include "tatami/arch/assembler.h"
#include "tatami/tlm/clock.h"

namespace tatami::tlm {

namespace {

struct CoreFault {
  std::string message;
};

bool overlaps(const Access& a, const Access& b) {
  return a.bytes && b.bytes && a.addr < b.addr + b.bytes && b.addr < a.addr + a.bytes;
}

bool sharedUnit(Unit u) { return u == Unit::Vector || u == Unit::Matrix || u == Unit::Dma; }

}  // namespace

CoreModel::CoreModel(const sc_core::sc_module_name& name, const ArchConfig& config, const Program& program,
                     const CoreOptions& options, int coreId, int coreCount)
    : sc_core::sc_module(name),
      debugSocket("debug"),
      toNetwork("toNetwork"),
      fromNetwork("fromNetwork"),
      config_(config),
      program_(program),
      options_(options),
      rtl_(options.rtl ? std::make_unique<RtlDatapath>(config) : nullptr),
      coreId_(coreId),
      timing_(config),
      state_(std::uint64_t(config.core.sram_kib) * 1024, int(config.core.threads)),
      readPorts_(std::size_t(config.core.sram_read_ports)),
      writePorts_(std::size_t(config.core.sram_write_ports)),
      quantum_(std::uint64_t(config.sim.quantum_cycles)),
      maxCycles_(std::uint64_t(config.sim.max_cycles)) {
  debugSocket.register_transport_dbg(this, &CoreModel::transportDbg);
  fromNetwork.register_b_transport(this, &CoreModel::receiveSignal);
  if (rtl_ && !options.rtlWaves.empty()) rtl_->traceTo(options.rtlWaves, options.rtlWavesFrom, options.rtlWavesTo);
  state_.coreId = std::uint64_t(coreId);
  state_.coreCount = std::uint64_t(coreCount);
  stats_.readPortBusy.assign(readPorts_.size(), 0);
  stats_.writePortBusy.assign(writePorts_.size(), 0);
  // The program's .init data and thread entries are in place at elaboration, so that loaders
  // can overwrite SRAM through the debug socket before the simulation starts.
  try {
    ExecOptions exec;
    exec.values = !options_.timingOnly;
    loadProgram(state_, program_, exec);
  } catch (const ExecError& e) {
    error_ = "core " + std::to_string(coreId_) + ": loading the program: " + e.what();
  }
  SC_HAS_PROCESS(CoreModel);
  SC_THREAD(run);
}

unsigned CoreModel::transportDbg(::tlm::tlm_generic_payload& p) {
  const std::uint64_t addr = p.get_address();
  const unsigned len = p.get_data_length();
  if (!state_.sram.contains(addr, len)) {
    p.set_response_status(::tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return 0;
  }
  if (p.is_read()) state_.sram.read(addr, p.get_data_ptr(), len);
  else if (p.is_write()) state_.sram.write(addr, p.get_data_ptr(), len);
  p.set_response_status(::tlm::TLM_OK_RESPONSE);
  return len;
}

StepResult CoreModel::stepRtl(int th, std::uint32_t pc, const Instruction& inst, const Operands& ops, Usage& u, std::uint64_t start) {
  // The reference semantics check the operands (faults) and, under --rtl-check, compute the
  // values to compare; otherwise they touch nothing and the RTL alone gives the values.
  // The RTL reads its operands before anything writes the destination (which may be one of them).
  StepResult r;
  ExecOptions check;
  check.values = false;
  try {
    r = execute(state_, th, inst, check);  // operand faults only
  } catch (const ExecError& e) {
    fault(th, pc, e.what());
  }
  const ThreadState& ts = state_.threads[std::size_t(th)];
  RtlDatapath::Result rr = rtl_->run(inst, ops, state_.sram, ts, start);
  if (options_.rtlCheck && !options_.timingOnly) {
    ExecOptions exec;
    exec.values = true;
    const std::uint32_t next = state_.threads[std::size_t(th)].pc;
    state_.threads[std::size_t(th)].pc = pc;  // the same instruction again, now with values
    execute(state_, th, inst, exec);          // the reference result, compared below
    state_.threads[std::size_t(th)].pc = next;
  }
  if (options_.rtlFault == 1 && !rr.bytes.empty()) rr.bytes[0] ^= 1;
  if (options_.rtlFault == 2) rr.latencyCycles += 1;
  const bool matrix = inst.op == Op::Mma || inst.op == Op::Mmaz;
  // The SRAM ports deliver the operands (and take the results) at the core's rate: the unit is
  // busy for the longer of the RTL's own cycles and the ports' bookings.
  std::uint64_t portBound = 1;
  for (std::uint64_t c : u.readPortCycles) portBound = std::max(portBound, c);
  for (std::uint64_t c : u.writePortCycles) portBound = std::max(portBound, c);
  const std::uint64_t busy = std::max(rr.acceptCycles, matrix ? rr.acceptCycles : portBound);
  const std::uint64_t writeBack = matrix ? (1024 + std::uint64_t(config_.core.sram_port_bytes) - 1) / std::uint64_t(config_.core.sram_port_bytes) : 0;
  if (options_.rtlCheck) {
    if (!options_.timingOnly) {
      std::vector<std::uint8_t> want(rr.bytes.size());
      state_.sram.read(rr.addr, want.data(), want.size());
      const std::size_t size = matrix ? 4 : std::size_t(dtypeSize(inst.type));  // the result's element size
      const int digits = int(2 * size);
      for (std::size_t i = 0; i + size <= want.size(); i += size)
        if (std::memcmp(want.data() + i, rr.bytes.data() + i, size) != 0) {
          std::uint32_t got = 0, ref = 0;
          std::memcpy(&got, rr.bytes.data() + i, size), std::memcpy(&ref, want.data() + i, size);
          char text[160];
          std::snprintf(text, sizeof text, "rtl-check: element %zu differs: RTL 0x%0*x, reference semantics 0x%0*x", i / size, digits, got,
                        digits, ref);
          fault(th, pc, text);
        }
    }
    const std::uint64_t modelLatency = u.completion - u.occupancy - writeBack;
    if (busy != u.occupancy || rr.latencyCycles != modelLatency)
      fault(th, pc, "rtl-check: cycles differ: the RTL takes operands for " + std::to_string(busy) + " cycles and " +
                        std::to_string(rr.latencyCycles) + " more to its last result; the timing model " + std::to_string(u.occupancy) +
                        " and " + std::to_string(modelLatency));
  }
  if (!options_.timingOnly) state_.sram.write(rr.addr, rr.bytes.data(), rr.bytes.size());
  // The datapath's cycles are the RTL's; the SRAM port bookings stay the core's.
  u.occupancy = busy;
  u.completion = busy + rr.latencyCycles + writeBack;
  return r;
}

void CoreModel::fault(int thread, std::uint32_t pc, const std::string& what) {
  throw CoreFault{"core " + std::to_string(coreId_) + ", " + whereText(program_, thread, pc) + ": " + what};
}

std::uint64_t CoreModel::hazardTime(const ThreadCtl& t, const AccessList& accesses) const {
  std::uint64_t at = 0;
  for (const Access& a : accesses) {
    for (const Pending& w : t.pendingWrites)
      if (overlaps(a, w.range)) at = std::max(at, w.done);  // read after write, write after write
    if (a.write)
      for (const Pending& r : t.pendingReads)
        if (overlaps(a, r.range)) at = std::max(at, r.done);  // write after read
  }
  return at;
}

std::uint64_t CoreModel::drainTime(const ThreadCtl& t) const {
  std::uint64_t at = 0;
  for (const Pending& w : t.pendingWrites) at = std::max(at, w.done);
  for (const Pending& r : t.pendingReads) at = std::max(at, r.done);
  return at;
}

CoreModel::PortChoice CoreModel::choosePorts(const Usage& u, std::uint64_t from) const {
  // Try every rotation of the read and write groups over the ports; keep the earliest start
  // (the lowest rotation on a tie, so the choice never depends on anything but the state).
  const std::size_t nr = readPorts_.size(), nw = writePorts_.size();
  PortChoice best{UINT64_MAX, 0, 0};
  for (std::size_t rr = 0; rr < (u.readPortCycles.empty() ? 1 : nr); ++rr)
    for (std::size_t wr = 0; wr < (u.writePortCycles.empty() ? 1 : nw); ++wr) {
      std::uint64_t s = from;
      for (bool moved = true; moved;) {
        moved = false;
        const auto fit = [&](const PortTimeline& port, std::uint64_t offset, std::uint64_t cycles) {
          const std::uint64_t t = port.earliestFree(s + offset, cycles) - offset;
          if (t > s) s = t, moved = true;
        };
        for (std::size_t g = 0; g < u.readPortCycles.size(); ++g) fit(readPorts_[(g + rr) % nr], 0, u.readPortCycles[g]);
        for (std::size_t g = 0; g < u.writePortCycles.size(); ++g)
          fit(writePorts_[(g + wr) % nw], u.writeOffset, u.writePortCycles[g]);
        fit(nocRead_, u.nocOffset, u.nocReadCycles);
        fit(nocWrite_, u.nocOffset, u.nocWriteCycles);
      }
      if (s < best.start) best = {s, rr, wr};
    }
  return best;
}

void CoreModel::commitPorts(const Usage& u, const PortChoice& c) {
  const std::size_t nr = readPorts_.size(), nw = writePorts_.size();
  for (std::size_t g = 0; g < u.readPortCycles.size(); ++g) {
    readPorts_[(g + c.readRotation) % nr].reserve(c.start, u.readPortCycles[g]);
    stats_.readPortBusy[(g + c.readRotation) % nr] += u.readPortCycles[g];
  }
  for (std::size_t g = 0; g < u.writePortCycles.size(); ++g) {
    writePorts_[(g + c.writeRotation) % nw].reserve(c.start + u.writeOffset, u.writePortCycles[g]);
    stats_.writePortBusy[(g + c.writeRotation) % nw] += u.writePortCycles[g];
  }
  nocRead_.reserve(c.start + u.nocOffset, u.nocReadCycles);
  nocWrite_.reserve(c.start + u.nocOffset, u.nocWriteCycles);
  stats_.nocReadBusy += u.nocReadCycles;
  stats_.nocWriteBusy += u.nocWriteCycles;
}

void CoreModel::wakeSemaphoreWaiters(int semaphore, std::uint64_t time, const SemEvent* cause) {
  for (int th = 0; th < kThreadsMax; ++th) {
    ThreadCtl& t = ctl_[std::size_t(th)];
    if (t.status == ThreadStatus::WaitSemaphore && t.waitSemaphore == semaphore) {
      t.status = ThreadStatus::Active;
      t.ready = std::max(t.ready, time);
      stats_.threads[std::size_t(th)].stallSemaphore += t.ready - t.blockedSince;
      t.waitSemaphore = -1;
      // Until the transfer that ends the wait was issued, the thread waited for its sender (a
      // synchronization wait); after, for the transfer in flight.
      if (cause && cause->otherCore >= 0) {
        const std::uint64_t inFlight = std::min(std::max(t.blockedSince, cause->sent), t.ready);
        activity_.add(Activity::SyncWait, t.blockedSince, inFlight);
        activity_.add(cause->carried, inFlight, t.ready);
        if (t.ready > t.blockedSince) waits_.push_back({t.blockedSince, t.ready, cause->sent, cause->otherCore, cause->carried});
      } else {
        activity_.add(Activity::SyncWait, t.blockedSince, t.ready);
      }
    }
  }
}

Activity CoreModel::transferActivity(int other) const {
  return dieOfCore(config_, other) == dieOfCore(config_, coreId_) ? Activity::OnDie : Activity::DieEdge;
}

void CoreModel::finishActivities() {
  segments_ = activity_.classify(stats_.cycles);
  stats_.activity = countActivities(segments_, 0, stats_.cycles);
  stats_.held = activity_.held();
  activity_ = ActivityLog{};  // the spans are in the segments now (a whole tile's logs are GBs)
}

void CoreModel::releaseBarrierIfComplete() {
  std::uint64_t release = 0;
  bool any = false;
  for (const ThreadCtl& t : ctl_) {
    if (t.status == ThreadStatus::Active || t.status == ThreadStatus::WaitSemaphore) return;
    if (t.status == ThreadStatus::WaitBarrier) any = true, release = std::max(release, t.blockedSince);
  }
  if (!any) return;
  for (int th = 0; th < kThreadsMax; ++th) {
    ThreadCtl& t = ctl_[std::size_t(th)];
    if (t.status != ThreadStatus::WaitBarrier) continue;
    t.status = ThreadStatus::Active;
    stats_.threads[std::size_t(th)].stallBarrier += release - t.blockedSince;
    activity_.add(Activity::SyncWait, t.blockedSince, release);
    t.ready = release;
  }
}

void CoreModel::step(int th, std::uint64_t now) {
  ThreadCtl& t = ctl_[std::size_t(th)];
  ThreadState& ts = state_.threads[std::size_t(th)];
  const std::uint32_t pc = ts.pc;
  if (pc >= program_.code.size()) fault(th, pc, "ran past the end of the program (missing halt?)");
  if (stats_.instructions >= options_.maxInstructions)
    fault(th, pc, "instruction limit of " + std::to_string(options_.maxInstructions) + " reached");
  if (now >= maxCycles_)
    fault(th, pc, "still running at cycle " + std::to_string(now) + " (sim.max_cycles = " + std::to_string(maxCycles_) +
                      "): a runaway program (no halt reached?)");
  const Instruction& inst = program_.code[pc];

  // Retire bookkeeping that can no longer delay anything.
  const auto retire = [now](std::vector<Pending>& v) {
    v.erase(std::remove_if(v.begin(), v.end(), [now](const Pending& p) { return p.done <= now; }), v.end());
  };
  retire(t.pendingWrites);
  retire(t.pendingReads);

  // Scalar instructions that touch no SRAM book nothing shared: their start is the thread's
  // ready cycle. This path gives the same result as the general one below, with less work.
  if (opInfo(inst.op).unit == Unit::Scalar && inst.op != Op::Ld && inst.op != Op::Lw && inst.op != Op::St &&
      inst.op != Op::Sw) {
    StepResult r;
    try {
      r = execute(state_, th, inst, {});
    } catch (const ExecError& e) {
      fault(th, pc, e.what());
    }
    const std::uint64_t cycles = std::uint64_t(config_.core.scalar_cycles);
    ThreadStats& st = stats_.threads[std::size_t(th)];
    st.instructions += 1;
    stats_.instructions += 1;
    stats_.unitInstructions[std::size_t(Unit::Scalar)] += 1;
    stats_.unitBusy[std::size_t(Unit::Scalar)] += cycles;
    if (options_.trace) trace_.push_back({t.ready, cycles, Unit::Scalar, std::uint8_t(th), pc});
    activity_.add(Activity::Compute, t.ready, t.ready + cycles);
    t.ready += cycles;
    lastCompletion_ = std::max(lastCompletion_, t.ready);
    if (r.kind == StepResult::Kind::Halt) {
      t.status = ThreadStatus::Halted;
      releaseBarrierIfComplete();
    }
    return;
  }

  const Operands ops = resolveOperands(ts, inst);
  // put/get/sincr travel the mesh: the network times them and moves the data.
  const bool remote = inst.op == Op::Put || inst.op == Op::Get || inst.op == Op::Sincr || inst.op == Op::HbmRead ||
                      inst.op == Op::HbmWrite;
  Usage u = remote ? Usage{} : timing_.usage(inst, ops);
  if (remote) u.unit = Unit::Dma;
  const AccessList accesses = accessesOf(inst, ops);

  // The start cycle, and what held it back.
  ThreadStats& st = stats_.threads[std::size_t(th)];
  // A fence waits for everything the thread has in flight; other instructions for what they touch.
  const std::uint64_t s1 = std::max(t.ready, inst.op == Op::Fence ? drainTime(t) : hazardTime(t, accesses));
  const std::uint64_t s2 = sharedUnit(u.unit) ? std::max(s1, unitFree_[std::size_t(u.unit)]) : s1;
  const PortChoice ports = choosePorts(u, s2);
  const std::uint64_t s = ports.start;

  StepResult r;
  if (remote) {
    const std::uint64_t done = stepRemote(th, inst, ops, s);
    // The engine is busy while it streams a put's data out; a get takes its setup and one cycle
    // to send the request, a signal one cycle. A get's data is local (for hazards) when it has
    // arrived.
    const std::uint64_t setup = inst.op == Op::Sincr ? 0 : std::uint64_t(config_.core.dma_setup_cycles);
    u.occupancy = (inst.op == Op::Put || inst.op == Op::HbmWrite) ? std::max<std::uint64_t>(1, done - s) : setup + 1;
    u.completion = inst.op == Op::Sincr ? 1 : std::max<std::uint64_t>(1, done - s);
  } else if (rtl_ && RtlDatapath::supports(inst)) {
    r = stepRtl(th, pc, inst, ops, u, s);
  } else {
    try {
      ExecOptions exec;
      exec.values = !options_.timingOnly;
      r = execute(state_, th, inst, exec);
    } catch (const ExecError& e) {
      fault(th, pc, e.what());
    }
  }
  if (r.kind == StepResult::Kind::Wait) {
    t.status = ThreadStatus::WaitSemaphore;
    t.waitSemaphore = inst.r[0];
    t.blockedSince = now;
    return;
  }
  commitPorts(u, ports);
  st.stallHazard += s1 - t.ready;
  st.stallUnit += s2 - s1;
  st.stallPort += s - s2;
  st.instructions += 1;
  stats_.instructions += 1;
  stats_.unitInstructions[std::size_t(u.unit)] += 1;
  stats_.unitBusy[std::size_t(u.unit)] += u.occupancy;
  if (options_.trace) trace_.push_back(traceSlice(inst, ops, u, s, th, pc));
  if (!remote) activity_.add(Activity::Compute, s, s + std::max(u.occupancy, u.completion));
  else if (inst.op == Op::HbmRead || inst.op == Op::HbmWrite) activity_.add(Activity::DataLoad, s, s + u.completion);
  else activity_.add(transferActivity(int(ops.core)), s, s + u.completion);
  stats_.matrixFlops += r.matrixFlops;
  stats_.vectorFlops += r.vectorFlops;
  if (sharedUnit(u.unit)) unitFree_[std::size_t(u.unit)] = s + u.occupancy;
  for (const Access& a : accesses) {
    if (a.write) t.pendingWrites.push_back({a, s + u.completion});
    else t.pendingReads.push_back({a, s + u.occupancy});
  }
  lastCompletion_ = std::max(lastCompletion_, s + u.completion);
  t.ready = s + u.threadCycles;

  if (r.signalSemaphore >= 0) events_.push({s + u.completion, eventSeq_++, r.signalSemaphore, r.signalCount});
  switch (inst.op) {
    case Op::Sinc: wakeSemaphoreWaiters(inst.r[0], s + u.threadCycles, nullptr); break;
    case Op::Fork: {
      ThreadCtl& other = ctl_[inst.r[0]];
      other.status = ThreadStatus::Active;
      other.ready = s + u.threadCycles;
      break;
    }
    default: break;
  }
  if (r.kind == StepResult::Kind::Halt) t.status = ThreadStatus::Halted;
  if (r.kind == StepResult::Kind::Barrier) {
    t.status = ThreadStatus::WaitBarrier;
    t.blockedSince = t.ready;
  }
  releaseBarrierIfComplete();
}

TraceSlice CoreModel::traceSlice(const Instruction& inst, const Operands& ops, const Usage& u, std::uint64_t start, int thread,
                                 std::uint32_t pc) const {
  TraceSlice t{start, u.occupancy, u.unit, std::uint8_t(thread), pc};
  std::uint64_t sram = 0;
  for (std::uint64_t c : u.readPortCycles) sram += c * std::uint64_t(config_.core.sram_port_bytes);
  for (std::uint64_t c : u.writePortCycles) sram += c * std::uint64_t(config_.core.sram_port_bytes);
  sram += u.nocReadCycles * std::uint64_t(config_.core.noc_read_bytes_per_cycle) +
          u.nocWriteCycles * std::uint64_t(config_.core.noc_write_bytes_per_cycle);
  std::uint64_t mesh = 0, hbm = 0;
  if (inst.op == Op::Put || inst.op == Op::Get) mesh = ops.n, sram += ops.n;
  if (inst.op == Op::HbmRead || inst.op == Op::HbmWrite) hbm = ops.n, sram += ops.n;
  const auto clamp = [](std::uint64_t v) { return std::uint32_t(std::min<std::uint64_t>(v, UINT32_MAX)); };
  t.sramBytes = clamp(sram), t.meshBytes = clamp(mesh), t.hbmBytes = clamp(hbm);
  return t;
}

void CoreModel::receiveSignal(::tlm::tlm_generic_payload& p, sc_core::sc_time&) {
  SignalDelivery* s = nullptr;
  p.get_extension(s);
  if (!s || s->semaphore < 0 || s->semaphore >= kSemaphores) {
    p.set_response_status(::tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  SemEvent e{s->cycle, eventSeq_++, s->semaphore, s->count};
  e.otherCore = s->otherCore, e.sent = s->sentCycle;
  e.carried = s->hbm ? Activity::DataLoad : transferActivity(s->otherCore);
  events_.push(e);
  incoming_.notify(sc_core::SC_ZERO_TIME);
  p.set_response_status(::tlm::TLM_OK_RESPONSE);
}

bool CoreModel::anyThreadWaitsForSemaphore() const {
  for (const ThreadCtl& t : ctl_)
    if (t.status == ThreadStatus::WaitSemaphore) return true;
  return false;
}

bool CoreModel::anyThreadWaitsForTransfer() const {
  for (const ThreadCtl& t : ctl_)
    if (t.status == ThreadStatus::WaitSemaphore &&
        (t.waitSemaphore < 0 || t.waitSemaphore >= kSemaphores || (remoteSemaphores_ >> t.waitSemaphore & 1)))
      return true;
  return false;
}

std::uint64_t remoteSemaphores(const std::vector<const Program*>& programs) {
  std::uint64_t mask = 0;
  for (const Program* p : programs)
    for (const Instruction& inst : p->code) {
      // The semaphore a transfer signals at its destination: sincr's operand, put's immediate
      // (-1: none). (A get or an HBM transfer signals the core that issued it, whose event is
      // booked before the instruction returns: no core has to keep step with the kernel for it.)
      // Out-of-range values fault when issued; here they mark every semaphore.
      const std::int64_t sem = inst.op == Op::Sincr ? std::int64_t(inst.r[1]) : inst.op == Op::Put ? inst.imm : -1;
      if (sem >= kSemaphores || sem < -1) return ~std::uint64_t(0);
      if (sem >= 0) mask |= std::uint64_t(1) << sem;
    }
  return mask;
}

bool CoreModel::blocked() const {
  bool waiting = false;
  for (const ThreadCtl& t : ctl_) {
    if (t.status == ThreadStatus::Active) return false;
    waiting = waiting || t.status == ThreadStatus::WaitSemaphore || t.status == ThreadStatus::WaitBarrier;
  }
  return waiting && error_.empty();
}

std::string CoreModel::waitingText() const {
  std::string waiting;
  for (int th = 0; th < kThreadsMax; ++th) {
    const ThreadCtl& t = ctl_[std::size_t(th)];
    if (t.status == ThreadStatus::WaitSemaphore)
      waiting += "\n  core " + std::to_string(coreId_) + ", " + whereText(program_, th, state_.threads[std::size_t(th)].pc) +
                 " waits for semaphore " + std::to_string(t.waitSemaphore) + " (value " +
                 std::to_string(state_.sem[std::size_t(t.waitSemaphore)]) + ")";
    if (t.status == ThreadStatus::WaitBarrier)
      waiting += "\n  core " + std::to_string(coreId_) + ", " + whereText(program_, th, state_.threads[std::size_t(th)].pc - 1) +
                 " waits at a barrier";
  }
  return waiting;
}

std::uint64_t CoreModel::stepRemote(int th, const Instruction& inst, const Operands& ops, std::uint64_t s) {
  const std::uint32_t pc = state_.threads[std::size_t(th)].pc;
  RemoteTransfer r;
  r.srcCore = coreId_;
  r.dstCore = int(ops.core);
  using Kind = RemoteTransfer::Kind;
  if (inst.op == Op::Sincr) {
    if (ops.core >= state_.coreCount)
      fault(th, pc, std::string("sincr: core ") + std::to_string(ops.core) + " does not exist (this system has " +
                        std::to_string(state_.coreCount) + " core positions)");
    if (inst.r[1] >= kSemaphores) fault(th, pc, "semaphore " + std::to_string(inst.r[1]) + " does not exist (0..63)");
    r.kind = Kind::Signal;
    r.semaphore = inst.r[1];
    r.count = std::int64_t(ops.n);
  } else {
    // put, get, hbmrd, hbmwr: a local SRAM range, a remote range, bytes, a completion semaphore.
    const bool hbm = inst.op == Op::HbmRead || inst.op == Op::HbmWrite;
    const bool outgoing = inst.op == Op::Put || inst.op == Op::HbmWrite;  // local data leaves
    if (!hbm && ops.core >= state_.coreCount)
      fault(th, pc, std::string(opInfo(inst.op).mnemonic) + ": core " + std::to_string(ops.core) +
                        " does not exist (this system has " + std::to_string(state_.coreCount) + " core positions)");
    if (inst.imm < -1 || inst.imm >= kSemaphores)
      fault(th, pc, "semaphore " + std::to_string(inst.imm) + " does not exist (0..63, or none)");
    r.kind = inst.op == Op::Put ? Kind::Put : inst.op == Op::Get ? Kind::Get : inst.op == Op::HbmRead ? Kind::HbmRead : Kind::HbmWrite;
    if (hbm) r.dstCore = coreId_;
    r.localAddr = outgoing ? ops.a : ops.d;
    r.remoteAddr = outgoing ? ops.d : ops.a;
    r.bytes = ops.n;
    r.semaphore = int(inst.imm);
    if (!state_.sram.contains(r.localAddr, r.bytes))
      fault(th, pc, std::string("SRAM access out of range: ") + opInfo(inst.op).mnemonic + (outgoing ? " source" : " destination") +
                        " [" + std::to_string(r.localAddr) + ", " + std::to_string(r.localAddr + r.bytes) +
                        ") does not fit in the SRAM of " + std::to_string(state_.sram.size()) + " bytes");
  }
  // A put, get or HBM transfer leaves after the DMA engine's setup, as a local DMA starts its
  // ports then (docs/timing.md); a signal has no descriptor to set up.
  r.issueCycle = s + (inst.op == Op::Sincr ? 0 : std::uint64_t(config_.core.dma_setup_cycles));
  r.seq = remoteSeq_++;
  // The network handles requests at the kernel's present: bring the kernel to the issue cycle.
  const std::uint64_t kernelNow = timeToCycles(sc_core::sc_time_stamp());
  if (r.issueCycle > kernelNow) wait(cyclesToTime(r.issueCycle - kernelNow));
  ::tlm::tlm_generic_payload p;
  p.set_command(::tlm::TLM_IGNORE_COMMAND);
  p.set_extension(&r);
  sc_core::sc_time zero = sc_core::SC_ZERO_TIME;
  toNetwork->b_transport(p, zero);
  p.clear_extension(&r);
  if (!r.error.empty()) fault(th, pc, std::string(opInfo(inst.op).mnemonic) + ": " + r.error);
  state_.threads[std::size_t(th)].pc = pc + 1;
  return r.localDoneCycle;
}

void CoreModel::finalizeStats() {
  std::uint64_t end = lastCompletion_;
  for (const ThreadCtl& t : ctl_) end = std::max(end, t.ready);
  stats_.cycles = end;
  finishActivities();
}

void CoreModel::run() {
  try {
    if (!error_.empty()) return;
    for (int th = 0; th < kThreadsMax; ++th)
      if (state_.threads[std::size_t(th)].status == ThreadState::Status::Running) ctl_[std::size_t(th)].status = ThreadStatus::Active;
    for (;;) {
      int chosen = -1;
      for (int th = 0; th < kThreadsMax; ++th)
        if (ctl_[std::size_t(th)].status == ThreadStatus::Active &&
            (chosen < 0 || ctl_[std::size_t(th)].ready < ctl_[std::size_t(chosen)].ready))
          chosen = th;
      const bool haveEvent = !events_.empty();
      if (chosen < 0 && !haveEvent) {
        // Threads that wait for a semaphore may still be signalled by another core (or wait
        // for good: the run then reports every core that waits, together).
        if (!anyThreadWaitsForSemaphore()) break;
        wait(incoming_);
        continue;
      }
      const std::uint64_t next = chosen < 0 ? events_.top().time
                                            : haveEvent ? std::min(events_.top().time, ctl_[std::size_t(chosen)].ready)
                                                        : ctl_[std::size_t(chosen)].ready;
      const std::uint64_t kernelNow = timeToCycles(sc_core::sc_time_stamp());
      if (anyThreadWaitsForTransfer() && next > kernelNow) {
        // A signal from another core may still arrive for any cycle after the kernel's present:
        // move with the kernel, and look again whenever something arrives. (Threads that wait
        // for a semaphore no other core signals, one of a sinc or of this core's own DMA, get or
        // HBM transfer, whose completions are booked as they issue, do not hold it back: the
        // core runs ahead as when nothing waits.)
        wait(cyclesToTime(next - kernelNow), incoming_);
        continue;
      }
      if (haveEvent && (chosen < 0 || events_.top().time <= ctl_[std::size_t(chosen)].ready)) {
        const SemEvent e = events_.top();
        events_.pop();
        state_.sem[std::size_t(e.semaphore)] += e.count;
        wakeSemaphoreWaiters(e.semaphore, std::max(e.time, lastStep_), &e);
        continue;
      }
      const std::uint64_t now = ctl_[std::size_t(chosen)].ready;
      // Temporal decoupling: while no thread waits for another core, the core's time runs ahead
      // of the kernel's by less than a quantum, so the kernel is entered once per quantum.
      if (now >= kernelNow + quantum_) wait(cyclesToTime(now - kernelNow));
      lastStep_ = now;
      for (auto& p : readPorts_) p.retire(now);
      for (auto& p : writePorts_) p.retire(now);
      nocRead_.retire(now);
      nocWrite_.retire(now);
      step(chosen, now);
    }
    // Nothing can run and nothing is pending: every thread halted, or some wait at a barrier that
    // can never complete (a wait for a semaphore keeps the loop alive: another core may signal).
    const std::string waiting = waitingText();
    if (!waiting.empty())
      throw CoreFault{"core " + std::to_string(coreId_) + ": deadlock: every thread is waiting and nothing is pending:" + waiting};
    std::uint64_t end = lastCompletion_;
    for (const ThreadCtl& t : ctl_) end = std::max(end, t.ready);
    stats_.cycles = end;
    finishActivities();
    const std::uint64_t kernelNow = timeToCycles(sc_core::sc_time_stamp());
    if (end > kernelNow) wait(cyclesToTime(end - kernelNow));
    finished_ = true;
  } catch (const CoreFault& f) {
    error_ = f.message;
    std::uint64_t end = lastCompletion_;
    for (const ThreadCtl& t : ctl_) end = std::max(end, t.ready);
    stats_.cycles = end;
    finishActivities();
  }
}

}  // namespace tatami::tlm
