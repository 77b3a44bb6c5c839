// Spatial and indexing ops of the IR (NCHW convolution and pooling, concat, slice, pad, gather)
// and their gradient ops: shapes and host implementations.
#include "ops_spatial.h"

#include <algorithm>
#include <cmath>

namespace tatami::compiler {

namespace {

[[noreturn]] void bad(const Node& n, const std::string& why) {
  throw CompileError("node '" + n.name + "' (" + opName(n.op) + "): " + why);
}

std::vector<std::int64_t> ints(const Node& n, const std::string& key, std::vector<std::int64_t> fallback) {
  return n.attrs.count(key) ? n.intsAttr(key) : fallback;
}

/// Convolution/pooling geometry from a node's attributes.
struct Window {
  std::int64_t kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
  std::int64_t outH(std::int64_t h) const { return (h + pt + pb - dh * (kh - 1) - 1) / sh + 1; }
  std::int64_t outW(std::int64_t w) const { return (w + pl + pr - dw * (kw - 1) - 1) / sw + 1; }
};

Window window(const Node& n, std::int64_t kh, std::int64_t kw) {
  const auto s = ints(n, "strides", {1, 1}), p = ints(n, "pads", {0, 0, 0, 0}), d = ints(n, "dilations", {1, 1});
  if (s.size() != 2 || p.size() != 4 || d.size() != 2) bad(n, "strides, dilations need 2 entries and pads 4");
  const auto within = [&](std::int64_t v, std::int64_t lo, const char* what) {
    if (v < lo || v > (std::int64_t(1) << 24)) bad(n, std::string(what) + " " + std::to_string(v) + " is outside " + std::to_string(lo) + "..2^24");
  };
  within(kh, 1, "kernel height"), within(kw, 1, "kernel width");
  for (auto v : s) within(v, 1, "stride");
  for (auto v : d) within(v, 1, "dilation");
  for (auto v : p) within(v, 0, "pad");
  return {kh, kw, s[0], s[1], p[0], p[1], p[2], p[3], d[0], d[1]};
}

Window poolWindow(const Node& n) {
  const auto k = n.intsAttr("kernel");
  if (k.size() != 2) bad(n, "kernel needs 2 entries");
  Window w = window(n, k[0], k[1]);
  return w;
}

std::int64_t at4(const Shape& s, std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) {
  return ((a * s[1] + b) * s[2] + c) * s[3] + d;
}

}  // namespace

Shape inferSpatialShape(const std::vector<Shape>& in, const Node& n) {
  const Op op = n.op;
  const auto rank4 = [&](const Shape& s, const char* what) {
    if (s.size() != 4) bad(n, std::string(what) + " must be NCHW (rank 4), got " + shapeText(s));
  };
  // The convolution x * w -> y that conv2d computes and its gradients invert: checked whole.
  const auto convolution = [&](const Shape& x, const Shape& w) {
    rank4(x, "x");
    rank4(w, "w");
    const std::int64_t group = n.intAttr("group", 1);
    if (group < 1 || group > x[1]) bad(n, "group " + std::to_string(group) + " is outside 1.." + std::to_string(x[1]));
    if (x[1] != w[1] * group) bad(n, "x has " + std::to_string(x[1]) + " channels; w expects " + std::to_string(w[1] * group));
    if (w[0] % group) bad(n, "output channels are not a multiple of the group count");
    const Window win = window(n, w[2], w[3]);
    const Shape out = {x[0], w[0], win.outH(x[2]), win.outW(x[3])};
    if (out[2] <= 0 || out[3] <= 0) bad(n, "the window does not fit the input " + shapeText(x));
    return out;
  };
  if (op == Op::conv2d) {
    if (in.size() != 2) bad(n, "takes 2 inputs (x, w)");
    return convolution(in[0], in[1]);
  }
  if (op == Op::conv2d_grad_input || op == Op::conv2d_grad_weight) {
    // grad_input(dy, w) -> x of input_shape; grad_weight(x, dy) -> w of weight_shape.
    if (in.size() != 2) bad(n, "takes 2 inputs");
    const bool gi = op == Op::conv2d_grad_input;
    const Shape made = n.intsAttr(gi ? "input_shape" : "weight_shape");
    const Shape& dy = in[gi ? 0 : 1];
    if (convolution(gi ? made : in[0], gi ? in[1] : made) != dy)
      bad(n, "its convolution of " + shapeText(gi ? made : in[0]) + " by " + shapeText(gi ? in[1] : made) + " does not give dy " + shapeText(dy));
    return made;
  }
  if (op == Op::max_pool2d || op == Op::avg_pool2d) {
    if (in.size() != 1) bad(n, "takes 1 input");
    rank4(in[0], "x");
    const Window w = poolWindow(n);
    const Shape out = {in[0][0], in[0][1], w.outH(in[0][2]), w.outW(in[0][3])};
    if (out[2] <= 0 || out[3] <= 0) bad(n, "the window does not fit the input " + shapeText(in[0]));
    return out;
  }
  if (op == Op::max_pool2d_grad) return in.at(0);
  if (op == Op::avg_pool2d_grad) return n.intsAttr("input_shape");
  if (op == Op::concat) {
    if (in.empty()) bad(n, "takes at least one input");
    std::int64_t axis = n.intAttr("axis", 0);
    if (axis < 0) axis += std::int64_t(in[0].size());
    if (axis < 0 || axis >= std::int64_t(in[0].size())) bad(n, "axis out of range");
    Shape out = in[0];
    for (std::size_t i = 1; i < in.size(); ++i) {
      if (in[i].size() != out.size()) bad(n, "inputs differ in rank");
      for (std::size_t d = 0; d < out.size(); ++d)
        if (std::int64_t(d) != axis && in[i][d] != out[d]) bad(n, "inputs differ outside the axis: " + shapeText(in[i]) + " vs " + shapeText(in[0]));
      out[std::size_t(axis)] += in[i][std::size_t(axis)];
    }
    return out;
  }
  if (op == Op::slice) {
    const auto st = n.intsAttr("starts"), en = n.intsAttr("ends");
    if (st.size() != in.at(0).size() || en.size() != st.size()) bad(n, "starts and ends need one entry per axis");
    Shape out;
    for (std::size_t d = 0; d < st.size(); ++d) {
      if (st[d] < 0 || en[d] > in[0][d] || st[d] > en[d]) bad(n, "slice [" + std::to_string(st[d]) + ", " + std::to_string(en[d]) + ") is outside axis " + std::to_string(d));
      out.push_back(en[d] - st[d]);
    }
    return out;
  }
  if (op == Op::pad) {
    const auto p = n.intsAttr("pads");
    const std::size_t r = in.at(0).size();
    if (p.size() != 2 * r) bad(n, "pads needs 2 x rank entries (begins, then ends)");
    Shape out = in[0];
    for (std::size_t d = 0; d < r; ++d) out[d] += p[d] + p[d + r];
    return out;
  }
  if (op == Op::gather) {
    if (in.size() != 2) bad(n, "takes 2 inputs (data, indices)");
    std::int64_t axis = n.intAttr("axis", 0);
    const std::int64_t rank = std::int64_t(in[0].size());
    if (axis < -rank || axis >= rank) bad(n, "axis " + std::to_string(axis) + " is outside the data's rank " + std::to_string(rank));
    if (axis < 0) axis += rank;
    Shape out(in[0].begin(), in[0].begin() + axis);
    out.insert(out.end(), in[1].begin(), in[1].end());
    out.insert(out.end(), in[0].begin() + axis + 1, in[0].end());
    return out;
  }
  if (op == Op::gather_grad) return n.intsAttr("data_shape");
  if (op == Op::take) {
    if (in.size() != 1) bad(n, "takes 1 input");
    const Shape out = n.intsAttr("shape");
    const auto idx = n.intsAttr("index");
    if (std::int64_t(idx.size()) != elementCount(out))
      bad(n, std::to_string(idx.size()) + " indices for the output shape " + shapeText(out));
    const std::int64_t count = elementCount(in[0]);
    for (std::size_t i = 0; i < idx.size(); ++i)
      if (idx[i] < -1 || idx[i] >= count)
        bad(n, "index " + std::to_string(idx[i]) + " (entry " + std::to_string(i) + ") is outside [-1, " + std::to_string(count) + ")");
    return out;
  }
  bad(n, "not a spatial op");
}

// Long by design: one case per spatial op (convolutions, pools, padding and their gradients), side by side so that the host oracle's definitions read as one reference; each case is a few lines
// and the helpers it calls hold the work.
void evalSpatial(const Node& n, const std::vector<const Tensor*>& in, Tensor& y, bool floatSums) {
  const Op op = n.op;
  std::fill(y.data.begin(), y.data.end(), 0.0);
  if (op == Op::conv2d || op == Op::conv2d_grad_input || op == Op::conv2d_grad_weight) {
    // One loop nest for all three: y[n,o,i,j] += x[n,c,ih,iw] * w[o,c',kh,kw].
    const bool fwd = op == Op::conv2d, gi = op == Op::conv2d_grad_input;
    const Shape xs = fwd ? in[0]->shape : gi ? y.shape : in[0]->shape;
    const Shape ws = fwd ? in[1]->shape : gi ? in[1]->shape : y.shape;
    const Shape ys = fwd ? y.shape : in[0 + (gi ? 0 : 1)]->shape;
    const Window w = window(n, ws[2], ws[3]);
    const std::int64_t group = n.intAttr("group", 1), cg = ws[1], og = ws[0] / group;
    const double* X = fwd ? in[0]->data.data() : gi ? nullptr : in[0]->data.data();
    const double* W = fwd ? in[1]->data.data() : gi ? in[1]->data.data() : nullptr;
    const double* DY = fwd ? nullptr : gi ? in[0]->data.data() : in[1]->data.data();
    for (std::int64_t b = 0; b < ys[0]; ++b)
      for (std::int64_t o = 0; o < ys[1]; ++o)
        for (std::int64_t i = 0; i < ys[2]; ++i)
          for (std::int64_t j = 0; j < ys[3]; ++j)
            for (std::int64_t c = 0; c < cg; ++c)
              for (std::int64_t kh = 0; kh < ws[2]; ++kh)
                for (std::int64_t kw = 0; kw < ws[3]; ++kw) {
                  const std::int64_t ih = i * w.sh - w.pt + kh * w.dh, iw = j * w.sw - w.pl + kw * w.dw;
                  if (ih < 0 || ih >= xs[2] || iw < 0 || iw >= xs[3]) continue;
                  const std::int64_t xc = (o / og) * cg + c;
                  const std::int64_t xi = at4(xs, b, xc, ih, iw), wi = at4(ws, o, c, kh, kw), yi = at4(ys, b, o, i, j);
                  if (fwd) accumulate(y.data[std::size_t(yi)], X[xi] * W[wi], floatSums);
                  else if (gi) accumulate(y.data[std::size_t(xi)], DY[yi] * W[wi], floatSums);
                  else accumulate(y.data[std::size_t(wi)], DY[yi] * X[xi], floatSums);
                }
    return;
  }
  if (op == Op::max_pool2d || op == Op::max_pool2d_grad || op == Op::avg_pool2d || op == Op::avg_pool2d_grad) {
    const Window w = poolWindow(n);
    const bool grad = op == Op::max_pool2d_grad || op == Op::avg_pool2d_grad;
    const bool isMax = op == Op::max_pool2d || op == Op::max_pool2d_grad;
    const Shape xs = isMax ? in[0]->shape : grad ? y.shape : in[0]->shape;
    const Shape ys = grad ? (isMax ? in[1]->shape : in[0]->shape) : y.shape;
    const bool includePad = n.intAttr("count_include_pad", 0) != 0;
    for (std::int64_t b = 0; b < ys[0]; ++b)
      for (std::int64_t c = 0; c < ys[1]; ++c)
        for (std::int64_t i = 0; i < ys[2]; ++i)
          for (std::int64_t j = 0; j < ys[3]; ++j) {
            double best = -INFINITY, sum = 0;
            std::int64_t bestAt = -1, count = 0;
            for (std::int64_t kh = 0; kh < w.kh; ++kh)
              for (std::int64_t kw = 0; kw < w.kw; ++kw) {
                const std::int64_t ih = i * w.sh - w.pt + kh, iw = j * w.sw - w.pl + kw;
                if (ih < 0 || ih >= xs[2] || iw < 0 || iw >= xs[3]) {
                  if (includePad) ++count;
                  continue;
                }
                const std::int64_t xi = at4(xs, b, c, ih, iw);
                ++count;
                if (isMax) {
                  if (in[0]->data[std::size_t(xi)] > best) best = in[0]->data[std::size_t(xi)], bestAt = xi;
                } else if (!grad) {
                  accumulate(sum, in[0]->data[std::size_t(xi)], floatSums);
                }
              }
            const std::int64_t yi = at4(ys, b, c, i, j);
            if (op == Op::max_pool2d) y.data[std::size_t(yi)] = best;
            else if (op == Op::avg_pool2d) y.data[std::size_t(yi)] = sum / double(count);
            else if (op == Op::max_pool2d_grad) {
              if (bestAt >= 0) accumulate(y.data[std::size_t(bestAt)], in[1]->data[std::size_t(yi)], floatSums);
            } else {
              for (std::int64_t kh = 0; kh < w.kh; ++kh)
                for (std::int64_t kw = 0; kw < w.kw; ++kw) {
                  const std::int64_t ih = i * w.sh - w.pt + kh, iw = j * w.sw - w.pl + kw;
                  if (ih < 0 || ih >= xs[2] || iw < 0 || iw >= xs[3]) continue;
                  accumulate(y.data[std::size_t(at4(xs, b, c, ih, iw))], in[0]->data[std::size_t(yi)] / double(count), floatSums);
                }
            }
          }
    return;
  }
  // Index arithmetic for the rank-generic ops.
  const auto strides = [](const Shape& s) {
    std::vector<std::int64_t> st(s.size(), 1);
    for (std::size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
    return st;
  };
  const auto unflat = [](std::int64_t k, const std::vector<std::int64_t>& st) {
    std::vector<std::int64_t> c(st.size());
    for (std::size_t d = 0; d < st.size(); ++d) c[d] = k / st[d], k %= st[d];
    return c;
  };
  if (op == Op::concat) {
    std::int64_t axis = n.intAttr("axis", 0);
    if (axis < 0) axis += std::int64_t(y.shape.size());
    const auto sy = strides(y.shape);
    std::int64_t offset = 0;
    for (const Tensor* t : in) {
      const auto st = strides(t->shape);
      for (std::int64_t k = 0; k < elementCount(t->shape); ++k) {
        auto c = unflat(k, st);
        c[std::size_t(axis)] += offset;
        std::int64_t yi = 0;
        for (std::size_t d = 0; d < c.size(); ++d) yi += c[d] * sy[d];
        y.data[std::size_t(yi)] = t->data[std::size_t(k)];
      }
      offset += t->shape[std::size_t(axis)];
    }
    return;
  }
  if (op == Op::slice || op == Op::pad) {
    const bool isSlice = op == Op::slice;
    const Shape& xs = in[0]->shape;
    const auto sx = strides(xs), sy = strides(y.shape);
    std::vector<std::int64_t> off = isSlice ? n.intsAttr("starts") : n.intsAttr("pads");
    off.resize(xs.size());  // pads: the begins
    const Shape& iter = isSlice ? y.shape : xs;
    const auto si = strides(iter);
    for (std::int64_t k = 0; k < elementCount(iter); ++k) {
      const auto c = unflat(k, si);
      std::int64_t xi = 0, yi = 0;
      for (std::size_t d = 0; d < c.size(); ++d) {
        xi += (isSlice ? c[d] + off[d] : c[d]) * sx[d];
        yi += (isSlice ? c[d] : c[d] + off[d]) * sy[d];
      }
      y.data[std::size_t(yi)] = in[0]->data[std::size_t(xi)];
    }
    return;
  }
  if (op == Op::gather || op == Op::gather_grad) {
    const bool fwd = op == Op::gather;
    const Shape ds = fwd ? in[0]->shape : y.shape;
    const Tensor& idx = *in[1];
    std::int64_t axis = n.intAttr("axis", 0);
    if (axis < 0) axis += std::int64_t(ds.size());
    std::int64_t outer = 1, inner = 1;
    for (std::int64_t d = 0; d < axis; ++d) outer *= ds[std::size_t(d)];
    for (std::size_t d = std::size_t(axis) + 1; d < ds.size(); ++d) inner *= ds[d];
    const std::int64_t len = ds[std::size_t(axis)], ni = std::int64_t(idx.data.size());
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t q = 0; q < ni; ++q) {
        std::int64_t k = std::int64_t(idx.data[std::size_t(q)]);
        if (k < 0) k += len;
        if (k < 0 || k >= len) bad(n, "index " + std::to_string(k) + " is out of range [0, " + std::to_string(len) + ")");
        for (std::int64_t i = 0; i < inner; ++i) {
          const std::int64_t di = (o * len + k) * inner + i, gi = (o * ni + q) * inner + i;
          if (fwd) y.data[std::size_t(gi)] = in[0]->data[std::size_t(di)];
          else accumulate(y.data[std::size_t(di)], in[0]->data[std::size_t(gi)], floatSums);
        }
      }
    return;
  }
  if (op == Op::take) {
    const auto idx = n.intsAttr("index");
    const double fill = n.realAttr("fill", 0.0);
    for (std::size_t i = 0; i < idx.size(); ++i) y.data[i] = idx[i] < 0 ? fill : in[0]->data[std::size_t(idx[i])];
    return;
  }
  bad(n, "no host implementation");
}

}  // namespace tatami::compiler
