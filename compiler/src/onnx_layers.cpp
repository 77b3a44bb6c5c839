// ONNX layers that become many IR ops (docs/compiler.md, "ONNX front end"): Einsum as
// transposes, sums and batched matmuls; RNN, LSTM and GRU unrolled over the sequence; and linear
// maps along one axis by a constant matrix (linear and cubic Resize, reflected and edge Pad, CumSum, strided
// slices of run-time values).
#include "onnx_importer.h"

namespace tatami::compiler::onnx_importer {

int Importer::einsum(const onnx::NodeProto& n) {
  std::string eq;
  for (const auto& a : n.attribute())
    if (a.name() == "equation") eq = a.s();
  eq.erase(std::remove(eq.begin(), eq.end(), ' '), eq.end());
  const std::size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (std::size_t at = 0;;) {
    const std::size_t comma = lhs.find(',', at);
    terms.push_back(lhs.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  if (int(terms.size()) != n.input_size()) fail(n, "equation '" + eq + "' has " + std::to_string(terms.size()) + " operands for " + std::to_string(n.input_size()) + " inputs");
  // The ellipsis becomes the characters '0', '1', ... (its axes, right-aligned in each operand).
  std::size_t ellipsisRank = 0;
  std::vector<int> ins;
  for (std::size_t k = 0; k < terms.size(); ++k) {
    ins.push_back(value(n, int(k)));
    const std::size_t dots = terms[k].find("...");
    const std::size_t letters = terms[k].size() - (dots == std::string::npos ? 0 : 3);
    if (shapeOf(ins.back()).size() < letters) fail(n, "operand " + std::to_string(k) + " has rank " + std::to_string(shapeOf(ins.back()).size()) + " for '" + terms[k] + "'");
    if (dots != std::string::npos) ellipsisRank = std::max(ellipsisRank, shapeOf(ins.back()).size() - letters);
    else if (shapeOf(ins.back()).size() != letters) fail(n, "operand " + std::to_string(k) + " has rank " + std::to_string(shapeOf(ins.back()).size()) + " for '" + terms[k] + "'");
  }
  if (ellipsisRank > 10) fail(n, "an ellipsis of " + std::to_string(ellipsisRank) + " axes (at most 10)");
  std::string dotsAs;
  for (std::size_t i = 0; i < ellipsisRank; ++i) dotsAs += char('0' + i);
  const auto expand = [&](std::string term, std::size_t rank) {
    const std::size_t dots = term.find("...");
    if (dots == std::string::npos) return term;
    const std::size_t own = rank - (term.size() - 3);
    if (own != ellipsisRank) fail(n, "the ellipsis stands for " + std::to_string(own) + " axes in one operand and " + std::to_string(ellipsisRank) + " in another (broadcasting is not supported)");
    return term.substr(0, dots) + dotsAs + term.substr(dots + 3);
  };
  std::map<char, std::int64_t> size;
  std::vector<std::string> labels;
  for (std::size_t k = 0; k < terms.size(); ++k) {
    labels.push_back(expand(terms[k], shapeOf(ins[k]).size()));
    for (std::size_t i = 0; i < labels[k].size(); ++i) {
      const char c = labels[k][i];
      if (labels[k].find(c) != i) fail(n, std::string("letter '") + c + "' repeats within operand " + std::to_string(k) + " (a diagonal): not supported");
      const std::int64_t d = shapeOf(ins[k])[i];
      if (size.count(c) && size[c] != d) fail(n, std::string("letter '") + c + "' has sizes " + std::to_string(size[c]) + " and " + std::to_string(d));
      size[c] = d;
    }
  }
  std::string out;
  if (arrow != std::string::npos) {
    out = eq.substr(arrow + 2);
    if (out.find("...") != std::string::npos) out = out.substr(0, out.find("...")) + dotsAs + out.substr(out.find("...") + 3);
  } else {  // implicit: the ellipsis, then the letters that appear once, in alphabetical order
    std::map<char, int> count;
    for (const auto& l : labels)
      for (char c : l) count[c] += 1;
    out = dotsAs;
    for (const auto& [c, k] : count)
      if (k == 1 && !std::isdigit(static_cast<unsigned char>(c))) out += c;
  }
  for (char c : out)
    if (!size.count(c)) fail(n, std::string("output letter '") + c + "' is in no operand");
  // Sums out the letters of (x, l) that neither `keep` nor `other` has.
  const auto sumOut = [&](int& x, std::string& l, const std::string& keep, const std::string& other) {
    std::vector<std::int64_t> axes;
    std::string left;
    for (std::size_t i = 0; i < l.size(); ++i) {
      if (keep.find(l[i]) == std::string::npos && other.find(l[i]) == std::string::npos) axes.push_back(std::int64_t(i));
      else left += l[i];
    }
    if (!axes.empty()) x = op(n, Op::reduce_sum, {x}, {{"axes", axes}, {"keepdims", std::int64_t(0)}});
    l = left;
  };
  int x = ins[0];
  std::string lx = labels[0];
  for (std::size_t k = 1; k < labels.size(); ++k) {
    std::string later = out;
    for (std::size_t j = k + 1; j < labels.size(); ++j) later += labels[j];
    int y = ins[k];
    std::string ly = labels[k];
    sumOut(x, lx, later, ly);
    sumOut(y, ly, later, lx);
    std::string batch, free1, free2, contracted;
    for (char c : lx) {
      if (ly.find(c) == std::string::npos) free1 += c;
      else if (later.find(c) != std::string::npos) batch += c;
      else contracted += c;
    }
    for (char c : ly)
      if (lx.find(c) == std::string::npos) free2 += c;
    const auto order = [&](const std::string& from, const std::string& to) {
      std::vector<std::int64_t> perm;
      for (char c : to) perm.push_back(std::int64_t(from.find(c)));
      return perm;
    };
    const auto product = [&](const std::string& letters) {
      std::int64_t p = 1;
      for (char c : letters) p *= size[c];
      return p;
    };
    const int a = reshaped(n, permuted(n, x, order(lx, batch + free1 + contracted)), {product(batch), product(free1), product(contracted)});
    const int b = reshaped(n, permuted(n, y, order(ly, batch + contracted + free2)), {product(batch), product(contracted), product(free2)});
    Shape s;
    for (char c : batch + free1 + free2) s.push_back(size[c]);
    x = reshaped(n, op(n, Op::matmul, {a, b}), s);
    lx = batch + free1 + free2;
  }
  sumOut(x, lx, out, "");
  std::vector<std::int64_t> perm;
  for (char c : out) perm.push_back(std::int64_t(lx.find(c)));
  return permuted(n, x, perm);
}

void Importer::checkMap(const onnx::NodeProto& n, std::int64_t in, std::int64_t out, const std::string& what) const {
  if (in < 1 || out < 1 || in > kMaxMap / out)
    fail(n, what + " maps " + std::to_string(in) + " elements to " + std::to_string(out) + ": at most 2^24 pairs are supported");
}

int Importer::alongAxis(const onnx::NodeProto& n, int x, std::size_t axis, const std::vector<std::vector<double>>& m) {
  const Shape s = shapeOf(x);
  const std::int64_t in = s[axis], out = std::int64_t(m.size());
  std::vector<double> mt(std::size_t(in * out), 0.0);
  for (std::int64_t o = 0; o < out; ++o)
    for (std::int64_t i = 0; i < in; ++i) mt[std::size_t(i * out + o)] = m[std::size_t(o)][std::size_t(i)];
  std::vector<std::int64_t> perm;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (i != axis) perm.push_back(std::int64_t(i));
  perm.push_back(std::int64_t(axis));
  const int y = op(n, Op::matmul, {permuted(n, x, perm), constant({in, out}, mt)});
  std::vector<std::int64_t> back(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) back[std::size_t(perm[i])] = std::int64_t(i);
  return permuted(n, y, back);
}

int Importer::interpolatingResize(const onnx::NodeProto& n, int x, const std::vector<double>& scales, const Shape& out, bool cubic) {
  const std::string kind = cubic ? "cubic" : "linear";
  std::string mode = "half_pixel";
  for (const auto& a : n.attribute())
    if (a.name() == "coordinate_transformation_mode") mode = a.s();
  static const std::set<std::string> known = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"};
  if (!known.count(mode)) fail(n, "coordinate_transformation_mode '" + mode + "' is not supported in mode " + kind);
  // Cubic: Keys' kernel with coefficient a (-0.75 by default, PyTorch's), four taps around the
  // source position; a tap outside the axis reads the edge element (exclude_outside 0), or gets no
  // weight and the others are renormalized (exclude_outside 1).
  const double a = floatAttr(n, "cubic_coeff_a", -0.75);
  const bool excludeOutside = intAttr(n, "exclude_outside", 0) != 0;
  const auto keys = [a](double d) {
    d = std::fabs(d);
    return d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1 : d < 2 ? ((a * d - 5 * a) * d + 8 * a) * d - 4 * a : 0.0;
  };
  int y = x;
  for (std::size_t axis = 0; axis < out.size(); ++axis) {
    const std::int64_t in = shapeOf(x)[axis], o = out[axis];
    if (o == in && scales[axis] == 1.0) continue;
    if (axis < 2 && shapeOf(x).size() > 2) fail(n, kind + " resizing of axis " + std::to_string(axis) + " (batch or channels) is not supported");
    checkMap(n, in, o, "resizing axis " + std::to_string(axis));
    std::vector<std::vector<double>> m(std::size_t(o), std::vector<double>(std::size_t(in), 0.0));
    for (std::int64_t k = 0; k < o; ++k) {
      double at = 0;
      if (mode == "align_corners") at = o == 1 ? 0.0 : double(k) * double(in - 1) / double(o - 1);
      else if (mode == "asymmetric") at = double(k) / scales[axis];
      else if (mode == "pytorch_half_pixel" && o == 1) at = 0.0;
      else at = (double(k) + 0.5) / scales[axis] - 0.5;
      const double lo = std::floor(at), f = at - lo;
      const auto clamp = [&](double i) { return std::size_t(std::min<double>(std::max<double>(i, 0.0), double(in - 1))); };
      std::vector<double>& row = m[std::size_t(k)];
      if (!cubic) {
        row[clamp(lo)] += 1.0 - f;
        row[clamp(lo + 1)] += f;
        continue;
      }
      double kept = 0;
      for (int tap = -1; tap <= 2; ++tap) {
        const double i = lo + tap, w = keys(f - tap);
        if (excludeOutside && (i < 0 || i > double(in - 1))) continue;
        row[clamp(i)] += w, kept += w;
      }
      if (excludeOutside && kept != 0)
        for (double& w : row) w /= kept;
    }
    y = alongAxis(n, y, axis, m);
  }
  return y;
}

int Importer::dilatedMaxPool(const onnx::NodeProto& n, int x) {
  // By its definition: the maximum over the window's kh x kw taps, each tap a contiguous slice of
  // the padded input at offset (a dh, b dw) covering every stride-1 window, then every stride-th
  // window kept. Padding is a 1x1 max pool with those pads (-inf outside the input); the
  // subsampling a 1x1 max pool with the strides. Ties go to the earlier tap, as PyTorch's first
  // maximum: each step is max(tap, running maximum), whose gradient takes the second operand on a
  // tie.
  const Shape xs0 = shapeOf(x);
  const bool oneD = xs0.size() == 3;
  if (xs0.size() != 3 && xs0.size() != 4) fail(n, "dilated max pooling is supported in 1D and 2D (input " + shapeText(xs0) + ")");
  if (intAttr(n, "ceil_mode", 0)) fail(n, "ceil_mode with dilations is not supported");
  checkSpatialAttrs(n, xs0.size() - 2);
  const auto two = [&](const char* key, std::vector<std::int64_t> one) {
    std::vector<std::int64_t> v = intsAttr(n, key);
    if (v.empty()) v = one;
    return oneD ? std::vector<std::int64_t>{1, v.at(0)} : v;
  };
  const std::vector<std::int64_t> k = two("kernel_shape", {1}), st = two("strides", {1}), dil = two("dilations", {1});
  std::vector<std::int64_t> pads = intsAttr(n, "pads");
  if (pads.empty()) pads.assign(oneD ? 2 : 4, 0);
  if (oneD) pads = {0, pads.at(0), 0, pads.at(1)};
  if (oneD) x = op(n, Op::reshape, {x}, {{"shape", std::vector<std::int64_t>{xs0[0], xs0[1], 1, xs0[2]}}});
  if (std::any_of(pads.begin(), pads.end(), [](std::int64_t p) { return p != 0; }))
    x = op(n, Op::max_pool2d, {x}, {{"kernel", std::vector<std::int64_t>{1, 1}}, {"pads", pads}});
  const Shape xs = shapeOf(x);
  const std::int64_t windowsH = xs[2] - dil[0] * (k[0] - 1), windowsW = xs[3] - dil[1] * (k[1] - 1);
  if (windowsH < 1 || windowsW < 1) fail(n, "the dilated window is larger than the padded input " + shapeText(xs));
  int y = -1;
  for (std::int64_t a = 0; a < k[0]; ++a)
    for (std::int64_t b = 0; b < k[1]; ++b) {
      const int tap = op(n, Op::slice, {x},
                         {{"starts", std::vector<std::int64_t>{0, 0, a * dil[0], b * dil[1]}},
                          {"ends", std::vector<std::int64_t>{xs[0], xs[1], a * dil[0] + windowsH, b * dil[1] + windowsW}}});
      y = y < 0 ? tap : op(n, Op::max, {tap, y});
    }
  if (st[0] != 1 || st[1] != 1) y = op(n, Op::max_pool2d, {y}, {{"kernel", std::vector<std::int64_t>{1, 1}}, {"strides", st}});
  if (oneD) {
    const Shape ys = shapeOf(y);
    y = op(n, Op::reshape, {y}, {{"shape", std::vector<std::int64_t>{ys[0], ys[1], ys[3]}}});
  }
  return y;
}

void Importer::recurrent(const onnx::NodeProto& n) {
  const bool lstm = n.op_type() == "LSTM", rnn = n.op_type() == "RNN";
  const std::int64_t gates = lstm ? 4 : rnn ? 1 : 3;
  // The activations: the defaults (what PyTorch writes out for RNN), or Relu for RNN.
  std::vector<std::string> defaults = lstm ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
                                      : rnn ? std::vector<std::string>{"Tanh"} : std::vector<std::string>{"Sigmoid", "Tanh"};
  bool relu = false;
  for (const auto& a : n.attribute()) {
    if (a.name() == "activation_alpha" || a.name() == "activation_beta") fail(n, "attribute '" + a.name() + "' is not supported");
    if (a.name() == "activations")
      for (int k = 0; k < a.strings_size(); ++k) {
        const std::string& want = defaults[std::size_t(k) % defaults.size()];
        if (rnn && a.strings(k) == "Relu") relu = true;
        else if (a.strings(k) != want)
          fail(n, "activation '" + a.strings(k) + "' is not supported (only " + (rnn ? "Tanh and Relu" : "the defaults") + ")");
      }
    if (a.name() == "clip") fail(n, "attribute 'clip' is not supported");
    if (a.name() == "input_forget" && a.i() != 0) fail(n, "input_forget = 1 is not supported");
  }
  if (lstm && hasInput(n, 7)) fail(n, "peephole weights (input 7) are not supported");
  std::string direction = "forward";
  for (const auto& a : n.attribute())
    if (a.name() == "direction") direction = a.s();
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional") fail(n, "unknown direction '" + direction + "'");
  const std::int64_t dirs = direction == "bidirectional" ? 2 : 1, layout = intAttr(n, "layout", 0);
  int x = value(n, 0);
  if (shapeOf(x).size() != 3) fail(n, "the input has rank " + std::to_string(shapeOf(x).size()) + ", not 3");
  if (layout == 1) x = op(n, Op::transpose, {x}, {{"perm", std::vector<std::int64_t>{1, 0, 2}}});  // [seq, batch, input]
  const std::int64_t S = shapeOf(x)[0], B = shapeOf(x)[1], I = shapeOf(x)[2], H = intAttr(n, "hidden_size", 0);
  if (S < 1 || S > kMaxUnrolled) fail(n, "a sequence of " + std::to_string(S) + " steps (unrolled: 1 to " + std::to_string(kMaxUnrolled) + ")");
  const int w = value(n, 1), r = value(n, 2);
  if (H <= 0 || shapeOf(w) != Shape{dirs, gates * H, I} || shapeOf(r) != Shape{dirs, gates * H, H})
    fail(n, "W or R does not have the shape hidden_size = " + std::to_string(H) + " and the input give");
  if (hasInput(n, 4)) {
    for (double len : constData(n, 4))
      if (len != double(S)) fail(n, "sequence_lens shorter than the sequence are not supported");
  }
  const auto cut = [&](int v, std::vector<std::int64_t> st, std::vector<std::int64_t> en) { return op(n, Op::slice, {v}, {{"starts", st}, {"ends", en}}); };
  const auto reshape = [&](int v, Shape s) { return reshaped(n, v, s); };
  const auto T = [&](int v) { return op(n, Op::transpose, {v}, {{"perm", std::vector<std::int64_t>{1, 0}}}); };
  const auto columns = [&](int v, std::int64_t k) { return cut(v, {0, k * H}, {B, (k + 1) * H}); };  // gate k of [B, gates H]
  std::vector<int> ys, lastH, lastC;
  for (std::int64_t d = 0; d < dirs; ++d) {
    const int wd = T(reshape(cut(w, {d, 0, 0}, {d + 1, gates * H, I}), {gates * H, I}));  // [I, gates H]
    const int rd = T(reshape(cut(r, {d, 0, 0}, {d + 1, gates * H, H}), {gates * H, H}));  // [H, gates H]
    int wb = -1, rb = -1;
    if (hasInput(n, 3)) {
      const int b = value(n, 3);
      wb = reshape(cut(b, {d, 0}, {d + 1, gates * H}), {gates * H});
      rb = reshape(cut(b, {d, gates * H}, {d + 1, 2 * gates * H}), {gates * H});
    }
    // Every step's input projection at once: [S B, gates H], with the input bias (and for LSTM
    // or GRU's z and r the recurrent bias, which add the same way).
    int xw = op(n, Op::matmul, {reshape(x, {S * B, I}), wd});
    if (wb >= 0) xw = op(n, Op::add, {xw, wb});
    const bool beforeReset = !lstm && intAttr(n, "linear_before_reset", 0) != 0;
    int rbh = -1;  // GRU: the h gate's recurrent bias stays apart
    if (rb >= 0) {
      if (lstm || rnn) {
        xw = op(n, Op::add, {xw, rb});
      } else {
        std::vector<double> zr(std::size_t(gates * H), 1.0);  // z and r: 1, h: 0
        std::fill(zr.begin() + 2 * H, zr.end(), 0.0);
        xw = op(n, Op::add, {xw, op(n, Op::mul, {rb, constant({gates * H}, zr)})});
        rbh = cut(rb, {2 * H}, {3 * H});
      }
    }
    xw = reshape(xw, {S, B * gates * H});
    const auto initial = [&](int k) {
      return hasInput(n, k) ? reshape(cut(value(n, k), {d, 0, 0}, {d + 1, B, H}), {B, H})
                            : constant({B, H}, std::vector<double>(std::size_t(B * H), 0.0));
    };
    int h = initial(5), c = lstm ? initial(6) : -1;
    std::vector<int> steps(static_cast<std::size_t>(S));
    const bool backwards = direction == "reverse" || d == 1;
    for (std::int64_t k = 0; k < S; ++k) {
      const std::int64_t t = backwards ? S - 1 - k : k;
      const int xt = reshape(cut(xw, {t, 0}, {t + 1, B * gates * H}), {B, gates * H});
      if (rnn) {
        h = op(n, relu ? Op::relu : Op::tanh, {op(n, Op::add, {xt, op(n, Op::matmul, {h, rd})})});
      } else if (lstm) {
        const int g = op(n, Op::add, {xt, op(n, Op::matmul, {h, rd})});
        const int i = op(n, Op::sigmoid, {columns(g, 0)}), o = op(n, Op::sigmoid, {columns(g, 1)});
        const int f = op(n, Op::sigmoid, {columns(g, 2)}), cc = op(n, Op::tanh, {columns(g, 3)});
        c = op(n, Op::add, {op(n, Op::mul, {f, c}), op(n, Op::mul, {i, cc})});
        h = op(n, Op::mul, {o, op(n, Op::tanh, {c})});
      } else {
        const int hr = op(n, Op::matmul, {h, rd});  // [B, 3H]: z, r, h parts
        const int z = op(n, Op::sigmoid, {op(n, Op::add, {columns(xt, 0), columns(hr, 0)})});
        const int rr = op(n, Op::sigmoid, {op(n, Op::add, {columns(xt, 1), columns(hr, 1)})});
        int cand = -1;
        if (beforeReset) {
          int rh = columns(hr, 2);
          if (rbh >= 0) rh = op(n, Op::add, {rh, rbh});
          cand = op(n, Op::tanh, {op(n, Op::add, {columns(xt, 2), op(n, Op::mul, {rr, rh})})});
        } else {
          int rh = op(n, Op::matmul, {op(n, Op::mul, {rr, h}), cut(rd, {0, 2 * H}, {H, 3 * H})});
          if (rbh >= 0) rh = op(n, Op::add, {rh, rbh});
          cand = op(n, Op::tanh, {op(n, Op::add, {columns(xt, 2), rh})});
        }
        // (1 - z) cand + z h = cand + z (h - cand)
        h = op(n, Op::add, {cand, op(n, Op::mul, {z, op(n, Op::sub, {h, cand})})});
      }
      steps[std::size_t(t)] = reshape(h, {1, 1, B, H});
    }
    ys.push_back(steps.size() == 1 ? steps[0] : op(n, Op::concat, steps, {{"axis", std::int64_t(0)}}));  // [S, 1, B, H]
    lastH.push_back(reshape(h, {1, B, H}));
    if (lstm) lastC.push_back(reshape(c, {1, B, H}));
  }
  const auto joined = [&](const std::vector<int>& parts, std::int64_t axis) {
    return parts.size() == 1 ? parts[0] : op(n, Op::concat, parts, {{"axis", axis}});
  };
  int y = joined(ys, 1), yh = joined(lastH, 0), yc = lstm ? joined(lastC, 0) : -1;
  if (layout == 1) {  // Y [batch, seq, dirs, hidden], Y_h and Y_c [batch, dirs, hidden]
    y = op(n, Op::transpose, {y}, {{"perm", std::vector<std::int64_t>{2, 0, 1, 3}}});
    yh = op(n, Op::transpose, {yh}, {{"perm", std::vector<std::int64_t>{1, 0, 2}}});
    if (lstm) yc = op(n, Op::transpose, {yc}, {{"perm", std::vector<std::int64_t>{1, 0, 2}}});
  }
  bind(n, 0, y);
  bind(n, 1, yh);
  if (lstm) bind(n, 2, yc);
}

}  // namespace tatami::compiler::onnx_importer
