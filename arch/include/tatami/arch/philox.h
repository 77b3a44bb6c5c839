// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): the
// counter-based generator behind stochastic rounding. A draw depends only on (seed, tensor,
// element), never on the order in which elements are converted.
#pragma once

#include <array>
#include <cstdint>

namespace tatami {

using PhiloxCounter = std::array<std::uint32_t, 4>;
using PhiloxKey = std::array<std::uint32_t, 2>;

/// One Philox4x32 block with 10 rounds.
inline PhiloxCounter philox4x32(PhiloxCounter ctr, PhiloxKey key) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = std::uint64_t(kM0) * ctr[0];
    const std::uint64_t p1 = std::uint64_t(kM1) * ctr[2];
    ctr = {std::uint32_t(p1 >> 32) ^ ctr[1] ^ key[0], std::uint32_t(p1),
           std::uint32_t(p0 >> 32) ^ ctr[3] ^ key[1], std::uint32_t(p0)};
    key[0] += kW0;
    key[1] += kW1;
  }
  return ctr;
}

/// The 32 random bits that stochastic rounding of `element` of `tensor` uses under `seed`:
/// word (element mod 4) of Philox4x32-10 with key = seed and counter = (element / 4, tensor).
inline std::uint32_t roundingBits(std::uint64_t seed, std::uint64_t tensor, std::uint64_t element) {
  const std::uint64_t block = element >> 2;
  const PhiloxCounter out = philox4x32(
      {std::uint32_t(block), std::uint32_t(block >> 32), std::uint32_t(tensor), std::uint32_t(tensor >> 32)},
      {std::uint32_t(seed), std::uint32_t(seed >> 32)});
  return out[element & 3];
}

}  // namespace tatami
