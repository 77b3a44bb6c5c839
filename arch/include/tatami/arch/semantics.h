// The reference semantics: what every instruction does to a core's state, with no notion of time.
// This is the living spec (docs/isa.md); the TLM core calls it for values, and fast kernels are
// tested against it. runFunctional() is a plain executor of a whole program.
#pragma once

#include <array>
#include <initializer_list>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "tatami/arch/isa.h"
#include "tatami/arch/program.h"
#include "tatami/arch/sram.h"

namespace tatami {

struct ThreadState {
  enum class Status : std::uint8_t { Idle, Running, Halted };
  std::array<std::uint64_t, kRegisters> r{};
  std::uint32_t pc = 0;
  Status status = Status::Idle;
  std::uint64_t seed = 0;  ///< stochastic rounding seed (setseed)
  int biasE4m3 = 7;        ///< CFP8 exponent biases (setbias)
  int biasE5m2 = 15;
};

struct CoreState {
  CoreState(std::uint64_t sramBytes, int threadCount) : sram(sramBytes), threadCount(threadCount) {}
  Sram sram;
  int threadCount;  ///< hardware threads that exist (core.threads)
  std::uint64_t coreId = 0;    ///< this core's id in the system (row-major over all positions)
  std::uint64_t coreCount = 1; ///< cores in the system
  std::array<std::int64_t, kSemaphores> sem{};
  std::array<ThreadState, kThreadsMax> threads{};
};

/// An instruction's operands read from its thread's registers at issue.
struct Operands {
  std::uint64_t d = 0, a = 0, b = 0, c = 0;  ///< SRAM addresses (mma: c = C tile)
  std::uint64_t n = 0;                       ///< elements (vector), K (mma), bytes (dma), count (gather)
  std::uint64_t rows = 0, cols = 0;          ///< vrow*/vcolsum/vtr shape; dma2d rows and row bytes
  std::uint64_t dstride = 0, sstride = 0;    ///< dma2d/dma3d row strides in bytes
  std::uint64_t planes = 0, dplane = 0, splane = 0;  ///< dma3d planes of rows and their strides in bytes
  std::uint64_t idx = 0, elem = 0;           ///< gather/scatter index list address and element bytes
  std::uint64_t scalar = 0;                  ///< vadds/vmuls/vfill/viota scalar
  std::uint64_t tensor = 0, elemBase = 0;    ///< vcvtsr stochastic rounding key
  std::uint64_t core = 0;                    ///< put/get/sincr: the other core's id
};
Operands resolveOperands(const ThreadState& t, const Instruction& inst);

/// One SRAM range an instruction reads or writes (gather sources and scatter destinations,
/// which depend on index data, are not listed).
struct Access {
  std::uint64_t addr = 0, bytes = 0;
  bool write = false;
};
/// At most four ranges (mma: A, B and C read, C written); no allocation.
class AccessList {
 public:
  AccessList() = default;
  AccessList(std::initializer_list<Access> list) {
    for (const Access& a : list) push_back(a);
  }
  void push_back(const Access& a) { items_[std::size_t(count_++)] = a; }
  const Access* begin() const { return items_.data(); }
  const Access* end() const { return items_.data() + count_; }
  int size() const { return count_; }

 private:
  std::array<Access, 4> items_{};
  int count_ = 0;
};
AccessList accessesOf(const Instruction& inst, const Operands& ops);

/// A program fault; the executor's caller adds core, thread, pc and the instruction.
class ExecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StepResult {
  enum class Kind : std::uint8_t { Continue, Halt, Wait, Barrier };
  Kind kind = Kind::Continue;
  int signalSemaphore = -1;      ///< DMA: semaphore to increment when the transfer completes
  std::int64_t signalCount = 1;  ///< ... by this much
  std::uint64_t matrixFlops = 0;
  std::uint64_t vectorFlops = 0;
};

struct ExecOptions {
  bool values = true;             ///< false: timing-only; floating-point results are not computed
  bool referenceKernels = false;  ///< true: the plain reference loops instead of the fast kernels
};

/// Executes one instruction of `thread` (its pc must point at `inst`): checks, effects, next pc.
/// A Wait leaves the pc unchanged (retry later). Throws ExecError.
StepResult execute(CoreState& core, int thread, const Instruction& inst, const ExecOptions& options = {});

/// Loads `.init` blocks into SRAM (float blocks only when options.values) and starts thread 0
/// (at pc 0) and the `.thread` entries.
void loadProgram(CoreState& core, const Program& program, const ExecOptions& options);

/// Runs a program without timing: threads take turns one instruction at a time, in thread order.
/// Throws ExecError with core/thread/pc context on a fault or a deadlock. Returns instructions run.
std::uint64_t runFunctional(CoreState& core, const Program& program, std::uint64_t maxInstructions = 1ull << 32);

/// "thread T, pc P (mnemonic ...)" for error messages.
std::string whereText(const Program& program, int thread, std::uint32_t pc);

/// Reads element `i` of an array of `type` at `addr` as FP32 (i32 converted), for tools and tests.
float loadElement(const Sram& sram, std::uint64_t addr, DType type, std::uint64_t i, int bias);

}  // namespace tatami
