// Index tables for gathers: the source element of every output element (row-major order) of a
// view with its own shape and strides over a flat source.
#pragma once

#include <cstdint>
#include <vector>

#include "tatami/compiler/ir.h"

namespace tatami::compiler {

/// Row-major strides of `s`.
inline std::vector<std::int64_t> rowMajorStrides(const Shape& s) {
  std::vector<std::int64_t> st(s.size(), 1);
  for (std::size_t d = s.size(); d-- > 1;) st[d - 1] = st[d] * s[d];
  return st;
}

/// For each element of `shape` in row-major order: base + sum of coordinate x stride.
inline std::vector<std::int64_t> stridedIndices(const Shape& shape, const std::vector<std::int64_t>& strides, std::int64_t base = 0) {
  std::vector<std::int64_t> idx;
  idx.reserve(std::size_t(elementCount(shape)));
  std::vector<std::int64_t> c(shape.size(), 0);
  for (std::int64_t k = 0; k < elementCount(shape); ++k) {
    std::int64_t src = base;
    for (std::size_t d = 0; d < shape.size(); ++d) src += c[d] * strides[d];
    idx.push_back(src);
    for (std::size_t d = shape.size(); d-- > 0;)
      if (++c[d] < shape[d]) break;
      else c[d] = 0;
  }
  return idx;
}

}  // namespace tatami::compiler
