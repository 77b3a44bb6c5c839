// A convolution's weight gradient on the matrix unit as implicit GEMM (any padding, dilation,
// groups, and a stride equal along both axes): dW = dy x columns^T contracts over the output
// positions, the operand panels cut from dy and from the input's BF16 planes (lower_conv.cpp)
// by strided DMA and transposed by the vector unit, while the matrix unit accumulates C tiles
// that stay in SRAM.
#include "lowering.h"

#include "tatami/compiler/flops.h"

namespace tatami::compiler::lowering {

void Lowering::convWeightGradient(const Node& n, std::uint64_t dst, std::uint64_t kChunk, std::uint64_t exChunk, bool ownOrder) {
  // Examples in chunks of exChunk, each chunk's temporaries freed before the next's: the first
  // chunk's sum goes into dW; with C in dW's own order each later one's tiles are added into it
  // as they go out, else its sum goes into a partial dW added to it (FP32).
  const std::uint64_t N = std::uint64_t(shape(n.inputs[0])[0]), count = this->count(n.outputs[0]);
  const bool ownLayout = ownOrder || std::uint64_t(shape(n.outputs[0])[1]) < 16;
  const std::uint64_t partial = exChunk < N && !ownLayout ? temp(count, n.name + ".partial") : 0;
  for (std::uint64_t b0 = 0; b0 < N; b0 += exChunk) {
    const std::size_t mark = temps_.size();
    const std::uint64_t nc = std::min(exChunk, N - b0);
    convWeightGradientExamples(n, b0 == 0 || ownLayout ? dst : partial, kChunk, b0, nc, ownOrder, b0 > 0 && ownLayout);
    releaseTempsSince(mark);
    if (b0 == 0 || ownLayout) continue;
    vbin(tatami::Op::Vadd, dst, dst, partial, roundUp(count, 16));
  }
}

void Lowering::convWeightGradientExamples(const Node& n, std::uint64_t dst, std::uint64_t kChunk, std::uint64_t b0, std::uint64_t nc, bool ownOrder,
                                          bool accumulate) {
  // dW[f, c, r, q] = sum over examples b and positions p of dy[b, f, p] x[b, c, p + r dh Wp + q dw],
  // with dy laid out at the padded width (zero where j >= Wo): a product contracting over the
  // positions, in chunks of kChunk (chosen by the cost model, convWeightGradientChosen). Per chunk, every operand panel (K = the chunk's positions by
  // 16 filters, or by 16 columns of x) is cut by strided DMA as 16 rows and transposed by the
  // vector unit, while the matrix unit accumulates the previous chunk into the C tiles, which stay
  // in SRAM until the end. The columns of x: with 16 channels or more, (kernel offset, block of 16
  // channels), one DMA of 16 channel rows each, and C is reordered at the end; with fewer, dW's
  // own (channel, r, q) order, one DMA per run of q, and C is dW.
  // Examples b0 .. b0 + nc - 1. ownOrder: C in dW's own order whatever the channels (no staged
  // copy to reorder, for where it does not fit). accumulate: C's tiles are added into dW (a later
  // chunk of examples; C in dW's own order).
  const int xv = n.inputs[0], dyv = n.inputs[1];
  Shape xs = shape(xv);
  const Shape& ys = shape(dyv);
  const Shape& wsh = shape(n.outputs[0]);  // [F, C/G, kh, kw]
  const std::uint64_t N = nc, exX = count(xv) / std::uint64_t(xs[0]), exY = count(dyv) / std::uint64_t(ys[0]);
  xs[0] = std::int64_t(nc);
  const std::uint64_t F = std::uint64_t(ys[1]), Ho = std::uint64_t(ys[2]), Wo = std::uint64_t(ys[3]);
  const std::uint64_t Cg = std::uint64_t(wsh[1]), kh = std::uint64_t(wsh[2]), kw = std::uint64_t(wsh[3]), khkw = kh * kw;
  const std::uint64_t G = std::uint64_t(n.intAttr("group", 1)), Fg = F / G;
  const auto pads = n.attrs.count("pads") ? n.intsAttr("pads") : std::vector<std::int64_t>{0, 0, 0, 0};
  const auto dil = n.attrs.count("dilations") ? n.intsAttr("dilations") : std::vector<std::int64_t>{1, 1};
  const std::uint64_t dh = std::uint64_t(dil[0]), dw = std::uint64_t(dil[1]);
  const std::array<std::uint64_t, 4> pad = {std::uint64_t(pads[0]), std::uint64_t(pads[1]), std::uint64_t(pads[2]), std::uint64_t(pads[3])};
  const std::uint64_t stride = std::uint64_t(n.attrs.count("strides") ? n.intsAttr("strides")[0] : 1);  // both the same
  const bool onePhase = (kh == 1 || dh % stride == 0) && (kw == 1 || dw % stride == 0);  // every tap in phase (0, 0)
  // Positions run over the planes' width: the padded width, or with a stride its phases'.
  const std::uint64_t Wp = roundUp(std::uint64_t(xs[3]) + pad[1] + pad[3], stride) / stride;
  const std::uint64_t Pb = roundUp(Ho * Wp, 2);  // positions per example, even (the last is zero in dy)
  const bool packed = ownOrder || Cg < 16;
  const std::uint64_t fBlocks = (Fg + 15) / 16, cBlocks = (Cg + 15) / 16;
  const std::uint64_t columns = packed ? (Cg * khkw + 15) / 16 : khkw * cBlocks;
  usefulFlops_ = matrixFlops(g_, n);
  const auto before = est_;
  double setup = 0, main = 0, matrixSum = 0, dmaSum = 0;
  const double vec = double(c_.core.vector_latency_cycles), sc = double(c_.core.scalar_cycles);

  // x in BF16 planes (per group); dy in BF16 at the planes' width, zero elsewhere. Panels of the
  // last positions read past a plane by at most (kw - 1) dw / stride + 1 elements.
  const std::uint64_t slack = 32 + dw * kw;
  const std::uint64_t x16 = bf16Input(addr(xv) + b0 * exX * 4, nc * exX, slack, n.name + ".x", setup);
  // One group: its planes are made (and the BF16 copy they come from freed) before dy's.
  Bf16Planes planes{};
  if (G == 1) {
    planes = bf16Planes(xs, x16, 0, Cg, pad, 1, stride, slack, n.name + ".x", setup, onePhase);
    if (planes.owned) releaseTemp(x16);
  }
  const std::uint64_t dy16 = bf16Input(addr(dyv) + b0 * exY * 4, nc * exY, 0, n.name + ".dy", setup);
  const std::uint64_t dywCount = roundUp(N * F * Pb, 32);
  const std::uint64_t dyw = bf16Temp(dywCount, n.name + ".dy_wide");
  li(1, std::int64_t(dyw)), li(3, 0), li(4, std::int64_t(dywCount));
  emit_.emit(tatami::Op::Vfill, DType::Bf16, {R(1), R(3), R(4)});
  setup += lines(dywCount * 2) + vec;
  for (std::uint64_t b = 0; b < N; ++b)
    for (std::uint64_t f = 0; f < F; ++f) {
      dma2dAsync(dyw + (b * F + f) * Pb * 2, dy16 + (b * F + f) * Ho * Wo * 2, Ho, Wo * 2, Wp * 2, Wo * 2);
      setup += dmaCycles(Ho, Wo * 2);
    }
  releaseTemp(dy16);

  // The C tiles (filter block, column block j) of a pass stay in SRAM for every chunk; a pass
  // takes at most kPassFilterBlocks filter blocks and as many column blocks as the tile and panel
  // budgets allow (the SRAM the op takes is bounded by them, not by the image).
  // Budgets: at most 1/20 of the SRAM in tiles and 1/8 in panels (on the D1 core's 1,280 KiB:
  // 64 tiles and two sets of 10 panels), within what is free once the other buffers are placed
  // (a third of it for tiles, the rest for panels).
  constexpr std::uint64_t kPassFilterBlocks = 8;
  const std::uint64_t sram = std::uint64_t(c_.core.sram_kib) * 1024, panelBytes = kChunk * 32, rowsBytes = 16 * kChunk * 2;
  const std::uint64_t rowLen = roundUp(khkw * Cg, 16);
  const std::uint64_t others = 4 * rowsBytes + (packed ? 0 : (Fg + 2) * rowLen * 4) + 4096;
  const std::uint64_t avail = alloc_.largestFree() > others ? alloc_.largestFree() - others : 0;
  const std::uint64_t tileBudget = std::max<std::uint64_t>(1, std::min(sram / 20, avail / 3) / 1024);
  const std::uint64_t panelBudget = std::max<std::uint64_t>(2, std::min(sram / 8, avail - std::min(avail, tileBudget * 1024)) / (2 * panelBytes));
  const std::uint64_t fPerPass = std::max<std::uint64_t>(1, std::min({fBlocks, kPassFilterBlocks, panelBudget / 2, tileBudget}));
  const std::uint64_t jPerPass = std::max<std::uint64_t>(1, std::min({columns, tileBudget / fPerPass, panelBudget - fPerPass}));
  const std::uint64_t tiles = temp(256 * fPerPass * jPerPass, n.name + ".tiles");
  const std::uint64_t panelsPerChunk = fPerPass + jPerPass;
  // Two sets of panels: the next chunk's are made while this one's are multiplied.
  const std::uint64_t panels = alloc_.allocate(2 * panelsPerChunk * panelBytes, n.name + ".panels");
  temps_.push_back({panels, 2 * panelsPerChunk * panelBytes});
  // The 16 rows a panel is cut as: two buffers in rotation for full blocks, and for blocks of
  // fewer rows (the last block of filters, of channels or of columns) two more, zeroed once, whose
  // rows past the block's stay zero.
  const std::uint64_t rowBufs = alloc_.allocate(4 * rowsBytes, n.name + ".rows");
  temps_.push_back({rowBufs, 4 * rowsBytes});
  li(1, std::int64_t(rowBufs + 2 * rowsBytes)), li(3, 0), li(4, std::int64_t(2 * 16 * kChunk));
  emit_.emit(tatami::Op::Vfill, DType::Bf16, {R(1), R(3), R(4)});
  setup += lines(2 * rowsBytes) + vec;
  // Unpacked: C in [F, khkw, Cg] order, transposed per filter into dW's [F, Cg, khkw] at the end.
  const std::uint64_t staged = packed ? 0 : temp(Fg * rowLen, n.name + ".staged");
  const std::uint64_t perFilter = packed ? 0 : temp(2 * rowLen, n.name + ".per_filter");  // two in rotation
  // Accumulating: each tile's block of dW is read into one of two scratch tiles, the tile added,
  // and the sum written back.
  const std::uint64_t sums = accumulate ? temp(2 * 256, n.name + ".sums") : 0;
  std::uint64_t tilesOut = 0;
  const double macs = double(c_.core.matrix_units * c_.core.matrix_dim * c_.core.matrix_dim);

  for (std::uint64_t g = 0; g < G; ++g) {
    if (G > 1) {
      if (planes.owned) releaseTemp(planes.base);  // the previous group's
      planes = bf16Planes(xs, x16, g * Cg, Cg, pad, 1, stride, slack, n.name + ".x", setup, onePhase);
    }
    for (std::uint64_t f0b = 0; f0b < fBlocks; f0b += fPerPass)
      for (std::uint64_t j0 = 0; j0 < columns; j0 += jPerPass) {
        const std::uint64_t fbn = std::min(fPerPass, fBlocks - f0b), jn = std::min(jPerPass, columns - j0);
        std::vector<std::array<std::uint64_t, 3>> chunks;  // (example, first position, positions)
        for (std::uint64_t b = 0; b < N; ++b)
          for (std::uint64_t p0 = 0; p0 < Pb; p0 += kChunk) chunks.push_back({b, p0, std::min(kChunk, Pb - p0)});
        // Panel j of chunk set s: j < fbn the filter blocks of dy, then the column blocks j0.. of x.
        const auto panelAt = [&](std::uint64_t set, std::uint64_t j) { return panels + (set * panelsPerChunk + j) * panelBytes; };
        std::uint64_t full = 0, part = 0;  // buffers used so far, of each kind
        // One panel: DMAs of row runs (first row, source, rows, source row stride in elements,
        // planes of such rows and their source stride in elements) into a row buffer, then its
        // transpose into the panel.
        using Run = std::array<std::uint64_t, 6>;
        double chunkDma = 0, chunkVector = 0, chunkIssue = 0;
        const auto cut = [&](std::vector<std::function<void()>>& steps, std::uint64_t to, std::uint64_t kc, std::uint64_t rows,
                             const std::vector<Run>& runs) {
          const std::uint64_t buf = rowBufs + (rows < 16 ? 2 + part++ % 2 : full++ % 2) * rowsBytes;
          for (const Run& r : runs) {
            if (r[4] > 1) steps.push_back([=] { dma3dAsync(buf + r[0] * kc * 2, r[1], r[4], r[2], kc * 2, r[2] * kc * 2, kc * 2, r[5] * 2, r[3] * 2); });
            else steps.push_back([=] { dma2dAsync(buf + r[0] * kc * 2, r[1], r[2], kc * 2, kc * 2, r[3] * 2); });
            chunkDma += dmaCycles(r[2] * r[4], kc * 2), chunkIssue += 7 * sc;
          }
          steps.push_back([=] {
            li(1, std::int64_t(to)), li(2, std::int64_t(buf)), li(3, 16), li(4, std::int64_t(kc));
            emit_.emit(tatami::Op::Vtr, DType::Bf16, {R(1), R(2), R(3), R(4)});
          });
          // The thread waits for the DMAs before it issues the transpose (a hazard).
          chunkVector += lines(16 * kc * 2) + vec, chunkIssue += 5 * sc + dmaCycles(runs.back()[2] * runs.back()[4], kc * 2);
        };
        const auto makeSteps = [&](std::uint64_t ci) {
          std::vector<std::function<void()>> steps;
          const std::uint64_t b = chunks[ci][0], p0 = chunks[ci][1], kc = chunks[ci][2], set = ci % 2;
          chunkDma = chunkVector = chunkIssue = 0;
          for (std::uint64_t fb = 0; fb < fbn; ++fb) {
            const std::uint64_t f0 = (f0b + fb) * 16, rows = std::min<std::uint64_t>(16, Fg - f0);
            cut(steps, panelAt(set, fb), kc, rows, {{0, dyw + ((b * F + g * Fg + f0) * Pb + p0) * 2, rows, Pb, 1, 0}});
          }
          const std::uint64_t exOffset = (b * planes.exStride + p0) * 2;
          for (std::uint64_t j = j0; j < j0 + jn; ++j) {
            std::vector<Run> runs;
            std::uint64_t rows = 0;
            if (!packed) {  // column block (kernel offset, 16 channels): 16 channel rows
              const std::uint64_t rq = j / cBlocks, c0 = (j % cBlocks) * 16;
              rows = std::min<std::uint64_t>(16, Cg - c0);
              runs.push_back({0, planes.tap((rq / kw) * dh, (rq % kw) * dw) + exOffset + c0 * planes.chanStride * 2, rows, planes.chanStride, 1, 0});
            } else {  // columns (c, r, q) of dW: whole kernel rows of one channel in one dma3d, a
                      // part of one in a dma2d (with phases, one element each)
              const std::uint64_t first = j * 16, last = std::min(first + 16, Cg * khkw);
              rows = last - first;
              for (std::uint64_t col = first; col < last;) {
                const std::uint64_t c = col / khkw, r = (col % khkw) / kw, q = col % kw;
                const std::uint64_t from = planes.tap(r * dh, q * dw) + exOffset + c * planes.chanStride * 2;
                const std::uint64_t wholeRows = q == 0 && planes.stride == 1 ? std::min(kh - r, (last - col) / kw) : 0;
                if (wholeRows > 1) {
                  runs.push_back({col - first, from, kw, dw, wholeRows, dh * Wp});
                  col += wholeRows * kw;
                  continue;
                }
                const std::uint64_t len = planes.stride == 1 ? std::min(kw - q, last - col) : 1;
                runs.push_back({col - first, from, len, dw, 1, 0});
                col += len;
              }
            }
            cut(steps, panelAt(set, fbn + j - j0), kc, rows, runs);
          }
          return steps;
        };
        for (const auto& step : makeSteps(0)) step();
        setup += std::max(chunkDma, chunkVector) + chunkIssue;
        const std::uint64_t passTiles = fbn * jn;
        for (std::uint64_t ci = 0; ci < chunks.size(); ++ci) {
          const std::uint64_t set = ci % 2, kc = chunks[ci][2];
          std::vector<std::function<void()>> next;
          chunkDma = chunkVector = chunkIssue = 0;
          if (ci + 1 < chunks.size()) next = makeSteps(ci + 1);
          const std::uint64_t perTile = (next.size() + passTiles - 1) / passTiles;
          std::size_t stepAt = 0;
          for (std::uint64_t fb = 0; fb < fbn; ++fb)
            for (std::uint64_t j = 0; j < jn; ++j) {
              li(1, std::int64_t(tiles + (fb * jPerPass + j) * 1024)), li(2, std::int64_t(panelAt(set, fb)));
              li(3, std::int64_t(panelAt(set, fbn + j))), li(4, std::int64_t(kc));
              emit_.emit(ci == 0 ? tatami::Op::Mmaz : tatami::Op::Mma, DType::Bf16, {R(1), R(2), R(3), R(4)});
              for (std::uint64_t s = 0; s < perTile && stepAt < next.size(); ++s) next[stepAt++]();
            }
          while (stepAt < next.size()) next[stepAt++]();
          const double matrix = double(passTiles) * (std::max(256.0 * double(kc) / macs, lines(2 * kc * 32)) + 5 * sc);
          main += std::max({matrix, chunkDma, chunkVector, chunkIssue + double(passTiles) * 5 * sc});
          matrixSum += matrix, dmaSum += std::max(chunkDma, chunkVector);
        }
        // The tiles out: into dW itself (packed) or into staged [F, khkw, Cg] rows.
        for (std::uint64_t fb = 0; fb < fbn; ++fb)
          for (std::uint64_t j = j0; j < j0 + jn; ++j) {
            const std::uint64_t f0 = (f0b + fb) * 16, rows = std::min<std::uint64_t>(16, Fg - f0);
            const std::uint64_t tile = tiles + (fb * jPerPass + j - j0) * 1024;
            if (packed && accumulate) {
              const std::uint64_t c0 = j * 16, cols = std::min<std::uint64_t>(16, Cg * khkw - c0);
              const std::uint64_t block = dst + ((g * Fg + f0) * Cg * khkw + c0) * 4, sum = sums + (tilesOut++ % 2) * 1024;
              dma2dAsync(sum, block, rows, cols * 4, 64, Cg * khkw * 4);
              vbin(tatami::Op::Vadd, sum, sum, tile, 256);
              dma2dAsync(block, sum, rows, cols * 4, Cg * khkw * 4, 64);
              main += dmaCycles(16, 64) + lines(1024) + vec + 12 * sc;
            } else if (packed) {
              const std::uint64_t c0 = j * 16, cols = std::min<std::uint64_t>(16, Cg * khkw - c0);
              dma2dAsync(dst + ((g * Fg + f0) * Cg * khkw + c0) * 4, tile, rows, cols * 4, Cg * khkw * 4, 64);
            } else {
              const std::uint64_t rq = j / cBlocks, c0 = (j % cBlocks) * 16;
              dma2dAsync(staged + (f0 * rowLen + rq * Cg + c0) * 4, tile, rows, std::min<std::uint64_t>(16, Cg - c0) * 4, rowLen * 4, 64);
            }
            main += dmaCycles(16, 64) + 7 * sc;
          }
      }
    // Unpacked: staged [Fg, khkw, Cg] -> dW[g] [Fg, Cg, khkw], a transpose and a copy per filter.
    for (std::uint64_t f = 0; !packed && f < Fg; ++f) {
      const std::uint64_t buf = perFilter + (f % 2) * rowLen * 4;
      li(1, std::int64_t(buf)), li(2, std::int64_t(staged + f * rowLen * 4)), li(3, std::int64_t(khkw)), li(4, std::int64_t(Cg));
      emit_.emit(tatami::Op::Vtr, DType::F32, {R(1), R(2), R(3), R(4)});
      dma2dAsync(dst + ((g * Fg + f) * Cg * khkw) * 4, buf, 1, khkw * Cg * 4, 0, 0);
      main += std::max(lines(khkw * Cg * 4) + vec, dmaCycles(1, khkw * Cg * 4)) + 11 * sc;
    }
  }
  est_ = before;
  cost(setup + main + double(c_.core.matrix_latency_cycles) + lines(1024), dmaSum > matrixSum ? "sram" : "compute");
}

void Lowering::convWeightGradientChosen(const Node& n, std::uint64_t dst) {
  // The chunk of positions the cost model estimates fastest: a longer chunk amortizes each
  // panel's DMA set-up and each matrix instruction's latency, a shorter one takes less SRAM.
  // Every example at once where one of the chunks fits; else examples in chunks, the largest
  // that fit (halving).
  // Where C reordered into dW's layout does not fit (its staged copy is as large as dW), C is
  // made in dW's own order: more DMA per panel, no copy.
  const std::uint64_t N = std::uint64_t(shape(n.inputs[0])[0]);
  std::uint64_t best = 0;
  double bestCycles = 0;
  bool ownOrder = false;
  std::string weighed;
  const std::uint64_t examples = largestChunk(N, vectorUnits({count(n.inputs[0]) / N, count(n.inputs[1]) / N}), [&](std::uint64_t e) {
    for (const bool own : {false, true}) {
      best = 0, weighed.clear(), ownOrder = own;
      for (const std::uint64_t chunk : {64, 128, 256}) {
        const double cycles = estimateOnly([&] { convWeightGradient(n, dst, chunk, e, own); });
        weighed += (weighed.empty() ? "" : ", ") + std::to_string(chunk) + ": " + (cycles < 0 ? std::string("SRAM too small") : std::to_string(std::llround(cycles)));
        if (cycles >= 0 && (best == 0 || cycles < bestCycles)) best = chunk, bestCycles = cycles;
      }
      if (best != 0) return true;
    }
    ownOrder = false;
    return false;
  });
  if (best == 0) best = 64;  // none fits: the smallest, which names the shortfall
  convWeightGradient(n, dst, best, examples, ownOrder);
  choice_ = "chunks of " + std::to_string(best) + " positions (estimated cycles by chunk: " + weighed + ")";
  if (ownOrder && std::uint64_t(shape(n.outputs[0])[1]) >= 16) choice_ += ", C in dW's own order (the copy that reorders it does not fit the SRAM)";
  if (examples < N) choice_ += ", examples in chunks of " + std::to_string(examples) + " (all " + std::to_string(N) + " do not fit the SRAM)";
}

}  // namespace tatami::compiler::lowering
