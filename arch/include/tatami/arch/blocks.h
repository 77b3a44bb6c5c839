// Blocks of row-major tensors: the part of a tensor one core holds when a tensor is split across
// cores (a shard of the batch, or one block of a weight split over a grid). A block starts at
// `begin` in each dimension, holds `real` elements of the tensor there and `local` in all (the
// rest is padding, zero when the block is cut out).
#pragma once

#include <cstdint>
#include <vector>

namespace tatami {

struct TensorBlock {
  std::vector<std::int64_t> begin, real, local;
};

/// The block's elements of a full row-major tensor of `shape` (padding zero; an empty `full`
/// gives zeros).
std::vector<double> sliceBlock(const TensorBlock& b, const std::vector<std::int64_t>& shape, const std::vector<double>& full);

/// Writes the block's real elements into the full tensor.
void placeBlock(const TensorBlock& b, const std::vector<std::int64_t>& shape, const std::vector<double>& local,
                std::vector<double>& full);

}  // namespace tatami
