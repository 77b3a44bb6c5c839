// Internal: the SRAM memory planner of one core's program: 64 B aligned first-fit blocks for the
// values (the walk in lower.cpp decides when each is placed and released: liveness, in-place
// reuse, aliases), scratch for the op being lowered, and the constant tables at the top.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <utility>
#include <vector>
#include <string>

#include "tatami/compiler/ir.h"

namespace tatami::compiler::lowering {

constexpr std::uint64_t kVec = 64;
inline std::uint64_t roundUp(std::uint64_t v, std::uint64_t m) { return (v + m - 1) / m * m; }

inline std::int64_t fbits(double v) {
  const float f = float(v);
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return std::int64_t(u);
}


/// First-fit allocation of 64 B aligned blocks.
class Allocator {
 public:
  /// `tables` bytes at the top hold the program's constant tables (allocateStatic); with
  /// `tables` < 0 the tables are only counted (a first pass that learns their size).
  Allocator(std::uint64_t capacity, std::int64_t tables) : capacity_(capacity), counting_(tables < 0) {
    const std::uint64_t reserved = tables < 0 ? 0 : roundUp(std::uint64_t(tables), kVec);
    if (reserved >= capacity)
      throw SramOverflow("SRAM: the program's constant tables need " + std::to_string(reserved) + " bytes, more than the core's " +
                         std::to_string(capacity) + " bytes");
    free_[0] = capacity - reserved;
    used_ = peak_ = reserved;
  }
  std::uint64_t allocate(std::uint64_t bytes, const std::string& what) {
    bytes = roundUp(std::max<std::uint64_t>(bytes, kVec), kVec);
    if (largestFree() < bytes) thaw(std::numeric_limits<long>::max());  // short of room: blocks still cooling are used at once
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->second >= bytes) {
        const std::uint64_t addr = it->first, left = it->second - bytes;
        free_.erase(it);
        if (left) free_[addr + bytes] = left;
        used_ += bytes;
        peak_ = std::max(peak_, used_);
        allocated_.emplace_back(addr, addr + bytes);
        return addr;
      }
    std::uint64_t largest = 0;
    for (const auto& [a, s] : free_) largest = std::max(largest, s);
    throw SramOverflow("SRAM: tensor '" + what + "' needs " + std::to_string(bytes) + " bytes, but the largest free block of the core's " +
                       std::to_string(capacity_) + " bytes is " + std::to_string(largest) + " (" + std::to_string(used_) +
                       " in use): short by " + std::to_string(bytes - largest) + " bytes");
  }
  void release(std::uint64_t addr, std::uint64_t bytes) {
    bytes = roundUp(std::max<std::uint64_t>(bytes, kVec), kVec);
    if (cooling_ > 0) {
      cool_.push_back({addr, bytes, segment_});
      return;
    }
    freeBlock(addr, bytes);
  }
  /// Freed blocks are reused only `segments` ops later (while SRAM allows), so that ops next to
  /// each other in the program seldom share bytes and can run on different threads.
  void setCooling(int segments) { cooling_ = segments; }
  /// The next op begins: blocks that have cooled long enough become free.
  void nextSegment() {
    ++segment_;
    thaw(segment_ - cooling_);
  }

 private:
  struct Cooling {
    std::uint64_t addr, bytes;
    long segment;
  };
  /// Frees the cooling blocks released at or before segment `upTo`.
  void thaw(long upTo) {
    if (cool_.empty()) return;
    std::vector<Cooling> keep;
    for (const Cooling& c : cool_)
      if (c.segment <= upTo) freeBlock(c.addr, c.bytes);
      else keep.push_back(c);
    cool_ = std::move(keep);
  }
  void freeBlock(std::uint64_t addr, std::uint64_t bytes) {
    used_ -= bytes;
    auto it = free_.emplace(addr, bytes).first;
    // Merge with the neighbours.
    auto next = std::next(it);
    if (next != free_.end() && it->first + it->second == next->first) it->second += next->second, free_.erase(next);
    if (it != free_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) prev->second += it->second, free_.erase(it);
    }
  }

 public:
  std::uint64_t peak() const { return peak_; }
  std::uint64_t largestFree() const {
    std::uint64_t largest = 0;
    for (const auto& [a, s] : free_) largest = std::max(largest, s);
    return largest;
  }
  /// A block for the program's whole life (index tables written at load time) in the reserved
  /// region at the top of the SRAM, which no tensor uses.
  std::uint64_t allocateStatic(std::uint64_t bytes) {
    bytes = roundUp(std::max<std::uint64_t>(bytes, kVec), kVec);
    tableBytes_ += bytes;
    if (counting_) return 0;
    staticTop_ -= bytes;
    return staticTop_;
  }
  std::uint64_t tableBytes() const { return tableBytes_; }
  /// The ranges [first, end) allocated since the last call (which bytes an op's code may touch).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> takeAllocated() { return std::exchange(allocated_, {}); }

 private:
  std::uint64_t capacity_, used_ = 0, peak_ = 0, tableBytes_ = 0;
  std::uint64_t staticTop_ = capacity_;
  bool counting_;
  std::map<std::uint64_t, std::uint64_t> free_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> allocated_;
  int cooling_ = 0;
  long segment_ = 1;
  std::vector<Cooling> cool_;
};


}  // namespace tatami::compiler::lowering
