// Spatial ops rewritten as ops a core runs: every window gather (im2col, its inverse, the pooling
// windows, NCHW <-> rows permutations) becomes a `take` with an index table fixed at compile time,
// the arithmetic becomes matmul, elementwise max and where. The graph computes the same values.
#include "tatami/compiler/pipeline.h"

#include "strided.h"

#include <limits>

namespace tatami::compiler {

namespace {

struct Geometry {
  std::int64_t n, c, h, w;        // the NCHW input
  std::int64_t kh, kw, sh, sw, pt, pl, dh, dw;
  std::int64_t oh, ow;            // the output plane
};

Geometry geometry(const Node& n, const Shape& x, std::int64_t kh, std::int64_t kw, const Shape& y) {
  const auto get = [&](const char* key, std::vector<std::int64_t> fallback) {
    return n.attrs.count(key) ? n.intsAttr(key) : fallback;
  };
  const auto s = get("strides", {1, 1}), p = get("pads", {0, 0, 0, 0}), d = get("dilations", {1, 1});
  return {x[0], x[1], x[2], x[3], kh, kw, s[0], s[1], p[0], p[1], d[0], d[1], y[2], y[3]};
}

/// Index of input element (b, c, ih, iw), or -1 outside the plane (padding).
std::int64_t inputAt(const Geometry& g, std::int64_t b, std::int64_t c, std::int64_t ih, std::int64_t iw) {
  if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return -1;
  return ((b * g.c + c) * g.h + ih) * g.w + iw;
}

/// im2col: rows (b, i, j), columns (c, kh, kw).
std::vector<std::int64_t> im2col(const Geometry& g) {
  std::vector<std::int64_t> idx;
  idx.reserve(std::size_t(g.n * g.oh * g.ow * g.c * g.kh * g.kw));
  for (std::int64_t b = 0; b < g.n; ++b)
    for (std::int64_t i = 0; i < g.oh; ++i)
      for (std::int64_t j = 0; j < g.ow; ++j)
        for (std::int64_t c = 0; c < g.c; ++c)
          for (std::int64_t r = 0; r < g.kh; ++r)
            for (std::int64_t q = 0; q < g.kw; ++q)
              idx.push_back(inputAt(g, b, c, i * g.sh - g.pt + r * g.dh, j * g.sw - g.pl + q * g.dw));
  return idx;
}

/// A stride-1, undilated convolution's input padded once: [n, c, oh + kh - 1, ow + kw - 1] (-1:
/// padding).
std::vector<std::int64_t> padded(const Geometry& g) {
  std::vector<std::int64_t> idx;
  const std::int64_t hp = g.oh + g.kh - 1, wp = g.ow + g.kw - 1;
  idx.reserve(std::size_t(g.n * g.c * hp * wp));
  for (std::int64_t b = 0; b < g.n; ++b)
    for (std::int64_t c = 0; c < g.c; ++c)
      for (std::int64_t y = 0; y < hp; ++y)
        for (std::int64_t x = 0; x < wp; ++x) idx.push_back(inputAt(g, b, c, y - g.pt, x - g.pl));
  return idx;
}

/// im2col transposed, from the padded input: rows (c, kh, kw), columns (b, i, j). For a stride
/// of 1 each row holds, per example and output row, a run of ow consecutive padded elements.
std::vector<std::int64_t> colsTransposed(const Geometry& g) {
  std::vector<std::int64_t> idx;
  const std::int64_t hp = g.oh + g.kh - 1, wp = g.ow + g.kw - 1;
  idx.reserve(std::size_t(g.c * g.kh * g.kw * g.n * g.oh * g.ow));
  for (std::int64_t c = 0; c < g.c; ++c)
    for (std::int64_t r = 0; r < g.kh; ++r)
      for (std::int64_t q = 0; q < g.kw; ++q)
        for (std::int64_t b = 0; b < g.n; ++b)
          for (std::int64_t i = 0; i < g.oh; ++i)
            for (std::int64_t j = 0; j < g.ow; ++j) idx.push_back(((b * g.c + c) * hp + i + r) * wp + j + q);
  return idx;
}

/// A pooling window gather for one offset (r, q): the input element at that offset of every
/// output position's window, in the output's NCHW layout (-1: padding).
std::vector<std::int64_t> windowAt(const Geometry& g, std::int64_t r, std::int64_t q) {
  std::vector<std::int64_t> idx;
  idx.reserve(std::size_t(g.n * g.c * g.oh * g.ow));
  for (std::int64_t b = 0; b < g.n; ++b)
    for (std::int64_t c = 0; c < g.c; ++c)
      for (std::int64_t i = 0; i < g.oh; ++i)
        for (std::int64_t j = 0; j < g.ow; ++j) idx.push_back(inputAt(g, b, c, i * g.sh - g.pt + r, j * g.sw - g.pl + q));
  return idx;
}

/// The inverse of a window gather for one window offset (r, q): for every input element, the
/// entry at(b, c, i, j) of the output position (i, j) whose window read it at that offset, or -1.
template <typename At>
std::vector<std::int64_t> foldAt(const Geometry& g, std::int64_t r, std::int64_t q, At at) {
  std::vector<std::int64_t> idx;
  idx.reserve(std::size_t(g.n * g.c * g.h * g.w));
  for (std::int64_t b = 0; b < g.n; ++b)
    for (std::int64_t c = 0; c < g.c; ++c)
      for (std::int64_t h = 0; h < g.h; ++h)
        for (std::int64_t w = 0; w < g.w; ++w) {
          const std::int64_t ni = h + g.pt - r * g.dh, nj = w + g.pl - q * g.dw;
          const std::int64_t i = ni / g.sh, j = nj / g.sw;
          const bool none = ni < 0 || nj < 0 || ni % g.sh || nj % g.sw || i >= g.oh || j >= g.ow;
          idx.push_back(none ? -1 : at(b, c, i, j));
        }
  return idx;
}

/// NCHW [n, f, oh, ow] <-> rows [n*oh*ow, f].
std::vector<std::int64_t> planesToRows(std::int64_t n, std::int64_t f, std::int64_t hw) {
  return stridedIndices({n, hw, f}, {f * hw, 1, hw});
}
std::vector<std::int64_t> rowsToPlanes(std::int64_t n, std::int64_t f, std::int64_t hw) {
  return stridedIndices({n, f, hw}, {hw * f, 1, f});
}

class Decomposer {
 public:
  Decomposer(const Graph& g, KeepNative keep) : g_(g), keep_(keep) { out_.name = g.name; }
  Graph run();

 private:
  int take(int x, std::vector<std::int64_t> idx, const Shape& shape, const std::string& name, double fill = 0.0) {
    std::map<std::string, Attribute> a = {{"index", std::move(idx)}, {"shape", shape}};
    if (fill != 0.0) a["fill"] = fill;
    return out_.op(Op::take, {x}, std::move(a), name);
  }
  int emit(Op o, const std::vector<int>& ins, const std::string& name, std::map<std::string, Attribute> a = {}) {
    return out_.op(o, ins, std::move(a), name);
  }
  std::string fresh(const std::string& base, const std::string& what) { return out_.freshName(base + "." + what); }
  const Shape& shapeOf(int newValue) const { return out_.values[std::size_t(newValue)].shape; }
  int op_reshape(int x, const Shape& shape, const std::string& name) {
    return out_.op(Op::reshape, {x}, {{"shape", shape}}, name);
  }
  int conv(const Node& n, const std::vector<int>& in);
  /// One group's convolution (or gradient) of result shape `os`, named `base`.
  int convGroup(const Node& n, const std::vector<int>& in, const Shape& os, const std::string& base);
  int pool(const Node& n, const std::vector<int>& in);
  int averagePool(const Node& n, const std::vector<int>& in);
  int pad(const Node& n, const std::vector<int>& in);
  int batchedMatmul(const Node& n, const std::vector<int>& in);
  int transpose(const Node& n, const std::vector<int>& in);

  const Graph& g_;
  KeepNative keep_;
  Graph out_;
};

int Decomposer::conv(const Node& n, const std::vector<int>& in) {
  // Grouped: one convolution per group on its slice of channels (and of filters), concatenated.
  const std::int64_t groups = n.intAttr("group", 1);
  const Shape& os = g_.values[std::size_t(n.outputs[0])].shape;
  if (groups == 1) return convGroup(n, in, os, n.name);
  const auto slice = [&](int v, std::size_t axis, std::int64_t begin, std::int64_t end, const std::string& what) {
    const Shape s = shapeOf(v);
    std::vector<std::int64_t> starts(s.size(), 0), ends(s.begin(), s.end());
    starts[axis] = begin, ends[axis] = end;
    return emit(Op::slice, {v}, fresh(n.name, what), {{"starts", starts}, {"ends", ends}});
  };
  std::vector<int> parts;
  std::size_t along = 1;  // the concatenation axis: channels, or filters for the weight gradient
  for (std::int64_t gi = 0; gi < groups; ++gi) {
    const std::string tag = "group" + std::to_string(gi);
    Shape osg = os;
    if (n.op == Op::conv2d) {  // in: x [N, C, H, W], w [F, C/G, kh, kw]
      const std::int64_t cg = shapeOf(in[0])[1] / groups, fg = shapeOf(in[1])[0] / groups;
      osg[1] = fg;
      parts.push_back(convGroup(n, {slice(in[0], 1, gi * cg, (gi + 1) * cg, tag + ".x"), slice(in[1], 0, gi * fg, (gi + 1) * fg, tag + ".w")}, osg,
                                fresh(n.name, tag)));
    } else if (n.op == Op::conv2d_grad_input) {  // in: dy [N, F, oh, ow], w; result x's shape
      const std::int64_t fg = shapeOf(in[1])[0] / groups, cg = os[1] / groups;
      osg[1] = cg;
      parts.push_back(convGroup(n, {slice(in[0], 1, gi * fg, (gi + 1) * fg, tag + ".dy"), slice(in[1], 0, gi * fg, (gi + 1) * fg, tag + ".w")}, osg,
                                fresh(n.name, tag)));
    } else {  // conv2d_grad_weight, in: x, dy; result w's shape [F, C/G, kh, kw]
      const std::int64_t cg = shapeOf(in[0])[1] / groups, fg = os[0] / groups;
      osg[0] = fg;
      along = 0;
      parts.push_back(convGroup(n, {slice(in[0], 1, gi * cg, (gi + 1) * cg, tag + ".x"), slice(in[1], 1, gi * fg, (gi + 1) * fg, tag + ".dy")}, osg,
                                fresh(n.name, tag)));
    }
  }
  return emit(Op::concat, parts, n.name, {{"axis", std::int64_t(along)}});
}

int Decomposer::convGroup(const Node& n, const std::vector<int>& in, const Shape& os, const std::string& base) {
  const Op op = n.op;
  const Shape xs = op == Op::conv2d ? shapeOf(in[0]) : op == Op::conv2d_grad_input ? os : shapeOf(in[0]);
  const Shape ws = op == Op::conv2d ? shapeOf(in[1]) : op == Op::conv2d_grad_input ? shapeOf(in[1]) : os;
  const Shape ys = op == Op::conv2d ? os : shapeOf(in[op == Op::conv2d_grad_input ? 0 : 1]);
  const Geometry geo = geometry(n, xs, ws[2], ws[3], ys);
  const std::int64_t F = ws[0], CKK = ws[1] * ws[2] * ws[3], rows = geo.n * geo.oh * geo.ow, hw = geo.oh * geo.ow;
  // Stride 1 without dilation: the columns transposed, [CKK, rows], from the input padded once;
  // their rows are runs of ow elements (a strided DMA per example and kernel offset) where
  // im2col's are runs of kw.
  const bool unitStride = geo.sh == 1 && geo.sw == 1 && geo.dh == 1 && geo.dw == 1 && op != Op::conv2d_grad_input;
  int colsT = -1;
  if (unitStride) {
    const bool pads = geo.pt || geo.pl || geo.oh + geo.kh - 1 != geo.h || geo.ow + geo.kw - 1 != geo.w;
    const int xp = pads ? take(in[0], padded(geo), {geo.n, geo.c, geo.oh + geo.kh - 1, geo.ow + geo.kw - 1}, fresh(base, "padded")) : in[0];
    colsT = take(xp, colsTransposed(geo), {CKK, rows}, fresh(base, "cols_t"));
  }
  if (op == Op::conv2d && unitStride) {
    const int wm = op_reshape(in[1], {F, CKK}, fresh(base, "wm"));
    const int yt = emit(Op::matmul, {wm, colsT}, fresh(base, "planes"));  // [F, (b, i, j)]
    if (geo.n == 1) return op_reshape(yt, os, base);
    return take(yt, stridedIndices({geo.n, F, hw}, {hw, rows, 1}), os, base);
  }
  if (op == Op::conv2d) {
    const int cols = take(in[0], im2col(geo), {rows, CKK}, fresh(base, "cols"));
    const int wm = op_reshape(in[1], {F, CKK}, fresh(base, "wm"));
    const int wt = emit(Op::transpose, {wm}, fresh(base, "wt"), {{"perm", std::vector<std::int64_t>{1, 0}}});
    const int y2 = emit(Op::matmul, {cols, wt}, fresh(base, "rows"));
    return take(y2, rowsToPlanes(geo.n, F, hw), os, base);
  }
  const int dyIn = in[op == Op::conv2d_grad_input ? 0 : 1];
  const int dy2 = take(dyIn, planesToRows(geo.n, F, hw), {rows, F}, fresh(base, "dy_rows"));
  if (op == Op::conv2d_grad_weight && unitStride) {
    const int dwt = emit(Op::matmul, {colsT, dy2}, fresh(base, "rows"));  // [CKK, F]
    const int dw = emit(Op::transpose, {dwt}, fresh(base, "dw"), {{"perm", std::vector<std::int64_t>{1, 0}}});
    return op_reshape(dw, os, base);
  }
  if (op == Op::conv2d_grad_weight) {
    const int cols = take(in[0], im2col(geo), {rows, CKK}, fresh(base, "cols"));
    const int dyt = emit(Op::transpose, {dy2}, fresh(base, "dy_t"), {{"perm", std::vector<std::int64_t>{1, 0}}});
    const int dw = emit(Op::matmul, {dyt, cols}, fresh(base, "rows"));
    return op_reshape(dw, os, base);
  }
  // conv2d_grad_input: the columns' gradient, folded back by one gather per window offset.
  const int wm = op_reshape(in[1], {F, CKK}, fresh(base, "wm"));
  const int dcols = emit(Op::matmul, {dy2, wm}, fresh(base, "dcols"));
  int sum = -1;
  for (std::int64_t r = 0; r < geo.kh; ++r)
    for (std::int64_t q = 0; q < geo.kw; ++q) {
      const bool last = r == geo.kh - 1 && q == geo.kw - 1;
      const auto at = [&](std::int64_t b, std::int64_t c, std::int64_t i, std::int64_t j) {
        return ((b * geo.oh + i) * geo.ow + j) * CKK + (c * geo.kh + r) * geo.kw + q;
      };
      const int part = take(dcols, foldAt(geo, r, q, at), xs, fresh(base, "fold"));
      sum = sum < 0 ? part : emit(Op::add, {sum, part}, last ? base : fresh(base, "sum"));
      if (last && sum == part) sum = op_reshape(part, xs, base);
    }
  return sum;
}

int Decomposer::pool(const Node& n, const std::vector<int>& in) {
  const auto k = n.intsAttr("kernel");
  const Shape xs = shapeOf(in[0]);
  const Shape ys = n.op == Op::max_pool2d ? g_.values[std::size_t(n.outputs[0])].shape : shapeOf(in[1]);
  const Geometry geo = geometry(n, xs, k[0], k[1], ys);
  const std::string& base = n.name;
  const double lowest = double(std::numeric_limits<float>::lowest());
  // One gather per window offset: that element of every window, in the output's layout.
  std::vector<int> parts;
  for (std::int64_t r = 0; r < geo.kh; ++r)
    for (std::int64_t q = 0; q < geo.kw; ++q) {
      parts.push_back(take(in[0], windowAt(geo, r, q), ys, fresh(base, "window"), lowest));
    }
  const std::size_t K = parts.size();
  if (n.op == Op::max_pool2d) {
    int m = parts[0];
    for (std::size_t i = 1; i < K; ++i) m = emit(Op::max, {m, parts[i]}, i + 1 == K ? base : fresh(base, "max"));
    return K == 1 ? op_reshape(m, ys, base) : m;
  }
  // max_pool2d_grad: the gradient goes to the first maximum of each window.
  int m = parts[0];
  for (std::size_t i = 1; i < K; ++i) m = emit(Op::max, {m, parts[i]}, fresh(base, "max"));
  const int zero = out_.scalar(0.0), one = out_.scalar(1.0);
  // Windows that tile the input exactly (stride = kernel, no padding or dilation): every input
  // element is in one window at one offset, so the gradient is one gather from the offsets'
  // routed gradients side by side (no fills), where overlapping windows need a fold per offset
  // and their sum.
  const bool tiles = geo.sh == geo.kh && geo.sw == geo.kw && geo.dh == 1 && geo.dw == 1 && geo.pt == 0 && geo.pl == 0 &&
                     geo.h == geo.oh * geo.kh && geo.w == geo.ow * geo.kw;
  std::vector<int> routedParts;
  int open = -1;  // 1 while the window's maximum is still to be found
  int sum = -1;
  for (std::size_t i = 0; i < K; ++i) {
    const int gap = emit(Op::sub, {m, parts[i]}, fresh(base, "gap"));
    int hit = emit(Op::where, {gap, zero, one}, fresh(base, "hit"));  // 1 where this element is the maximum
    if (open >= 0) hit = emit(Op::mul, {hit, open}, fresh(base, "first"));
    open = emit(Op::sub, {open >= 0 ? open : one, hit}, fresh(base, "open"));
    const int routed = emit(Op::mul, {hit, in[1]}, fresh(base, "routed"));
    if (tiles) {
      routedParts.push_back(routed);
      continue;
    }
    const std::int64_t r = std::int64_t(i) / geo.kw, q = std::int64_t(i) % geo.kw;
    const auto at = [&](std::int64_t b, std::int64_t c, std::int64_t oi, std::int64_t oj) {
      return ((b * geo.c + c) * geo.oh + oi) * geo.ow + oj;
    };
    const int part = take(routed, foldAt(geo, r, q, at), xs, fresh(base, "fold"));
    sum = sum < 0 ? part : emit(Op::add, {sum, part}, i + 1 == K ? base : fresh(base, "sum"));
  }
  if (tiles && K > 1) {
    const int side = emit(Op::concat, routedParts, fresh(base, "routed_all"), {{"axis", std::int64_t(0)}});  // [K n, c, oh, ow]
    const std::int64_t part = geo.n * geo.c * geo.oh * geo.ow;
    std::vector<std::int64_t> idx;
    idx.reserve(std::size_t(geo.n * geo.c * geo.h * geo.w));
    for (std::int64_t b = 0; b < geo.n; ++b)
      for (std::int64_t c = 0; c < geo.c; ++c)
        for (std::int64_t y = 0; y < geo.h; ++y)
          for (std::int64_t x = 0; x < geo.w; ++x)
            idx.push_back(((y % geo.kh) * geo.kw + x % geo.kw) * part + ((b * geo.c + c) * geo.oh + y / geo.kh) * geo.ow + x / geo.kw);
    return take(side, std::move(idx), xs, base);
  }
  if (tiles) return op_reshape(routedParts[0], xs, base);
  return K == 1 ? op_reshape(sum, xs, base) : sum;
}

int Decomposer::averagePool(const Node& n, const std::vector<int>& in) {
  const auto k = n.intsAttr("kernel");
  const bool grad = n.op == Op::avg_pool2d_grad;
  const Shape xs = grad ? Shape(n.intsAttr("input_shape")) : shapeOf(in[0]);
  const Shape ys = grad ? shapeOf(in[0]) : g_.values[std::size_t(n.outputs[0])].shape;
  const Geometry geo = geometry(n, xs, k[0], k[1], ys);
  const bool includePad = n.intAttr("count_include_pad", 0) != 0;
  const std::string& base = n.name;
  // 1 / (elements averaged) for each output position.
  std::vector<double> recip;
  for (std::int64_t i = 0; i < geo.oh; ++i)
    for (std::int64_t j = 0; j < geo.ow; ++j) {
      std::int64_t count = 0;
      for (std::int64_t r = 0; r < geo.kh; ++r)
        for (std::int64_t q = 0; q < geo.kw; ++q)
          count += includePad || inputAt(geo, 0, 0, i * geo.sh - geo.pt + r, j * geo.sw - geo.pl + q) >= 0;
      recip.push_back(1.0 / double(count));
    }
  const int scale = out_.constant(fresh(base, "recip"), {1, 1, geo.oh, geo.ow}, recip);
  if (grad) {  // each window's share of dy, folded back by one gather per offset
    const int share = emit(Op::mul, {in[0], scale}, fresh(base, "share"));
    const auto at = [&](std::int64_t b, std::int64_t c, std::int64_t oi, std::int64_t oj) {
      return ((b * geo.c + c) * geo.oh + oi) * geo.ow + oj;
    };
    int sum = -1;
    for (std::int64_t r = 0; r < geo.kh; ++r)
      for (std::int64_t q = 0; q < geo.kw; ++q) {
        const int part = take(share, foldAt(geo, r, q, at), xs, fresh(base, "fold"));
        sum = sum < 0 ? part : emit(Op::add, {sum, part}, fresh(base, "sum"));
      }
    return op_reshape(sum, xs, base);
  }
  int sum = -1;
  for (std::int64_t r = 0; r < geo.kh; ++r)
    for (std::int64_t q = 0; q < geo.kw; ++q) {
      const int part = take(in[0], windowAt(geo, r, q), ys, fresh(base, "window"));
      sum = sum < 0 ? part : emit(Op::add, {sum, part}, fresh(base, "sum"));
    }
  return emit(Op::mul, {sum, scale}, base);
}

int Decomposer::pad(const Node& n, const std::vector<int>& in) {
  const Shape s = shapeOf(in[0]);
  const auto p = n.intsAttr("pads");
  const Shape& os = g_.values[std::size_t(n.outputs[0])].shape;
  const auto stride = rowMajorStrides(s);
  std::vector<std::int64_t> idx, c(os.size(), 0);
  idx.reserve(std::size_t(elementCount(os)));
  for (std::int64_t k = 0; k < elementCount(os); ++k) {
    std::int64_t src = 0;
    for (std::size_t d = 0; d < os.size() && src >= 0; ++d) {
      const std::int64_t x = c[d] - p[d];
      src = x < 0 || x >= s[d] ? -1 : src + x * stride[d];
    }
    idx.push_back(src);
    for (std::size_t d = os.size(); d-- > 0;)
      if (++c[d] < os[d]) break;
      else c[d] = 0;
  }
  return take(in[0], std::move(idx), os, n.name);
}

int Decomposer::batchedMatmul(const Node& n, const std::vector<int>& in) {
  const Shape a = shapeOf(in[0]), b = shapeOf(in[1]);
  const Shape& os = g_.values[std::size_t(n.outputs[0])].shape;
  const std::int64_t M = a[a.size() - 2], K = a.back(), N = b.back();
  const std::string& base = n.name;
  if (b.size() == 2) {  // x [..., M, K] @ w [K, N]: one matmul over all the rows
    const int rows = op_reshape(in[0], {elementCount(a) / K, K}, fresh(base, "rows"));
    return op_reshape(emit(Op::matmul, {rows, in[1]}, fresh(base, "mm")), os, base);
  }
  // One 2D matmul per batch entry (an operand of rank 2, or batch dims of 1, broadcast).
  const std::int64_t batch = elementCount(os) / (M * N);
  const std::int64_t ba = elementCount(a) / (M * K), bb = elementCount(b) / (K * N);
  if ((ba != batch && ba != 1) || (bb != batch && bb != 1))
    throw CompileError("node '" + n.name + "' (matmul): no lowering yet for the batch broadcast " + shapeText(a) + " x " + shapeText(b));
  const int a3 = op_reshape(in[0], {ba, M, K}, fresh(base, "a3")), b3 = op_reshape(in[1], {bb, K, N}, fresh(base, "b3"));
  const auto entry = [&](int x, std::int64_t t, std::int64_t r, std::int64_t c) {
    const int s = emit(Op::slice, {x}, fresh(base, "entry"), {{"starts", std::vector<std::int64_t>{t, 0, 0}}, {"ends", std::vector<std::int64_t>{t + 1, r, c}}});
    return op_reshape(s, {r, c}, fresh(base, "entry2d"));
  };
  std::vector<int> parts;
  for (std::int64_t t = 0; t < batch; ++t) {
    const int at = entry(a3, ba == 1 ? 0 : t, M, K), bt = entry(b3, bb == 1 ? 0 : t, K, N);
    parts.push_back(emit(Op::matmul, {at, bt}, fresh(base, "mm")));
  }
  const int all = parts.size() == 1 ? parts[0] : emit(Op::concat, parts, fresh(base, "all"), {{"axis", std::int64_t(0)}});
  return op_reshape(all, os, base);
}

int Decomposer::transpose(const Node& n, const std::vector<int>& in) {
  const Shape s = shapeOf(in[0]);
  const auto perm = n.intsAttr("perm");
  const Shape& os = g_.values[std::size_t(n.outputs[0])].shape;
  const auto inStride = rowMajorStrides(s);
  std::vector<std::int64_t> strides;
  for (auto p : perm) strides.push_back(inStride[std::size_t(p)]);
  std::vector<std::int64_t> idx = stridedIndices(os, strides);
  return take(in[0], std::move(idx), os, n.name);
}

Graph Decomposer::run() {
  std::vector<int> map(g_.values.size(), -1);
  for (std::size_t v = 0; v < g_.values.size(); ++v) {
    const Value& val = g_.values[v];
    if (val.kind == ValueKind::Input) map[v] = out_.input(val.name, val.shape);
    else if (val.kind == ValueKind::Parameter) map[v] = out_.parameter(val.name, val.shape, val.data);
    else if (val.kind == ValueKind::Constant) map[v] = out_.constant(val.name, val.shape, val.data);
    if (map[v] >= 0) out_.setRole(map[v], val.role, val.of);
  }
  for (const Node& n : g_.nodes) {
    std::vector<int> in;
    for (int v : n.inputs) in.push_back(map[std::size_t(v)]);
    int y;
    if ((keep_.implicitGemm && convAsImplicitGemm(g_, n)) || (keep_.vectorPooling && poolAsVectors(g_, n)))
      y = out_.op(n.op, in, n.attrs, g_.values[std::size_t(n.outputs[0])].name);
    else if (n.op == Op::conv2d || n.op == Op::conv2d_grad_input || n.op == Op::conv2d_grad_weight) y = conv(n, in);
    else if (n.op == Op::max_pool2d || n.op == Op::max_pool2d_grad) y = pool(n, in);
    else if (n.op == Op::avg_pool2d || n.op == Op::avg_pool2d_grad) y = averagePool(n, in);
    else if (n.op == Op::pad) y = pad(n, in);
    else if (n.op == Op::matmul && (shapeOf(in[0]).size() > 2 || shapeOf(in[1]).size() > 2)) y = batchedMatmul(n, in);
    else if (n.op == Op::transpose && shapeOf(in[0]).size() > 2) y = transpose(n, in);
    // The result keeps its value's name (a caller may have renamed a value after its node).
    else y = out_.op(n.op, in, n.attrs, g_.values[std::size_t(n.outputs[0])].name);
    const std::string& name = g_.values[std::size_t(n.outputs[0])].name;
    if (out_.values[std::size_t(y)].name != name && out_.find(name) < 0) out_.values[std::size_t(y)].name = name;
    map[std::size_t(n.outputs[0])] = y;
  }
  for (int o : g_.outputs) out_.markOutput(map[std::size_t(o)], g_.values[std::size_t(o)].role, g_.values[std::size_t(o)].of);
  return std::move(out_);
}

}  // namespace

bool needsDecomposition(const Graph& g) {
  for (const Node& n : g.nodes) {
    if (opHas(n.op, kChannel) || n.op == Op::pad)
      return true;
    if (n.op == Op::matmul || n.op == Op::transpose)
      for (int v : n.inputs)
        if (g.values[std::size_t(v)].shape.size() > 2) return true;
  }
  return false;
}

void decomposeSpatial(Graph& g, KeepNative keep) {
  if (needsDecomposition(g)) g = Decomposer(g, keep).run();
}

}  // namespace tatami::compiler
