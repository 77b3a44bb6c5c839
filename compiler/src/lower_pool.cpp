// Pooling whose windows tile the input (stride = kernel, no padding; trailing rows and columns that
// no window covers are dropped, as floor mode does) by whole-tensor vector operations and strided
// DMA, without index tables: max and average pooling and their gradients (max: to each window's
// first maximum in row-major order, as the oracle).
//
// The input's planes are rows of a matrix X [Rx = N C Hc, W] (Hc = Ho kh: the rows windows cover).
// Along a row the windows' columns become rows by a transpose, T = X^T [W, Rx]: rows q, q + kw, ...
// of T (one strided DMA) are every window's column q, and their maximum (or sum) is one vector
// operation: CM [Wo, Rx], transposed back to X1 [Rx, Wo]. Down the planes, rows a, a + kh, ... of
// X1 (one strided DMA each) are every window's row a: the output [N C Ho, Wo] the same way. The
// gradient runs the two stages backwards: a window's gradient goes to the first of its rows equal
// to the maximum, then to the first of that row's columns, by compare and select.
#include "lowering.h"

namespace tatami::compiler {

bool poolAsVectors(const Graph& g, const Node& n) {
  (void)g;
  if (n.op != Op::max_pool2d && n.op != Op::max_pool2d_grad && n.op != Op::avg_pool2d && n.op != Op::avg_pool2d_grad) return false;
  if (!n.attrs.count("kernel")) return false;
  const auto k = n.intsAttr("kernel");
  const auto s = n.attrs.count("strides") ? n.intsAttr("strides") : k;
  if (k.size() != 2 || s != k) return false;
  if (n.attrs.count("pads"))
    for (std::int64_t v : n.intsAttr("pads"))
      if (v != 0) return false;
  return true;
}

namespace lowering {

void Lowering::poolByVectors(const Node& n, std::uint64_t dst) {
  // Every plane at once where the temporaries fit; else planes in chunks, the largest that fit
  // (halving), so that the SRAM the op takes is bounded by a chunk, not by the tensor.
  const bool grad = n.op == Op::max_pool2d_grad || n.op == Op::avg_pool2d_grad;
  const Shape xs = grad && n.op == Op::avg_pool2d_grad ? Shape(n.intsAttr("input_shape")) : shape(n.inputs[0]);
  const auto k = n.intsAttr("kernel");
  const std::uint64_t planes = std::uint64_t(xs[0] * xs[1]), H = std::uint64_t(xs[2]), W = std::uint64_t(xs[3]);
  const std::uint64_t outPlane = (H / std::uint64_t(k[0])) * (W / std::uint64_t(k[1]));
  const std::uint64_t chunk = largestChunk(planes, vectorUnits({H * W, outPlane}), [&](std::uint64_t c) {
    return estimateOnly([&] {
      for (std::uint64_t p0 = 0; p0 < planes; p0 += c) poolPlanes(n, dst, p0, std::min(c, planes - p0));
    }) >= 0;
  });
  for (std::uint64_t p0 = 0; p0 < planes; p0 += chunk) poolPlanes(n, dst, p0, std::min(chunk, planes - p0));
  if (chunk < planes)
    choice_ = "planes in chunks of " + std::to_string(chunk) + " (the temporaries of all " + std::to_string(planes) + " do not fit the SRAM)";
}

void Lowering::poolPlanes(const Node& n, std::uint64_t dst, std::uint64_t p0, std::uint64_t planes) {
  // Planes p0 .. p0 + planes - 1 (of N C), their temporaries freed at the end.
  const std::size_t mark = temps_.size();
  const bool isMax = n.op == Op::max_pool2d || n.op == Op::max_pool2d_grad;
  const bool grad = n.op == Op::max_pool2d_grad || n.op == Op::avg_pool2d_grad;
  const auto k = n.intsAttr("kernel");
  const std::uint64_t kh = std::uint64_t(k[0]), kw = std::uint64_t(k[1]);
  // x's shape (for the average's gradient, its input_shape).
  const Shape xs = grad && !isMax ? Shape(n.intsAttr("input_shape")) : shape(n.inputs[0]);
  const std::uint64_t H = std::uint64_t(xs[2]), W = std::uint64_t(xs[3]);
  const std::uint64_t Ho = H / kh, Wo = W / kw, Hc = Ho * kh;
  const std::uint64_t Rx = planes * Hc, Rout = planes * Ho;  // rows of X and of the output
  // This chunk's planes of x, of the output (or dy) and of dst.
  const std::uint64_t xAt = addr(n.inputs[0]) + p0 * (grad && !isMax ? Ho * Wo : H * W) * 4;
  const std::uint64_t dyAt = grad && isMax ? addr(n.inputs[1]) + p0 * Ho * Wo * 4 : 0;
  dst += p0 * (grad ? H * W : Ho * Wo) * 4;
  const double sc = double(c_.core.scalar_cycles);

  const auto dma = [&](std::uint64_t d, std::uint64_t s, std::uint64_t rows, std::uint64_t bytes, std::uint64_t dstride, std::uint64_t sstride) {
    dma2dAsync(d, s, rows, bytes, dstride, sstride);
    cost(dmaCycles(rows, bytes) + sc, "sram");  // the next vector operation waits for it
  };
  // Rows r, r + every, ... (count of them, `bytes` each) of src packed into dst; and back.
  const auto pick = [&](std::uint64_t d, std::uint64_t s, std::uint64_t r, std::uint64_t every, std::uint64_t count, std::uint64_t bytes) {
    dma(d, s + r * bytes, count, bytes, bytes, every * bytes);
  };
  const auto place = [&](std::uint64_t d, std::uint64_t s, std::uint64_t r, std::uint64_t every, std::uint64_t count, std::uint64_t bytes) {
    dma(d + r * bytes, s, count, bytes, every * bytes, bytes);
  };
  const auto transpose = [&](std::uint64_t d, std::uint64_t s, std::uint64_t rows, std::uint64_t cols) {
    li(1, std::int64_t(d)), li(2, std::int64_t(s)), li(3, std::int64_t(rows)), li(4, std::int64_t(cols));
    emit_.emit(tatami::Op::Vtr, DType::F32, {R(1), R(2), R(3), R(4)});
    vectorCost(rows * cols, 1);
  };
  const auto binary = [&](tatami::Op op, std::uint64_t d, std::uint64_t a, std::uint64_t b, std::uint64_t count) {
    vbin(op, d, a, b, roundUp(count, 16));
  };
  const auto select = [&](std::uint64_t d, std::uint64_t mask, std::uint64_t a, std::uint64_t b, std::uint64_t count) {
    li(1, std::int64_t(d)), li(2, std::int64_t(mask)), li(3, std::int64_t(a)), li(5, std::int64_t(b)), li(4, std::int64_t(roundUp(count, 16)));
    emit_.emit(tatami::Op::Vsel, DType::F32, {R(1), R(2), R(3), R(5), R(4)});
    vectorCost(roundUp(count, 16), 3);
  };
  const auto scale = [&](std::uint64_t d, std::uint64_t a, std::uint64_t count) {
    // A window's mean: the sum times 1 / (kh kw) (exact for windows of a power of two).
    vscalar(tatami::Op::Vmuls, d, a, 1.0 / double(kh * kw), roundUp(count, 16));
  };
  const tatami::Op combine = isMax ? tatami::Op::Vmax : tatami::Op::Vadd;
  const std::uint64_t part = temp(std::max(Wo * Rx, Rout * Wo), n.name + ".part");  // one window row or column, packed

  // Stage 1 backwards: dX1 [Rx, Wo] to the windows' columns, dT [W, Rx] (zero where no window
  // is; the maximum's to the first column equal to its row's maximum, the average's to every one),
  // transposed back to [Rx, W]. T and CM: the forward's columns and their maxima.
  std::uint64_t T = 0, CM = 0, zero = 0, mask = 0;
  const auto backAlongRows = [&](std::uint64_t dX1) {
    if (kw == 1) return dX1;
    const std::uint64_t dCM = temp(Wo * Rx, n.name + ".dcols"), dT = temp(W * Rx, n.name + ".dt");
    transpose(dCM, dX1, Rx, Wo);
    if (W != Wo * kw) vfill(dT, 0.0, roundUp(W * Rx, 16));
    for (std::uint64_t q = 0; q < kw; ++q) {
      if (!isMax) {
        place(dT, dCM, q, kw, Wo, Rx * 4);
        continue;
      }
      pick(part, T, q, kw, Wo, Rx * 4);
      binary(tatami::Op::Vcmpeq, mask, part, CM, Wo * Rx);
      select(part, mask, dCM, zero, Wo * Rx);
      if (q + 1 < kw) select(dCM, mask, zero, dCM, Wo * Rx);
      place(dT, part, q, kw, Wo, Rx * 4);
    }
    const std::uint64_t dX = Hc == H ? dst : temp(Rx * W, n.name + ".dx");
    transpose(dX, dT, W, Rx);
    return dX;
  };
  // The gradient in x's layout: the rows no window covers are zero.
  const auto toInput = [&](std::uint64_t dX) {
    if (Hc != H) {
      vfill(dst, 0.0, roundUp(planes * H * W, 16));  // (past the chunk: the next chunk's, written later)
      dma(dst, dX, planes, Hc * W * 4, H * W * 4, Hc * W * 4);
    } else if (dX != dst) {
      dma(dst, dX, 1, Rx * W * 4, 0, 0);
    }
  };

  if (grad && !isMax) {
    // The average's gradient: dy / (kh kw) to every element of its window.
    std::uint64_t d1 = temp(Rout * Wo, n.name + ".dy_scaled");
    scale(d1, xAt, Rout * Wo);  // dy
    if (kh > 1) {  // dX1 [Rx, Wo]: the scaled dy in every row of its window
      const std::uint64_t dX1 = temp(Rx * Wo, n.name + ".dx1");
      for (std::uint64_t a = 0; a < kh; ++a) place(dX1, d1, a, kh, Rout, Wo * 4);
      d1 = dX1;
    }
    toInput(backAlongRows(d1));
    releaseTempsSince(mark);
    return;
  }

  // X: the input's rows that windows cover.
  std::uint64_t X = xAt;
  if (Hc != H) {
    X = temp(Rx * W, n.name + ".rows");
    dma(X, xAt, planes, Hc * W * 4, Hc * W * 4, H * W * 4);
  }
  // Stage 1, along the rows: CM [Wo, Rx] from T = X^T, then X1 = CM^T [Rx, Wo].
  std::uint64_t X1 = X;
  if (kw > 1) {
    T = temp(W * Rx, n.name + ".t");
    transpose(T, X, Rx, W);
    CM = temp(Wo * Rx, n.name + ".cols");
    pick(CM, T, 0, kw, Wo, Rx * 4);
    for (std::uint64_t q = 1; q < kw; ++q) {
      pick(part, T, q, kw, Wo, Rx * 4);
      binary(combine, CM, CM, part, Wo * Rx);
    }
    X1 = !grad && kh == 1 && isMax ? dst : temp(Rx * Wo, n.name + ".x1");
    transpose(X1, CM, Wo, Rx);
  }
  // Stage 2, down the planes: the output [N C Ho, Wo] (for the gradient, the windows' maxima).
  std::uint64_t m = X1;
  if (kh > 1) {
    m = !grad ? dst : temp(Rout * Wo, n.name + ".max");
    pick(m, X1, 0, kh, Rout, Wo * 4);
    for (std::uint64_t a = 1; a < kh; ++a) {
      pick(part, X1, a, kh, Rout, Wo * 4);
      binary(combine, m, m, part, Rout * Wo);
    }
  }
  if (!grad) {
    if (!isMax) scale(dst, m, Rout * Wo);
    else if (m != dst) dma(dst, m, 1, Rout * Wo * 4, 0, 0);
    releaseTempsSince(mark);
    return;
  }

  // The maximum's gradient, stage 2 backwards: each window's dy to the first of its rows whose
  // maximum is the window's (`rest` keeps what is not yet routed).
  zero = temp(std::max(Wo * Rx, Rout * Wo), n.name + ".zero"), mask = temp(std::max(Wo * Rx, Rout * Wo), n.name + ".mask");
  vfill(zero, 0.0, roundUp(std::max(Wo * Rx, Rout * Wo), 16));
  const std::uint64_t rest = temp(Rout * Wo, n.name + ".rest");
  dma(rest, dyAt, 1, Rout * Wo * 4, 0, 0);
  std::uint64_t dX1 = rest;
  if (kh > 1) {
    dX1 = temp(Rx * Wo, n.name + ".dx1");
    for (std::uint64_t a = 0; a < kh; ++a) {
      pick(part, X1, a, kh, Rout, Wo * 4);
      binary(tatami::Op::Vcmpeq, mask, part, m, Rout * Wo);
      select(part, mask, rest, zero, Rout * Wo);
      if (a + 1 < kh) select(rest, mask, zero, rest, Rout * Wo);
      place(dX1, part, a, kh, Rout, Wo * 4);
    }
  }
  toInput(backAlongRows(dX1));
  releaseTempsSince(mark);
}

}  // namespace lowering

}  // namespace tatami::compiler
