// Self-checking test of the verilated fp32_to_bf16 block against tatami::fp32ToBf16: special
// values and a stride through all 2^32 inputs. Ends with one PASS or FAIL line.
#include <cstdio>

#include "tatami/arch/formats.h"
#include "tatami/rtl/converters.h"

int main() {
  tatami::rtl::Fp32ToBf16 dut;
  std::uint64_t checked = 0, bad = 0;
  const auto check = [&](std::uint32_t in) {
    const std::uint16_t want = tatami::fp32ToBf16(tatami::bitsFloat(in));
    const std::uint16_t got = dut.convert(in);
    ++checked;
    if (got != want && bad++ < 5) std::printf("mismatch: input 0x%08x rtl 0x%04x arch 0x%04x\n", in, got, want);
  };
  for (std::uint32_t s : {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFF800001u,
                          0x7F7FFFFFu, 0x00008000u, 0x00018000u, 0x3F808000u, 0x3F818000u, 0x00000001u})
    check(s);
  for (std::uint64_t i = 0; i < (std::uint64_t(1) << 32); i += 251) check(std::uint32_t(i));
  std::printf("%s rtl.fp32_to_bf16: %llu inputs, %llu mismatches\n", bad ? "FAIL" : "PASS",
              (unsigned long long)checked, (unsigned long long)bad);
  return bad ? 1 : 0;
}
