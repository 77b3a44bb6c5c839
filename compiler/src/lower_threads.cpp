// The program from its segments, over the core's hardware threads: each segment runs on the
// thread the plan gives it (thread_schedule.h), after waiting for the other threads' segments it
// depends on; a segment another thread waits for ends with a fence and a signal. Thread t > 0
// takes its own DMA semaphore, so that the threads never take each other's completions.
#include "lowering.h"

namespace tatami::compiler::lowering {

void Lowering::classify(Segment& seg) {
  seg.needs.units = 0;
  for (const Instruction& inst : seg.code.code()) {
    switch (tatami::opInfo(inst.op).unit) {
      case tatami::Unit::Vector: seg.needs.units |= kVectorUnit; break;
      case tatami::Unit::Matrix: seg.needs.units |= kMatrixUnit; break;
      case tatami::Unit::Dma: seg.needs.units |= kDmaEngine; break;
      default: break;
    }
    switch (inst.op) {
      case tatami::Op::Put:
      case tatami::Op::Get:
      case tatami::Op::Sincr:
        seg.needs.pinned = true;  // a collective: every core runs them in one order on thread 0
        seg.needs.units |= kMeshPort;
        break;
      case tatami::Op::HbmRead:
      case tatami::Op::HbmWrite: seg.needs.units |= kMeshPort; break;
      default: break;
    }
  }
}

namespace {

/// The instruction as thread t runs it: its own DMA completions on dmaSemaphore(t).
void ownSemaphores(Instruction& inst, int t) {
  switch (inst.op) {
    case tatami::Op::Dma:
    case tatami::Op::Dma2d:
    case tatami::Op::Dma3d:
    case tatami::Op::Gather:
    case tatami::Op::Scatter:
    case tatami::Op::HbmRead:
    case tatami::Op::HbmWrite:
      if (inst.imm == 0) inst.imm = dmaSemaphore(t);
      break;
    case tatami::Op::Swait:
      if (inst.r[0] == 0) inst.r[0] = std::uint8_t(dmaSemaphore(t));
      break;
    default: break;
  }
}

}  // namespace

void Lowering::assembleThreads(const std::vector<Segment>& segments, LoweredProgram& out) {
  std::vector<SegmentNeeds> needs;
  for (const Segment& s : segments) needs.push_back(s.needs);
  const double sync = 3.0 * double(c_.core.scalar_cycles);  // fence, sinc and swait
  const ThreadPlan plan = planThreads(needs, int(c_.core.threads), sync);
  for (int t = 0; t < plan.threadsUsed; ++t) {
    if (t > 0) emit_.startThread(t);
    for (std::size_t q = 0; q < segments.size(); ++q) {
      if (plan.thread[q] != t) continue;
      for (int a : plan.waitFor[q]) emit_.emit(tatami::Op::Swait, {threadSemaphore(a, t), 1});
      const std::uint32_t base = emit_.pc();
      emit_.append(segments[q].code, [t](Instruction& inst) {
        if (t > 0) ownSemaphores(inst, t);
      });
      for (std::size_t o = segments[q].firstOp; o < segments[q].endOp; ++o) {
        OpCost& oc = out.ops[o];
        oc.firstPc += base, oc.endPc += base, oc.thread = t, oc.start = plan.start[q];
        oc.waits = !plan.waitFor[q].empty();
      }
      if (plan.signalTo[q].empty()) continue;
      emit_.emit(tatami::Op::Fence, {});
      for (int b : plan.signalTo[q]) emit_.emit(tatami::Op::Sinc, {threadSemaphore(t, b), 1});
    }
    emit_.emit(tatami::Op::Halt, {});
  }
  out.estimatedCycles = plan.makespan;
  out.threadsUsed = plan.threadsUsed;
}

}  // namespace tatami::compiler::lowering
