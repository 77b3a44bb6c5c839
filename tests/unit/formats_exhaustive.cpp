// Every one of the 2^32 FP32 inputs converted (round to nearest even) to BF16 and to both CFP8
// layouts at several biases, against the independent reference. Prints one line per format and
// exits non-zero on any mismatch. Optional argument: a stride (default 1 = every input).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "formats_reference.h"

using namespace tatami;

int main(int argc, char** argv) {
  const std::uint64_t stride = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1;
  const std::vector<FloatFormat> formats = {kBf16,       cfp8e4m3(0),  cfp8e4m3(7), cfp8e4m3(63),
                                            cfp8e5m2(0), cfp8e5m2(15), cfp8e5m2(63)};
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  int failed = 0;
  for (const auto& f : formats) {
    const testref::NearestEvenReference ref(f);
    std::atomic<std::uint64_t> mismatches{0}, checked{0};
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        std::uint64_t bad = 0, n = 0;
        for (std::uint64_t i = t * stride; i < (std::uint64_t(1) << 32); i += threads * stride, ++n) {
          const float x = bitsFloat(std::uint32_t(i));
          const std::uint32_t got = encode(f, x);
          if (got != ref.convert(x) || (f.ieeeSpecials && got != fp32ToBf16(x))) {
            if (bad++ < 3) std::printf("  mismatch %s input 0x%08x\n", f.name().c_str(), unsigned(i));
          }
        }
        mismatches += bad;
        checked += n;
      });
    }
    for (auto& th : pool) th.join();
    std::printf("%-22s %llu inputs, %llu mismatches\n", f.name().c_str(),
                (unsigned long long)checked.load(), (unsigned long long)mismatches.load());
    if (mismatches) failed = 1;
  }
  std::printf(failed ? "FAIL\n" : "PASS\n");
  return failed;
}
