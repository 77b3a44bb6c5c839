// Reference semantics: operand resolution, checks, scalar, synchronization and DMA instructions,
// and the plain functional executor. Vector and matrix instructions: semantics_vector.cpp,
// semantics_matrix.cpp.
#include "tatami/arch/semantics.h"

#include <cstring>
#include <sstream>

#include "tatami/arch/assembler.h"
#include "tatami/arch/formats.h"
#include "semantics_internal.h"

namespace tatami {

namespace detail {

std::string hex(std::uint64_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

void checkRange(const CoreState& core, std::uint64_t addr, std::uint64_t bytes, const char* what) {
  if (!core.sram.contains(addr, bytes))
    throw ExecError(std::string("SRAM access out of range: ") + what + " [" + hex(addr) + ", " + hex(addr + bytes) +
                    ") (" + std::to_string(bytes) + " bytes) does not fit in the SRAM of " +
                    std::to_string(core.sram.size()) + " bytes [0x0, " + hex(core.sram.size()) + ")");
}

void checkAligned(std::uint64_t addr, std::uint64_t alignment, const char* what) {
  if (addr % alignment)
    throw ExecError(std::string("misaligned access: ") + what + " address " + hex(addr) + " is not a multiple of " +
                    std::to_string(alignment) + " bytes");
}

}  // namespace detail

using detail::checkAligned;
using detail::checkRange;

namespace {

std::uint64_t reg(const ThreadState& t, std::uint8_t r) { return r == 0 ? 0 : t.r[r]; }

std::uint64_t second(const ThreadState& t, const Instruction& inst) {
  return inst.immOperand ? std::uint64_t(inst.imm) : reg(t, inst.r[2]);
}

void setReg(ThreadState& t, std::uint8_t r, std::uint64_t v) {
  if (r != 0) t.r[r] = v;
}

}  // namespace

Operands resolveOperands(const ThreadState& t, const Instruction& inst) {
  Operands o;
  const auto R = [&](int f) { return reg(t, inst.r[f]); };
  switch (inst.op) {
    case Op::Vfma: o.d = R(0), o.a = R(1), o.b = R(2), o.c = R(3), o.n = R(4); break;
    case Op::Vsel: o.d = R(0), o.a = R(1), o.b = R(2), o.c = R(3), o.n = R(4); break;
    case Op::Vadds:
    case Op::Vmuls: o.d = R(0), o.a = R(1), o.scalar = R(2), o.n = R(3); break;
    case Op::Vfill:
    case Op::Viota: o.d = R(0), o.scalar = R(1), o.n = R(2); break;
    case Op::Vexp:
    case Op::Vlog:
    case Op::Vrcp:
    case Op::Vrsqrt:
    case Op::Vcvt: o.d = R(0), o.a = R(1), o.n = R(2); break;
    case Op::Vcvtsr: o.d = R(0), o.a = R(1), o.n = R(2), o.tensor = R(3), o.elemBase = R(4); break;
    case Op::Vrowsum:
    case Op::Vrowmax:
    case Op::Vrowargmax:
    case Op::Vcolsum:
    case Op::Vtr: o.d = R(0), o.a = R(1), o.rows = R(2), o.cols = R(3); break;
    case Op::Mma:
    case Op::Mmaz: o.c = R(0), o.a = R(1), o.b = R(2), o.n = R(3); break;
    case Op::Dma: o.d = R(0), o.a = R(1), o.n = R(2); break;
    case Op::Dma2d: o.d = R(0), o.a = R(1), o.rows = R(2), o.cols = R(3), o.dstride = R(4), o.sstride = R(5); break;
    case Op::Dma3d:  // shape: bytes (bits 0-23), rows (24-43), planes (44-63); strides: row (low 32), plane (high 32)
      o.d = R(0), o.a = R(1), o.cols = R(2) & 0xFFFFFF, o.rows = (R(2) >> 24) & 0xFFFFF, o.planes = R(2) >> 44;
      o.dstride = R(3) & 0xFFFFFFFF, o.dplane = R(3) >> 32, o.sstride = R(4) & 0xFFFFFFFF, o.splane = R(4) >> 32;
      break;
    case Op::Gather:
    case Op::Scatter: o.d = R(0), o.a = R(1), o.idx = R(2), o.n = R(3), o.elem = R(4); break;
    case Op::Put:
    case Op::Get: o.core = R(0), o.d = R(1), o.a = R(2), o.n = R(3); break;
    case Op::Sincr: o.core = R(0), o.n = inst.immOperand ? std::uint64_t(inst.imm) : R(2); break;
    case Op::HbmRead: o.d = R(0), o.a = R(1), o.n = R(2); break;
    case Op::HbmWrite: o.a = R(1), o.d = R(0), o.n = R(2); break;
    case Op::Ld:
    case Op::St: o.a = R(1) + std::uint64_t(inst.imm), o.n = 8; break;
    case Op::Lw:
    case Op::Sw: o.a = R(1) + std::uint64_t(inst.imm), o.n = 4; break;
    default:
      if (opInfo(inst.op).unit == Unit::Vector) o.d = R(0), o.a = R(1), o.b = R(2), o.n = R(3);  // binary ops
      break;
  }
  return o;
}

AccessList accessesOf(const Instruction& inst, const Operands& o) {
  const std::uint64_t size = std::uint64_t(dtypeSize(inst.type));
  switch (inst.op) {
    case Op::Vfma:
    case Op::Vsel:
      return {{o.a, o.n * size, false}, {o.b, o.n * size, false}, {o.c, o.n * size, false}, {o.d, o.n * size, true}};
    case Op::Vadds:
    case Op::Vmuls:
    case Op::Vexp:
    case Op::Vlog:
    case Op::Vrcp:
    case Op::Vrsqrt: return {{o.a, o.n * size, false}, {o.d, o.n * size, true}};
    case Op::Vfill:
    case Op::Viota: return {{o.d, o.n * size, true}};
    case Op::Vcvt:
    case Op::Vcvtsr:
      return {{o.a, o.n * std::uint64_t(dtypeSize(inst.type2)), false}, {o.d, o.n * size, true}};
    case Op::Vrowsum:
    case Op::Vrowmax:
    case Op::Vrowargmax: return {{o.a, o.rows * o.cols * 4, false}, {o.d, o.rows * 4, true}};
    case Op::Vcolsum: return {{o.a, o.rows * o.cols * 4, false}, {o.d, o.cols * 4, true}};
    case Op::Vtr: return {{o.a, o.rows * o.cols * size, false}, {o.d, o.rows * o.cols * size, true}};
    case Op::Mma:
    case Op::Mmaz: {
      AccessList v = {{o.a, o.n * kMmaTile * size, false}, {o.b, o.n * kMmaTile * size, false}};
      if (inst.op == Op::Mma) v.push_back({o.c, kMmaTile * kMmaTile * 4, false});
      v.push_back({o.c, kMmaTile * kMmaTile * 4, true});
      return v;
    }
    case Op::Dma: return {{o.a, o.n, false}, {o.d, o.n, true}};
    case Op::Dma2d: {
      if (o.rows == 0) return {};
      return {{o.a, (o.rows - 1) * o.sstride + o.cols, false}, {o.d, (o.rows - 1) * o.dstride + o.cols, true}};
    }
    case Op::Dma3d: {
      if (o.rows == 0 || o.planes == 0) return {};
      return {{o.a, (o.planes - 1) * o.splane + (o.rows - 1) * o.sstride + o.cols, false},
              {o.d, (o.planes - 1) * o.dplane + (o.rows - 1) * o.dstride + o.cols, true}};
    }
    case Op::Gather: return {{o.idx, o.n * 4, false}, {o.d, o.n * o.elem, true}};
    case Op::Scatter: return {{o.idx, o.n * 4, false}, {o.a, o.n * o.elem, false}};
    case Op::Put: return {{o.a, o.n, false}};
    case Op::Get: return {{o.d, o.n, true}};
    case Op::HbmRead: return {{o.d, o.n, true}};
    case Op::HbmWrite: return {{o.a, o.n, false}};
    case Op::Vshuf: return {{o.a, o.n * size, false}, {o.b, std::uint64_t(kVectorBytes), false}, {o.d, o.n * size, true}};
    case Op::Ld:
    case Op::Lw: return {{o.a, o.n, false}};
    case Op::St:
    case Op::Sw: return {{o.a, o.n, true}};
    default:
      if (opInfo(inst.op).unit == Unit::Vector)
        return {{o.a, o.n * size, false}, {o.b, o.n * size, false}, {o.d, o.n * size, true}};
      return {};
  }
}

namespace {

StepResult executeDma(CoreState& core, const Instruction& inst, const Operands& o) {
  StepResult res;
  thread_local std::vector<std::uint8_t> buf;
  if (inst.op == Op::Sincr) {
    if (inst.r[1] >= kSemaphores)
      throw ExecError("semaphore " + std::to_string(inst.r[1]) + " does not exist (0.." + std::to_string(kSemaphores - 1) + ")");
  } else {
    if (inst.imm < -1 || inst.imm >= kSemaphores)
      throw ExecError("semaphore " + std::to_string(inst.imm) + " does not exist (0.." + std::to_string(kSemaphores - 1) + ", or none)");
    res.signalSemaphore = int(inst.imm);
  }
  switch (inst.op) {
    case Op::Dma:
      checkRange(core, o.a, o.n, "dma source");
      checkRange(core, o.d, o.n, "dma destination");
      buf.resize(o.n);
      core.sram.read(o.a, buf.data(), o.n);
      core.sram.write(o.d, buf.data(), o.n);
      break;
    case Op::Dma2d:
      for (std::uint64_t row = 0; row < o.rows; ++row) {
        checkRange(core, o.a + row * o.sstride, o.cols, "dma2d source row");
        checkRange(core, o.d + row * o.dstride, o.cols, "dma2d destination row");
      }
      buf.resize(o.cols);
      for (std::uint64_t row = 0; row < o.rows; ++row) {
        core.sram.read(o.a + row * o.sstride, buf.data(), o.cols);
        core.sram.write(o.d + row * o.dstride, buf.data(), o.cols);
      }
      break;
    case Op::Dma3d:
      if (o.cols == 0) break;
      if (o.planes * o.rows > (std::uint64_t(1) << 24))
        throw ExecError("dma3d of " + std::to_string(o.planes) + " planes of " + std::to_string(o.rows) +
                        " rows: more than 2^24 rows in one transfer");
      // Every row in range first, then the copy.
      for (std::uint64_t plane = 0; plane < o.planes; ++plane)
        for (std::uint64_t row = 0; row < o.rows; ++row) {
          checkRange(core, o.a + plane * o.splane + row * o.sstride, o.cols, "dma3d source row");
          checkRange(core, o.d + plane * o.dplane + row * o.dstride, o.cols, "dma3d destination row");
        }
      buf.resize(o.cols);
      for (std::uint64_t plane = 0; plane < o.planes; ++plane)
        for (std::uint64_t row = 0; row < o.rows; ++row) {
          core.sram.read(o.a + plane * o.splane + row * o.sstride, buf.data(), o.cols);
          core.sram.write(o.d + plane * o.dplane + row * o.dstride, buf.data(), o.cols);
        }
      break;
    case Op::Gather:
    case Op::Scatter: {
      const bool gather = inst.op == Op::Gather;
      checkRange(core, o.idx, o.n * 4, "index list");
      checkRange(core, gather ? o.d : o.a, o.n * o.elem, gather ? "gather destination" : "scatter source");
      buf.resize(o.elem);
      for (std::uint64_t i = 0; i < o.n; ++i) {
        const std::uint64_t index = core.sram.load<std::uint32_t>(o.idx + 4 * i);
        const std::uint64_t from = gather ? o.a + index * o.elem : o.a + i * o.elem;
        const std::uint64_t to = gather ? o.d + i * o.elem : o.d + index * o.elem;
        checkRange(core, from, o.elem, gather ? "gather source element" : "scatter source element");
        checkRange(core, to, o.elem, gather ? "gather destination element" : "scatter destination element");
        core.sram.read(from, buf.data(), o.elem);
        core.sram.write(to, buf.data(), o.elem);
      }
      break;
    }
    case Op::Put:
    case Op::Get:
    case Op::Sincr: {
      // One core alone can name only itself; the mesh routes to the others.
      if (o.core != core.coreId)
        throw ExecError(std::string(opInfo(inst.op).mnemonic) + ": core " + std::to_string(o.core) +
                        " is not reachable: this system has " + std::to_string(core.coreCount) +
                        " core(s) and runs core " + std::to_string(core.coreId) + " alone");
      if (inst.op == Op::Sincr) {
        res.signalSemaphore = inst.r[1];
        res.signalCount = std::int64_t(o.n);
        break;
      }
      checkRange(core, o.a, o.n, inst.op == Op::Put ? "put source" : "get source");
      checkRange(core, o.d, o.n, inst.op == Op::Put ? "put destination" : "get destination");
      buf.resize(o.n);
      core.sram.read(o.a, buf.data(), o.n);
      core.sram.write(o.d, buf.data(), o.n);
      break;
    }
    case Op::HbmRead:
    case Op::HbmWrite:
      throw ExecError(std::string(opInfo(inst.op).mnemonic) +
                      ": no interface processor with HBM is attached to this system (dip.per_tile applies to a "
                      "full training tile)");
    default: break;
  }
  return res;
}

}  // namespace

StepResult execute(CoreState& core, int thread, const Instruction& inst, const ExecOptions& options) {
  ThreadState& t = core.threads[std::size_t(thread)];
  StepResult res;
  std::uint32_t next = t.pc + 1;
  const std::uint64_t a = reg(t, inst.r[1]);
  const std::uint64_t b = second(t, inst);
  const auto branch = [&](bool taken) {
    if (taken) next = std::uint32_t(inst.imm);
  };
  const auto semIndex = [&]() -> int {
    if (inst.r[0] >= kSemaphores)
      throw ExecError("semaphore " + std::to_string(inst.r[0]) + " does not exist (0.." + std::to_string(kSemaphores - 1) + ")");
    return inst.r[0];
  };
  const auto semCount = [&]() -> std::int64_t {
    return std::int64_t(inst.immOperand ? std::uint64_t(inst.imm) : reg(t, inst.r[1]));
  };
  switch (inst.op) {
    case Op::Nop: break;
    case Op::Halt: res.kind = StepResult::Kind::Halt; break;
    case Op::Li: setReg(t, inst.r[0], std::uint64_t(inst.imm)); break;
    case Op::Add: setReg(t, inst.r[0], a + b); break;
    case Op::Sub: setReg(t, inst.r[0], a - b); break;
    case Op::Mul: setReg(t, inst.r[0], a * b); break;
    case Op::And: setReg(t, inst.r[0], a & b); break;
    case Op::Or: setReg(t, inst.r[0], a | b); break;
    case Op::Xor: setReg(t, inst.r[0], a ^ b); break;
    case Op::Shl: setReg(t, inst.r[0], a << (b & 63)); break;
    case Op::Shr: setReg(t, inst.r[0], a >> (b & 63)); break;
    case Op::Sra: setReg(t, inst.r[0], std::uint64_t(std::int64_t(a) >> (b & 63))); break;
    case Op::Min: setReg(t, inst.r[0], std::int64_t(a) < std::int64_t(b) ? a : b); break;
    case Op::Max: setReg(t, inst.r[0], std::int64_t(a) > std::int64_t(b) ? a : b); break;
    case Op::Slt: setReg(t, inst.r[0], std::int64_t(a) < std::int64_t(b) ? 1 : 0); break;
    case Op::Sltu: setReg(t, inst.r[0], a < b ? 1 : 0); break;
    case Op::Ld:
    case Op::Lw:
    case Op::St:
    case Op::Sw: {
      const std::uint64_t addr = reg(t, inst.r[1]) + std::uint64_t(inst.imm);
      const bool wide = inst.op == Op::Ld || inst.op == Op::St;
      const char* what = inst.op == Op::Ld ? "ld" : inst.op == Op::Lw ? "lw" : inst.op == Op::St ? "st" : "sw";
      checkAligned(addr, wide ? 8 : 4, what);
      checkRange(core, addr, wide ? 8 : 4, what);
      if (inst.op == Op::Ld) setReg(t, inst.r[0], core.sram.load<std::uint64_t>(addr));
      else if (inst.op == Op::Lw) setReg(t, inst.r[0], core.sram.load<std::uint32_t>(addr));
      else if (inst.op == Op::St) core.sram.store<std::uint64_t>(addr, reg(t, inst.r[0]));
      else core.sram.store<std::uint32_t>(addr, std::uint32_t(reg(t, inst.r[0])));
      break;
    }
    case Op::Beq: branch(reg(t, inst.r[0]) == a); break;
    case Op::Bne: branch(reg(t, inst.r[0]) != a); break;
    case Op::Blt: branch(std::int64_t(reg(t, inst.r[0])) < std::int64_t(a)); break;
    case Op::Bge: branch(std::int64_t(reg(t, inst.r[0])) >= std::int64_t(a)); break;
    case Op::Bltu: branch(reg(t, inst.r[0]) < a); break;
    case Op::Bgeu: branch(reg(t, inst.r[0]) >= a); break;
    case Op::Jmp: next = std::uint32_t(inst.imm); break;
    case Op::SetSeed: t.seed = reg(t, inst.r[0]); break;
    case Op::SetBias:
      if (inst.imm < 0 || inst.imm > kMaxCfpBias)
        throw ExecError("CFP8 bias " + std::to_string(inst.imm) + " is outside the 6-bit range [0, 63]");
      (inst.type == DType::E4m3 ? t.biasE4m3 : t.biasE5m2) = int(inst.imm);
      break;
    case Op::Sinc: {
      auto& sem = core.sem[std::size_t(semIndex())];
      std::int64_t sum = 0;
      if (__builtin_add_overflow(sem, semCount(), &sum))
        throw ExecError("semaphore " + std::to_string(inst.r[0]) + " would overflow a signed 64-bit count (" + std::to_string(sem) + " + " +
                        std::to_string(semCount()) + ")");
      sem = sum;
      break;
    }
    case Op::Swait: {
      auto& s = core.sem[std::size_t(semIndex())];
      if (s >= semCount()) s -= semCount();
      else {
        res.kind = StepResult::Kind::Wait;
        next = t.pc;
      }
      break;
    }
    case Op::Fork: {
      const int target = inst.r[0];
      if (target >= core.threadCount)
        throw ExecError("fork: thread " + std::to_string(target) + " does not exist (the core has " +
                        std::to_string(core.threadCount) + " threads)");
      ThreadState& other = core.threads[std::size_t(target)];
      if (other.status == ThreadState::Status::Running)
        throw ExecError("fork: thread " + std::to_string(target) + " is already running");
      other.status = ThreadState::Status::Running;
      other.pc = std::uint32_t(inst.imm);
      break;
    }
    case Op::Bar: res.kind = StepResult::Kind::Barrier; break;
    case Op::Fence: break;  // timing only: the core holds the thread until its work completes
    case Op::Dma:
    case Op::Dma2d:
    case Op::Dma3d:
    case Op::Gather:
    case Op::Scatter:
    case Op::Put:
    case Op::Get:
    case Op::Sincr:
    case Op::HbmRead:
    case Op::HbmWrite: res = executeDma(core, inst, resolveOperands(t, inst)); break;
    case Op::Mma:
    case Op::Mmaz: res = detail::executeMatrix(core, t, inst, resolveOperands(t, inst), options); break;
    default: res = detail::executeVector(core, t, inst, resolveOperands(t, inst), options); break;
  }
  t.pc = next;
  return res;
}

void loadProgram(CoreState& core, const Program& program, const ExecOptions& options) {
  for (const auto& b : program.inits) {
    const std::uint64_t size = std::uint64_t(dtypeSize(b.type));
    const std::uint64_t n = b.elementCount();
    checkRange(core, b.addr, n * size, ".init block");
    // Floating-point contents are values, not timing: a timing-only run leaves them out.
    if (!options.values && b.type != DType::I32) continue;
    std::vector<double> values = b.values;
    if (b.kind == InitBlock::Kind::Random) {
      values.resize(n);
      initRandomValues(b, values.data());
    }
    if (b.type == DType::I32) {
      std::vector<std::int32_t> v(values.begin(), values.end());
      core.sram.write(b.addr, v.data(), n * 4);
    } else {
      std::vector<float> v(values.begin(), values.end());
      detail::storeFloats(core.sram, b.addr, b.type, n, detail::defaultBias(b.type), v.data());
    }
  }
  for (auto& t : core.threads) t = ThreadState{};
  if (program.code.empty()) return;  // a core with no program: SRAM and semaphores only
  core.threads[0].status = ThreadState::Status::Running;
  for (const auto& e : program.threads) {
    if (e.thread >= core.threadCount)
      throw ExecError(".thread " + std::to_string(e.thread) + ": the core has only " + std::to_string(core.threadCount) +
                      " hardware threads (core.threads)");
    core.threads[std::size_t(e.thread)].status = ThreadState::Status::Running;
    core.threads[std::size_t(e.thread)].pc = e.pc;
  }
}

std::string whereText(const Program& program, int thread, std::uint32_t pc) {
  std::string s = "thread " + std::to_string(thread) + ", pc " + std::to_string(pc);
  if (pc < program.code.size()) s += " (" + instructionText(program.code[pc], &program) + ")";
  else s += " (past the end of the program)";
  return s;
}

std::uint64_t runFunctional(CoreState& core, const Program& program, std::uint64_t maxInstructions) {
  loadProgram(core, program, {});
  std::uint64_t executed = 0;
  std::array<bool, kThreadsMax> atBarrier{};
  for (;;) {
    bool progressed = false, anyRunning = false;
    for (int th = 0; th < kThreadsMax; ++th) {
      ThreadState& t = core.threads[std::size_t(th)];
      if (t.status != ThreadState::Status::Running || atBarrier[std::size_t(th)]) {
        anyRunning = anyRunning || (t.status == ThreadState::Status::Running);
        continue;
      }
      anyRunning = true;
      if (t.pc >= program.code.size())
        throw ExecError("core 0, " + whereText(program, th, t.pc) + ": ran past the end of the program (missing halt?)");
      const std::uint32_t pc = t.pc;
      StepResult r;
      try {
        r = execute(core, th, program.code[pc]);
      } catch (const ExecError& e) {
        throw ExecError("core 0, " + whereText(program, th, pc) + ": " + e.what());
      }
      if (r.signalSemaphore >= 0) core.sem[std::size_t(r.signalSemaphore)] += r.signalCount;
      if (r.kind == StepResult::Kind::Halt) t.status = ThreadState::Status::Halted;
      if (r.kind == StepResult::Kind::Barrier) atBarrier[std::size_t(th)] = true;
      if (r.kind != StepResult::Kind::Wait) {
        progressed = true;
        if (++executed >= maxInstructions) throw ExecError("instruction limit reached");
      }
    }
    // A barrier releases when every running thread has reached it.
    bool allAtBarrier = true, anyAtBarrier = false;
    for (int th = 0; th < kThreadsMax; ++th)
      if (core.threads[std::size_t(th)].status == ThreadState::Status::Running) {
        allAtBarrier = allAtBarrier && atBarrier[std::size_t(th)];
        anyAtBarrier = anyAtBarrier || atBarrier[std::size_t(th)];
      }
    if (anyAtBarrier && allAtBarrier) {
      atBarrier = {};
      progressed = true;
    }
    if (!anyRunning) return executed;
    if (!progressed) {
      std::string msg = "core 0: deadlock: every thread is waiting with nothing pending:";
      for (int th = 0; th < kThreadsMax; ++th)
        if (core.threads[std::size_t(th)].status == ThreadState::Status::Running)
          msg += "\n  " + whereText(program, th, core.threads[std::size_t(th)].pc) +
                 (atBarrier[std::size_t(th)] ? " waits at a barrier" : " waits on a semaphore");
      throw ExecError(msg);
    }
  }
}

}  // namespace tatami
