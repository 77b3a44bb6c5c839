// Cutting blocks out of row-major tensors and putting them back (see blocks.h).
#include "tatami/arch/blocks.h"

#include <cstddef>

namespace tatami {

namespace {

/// Calls f(local index, full index) for every real (not padding) element of block b.
template <class F>
void forEachReal(const TensorBlock& b, const std::vector<std::int64_t>& shape, F f) {
  const std::size_t rank = shape.size();
  std::size_t n = 1;
  for (std::int64_t e : b.local) n *= std::size_t(e);
  std::vector<std::int64_t> idx(rank, 0);
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t rest = k, src = 0;
    bool real = true;
    for (std::size_t d = rank; d-- > 0;) idx[d] = std::int64_t(rest % std::size_t(b.local[d])), rest /= std::size_t(b.local[d]);
    for (std::size_t d = 0; d < rank; ++d) {
      real = real && idx[d] < b.real[d];
      src = src * std::size_t(shape[d]) + std::size_t(b.begin[d] + idx[d]);
    }
    if (real) f(k, src);
  }
}

}  // namespace

std::vector<double> sliceBlock(const TensorBlock& b, const std::vector<std::int64_t>& shape, const std::vector<double>& full) {
  std::size_t n = 1;
  for (std::int64_t e : b.local) n *= std::size_t(e);
  std::vector<double> out(n, 0.0);
  if (!full.empty()) forEachReal(b, shape, [&](std::size_t k, std::size_t src) { out[k] = full[src]; });
  return out;
}

void placeBlock(const TensorBlock& b, const std::vector<std::int64_t>& shape, const std::vector<double>& local,
                std::vector<double>& full) {
  forEachReal(b, shape, [&](std::size_t k, std::size_t dst) { full[dst] = local[k]; });
}

}  // namespace tatami
