// Convolutions on the matrix unit as implicit GEMM (any padding, dilation and groups, and a
// stride equal along both axes): the forward convolution and its input gradient (a convolution
// of stride 1 of dy, with zeros inserted for a stride, by the flipped kernel), and the BF16 planes
// both read and the weight gradient (lower_conv_weight.cpp) shares. No im2col buffer and no index
// table: each B panel (K rows of 16 output positions) is cut from the planes by strided DMA, one
// `dma3d` per kernel row, while the matrix unit works on the panel before it.
//
// Positions run over the padded plane with its full width Wp (p = i Wp + j): for a kernel offset
// (r, q) the 16 inputs of positions p0..p0+15 are then 16 consecutive elements, input p0 + r dh Wp
// + q dw of every channel (with a stride s, of phase (r dh mod s, q dw mod s) of the planes).
// Positions with j >= Wo are computed and dropped; the K rows are ordered (kernel offset,
// channel), so the A panels hold the weights in that order.
#include "lowering.h"

#include <deque>

#include "tatami/compiler/flops.h"

namespace tatami::compiler {

bool convAsImplicitGemm(const Graph& g, const Node& n) {
  if (n.op != Op::conv2d && n.op != Op::conv2d_grad_input && n.op != Op::conv2d_grad_weight) return false;
  const Shape& w = g.values[std::size_t(n.op == Op::conv2d_grad_weight ? n.outputs[0] : n.inputs[1])].shape;
  if (w.size() != 4) return false;
  // A stride the same along both axes (the planes are split into phases by it).
  const auto s = n.attrs.count("strides") ? n.intsAttr("strides") : std::vector<std::int64_t>{1, 1};
  if (s.size() != 2 || s[0] != s[1] || s[0] < 1) return false;
  if (n.op == Op::conv2d_grad_input) {  // dy's padding at both ends must not be negative
    const auto p = n.attrs.count("pads") ? n.intsAttr("pads") : std::vector<std::int64_t>{0, 0, 0, 0};
    const auto d = n.attrs.count("dilations") ? n.intsAttr("dilations") : std::vector<std::int64_t>{1, 1};
    const Shape& dy = g.values[std::size_t(n.inputs[0])].shape;
    const Shape& x = g.values[std::size_t(n.outputs[0])].shape;
    for (int a = 0; a < 2; ++a) {
      const std::int64_t start = d[std::size_t(a)] * (w[std::size_t(2 + a)] - 1) - p[std::size_t(a)];
      const std::int64_t end = x[std::size_t(2 + a)] - 1 + p[std::size_t(a)] - (dy[std::size_t(2 + a)] - 1) * s[0];
      if (start < 0 || end < 0) return false;
    }
  }
  return true;
}

namespace lowering {

double Lowering::toBf16(std::uint64_t to, std::uint64_t from, std::uint64_t count, const std::string& what) {
  const double vec = double(c_.core.vector_latency_cycles);
  double cycles = 0;
  const std::uint64_t whole = count / 32 * 32;
  if (whole) {
    li(1, std::int64_t(to)), li(2, std::int64_t(from)), li(4, std::int64_t(whole));
    emit_.emit(tatami::Op::Vcvt, DType::Bf16, {R(1), R(2), R(4)}, DType::F32);
    cycles += lines(whole * 4) + vec;
  }
  if (count > whole) {
    const std::uint64_t scratch = temp(32, what + ".tail");
    vfill(scratch, 0.0, 32);
    dma2d(scratch, from + whole * 4, 1, (count - whole) * 4, 0, 0);
    li(1, std::int64_t(to + whole * 2)), li(2, std::int64_t(scratch)), li(4, 32);
    emit_.emit(tatami::Op::Vcvt, DType::Bf16, {R(1), R(2), R(4)}, DType::F32);
    cycles += 2 * (2 + vec) + dmaCycles(1, 128);
  }
  return cycles;
}

std::uint64_t Lowering::bf16Input(int v, std::uint64_t slack, const std::string& what, double& cycles) {
  return bf16Input(addr(v), count(v), slack, what, cycles);
}

std::uint64_t Lowering::bf16Input(std::uint64_t from, std::uint64_t n, std::uint64_t slack, const std::string& what, double& cycles) {
  const std::uint64_t whole = roundUp(n, 32);
  const std::uint64_t to = temp((whole + roundUp(slack, 32)) / 2, what + ".in_bf16");
  cycles += toBf16(to, from, n, what);
  li(1, std::int64_t(to + whole * 2)), li(3, 0), li(4, std::int64_t(roundUp(slack, 32)));
  emit_.emit(tatami::Op::Vfill, DType::Bf16, {R(1), R(3), R(4)});
  cycles += lines(roundUp(slack, 32) * 2) + double(c_.core.vector_latency_cycles);
  return to;
}

Lowering::Bf16Planes Lowering::bf16Planes(const Shape& s, std::uint64_t s16, std::uint64_t c0, std::uint64_t cn,
                                          const std::array<std::uint64_t, 4>& pad, std::uint64_t dilate, std::uint64_t stride,
                                          std::uint64_t slack, const std::string& what, double& cycles, bool firstPhaseOnly) {
  const std::uint64_t N = std::uint64_t(s[0]), C = std::uint64_t(s[1]), H = std::uint64_t(s[2]), W = std::uint64_t(s[3]);
  const std::uint64_t Hd = (H - 1) * dilate + 1, Wd = (W - 1) * dilate + 1;  // with the inserted zeros
  const std::uint64_t Hp = roundUp(Hd + pad[0] + pad[2], stride), Wp = roundUp(Wd + pad[1] + pad[3], stride);
  const bool padded = pad[0] || pad[1] || pad[2] || pad[3] || dilate > 1 || Hp != Hd + pad[0] + pad[2] || Wp != Wd + pad[1] + pad[3];
  if (!padded && stride == 1) return {s16 + c0 * H * W * 2, C * H * W, H * W, W, 1, 0, false};
  const double vec = double(c_.core.vector_latency_cycles);
  const auto fillZero = [&](std::uint64_t at, std::uint64_t elements) {
    li(1, std::int64_t(at)), li(3, 0), li(4, std::int64_t(roundUp(elements, 32)));
    emit_.emit(tatami::Op::Vfill, DType::Bf16, {R(1), R(3), R(4)});
    cycles += lines(roundUp(elements, 32) * 2) + vec;
  };
  const auto transposeBf16 = [&](std::uint64_t d, std::uint64_t src, std::uint64_t rows, std::uint64_t cols) {
    li(1, std::int64_t(d)), li(2, std::int64_t(src)), li(3, std::int64_t(rows)), li(4, std::int64_t(cols));
    emit_.emit(tatami::Op::Vtr, DType::Bf16, {R(1), R(2), R(3), R(4)});
    cycles += 2 * lines(rows * cols * 2) + vec;
  };
  const std::uint64_t planes = N * cn;
  // The source rows: the input's, or with dilate - 1 zeros between columns (a transpose makes
  // the columns rows, placed dilate apart by one strided DMA, and back).
  std::uint64_t rows = s16 + c0 * H * W * 2, rowLen = W, exStride = C * H * W;
  if (dilate > 1) {
    const std::uint64_t packed = bf16Temp(roundUp(planes * H * W, 32), what + ".rows");
    for (std::uint64_t b = 0; b < N; ++b) {
      dma2dAsync(packed + b * cn * H * W * 2, s16 + (b * C + c0) * H * W * 2, 1, cn * H * W * 2, 0, 0);
      cycles += dmaCycles(1, cn * H * W * 2);
    }
    const std::uint64_t t = bf16Temp(roundUp(planes * H * W, 32), what + ".cols"), tz = bf16Temp(roundUp(Wd * planes * H, 32), what + ".cols_dilated");
    transposeBf16(t, packed, planes * H, W);
    fillZero(tz, Wd * planes * H);
    dma2dAsync(tz, t, W, planes * H * 2, dilate * planes * H * 2, planes * H * 2);
    cycles += dmaCycles(W, planes * H * 2);
    rows = bf16Temp(roundUp(planes * H * Wd, 32), what + ".rows_dilated");
    transposeBf16(rows, tz, Wd, planes * H);
    rowLen = Wd, exStride = cn * H * Wd;
  }
  // The padded planes [planes, Hp, Wp], rows of the source dilate apart; with a stride, no
  // padding and every channel, the source's own planes (the phases below are cut from them).
  const bool inPlace = stride > 1 && !padded && cn == C;
  const std::uint64_t xp = inPlace ? rows : bf16Temp(roundUp(planes * Hp * Wp + (stride == 1 ? slack : 0), 32), what + ".padded");
  if (!inPlace) {
    fillZero(xp, planes * Hp * Wp + (stride == 1 ? slack : 0));
    for (std::uint64_t b = 0; b < N; ++b)
      for (std::uint64_t c = 0; c < cn; ++c) {
        const std::uint64_t from = rows + (b * exStride + c * H * rowLen) * 2;
        dma2dAsync(xp + (((b * cn + c) * Hp + pad[0]) * Wp + pad[1]) * 2, from, H, rowLen * 2, dilate * Wp * 2, rowLen * 2);
        cycles += dmaCycles(H, rowLen * 2);
      }
  }
  if (dilate > 1) releaseTemp(rows);  // (the other dilation temporaries stay to the op's end)
  if (stride == 1) return {xp, cn * Hp * Wp, Hp * Wp, Wp, 1, 0, true};
  // Phases, a row phase at a time: rows a, a + s, ... of every plane picked by one DMA (Hp is a
  // multiple of s), the columns made rows (a transpose), columns b, b + s, ... picked by one DMA
  // and transposed back into phase (a, b). No temporary is larger than one row phase.
  const std::uint64_t Hq = Hp / stride, Wq = Wp / stride, rowsA = planes * Hq;
  const std::uint64_t phaseElems = roundUp(planes * Hq * Wq + slack, 32);
  const std::uint64_t phases = firstPhaseOnly ? 1 : stride;  // along each axis
  const std::uint64_t out = bf16Temp(phases * phases * phaseElems, what + ".phases");
  fillZero(out, phases * phases * phaseElems);
  const std::uint64_t ra = bf16Temp(roundUp(rowsA * Wp, 32), what + ".rows_phase"), ta = bf16Temp(roundUp(Wp * rowsA, 32), what + ".t");
  const std::uint64_t tb = bf16Temp(roundUp(Wq * rowsA, 32), what + ".t_phase");
  for (std::uint64_t a = 0; a < phases; ++a) {
    dma2dAsync(ra, xp + a * Wp * 2, rowsA, Wp * 2, Wp * 2, stride * Wp * 2);
    cycles += dmaCycles(rowsA, Wp * 2);
    if (a + 1 == phases && !inPlace) releaseTemp(xp);  // read by the last row phase's copy
    transposeBf16(ta, ra, rowsA, Wp);
    for (std::uint64_t b = 0; b < phases; ++b) {
      dma2dAsync(tb, ta + b * rowsA * 2, Wq, rowsA * 2, rowsA * 2, stride * rowsA * 2);
      cycles += dmaCycles(Wq, rowsA * 2);
      transposeBf16(out + (a * phases + b) * phaseElems * 2, tb, Wq, rowsA);
    }
  }
  releaseTemp(tb), releaseTemp(ta), releaseTemp(ra);
  return {out, cn * Hq * Wq, Hq * Wq, Wq, stride, phaseElems * 2, true};
}

void Lowering::convImplicitGemm(const Node& n, std::uint64_t dst) {
  // The whole batch's planes at once where they fit; else examples in chunks, the largest that
  // fit (halving), so that the SRAM the op takes is bounded by a chunk, not by the batch.
  const int src = n.inputs[0];
  const std::uint64_t N = std::uint64_t(shape(src)[0]);
  // Where even the smallest chunk does not fit, the weights' BF16 copies are made a block of 16
  // outputs at a time (one group only; slower: a transpose per block).
  // Where that does not fit either, the outputs in passes: each pass makes the panels of a few
  // blocks of 16 outputs (halving) and runs every position against them, the positions' panels
  // cut again for each pass (one group only).
  const std::uint64_t G = std::uint64_t(n.intAttr("group", 1));
  const std::uint64_t mb = (std::uint64_t(shape(n.outputs[0])[1]) / G + 15) / 16;  // blocks of 16 outputs
  bool fits = false, byBlock = false;
  std::uint64_t pass = 0;  // output blocks per pass (0: all)
  const auto largest = [&] {
    return largestChunk(N, vectorUnits({count(src) / N}), [&](std::uint64_t c) {
      return fits = estimateOnly([&] { convImplicitGemmChunks(n, dst, c, byBlock, pass); }) >= 0;
    });
  };
  std::uint64_t chunk = largest();
  if (!fits && G == 1) {
    byBlock = true;
    const std::uint64_t blocks = largest();
    if (fits) chunk = blocks;
    for (std::uint64_t blocksPerPass = mb / 2; !fits && blocksPerPass >= 1; blocksPerPass /= 2) {
      pass = blocksPerPass;
      const std::uint64_t inPasses = largest();
      if (fits) chunk = inPasses;
    }
    if (!fits) byBlock = false, pass = 0;  // none fits: the shortfall named as before
  }
  convImplicitGemmChunks(n, dst, chunk, byBlock, pass);  // the smallest chunk that does not fit: its shortfall named
  if (chunk < N)
    choice_ = "examples in chunks of " + std::to_string(chunk) + " (the planes of all " + std::to_string(N) + " do not fit the SRAM)";
  if (byBlock) choice_ += std::string(choice_.empty() ? "" : "; ") + "the weights' panels made 16 outputs at a time (their BF16 copies do not fit at once)";
  if (pass)
    choice_ += "; the outputs in passes of " + std::to_string(pass * 16) + " (the panels of all " + std::to_string(mb * 16) +
               " do not fit), the positions cut again for each";
}

void Lowering::convImplicitGemmChunks(const Node& n, std::uint64_t dst, std::uint64_t chunk, bool byBlock, std::uint64_t pass) {
  const bool forward = n.op == Op::conv2d;
  const int src = n.inputs[0], wv = n.inputs[1];
  const Shape& ss = shape(src);  // x [N, C, H, W], or dy [N, F, oh, ow] for the input gradient
  const Shape& ws = shape(wv);   // [F, C/G, kh, kw]
  const Shape& os = shape(n.outputs[0]);
  const std::uint64_t N = std::uint64_t(ss[0]), Cs = std::uint64_t(ss[1]), Hs = std::uint64_t(ss[2]), Ws = std::uint64_t(ss[3]);
  const std::uint64_t Co = std::uint64_t(os[1]), Ho = std::uint64_t(os[2]), Wo = std::uint64_t(os[3]);
  const std::uint64_t F = std::uint64_t(ws[0]), Cw = std::uint64_t(ws[1]), kh = std::uint64_t(ws[2]), kw = std::uint64_t(ws[3]);
  const std::uint64_t G = std::uint64_t(n.intAttr("group", 1)), Fg = F / G;
  const auto pads = n.attrs.count("pads") ? n.intsAttr("pads") : std::vector<std::int64_t>{0, 0, 0, 0};
  const auto dil = n.attrs.count("dilations") ? n.intsAttr("dilations") : std::vector<std::int64_t>{1, 1};
  const std::uint64_t dh = std::uint64_t(dil[0]), dw = std::uint64_t(dil[1]), khkw = kh * kw;
  const auto strides = n.attrs.count("strides") ? n.intsAttr("strides") : std::vector<std::int64_t>{1, 1};
  const std::uint64_t sh = std::uint64_t(strides[0]), sw = std::uint64_t(strides[1]);
  // The forward convolution reads x with its padding and stride. The input gradient is a
  // convolution of stride 1 of dy with stride - 1 zeros inserted between its elements, padded by
  // the dilated kernel's extent less the forward padding at the start and to the input's size at
  // the end, by the flipped kernel (convAsImplicitGemm checks that these pads are not negative).
  const std::uint64_t stride = forward ? sh : 1, dilate = forward ? 1 : sh;
  // Every tap in phase (0, 0): a 1x1 kernel (a residual network's strided shortcut), or a
  // dilation that is a multiple of the stride.
  const bool onePhase = (kh == 1 || dh % std::max<std::uint64_t>(stride, 1) == 0) && (kw == 1 || dw % std::max<std::uint64_t>(stride, 1) == 0);
  const std::uint64_t pt = forward ? std::uint64_t(pads[0]) : dh * (kh - 1) - std::uint64_t(pads[0]);
  const std::uint64_t pl = forward ? std::uint64_t(pads[1]) : dw * (kw - 1) - std::uint64_t(pads[1]);
  const std::uint64_t pb = forward ? std::uint64_t(pads[2]) : Ho - 1 + std::uint64_t(pads[0]) - (Hs - 1) * sh;
  const std::uint64_t pr = forward ? std::uint64_t(pads[3]) : Wo - 1 + std::uint64_t(pads[1]) - (Ws - 1) * sw;
  const std::uint64_t Csg = Cs / G, Cog = Co / G;  // channels read and made per group
  const std::uint64_t K = khkw * Csg, Kp = roundUp(K, 2), mb = (Cog + 15) / 16;
  // Output blocks per pass: all, or (byBlock only) a few at a time.
  const std::uint64_t mbPass = pass && byBlock ? std::min(pass, mb) : mb;
  usefulFlops_ = matrixFlops(g_, n);

  const auto before = est_;  // estimated as a whole, at the end
  double setup = 0;
  const double vec = double(c_.core.vector_latency_cycles);

  // Per chunk of examples, the input in BF16 (once for every group, with zeroed slack after it:
  // panels of the last positions read past the last plane); per group, the source planes, the A
  // panels (made once when there is one group), then the panels of positions streamed through
  // two B slots.
  const std::uint64_t slack = 32 + dw * (kw - 1);
  const std::uint64_t panelBytes = Kp * 32;
  const std::uint64_t aPanels = alloc_.allocate(mbPass * panelBytes, n.name + ".a_panels");
  temps_.push_back({aPanels, mbPass * panelBytes});
  const std::uint64_t wCount = Fg * Cw * khkw;
  // A group's weights not 64-byte aligned are copied first (vcvt reads aligned vectors).
  const bool copyWeights = G > 1 && (wCount * 4) % 64 != 0;
  const std::uint64_t wAligned = copyWeights ? temp(wCount, n.name + ".w_group") : 0;
  const std::uint64_t wt16 = byBlock ? 0 : bf16Temp(roundUp(wCount, 32), n.name + ".w_t_bf16");
  // Two B slots: panel i+1 is loaded into the slot of panel i-1, whose matrix instructions have
  // finished reading by the time panel i's start.
  constexpr std::uint64_t kSlots = 2, kTiles = 4;
  const std::uint64_t slots = alloc_.allocate(kSlots * panelBytes, n.name + ".b_panels");
  temps_.push_back({slots, kSlots * panelBytes});
  const std::uint64_t tiles = temp(256 * kTiles, n.name + ".tiles");
  const double macs = double(c_.core.matrix_units * c_.core.matrix_dim * c_.core.matrix_dim);
  const double tileCycles = std::max(256.0 * double(Kp) / macs, lines(2 * Kp * 32)) + 4 * double(c_.core.scalar_cycles);
  const double sc = double(c_.core.scalar_cycles);
  double main = 0, matrixSum = 0, dmaSum = 0;
  std::uint64_t t = 0;  // tiles so far (the tile buffers rotate over the whole op)
  // Per tile, its copies out (buffer, C address, rows, first position, positions, row stride), two
  // tiles behind its matrix instruction: the result is back by then.
  using Copy = std::array<std::uint64_t, 6>;
  std::deque<std::vector<Copy>> pending;

  const auto copyOut = [&](const std::vector<Copy>& tileCopies, double& dma, double& issue) {
    for (const Copy& c : tileCopies) {
      dma2dAsync(c[1], c[0] + c[3] * 4, c[2], c[4] * 4, c[5], 64);
      dma += dmaCycles(c[2], c[4] * 4), issue += 7 * double(c_.core.scalar_cycles);
    }
  };
  const std::uint64_t exIn = Cs * Hs * Ws;  // one example's elements of the source
  for (std::uint64_t b0 = 0; b0 < N; b0 += chunk) {
    const std::uint64_t nc = std::min(chunk, N - b0);
    Shape cs = ss;
    cs[0] = std::int64_t(nc);
    const std::size_t mark = temps_.size();  // the chunk's temporaries from here on
    const std::uint64_t s16 = bf16Input(addr(src) + b0 * exIn * 4, nc * exIn, slack, n.name, setup);
    Bf16Planes planes;
    for (std::uint64_t g = 0; g < G; ++g) {
      if (g > 0 && planes.owned) releaseTemp(planes.base);  // the previous group's
      planes = bf16Planes(cs, s16, g * Csg, Csg, {pt, pl, pb, pr}, dilate, stride, slack + 2 * Ws, n.name, setup, onePhase);
      if (planes.owned && G == 1) releaseTemp(s16);  // copied into the planes
      const std::uint64_t exStride = planes.exStride, chanStride = planes.chanStride, Wp = planes.width;
      const std::uint64_t nbEx = (Ho * Wp + 15) / 16;  // position blocks per example, at the planes' width
      for (std::uint64_t ob0 = 0; ob0 < mb; ob0 += mbPass) {
        const std::uint64_t obEnd = std::min(mb, ob0 + mbPass);
        if ((b0 == 0 || mbPass < mb) && byBlock) {
          // The A panels a block of 16 outputs at a time (one group): the block's weights in FP32
          // (forward: its 16 filters' rows, one run; input gradient: its 16 channels of every
          // filter, one strided DMA), in BF16, transposed so that the 16 outputs are consecutive,
          // then one strided DMA per kernel offset, as below.
          li(1, std::int64_t(aPanels)), li(3, 0), li(4, std::int64_t(mbPass * Kp * 16));
          emit_.emit(tatami::Op::Vfill, DType::Bf16, {R(1), R(3), R(4)});
          setup += lines(mbPass * panelBytes) + vec;
          const std::uint64_t blockElems = 16 * Cw * khkw;  // forward [16, Cw khkw]; gradient [Fg, 16, khkw] (Fg = F)
          const std::uint64_t gradElems = Fg * 16 * khkw;
          const std::uint64_t elems = forward ? blockElems : gradElems;
          for (std::uint64_t ob = ob0; ob < obEnd; ++ob) {
            const std::uint64_t o0 = ob * 16, oc = std::min<std::uint64_t>(16, Cog - o0);
            const std::size_t blockMark = temps_.size();
            std::uint64_t from = addr(wv) + o0 * Cw * khkw * 4;
            if (!forward || oc < 16) {  // gathered or padded into a zeroed block first
              const std::uint64_t block = temp(roundUp(elems, 16), n.name + ".w_block");
              vfill(block, 0.0, roundUp(elems, 16));
              if (forward) dma2dAsync(block, from, 1, oc * Cw * khkw * 4, 0, 0);
              else dma2dAsync(block, addr(wv) + o0 * khkw * 4, Fg, oc * khkw * 4, 16 * khkw * 4, Cw * khkw * 4);
              setup += forward ? dmaCycles(1, oc * Cw * khkw * 4) : dmaCycles(Fg, oc * khkw * 4);
              from = block;
            }
            const std::uint64_t b16 = bf16Temp(roundUp(elems, 32), n.name + ".w_block_bf16");
            const std::uint64_t bt = bf16Temp(roundUp(elems, 32), n.name + ".w_block_t");
            setup += toBf16(b16, from, elems, n.name);
            // forward: [16, Cw khkw] -> [Cw khkw, 16], element (c, rq, f) at (c khkw + rq) 16 + f;
            // input gradient: [Fg 16, khkw] -> [khkw, Fg 16], element (rq, f, c) at (rq Fg + f) 16 + c.
            li(1, std::int64_t(bt)), li(2, std::int64_t(b16)), li(3, std::int64_t(forward ? 16 : Fg * 16)), li(4, std::int64_t(forward ? Cw * khkw : khkw));
            emit_.emit(tatami::Op::Vtr, DType::Bf16, {R(1), R(2), R(3), R(4)});
            setup += 2 * lines(elems * 2) + vec;
            for (std::uint64_t rq = 0; rq < khkw; ++rq) {
              const std::uint64_t at = forward ? bt + rq * 16 * 2 : bt + (khkw - 1 - rq) * Fg * 16 * 2;
              dma2dAsync(aPanels + (ob - ob0) * panelBytes + rq * Csg * 32, at, Csg, oc * 2, 32, (forward ? khkw * 16 : 16) * 2);
              setup += dmaCycles(Csg, oc * 2);
            }
            releaseTempsSince(blockMark);  // the next block's reuse the bytes once these DMAs have read them
          }
        } else if (b0 == 0 || G > 1) {  // the A panels: one group's stay for every chunk
          // A panels: row (kernel offset rq, channel k) of panel ob holds the weights of outputs
          // ob*16..+15. The weights transposed so that those 16 are consecutive, in BF16, then one
          // strided DMA per kernel offset and panel.
          std::uint64_t wsrc = addr(wv) + g * wCount * 4;
          if (copyWeights) {
            dma2dAsync(wAligned, wsrc, 1, wCount * 4, 0, 0);
            wsrc = wAligned, setup += dmaCycles(1, wCount * 4);
          }
          // In BF16, then transposed so that the 16 outputs of a panel row are consecutive:
          // forward: w_g [Fg, Cw*khkw] -> [Cw*khkw, Fg]; element (rq, c, f) at (c*khkw + rq)*Fg + f.
          // input gradient: w_g [Fg*Cw, khkw] -> [khkw, Fg*Cw]; element (rq, f, c) at ((khkw-1-rq)*Fg + f)*Cw + c.
          // (w16 is freed once transposed: a later write to its bytes waits for the transpose's reads)
          const std::uint64_t w16Bytes = roundUp(roundUp(wCount, 32) * 2, 64), w16 = alloc_.allocate(w16Bytes, n.name + ".w_bf16");
          setup += toBf16(w16, wsrc, wCount, n.name);
          li(1, std::int64_t(wt16)), li(2, std::int64_t(w16)), li(3, std::int64_t(forward ? Fg : Fg * Cw)), li(4, std::int64_t(forward ? Cw * khkw : khkw));
          emit_.emit(tatami::Op::Vtr, DType::Bf16, {R(1), R(2), R(3), R(4)});
          alloc_.release(w16, w16Bytes);
          li(1, std::int64_t(aPanels)), li(3, 0), li(4, std::int64_t(mb * Kp * 16));
          emit_.emit(tatami::Op::Vfill, DType::Bf16, {R(1), R(3), R(4)});
          setup += lines(wCount * 2) + lines(mb * panelBytes) + 2 * vec;
          const std::uint64_t ld = forward ? Fg : Cw, k2Stride = forward ? khkw : 1;
          for (std::uint64_t ob = 0; ob < mb; ++ob) {
            const std::uint64_t o0 = ob * 16, oc = std::min<std::uint64_t>(16, Cog - o0);
            for (std::uint64_t rq = 0; rq < khkw; ++rq) {
              const std::uint64_t row = forward ? rq : (khkw - 1 - rq) * Fg;
              dma2dAsync(aPanels + ob * panelBytes + rq * Csg * 32, wt16 + (row * ld + o0) * 2, Csg, oc * 2, 32, k2Stride * ld * 2);
              setup += dmaCycles(Csg, oc * 2);
            }
          }
        }
        if (g == 0 && b0 == 0 && K != Kp) {  // the zero row that pads K to even
          li(1, std::int64_t(slots)), li(3, 0), li(4, std::int64_t(kSlots * Kp * 16));
          emit_.emit(tatami::Op::Vfill, DType::Bf16, {R(1), R(3), R(4)});
          setup += lines(kSlots * panelBytes) + vec;
        }

        // The panels of positions, example by example: panel i is loaded while panel i-1 computes.
        const std::uint64_t panels = nc * nbEx;
        const auto loadSteps = [&](std::uint64_t i) {
          std::vector<std::function<void()>> steps;
          const std::uint64_t b = i / nbEx, p0 = (i % nbEx) * 16, slot = slots + (i % kSlots) * panelBytes;
          // Without phases, one DMA per kernel row: kw planes (the offsets q dw apart) of Csg channel
          // rows; with one channel, one DMA for the whole panel: kh planes (dh rows of the plane
          // apart) of kw rows. With phases, one of Csg channel rows per kernel offset.
          const bool perRow = planes.stride == 1 && Csg * kw < (1u << 20);
          if (perRow && Csg == 1) {
            const std::uint64_t from = planes.tap(0, 0) + (b * exStride + p0) * 2;
            steps.push_back([=] { dma3dAsync(slot, from, kh, kw, 32, kw * 32, 32, dh * Wp * 2, dw * 2); });
            return steps;
          }
          for (std::uint64_t rq = 0; rq < khkw; rq += perRow ? kw : 1) {
            const std::uint64_t from = planes.tap((rq / kw) * dh, (rq % kw) * dw) + (b * exStride + p0) * 2;
            if (perRow) steps.push_back([=] { dma3dAsync(slot + rq * Csg * 32, from, kw, Csg, 32, Csg * 32, 32, dw * 2, chanStride * 2); });
            else steps.push_back([=] { dma2dAsync(slot + rq * Csg * 32, from, Csg, 32, 32, chanStride * 2); });
          }
          return steps;
        };
        const double loadDma = planes.stride != 1 ? double(khkw) * dmaCycles(Csg, 32)
                               : Csg == 1         ? dmaCycles(khkw, 32)
                                                  : double(kh) * dmaCycles(kw * Csg, 32);
        for (const auto& step : loadSteps(0)) step();
        setup += loadDma + double(loadSteps(0).size()) * 7 * sc;
        for (std::uint64_t i = 0; i < panels; ++i) {
          const std::uint64_t b = i / nbEx, p0 = (i % nbEx) * 16, slot = slots + (i % kSlots) * panelBytes;
          std::vector<std::function<void()>> next;
          if (i + 1 < panels) next = loadSteps(i + 1);
          const std::uint64_t perTile = (next.size() + (obEnd - ob0) - 1) / (obEnd - ob0);
          std::size_t stepAt = 0;
          double dma = next.empty() ? 0.0 : loadDma, issue = double(next.size()) * 7 * sc;
          for (std::uint64_t ob = ob0; ob < obEnd; ++ob, ++t) {
            const std::uint64_t tile = tiles + (t % kTiles) * 1024, o0 = ob * 16, oc = std::min<std::uint64_t>(16, Cog - o0);
            for (std::uint64_t k0 = 0; k0 < Kp; k0 += 4096) {
              const std::uint64_t kc = std::min<std::uint64_t>(4096, Kp - k0);
              li(1, std::int64_t(tile)), li(2, std::int64_t(aPanels + (ob - ob0) * panelBytes + k0 * 32));
              li(3, std::int64_t(slot + k0 * 32)), li(4, std::int64_t(kc));
              emit_.emit(k0 == 0 ? tatami::Op::Mmaz : tatami::Op::Mma, DType::Bf16, {R(1), R(2), R(3), R(4)});
              issue += 5 * sc;
            }
            // The tile's valid positions, in runs along rows of the output plane.
            std::vector<Copy> runs;
            for (std::uint64_t p = p0; p < p0 + 16;) {
              const std::uint64_t i0 = p / Wp, j0 = p % Wp;
              if (i0 >= Ho) break;
              if (j0 >= Wo) {
                p += Wp - j0;
                continue;
              }
              const std::uint64_t len = std::min(Wo - j0, p0 + 16 - p);
              runs.push_back({tile, dst + ((((b0 + b) * Co + g * Cog + o0) * Ho + i0) * Wo + j0) * 4, oc, p - p0, len, Ho * Wo * 4});
              p += len;
            }
            pending.push_back(std::move(runs));
            if (pending.size() > 2) {
              copyOut(pending.front(), dma, issue);
              pending.pop_front();
            }
            for (std::uint64_t s = 0; s < perTile && stepAt < next.size(); ++s) next[stepAt++]();
          }
          while (stepAt < next.size()) next[stepAt++]();
          main += std::max({double(obEnd - ob0) * tileCycles, dma, issue});
          matrixSum += double(obEnd - ob0) * tileCycles, dmaSum += dma;
        }
      }  // the passes over the outputs
    }
    releaseTempsSince(mark);  // the next chunk's take their bytes
  }
  double tail = double(c_.core.matrix_latency_cycles) + lines(1024);
  for (const auto& tileCopies : pending) copyOut(tileCopies, tail, tail);
  est_ = before;
  // The bound: the matrix unit, or the DMA engine cutting the panels (small K: few channels).
  cost(setup + main + tail, dmaSum > matrixSum ? "sram" : "compute");
}

}  // namespace lowering

}  // namespace tatami::compiler
