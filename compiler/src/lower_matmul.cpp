// Matrix products: on the matrix unit (BF16 panels, FP32 accumulation) or the vector unit (FP32).
#include "lowering.h"

namespace tatami::compiler::lowering {

void Lowering::matmulMixedChosen(const Node& n, std::uint64_t dst) {
  // Which operand stays resident (its panels made once, during the first pass over the other):
  // B's, or A's where the cost model estimates that order faster and its estimates can tell them
  // apart: C of more than one tile and K of 32 or more. (With less K a tile's matrix work is a few
  // cycles and the orders differ in issue and DMA overheads the estimates do not resolve: the
  // zoo's attention models took A for [32, 96] products with K = 8, estimated 14% faster,
  // measured 13% slower. With one tile both orders make the same panels and the same tile.) The
  // two orders issue the same tiles; they differ in which panels are made once and which for
  // every block, in how the first pass paces the resident operand's panels, and in how C's tiles
  // go out. matmulMixed allocates everything before it emits anything, so a try that does not
  // fit leaves nothing behind.
  const std::uint64_t K = std::uint64_t(shape(n.inputs[0])[1]), N = std::uint64_t(shape(n.inputs[1])[1]);
  const std::uint64_t M = std::uint64_t(shape(n.inputs[0])[0]);
  const bool weigh = !(M <= 16 && N <= 16) && K >= 32;
  const double bResident = estimateOnly([&] { matmulMixed(n, dst, false); });
  const double aResident = bResident >= 0 && !weigh ? -1 : estimateOnly([&] { matmulMixed(n, dst, true); });
  if (bResident < 0 && aResident < 0) {
    // Neither fits. C in blocks of columns, the widest that fit (halving, whole tiles), B's
    // panels of a block resident and A's made again for each; or K in blocks, the largest that
    // fit (halving, multiples of 64), each block's product added to C (FP32) through a partial C.
    // The cheaper by the estimates.
    // The largest block of `whole` (halving from half of it, whole units) whose lowering fits, and
    // its estimate; 0 when none does.
    const auto largestFitting = [](std::uint64_t whole, std::uint64_t unit, const std::function<double(std::uint64_t)>& estimate,
                                   double& cycles) -> std::uint64_t {
      for (std::uint64_t b = roundUp((whole + 1) / 2, unit); b >= unit && b < whole; b = roundUp((b + 1) / 2, unit)) {
        if ((cycles = estimate(b)) >= 0) return b;
        if (b == unit) break;
      }
      return 0;
    };
    double columnCycles = -1, kCycles = -1;
    const std::uint64_t nc = largestFitting(N, 16, [&](std::uint64_t w) { return estimateOnly([&] { matmulMixedColumnBlocks(n, dst, w); }); },
                                            columnCycles);
    const std::uint64_t kc = largestFitting(K, 64, [&](std::uint64_t b) { return estimateOnly([&] { matmulMixedKBlocks(n, dst, b); }); }, kCycles);
    const auto weighed = [&] {
      return " (estimated cycles: columns in blocks " + (nc ? std::to_string(std::llround(columnCycles)) : std::string("do not fit")) +
             ", K in blocks " + (kc ? std::to_string(std::llround(kCycles)) : std::string("does not fit")) + ")";
    };
    if (nc && (!kc || columnCycles <= kCycles)) {
      matmulMixedColumnBlocks(n, dst, nc);
      choice_ = "C in blocks of " + std::to_string(nc) + " columns: the panels of neither operand fit the SRAM" + weighed();
      return;
    }
    if (kc) {
      matmulMixedKBlocks(n, dst, kc);
      choice_ = "K in blocks of " + std::to_string(kc) + ": the panels of all " + std::to_string(K) + " do not fit the SRAM" + weighed();
      return;
    }
    return matmulMixed(n, dst, false);  // none fits: B's shortfall named
  }
  const auto panels = [&](std::uint64_t count) { return std::to_string((count + 15) / 16 * roundUp(K, 2) * 32); };
  const auto cycles = [](double c) { return std::to_string(std::llround(c)); };
  if (bResident < 0) {
    matmulMixed(n, dst, true);
    choice_ = "A resident, B streamed: B's panels (" + panels(N) + " bytes) do not fit the SRAM, A's and two of B's do";
  } else if (!weigh) {
    matmulMixed(n, dst, false);
  } else if (aResident < 0) {
    matmulMixed(n, dst, false);
    choice_ = "B resident, A streamed: A's panels (" + panels(M) + " bytes) do not fit the SRAM, B's and two of A's do";
  } else {
    const bool a = aResident < bResident;
    matmulMixed(n, dst, a);
    choice_ = std::string(a ? "A resident, B streamed" : "B resident, A streamed") + " (estimated cycles: B resident " + cycles(bResident) +
              ", A resident " + cycles(aResident) + ")";
  }
}

void Lowering::matmulMixedKBlocks(const Node& n, std::uint64_t dst, std::uint64_t kc) {
  // C = sum over blocks of K of A[:, block] B[block, :]: the first block's product into C, each
  // later one's into a partial C added to it; each block's temporaries freed before the next's.
  const std::uint64_t M = std::uint64_t(shape(n.inputs[0])[0]), K = std::uint64_t(shape(n.inputs[0])[1]);
  const std::uint64_t N = std::uint64_t(shape(n.inputs[1])[1]);
  const std::uint64_t partial = temp(M * N, n.name + ".partial");
  for (std::uint64_t k0 = 0; k0 < K; k0 += kc) {
    const std::size_t mark = temps_.size();
    matmulMixed(n, k0 == 0 ? dst : partial, false, k0, std::min(kc, K - k0));
    releaseTempsSince(mark);
    if (k0 > 0) vbin(tatami::Op::Vadd, dst, dst, partial, roundUp(M * N, 16));
  }
  usefulFlops_ = 2 * M * N * K;
}

void Lowering::matmulMixedColumnBlocks(const Node& n, std::uint64_t dst, std::uint64_t nc) {
  // C's columns in blocks of nc: each block a product of its own (B's panels of the block
  // resident, A's streamed), each block's temporaries freed before the next's.
  const std::uint64_t M = std::uint64_t(shape(n.inputs[0])[0]), K = std::uint64_t(shape(n.inputs[0])[1]);
  const std::uint64_t N = std::uint64_t(shape(n.inputs[1])[1]);
  double cycles = 0;
  for (std::uint64_t j0 = 0; j0 < N; j0 += nc) {
    const std::size_t mark = temps_.size();
    matmulMixed(n, dst, false, 0, 0, j0, std::min(nc, N - j0));
    for (const auto& [bound, c] : est_) cycles += c;
    est_.clear();
    releaseTempsSince(mark);
  }
  cost(cycles, "compute");
  usefulFlops_ = 2 * M * N * K;
}

void Lowering::matmulMixed(const Node& n, std::uint64_t dst, bool aResident, std::uint64_t kFirst, std::uint64_t kBlock, std::uint64_t nFirst,
                           std::uint64_t nCount) {
  // C = A B on the matrix unit. Both operands go to the matrix unit as BF16 panels of K rows
  // (padded to even with zeros) by 16 of their other index: A's panels are 16 of its rows, B's
  // 16 of its columns. One operand is resident (all its panels, made during the first pass over
  // the other) and the other streamed, a block at a time: B resident walks C by row blocks, A
  // resident by column blocks; each tile is the same instruction either way. An operand stored with K as its row index (B, or a fused transpose of
  // A) gives a panel by one strided DMA and a conversion; one stored with K as its column index
  // (A, or a fused transpose of B) by a transpose and a conversion. Each 16 x 16 C tile is one
  // mmaz (+ mma for K beyond 4096) into a tile buffer, copied into C's rows by DMA two tiles
  // later. The one thread issues in order, so the preparation of the next row block's A panel
  // is interleaved with this block's matrix instructions and the matrix unit stays busy; the
  // core's hazard checks order the DMA copies, panel writes and matrix reads.
  // With kBlock, the product over K indices kFirst .. kFirst + kBlock - 1 only (matmulMixedKBlocks).
  // With nCount, C's columns nFirst .. nFirst + nCount - 1 only (matmulMixedColumnBlocks): B's
  // columns and C's of the block, at their rows' full strides.
  const int a = n.inputs[0], b = n.inputs[1];
  const std::uint64_t M = std::uint64_t(shape(a)[0]), Kall = std::uint64_t(shape(a)[1]), Nall = std::uint64_t(shape(b)[1]);
  const std::uint64_t N = nCount ? nCount : Nall;
  const std::uint64_t K = kBlock ? kBlock : Kall;
  const std::uint64_t Kp = roundUp(K, 2), mb = (M + 15) / 16, nb = (N + 15) / 16;
  usefulFlops_ = 2 * M * N * K;  // what the graph asks for; the unit issues 2 x 256 x Kp per tile
  const std::uint64_t panelBytes = Kp * 32;  // Kp rows of 16 BF16
  // The streamed operand's block is used by that block's tiles only: two panels in rotation.
  const std::uint64_t outerBlocks = aResident ? nb : mb, innerBlocks = aResident ? mb : nb;
  const std::uint64_t slots = std::min<std::uint64_t>(outerBlocks, 2);
  const std::uint64_t outerPanels = alloc_.allocate(slots * panelBytes, n.name + (aResident ? ".b_panels" : ".a_panels"));
  const std::uint64_t innerPanels = alloc_.allocate(innerBlocks * panelBytes, n.name + (aResident ? ".a_panels" : ".b_panels"));
  temps_.push_back({outerPanels, slots * panelBytes});
  temps_.push_back({innerPanels, innerBlocks * panelBytes});
  const std::uint64_t trans[2] = {temp(16 * Kp, n.name + ".trans0"), temp(16 * Kp, n.name + ".trans1")};
  // A zero-padded copy of a partial row block, for operands read by rows (only when needed).
  const bool padRows = (!transposed_.count(a) && (M % 16 || K != Kp || K != Kall)) || (transposed_.count(b) && (N % 16 || K != Kp || K != Kall));
  const std::uint64_t block = padRows ? temp(16 * Kp, n.name + ".block") : 0;
  constexpr std::uint64_t kTiles = 4;  // C tile buffers in rotation
  const std::uint64_t tiles = temp(256 * kTiles, n.name + ".tiles");
  const double macs = double(c_.core.matrix_units * c_.core.matrix_dim * c_.core.matrix_dim);
  const double tileCycles = std::max(256.0 * double(Kp) / macs, lines(2 * Kp * 32)) + 4 * double(c_.core.scalar_cycles);
  const PanelOperand opA = transposed_.count(a) ? PanelOperand{addr(a) + kFirst * M * 4, M, M, true} : PanelOperand{addr(a) + kFirst * 4, Kall, M, false};
  const PanelOperand opB = transposed_.count(b) ? PanelOperand{addr(b) + (nFirst * Kall + kFirst) * 4, Kall, N, false}
                                                : PanelOperand{addr(b) + (kFirst * Nall + nFirst) * 4, Nall, N, true};
  const PanelOperand& outer = aResident ? opB : opA;  // streamed
  const PanelOperand& inner = aResident ? opA : opB;  // resident

  // The steps that build panel `ib` of an operand into `panel`: loading it (FP32, K x 16) into
  // scratch `t`, then converting it to BF16 (each step one vector or DMA instruction).
  const auto loadSteps = [&](const PanelOperand& o, std::uint64_t ib, std::uint64_t t) {
    std::vector<std::function<void()>> steps;
    const std::uint64_t count16 = std::min<std::uint64_t>(16, o.extent - ib * 16);
    if (o.kMajor) {
      if (count16 < 16 || K != Kp) steps.push_back([=] { vfill(t, 0.0, 16 * Kp); });
      steps.push_back([=] { dma2dAsync(t, o.base + ib * 64, K, count16 * 4, 64, o.ld * 4); });  // Kp x 16 FP32
    } else {
      std::uint64_t src = o.base + ib * 16 * o.ld * 4;
      if (count16 < 16 || K != Kp || o.ld != K) {  // a zero-padded (or K-block) copy first
        steps.push_back([=] { vfill(block, 0.0, 16 * Kp); });
        steps.push_back([=] { dma2dAsync(block, src, count16, K * 4, Kp * 4, o.ld * 4); });
        src = block;
      }
      // Converted before it is transposed: each instruction then writes at most half the lines
      // of a tile's matrix work, and fits between the matrix unit's result write-backs.
      steps.push_back([=] {
        li(1, std::int64_t(t)), li(2, std::int64_t(src)), li(4, std::int64_t(16 * Kp));
        emit_.emit(tatami::Op::Vcvt, DType::Bf16, {R(1), R(2), R(4)}, DType::F32);  // 16 x Kp BF16
        vectorCost(16 * Kp, 1);
      });
    }
    return steps;
  };
  const auto convertStep = [&](const PanelOperand& o, std::uint64_t panel, std::uint64_t t) {
    return std::function<void()>([=] {
      if (o.kMajor) {
        li(1, std::int64_t(panel)), li(2, std::int64_t(t)), li(4, std::int64_t(16 * Kp));
        emit_.emit(tatami::Op::Vcvt, DType::Bf16, {R(1), R(2), R(4)}, DType::F32);
      } else {
        li(1, std::int64_t(panel)), li(2, std::int64_t(t)), li(3, 16), li(4, std::int64_t(Kp));
        emit_.emit(tatami::Op::Vtr, DType::Bf16, {R(1), R(2), R(3), R(4)});  // Kp x 16
      }
      vectorCost(8 * Kp, 1);
    });
  };
  const auto run = [](const std::vector<std::function<void()>>& steps) {
    for (const auto& step : steps) step();
  };
  const auto before = est_;  // the instructions below are estimated as a whole, at the end
  // A thread waits while the unit it issues to is busy, so the resident operand's loads (DMA)
  // are spread over the first pass: panel ii + 2 is loaded while tile ii of that pass computes,
  // and panel ii + 1, loaded a tile earlier, is converted then, in time for the next tile.
  // Two load buffers suffice: panel ii + 2 reuses panel ii's, converted a tile earlier.
  const std::uint64_t innerScratch[2] = {temp(16 * Kp, n.name + ".b_load0"), innerBlocks > 1 ? temp(16 * Kp, n.name + ".b_load1") : 0};
  run(loadSteps(inner, 0, innerScratch[0]));
  if (innerBlocks > 1) run(loadSteps(inner, 1, innerScratch[1]));
  run(loadSteps(outer, 0, trans[0]));
  run({convertStep(outer, outerPanels, trans[0]), convertStep(inner, innerPanels, innerScratch[0])});
  std::uint64_t t = 0;
  std::vector<std::array<std::uint64_t, 4>> copies;  // (tile buffer, C address, rows, cols) of the tiles to copy out
  const auto copyOut = [&](const std::array<std::uint64_t, 4>& c) { dma2dAsync(c[1], c[0], c[2], c[3] * 4, Nall * 4, 64); };
  for (std::uint64_t io = 0; io < outerBlocks; ++io) {
    std::vector<std::function<void()>> next;
    if (io + 1 < outerBlocks) {
      next = loadSteps(outer, io + 1, trans[(io + 1) % 2]);
      next.push_back(convertStep(outer, outerPanels + ((io + 1) % slots) * panelBytes, trans[(io + 1) % 2]));
    }
    std::size_t stepAt = 0;
    for (std::uint64_t ii = 0; ii < innerBlocks; ++ii, ++t) {
      const std::uint64_t tile = tiles + (t % kTiles) * 1024;
      const std::uint64_t ib = aResident ? ii : io, jb = aResident ? io : ii;
      const std::uint64_t outerPanel = outerPanels + (io % slots) * panelBytes, innerPanel = innerPanels + ii * panelBytes;
      const std::uint64_t aPanel = aResident ? innerPanel : outerPanel, bPanel = aResident ? outerPanel : innerPanel;
      for (std::uint64_t k0 = 0; k0 < Kp; k0 += 4096) {
        const std::uint64_t kc = std::min<std::uint64_t>(4096, Kp - k0);
        li(1, std::int64_t(tile)), li(2, std::int64_t(aPanel + k0 * 32));
        li(3, std::int64_t(bPanel + k0 * 32)), li(4, std::int64_t(kc));
        emit_.emit(k0 == 0 ? tatami::Op::Mmaz : tatami::Op::Mma, DType::Bf16, {R(1), R(2), R(3), R(4)});
      }
      const std::uint64_t rows = std::min<std::uint64_t>(16, M - ib * 16), cols = std::min<std::uint64_t>(16, N - jb * 16);
      copies.push_back({tile, dst + (ib * 16 * Nall + nFirst + jb * 16) * 4, rows, cols});
      if (copies.size() > 2) copyOut(copies[copies.size() - 3]);
      if (io == 0 && ii + 2 < innerBlocks) run(loadSteps(inner, ii + 2, innerScratch[(ii + 2) % 2]));
      if (io == 0 && ii + 1 < innerBlocks) convertStep(inner, innerPanels + (ii + 1) * panelBytes, innerScratch[(ii + 1) % 2])();
      // Steps spread over the pass (a step waits for the one before: with a tile between them
      // it does not hold up the thread); in the first pass the vector unit converts the
      // resident operand first.
      const std::uint64_t spacing = std::max<std::uint64_t>(1, innerBlocks / std::max<std::uint64_t>(1, next.size()));
      if (stepAt < next.size() && io > 0 && ii % spacing == 0) next[stepAt++]();
    }
    while (stepAt < next.size()) next[stepAt++]();
  }
  for (std::size_t i = copies.size() > 2 ? copies.size() - 2 : 0; i < copies.size(); ++i) copyOut(copies[i]);
  est_ = before;
  cost(matmulMixedCycles(outer, inner, K, tileCycles), "compute");
}

double Lowering::matmulMixedCycles(const PanelOperand& opA, const PanelOperand& opB, std::uint64_t K, double tileCycles) const {
  const std::uint64_t Kp = roundUp(K, 2), M = opA.extent, N = opB.extent, mb = (M + 15) / 16, nb = (N + 15) / 16;
  // The estimate: B panels, the first A panel, then per row block the matrix work or the next A
  // panel's preparation, whichever is longer, and the last tile's result and copy.
  const double convert = lines(16 * Kp * 4) + double(c_.core.vector_latency_cycles);
  const double copy = dmaCycles(K, 64);
  const auto prep = [&](const PanelOperand& o, bool partial) {
    const std::uint64_t copyRows = partial && o.extent % 16 ? o.extent % 16 : 16;  // the rows a padded copy moves
    const double pad = (partial || K != Kp) ? convert + (o.kMajor ? 0.0 : dmaCycles(copyRows, K * 4)) : 0.0;
    // Read by rows: a conversion of FP32 lines, then a transpose of half as many BF16 lines.
    const double transposeBf16 = lines(16 * Kp * 2) + double(c_.core.vector_latency_cycles);
    return (o.kMajor ? std::max(copy, convert) : convert + transposeBf16) + pad;
  };
  // B's first panel before any tile; each later one is prepared while a tile of the first row
  // block computes (the longer of the two paces that block).
  const double bFirst = (opB.kMajor ? copy : 0.0) + prep(opB, false) + (N % 16 ? convert : 0.0);
  // With small K the DMA engine paces it: a B panel's load and a tile's copy per tile.
  const double dmaPace = (opB.kMajor ? copy : 0.0) + dmaCycles(std::min<std::uint64_t>(16, M), 64) + 24 * double(c_.core.scalar_cycles);
  const double firstBlock = tileCycles + double(nb - 1) * std::max({tileCycles, prep(opB, false), dmaPace});
  const double aPrep = prep(opA, false) + (opA.kMajor ? copy : 0.0);
  const double aLastPad = prep(opA, M % 16 != 0) - prep(opA, false);  // the last block's zero-padded copy
  // A block with little matrix work waits for its panel: the preparation and the scalar set-up
  // of its instructions (about 22 issue cycles) are exposed.
  // ... or, with small K, the DMA engine: the block's tile copies and its A panel's load.
  const double dmaPerBlock = double(nb) * dmaCycles(16, 64) + (opA.kMajor ? copy : 0.0);
  const double perBlock = std::max({double(nb) * tileCycles, aPrep + 22 * double(c_.core.scalar_cycles), dmaPerBlock});
  return bFirst + aPrep + aLastPad + firstBlock + double(mb - 1) * perBlock + double(c_.core.matrix_latency_cycles) + lines(1024) +
         dmaCycles(16, 64);
}

void Lowering::matmul(const Node& n, std::uint64_t dst) {
  const int a = n.inputs[0], b = n.inputs[1];
  if (shape(a).size() != 2 || shape(b).size() != 2) unsupported(n, "batched matmul");
  if (ctx_.precision == "mixed") return matmulMixedChosen(n, dst);
  const std::uint64_t M = std::uint64_t(shape(a)[0]), K = std::uint64_t(shape(a)[1]), N = std::uint64_t(shape(b)[1]);
  const std::uint64_t Np = roundUp(N, 16);
  // B and C with rows padded to whole vectors.
  const std::uint64_t bp = temp(K * Np, n.name + ".b_rows"), cp = temp(M * Np, n.name + ".c_rows"), prod = temp(Np, n.name + ".prod");
  vfill(bp, 0.0, K * Np);
  vfill(cp, 0.0, M * Np);
  dma2d(bp, addr(b), K, N * 4, Np * 4, N * 4);
  // for i: for k: C[i,:] += A[i,k] * B[k,:]
  const LabelId li_ = emit_.newLabel(), lk = emit_.newLabel();
  li(10, 0), li(11, std::int64_t(M)), li(14, std::int64_t(K)), li(15, std::int64_t(addr(a))), li(16, std::int64_t(cp));
  li(4, std::int64_t(Np));
  emit_.bind(li_);
  emit_.emit(tatami::Op::Li, {R(12), 0});
  li(17, std::int64_t(bp));
  emit_.bind(lk);
  emit_.emit(tatami::Op::Lw, {R(3), Mem{R(15)}});
  li(1, std::int64_t(prod));
  emit_.emit(tatami::Op::Vmuls, DType::F32, {R(1), R(17), R(3), R(4)});
  emit_.emit(tatami::Op::Vadd, DType::F32, {R(16), R(16), R(1), R(4)});
  emit_.emit(tatami::Op::Add, {R(15), R(15), 4});
  emit_.emit(tatami::Op::Add, {R(17), R(17), Np * 4});
  emit_.emit(tatami::Op::Add, {R(12), R(12), 1});
  emit_.emit(tatami::Op::Blt, {R(12), R(14), lk});
  emit_.emit(tatami::Op::Add, {R(16), R(16), Np * 4});
  emit_.emit(tatami::Op::Add, {R(10), R(10), 1});
  emit_.emit(tatami::Op::Blt, {R(10), R(11), li_});
  {
    // Per (i, k): vmuls then a dependent vadd, each Np/16 vectors plus the pipeline latency.
    const double v = lines(Np * 4) + double(c_.core.vector_latency_cycles);
    cost(double(M) * double(K) * 2 * v, "compute");
  }
  dma2d(dst, cp, M, N * 4, N * 4, Np * 4);
}


}  // namespace tatami::compiler::lowering
