// Which of the core's hardware threads runs each op of a compiled program, and where
// the threads wait for each other (docs/abi.md, "Threads"). Each op is a segment of code that
// touches some SRAM byte ranges; an op waits for every earlier op on another thread whose ranges
// overlap its own (a read after a write, a write over bytes still read, a buffer reused), so the
// threads compute what one thread in program order would. Ops are placed one after another, each
// on the thread where the cost model expects it to finish first (list scheduling); two ops that
// use a common unit (vector, matrix, DMA, mesh) never overlap, and the later one waits for the
// earlier, so each op's estimate, made for the units to itself, holds.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tatami::compiler {

/// The units an op's instructions use (a bit set): ops that share one run one after the other,
/// as the estimate of each assumes the unit to itself.
enum SegmentUnit : unsigned { kVectorUnit = 1, kMatrixUnit = 2, kDmaEngine = 4, kMeshPort = 8 };
constexpr int kSegmentUnits = 4;

struct SegmentNeeds {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> bytes;  ///< [first, end) SRAM ranges it reads or writes
  double cycles = 0;                                            ///< its estimate
  unsigned units = kVectorUnit;
  bool pinned = false;  ///< must run on thread 0 (it talks to other cores: their order is fixed)
  /// It only reads its bytes (an offloaded value's copy to HBM): against it, another segment
  /// conflicts only where it writes, if it says (writesKnown: `writes`, else all its bytes).
  bool readsOnly = false;
  bool writesKnown = false;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> writes;
};

struct ThreadPlan {
  std::vector<int> thread;                 ///< by segment
  std::vector<std::vector<int>> waitFor;   ///< by segment: threads it waits one signal from first
  std::vector<std::vector<int>> signalTo;  ///< by segment: threads it signals when done (after a fence)
  std::vector<double> start, finish;       ///< the cost model's cycles
  double makespan = 0;                     ///< when the last thread is done
  int threadsUsed = 1;
};

/// Plans `segments` (in program order) over `threads` hardware threads; `syncCycles` is what a
/// wait across threads costs. With one thread every segment runs on thread 0 with no waits.
ThreadPlan planThreads(const std::vector<SegmentNeeds>& segments, int threads, double syncCycles);

/// The semaphore that thread `from` signals thread `to` on (docs/abi.md).
constexpr int threadSemaphore(int from, int to) { return 48 + 4 * from + to; }
/// The semaphore thread t's own DMA signals (0 for thread 0).
constexpr int dmaSemaphore(int thread) { return thread == 0 ? 0 : 40 + thread; }

}  // namespace tatami::compiler
