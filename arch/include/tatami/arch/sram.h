// A core's SRAM contents, allocated in 4 KiB pages only where written (a tile's SRAM is 10.8 GiB;
// most runs touch a fraction of it). Unwritten bytes read as zero. Callers check ranges.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace tatami {

class Sram {
 public:
  explicit Sram(std::uint64_t bytes) : size_(bytes), pages_((bytes + kPageBytes - 1) / kPageBytes) {}
  std::uint64_t size() const { return size_; }
  bool contains(std::uint64_t addr, std::uint64_t len) const { return addr <= size_ && len <= size_ - addr; }

  void read(std::uint64_t addr, void* dst, std::uint64_t len) const {
    auto* out = static_cast<std::uint8_t*>(dst);
    while (len) {
      const std::uint64_t page = addr >> kPageBits, off = addr & (kPageBytes - 1);
      const std::uint64_t n = std::min<std::uint64_t>(len, kPageBytes - off);
      if (pages_[page]) std::memcpy(out, pages_[page].get() + off, n);
      else std::memset(out, 0, n);
      out += n, addr += n, len -= n;
    }
  }
  void write(std::uint64_t addr, const void* src, std::uint64_t len) {
    const auto* in = static_cast<const std::uint8_t*>(src);
    while (len) {
      const std::uint64_t page = addr >> kPageBits, off = addr & (kPageBytes - 1);
      const std::uint64_t n = std::min<std::uint64_t>(len, kPageBytes - off);
      if (!pages_[page]) pages_[page].reset(new std::uint8_t[kPageBytes]());
      std::memcpy(pages_[page].get() + off, in, n);
      in += n, addr += n, len -= n;
    }
  }
  template <typename T>
  T load(std::uint64_t addr) const {
    T v;
    read(addr, &v, sizeof v);
    return v;
  }
  template <typename T>
  void store(std::uint64_t addr, T v) {
    write(addr, &v, sizeof v);
  }
  /// Host bytes held for this SRAM.
  std::uint64_t allocatedBytes() const {
    std::uint64_t n = 0;
    for (const auto& p : pages_) n += p ? kPageBytes : 0;
    return n;
  }

 private:
  static constexpr unsigned kPageBits = 12;
  static constexpr std::uint64_t kPageBytes = std::uint64_t(1) << kPageBits;
  std::uint64_t size_;
  std::vector<std::unique_ptr<std::uint8_t[]>> pages_;
};

}  // namespace tatami
