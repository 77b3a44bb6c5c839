// The graph IR: builder, shape inference, verification, and the text form.
#include "tatami/compiler/ir.h"

#include "ops_spatial.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

namespace tatami::compiler {

namespace {

[[noreturn]] void bad(const Node& n, const std::string& why) {
  throw CompileError("node '" + n.name + "' (" + opName(n.op) + "): " + why);
}

Shape broadcast(const Node& n, const Shape& a, const Shape& b) {
  const std::size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (std::size_t i = 0; i < r; ++i) {
    const std::int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const std::int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) bad(n, "shapes " + shapeText(a) + " and " + shapeText(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;  // a 1 stretches to the other size, 0 included (numpy: [1] with [0] is [0])
  }
  return out;
}

std::int64_t normAxis(const Node& n, std::int64_t axis, std::size_t rank) {
  const std::int64_t r = std::int64_t(rank);
  if (axis < -r || axis >= r) bad(n, "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
  return axis < 0 ? axis + r : axis;
}

}  // namespace

std::int64_t elementCount(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) {
    if (d < 0 || (d > 0 && n > kMaxElements / d)) throw CompileError("shape " + shapeText(s) + " has more than 2^48 elements (or a negative dimension)");
    n *= d;
  }
  return n;
}

std::string shapeText(const Shape& s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? "," : "") + std::to_string(s[i]);
  return t + "]";
}

std::int64_t Node::intAttr(const std::string& key, std::int64_t fallback) const {
  const auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (const auto* v = std::get_if<std::int64_t>(&it->second)) return *v;
  throw CompileError("node '" + name + "' (" + opName(op) + "): attribute '" + key + "' is not an integer");
}

double Node::realAttr(const std::string& key, double fallback) const {
  const auto it = attrs.find(key);
  if (it == attrs.end()) return fallback;
  if (const auto* v = std::get_if<double>(&it->second)) return *v;
  if (const auto* i = std::get_if<std::int64_t>(&it->second)) return double(*i);
  throw CompileError("node '" + name + "' (" + opName(op) + "): attribute '" + key + "' is not a number");
}

std::vector<std::int64_t> Node::intsAttr(const std::string& key) const {
  const auto it = attrs.find(key);
  if (it == attrs.end()) throw CompileError("node '" + name + "' (" + opName(op) + "): attribute '" + key + "' is missing");
  if (const auto* v = std::get_if<std::vector<std::int64_t>>(&it->second)) return *v;
  throw CompileError("node '" + name + "' (" + opName(op) + "): attribute '" + key + "' is not a list of integers");
}

Shape inferShape(const Graph& g, const Node& n) {
  std::vector<Shape> in;
  for (int i : n.inputs) in.push_back(g.values[std::size_t(i)].shape);
  const auto need = [&](std::size_t k) {
    if (in.size() != k) bad(n, "takes " + std::to_string(k) + " inputs, got " + std::to_string(in.size()));
  };
  const OpInfo& info = opInfo(n.op);
  if (int(in.size()) < info.minInputs || (info.maxInputs >= 0 && int(in.size()) > info.maxInputs)) {
    const std::string want = info.maxInputs < 0 ? std::to_string(info.minInputs) + " or more"
                                                : std::to_string(info.minInputs) + (info.minInputs != info.maxInputs ? " to " + std::to_string(info.maxInputs) : "");
    bad(n, "takes " + want + " inputs, got " + std::to_string(in.size()));
  }
  if (info.has(kSpatial)) return inferSpatialShape(in, n);
  if (info.has(kUnary)) return in[0];
  if (info.has(kBinary)) return broadcast(n, in[0], in[1]);
  if (n.op == Op::allgather || n.op == Op::reducescatter) {
    // Grid collectives along the first dimension: it becomes `size` rows (the whole extent
    // gathered, or this core's block of the sum).
    need(1);
    const std::int64_t size = n.intAttr("size", -1);
    if (in[0].empty() || size < 1) bad(n, "needs a tensor of rank 1 or more and a positive size");
    Shape out = in[0];
    out[0] = size;
    return out;
  }
  if (n.op == Op::where) {
    need(3);
    return broadcast(n, broadcast(n, in[0], in[1]), in[2]);
  }
  if (n.op == Op::matmul) {
    need(2);
    const Shape &a = in[0], &b = in[1];
    if (a.size() < 2 || b.size() < 2) bad(n, "needs operands of rank 2 or more, got " + shapeText(a) + " and " + shapeText(b));
    if (a[a.size() - 1] != b[b.size() - 2])
      bad(n, "inner dimensions differ: " + shapeText(a) + " x " + shapeText(b));
    const Shape batchA(a.begin(), a.end() - 2), batchB(b.begin(), b.end() - 2);
    Shape out = broadcast(n, batchA, batchB);
    out.push_back(a[a.size() - 2]);
    out.push_back(b[b.size() - 1]);
    return out;
  }
  if (n.op == Op::transpose) {
    need(1);
    const auto perm = n.intsAttr("perm");
    if (perm.size() != in[0].size()) bad(n, "perm has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(in[0].size()));
    Shape out;
    std::vector<bool> seen(perm.size(), false);
    for (auto p : perm) {
      if (p < 0 || p >= std::int64_t(perm.size()) || seen[std::size_t(p)]) bad(n, "perm is not a permutation");
      seen[std::size_t(p)] = true;
      out.push_back(in[0][std::size_t(p)]);
    }
    return out;
  }
  if (n.op == Op::reshape || n.op == Op::broadcast_to || n.op == Op::sum_to) {
    need(1);
    const Shape target = n.intsAttr("shape");
    if (n.op == Op::reshape && elementCount(target) != elementCount(in[0]))
      bad(n, "cannot reshape " + shapeText(in[0]) + " to " + shapeText(target));
    if (n.op == Op::broadcast_to && broadcast(n, in[0], target) != target)
      bad(n, shapeText(in[0]) + " does not broadcast to " + shapeText(target));
    if (n.op == Op::sum_to && broadcast(n, target, in[0]) != in[0])
      bad(n, shapeText(in[0]) + " cannot be summed to " + shapeText(target));
    return target;
  }
  if (n.op == Op::reduce_sum || n.op == Op::reduce_mean || n.op == Op::reduce_max) {
    need(1);
    const bool keep = n.intAttr("keepdims", 1) != 0;
    std::vector<bool> reduce(in[0].size(), false);
    for (auto a : n.intsAttr("axes")) reduce[std::size_t(normAxis(n, a, in[0].size()))] = true;
    Shape out;
    for (std::size_t i = 0; i < in[0].size(); ++i) {
      if (!reduce[i]) out.push_back(in[0][i]);
      else if (keep) out.push_back(1);
    }
    return out;
  }
  if (n.op == Op::softmax || n.op == Op::log_softmax) {
    need(1);
    normAxis(n, n.intAttr("axis", -1), in[0].size());
    return in[0];
  }
  bad(n, "has no shape rule");
}

const char* roleName(Role r) {
  switch (r) {
    case Role::None: return "none";
    case Role::Batch: return "batch";
    case Role::Target: return "target";
    case Role::Parameter: return "parameter";
    case Role::OptimizerState: return "state";
    case Role::Update: return "update";
    case Role::Loss: return "loss";
    case Role::Metric: return "metric";
  }
  return "none";
}

Role roleFromName(const std::string& name) {
  for (Role r : {Role::None, Role::Batch, Role::Target, Role::Parameter, Role::OptimizerState, Role::Update, Role::Loss, Role::Metric})
    if (name == roleName(r)) return r;
  throw CompileError("unknown role '" + name + "' (batch, target, parameter, state, update, loss, metric)");
}

void Graph::setRole(int value, Role role, const std::string& of) {
  Value& v = values.at(std::size_t(value));
  if ((role == Role::OptimizerState || role == Role::Update) && of.empty())
    throw CompileError("value '" + v.name + "': role " + roleName(role) + " needs the value it belongs to");
  v.role = role;
  v.of = of;
}

void Graph::markOutput(int value, Role role, const std::string& of) {
  setRole(value, role, of);
  markOutput(value);
}

std::vector<int> Graph::withRole(Role role) const {
  std::vector<int> r;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i].role == role) r.push_back(int(i));
  return r;
}

int Graph::findRole(Role role, const std::string& of) const {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i].role == role && values[i].of == of) return int(i);
  return -1;
}

int Graph::addValue(Value v) {
  if (find(v.name) >= 0) throw CompileError("value '" + v.name + "' is defined twice");
  values.push_back(std::move(v));
  return int(values.size()) - 1;
}

int Graph::find(const std::string& valueName) const {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i].name == valueName) return int(i);
  return -1;
}

std::string Graph::freshName(const std::string& stem) {
  for (;;) {
    const std::string n = stem + "_" + std::to_string(counter_++);
    if (find(n) < 0) return n;
  }
}

int Graph::input(const std::string& n, const Shape& shape) {
  const int v = addValue({n, shape, ValueKind::Input, {}, -1, Role::Batch, {}});
  inputs.push_back(v);
  return v;
}

int Graph::parameter(const std::string& n, const Shape& shape, std::vector<double> init) {
  if (std::int64_t(init.size()) != elementCount(shape))
    throw CompileError("parameter '" + n + "': " + std::to_string(init.size()) + " initial values for shape " + shapeText(shape));
  const int v = addValue({n, shape, ValueKind::Parameter, std::move(init), -1, Role::Parameter, {}});
  parameters.push_back(v);
  return v;
}

int Graph::constant(const std::string& n, const Shape& shape, std::vector<double> data) {
  if (std::int64_t(data.size()) != elementCount(shape))
    throw CompileError("constant '" + n + "': " + std::to_string(data.size()) + " values for shape " + shapeText(shape));
  return addValue({n, shape, ValueKind::Constant, std::move(data), -1, Role::None, {}});
}

int Graph::scalar(double v) { return constant(freshName("c"), {}, {v}); }

int Graph::op(Op o, const std::vector<int>& ins, std::map<std::string, Attribute> attrs, const std::string& nm) {
  Node n;
  n.op = o;
  n.inputs = ins;
  n.attrs = std::move(attrs);
  n.name = nm.empty() ? freshName(opName(o)) : nm;
  const Shape s = inferShape(*this, n);
  elementCount(s);  // a result of 2^48 elements or more is refused here, before anything multiplies its sizes
  const int out = addValue({n.name, s, ValueKind::Intermediate, {}, int(nodes.size()), Role::None, {}});
  n.outputs = {out};
  nodes.push_back(std::move(n));
  return out;
}

void Graph::markOutput(int value) { outputs.push_back(value); }

void verify(const Graph& g) {
  std::vector<bool> defined(g.values.size(), false);
  for (std::size_t i = 0; i < g.values.size(); ++i) {
    try {
      elementCount(g.values[i].shape);  // every value below 2^48 elements: later products of its sizes cannot overflow
    } catch (const CompileError& e) {
      throw CompileError("value '" + g.values[i].name + "': " + e.what());
    }
    if (g.values[i].kind != ValueKind::Intermediate) {
      defined[i] = true;
      if (g.values[i].kind != ValueKind::Input && std::int64_t(g.values[i].data.size()) != elementCount(g.values[i].shape))
        throw CompileError("value '" + g.values[i].name + "' holds " + std::to_string(g.values[i].data.size()) +
                           " values for shape " + shapeText(g.values[i].shape));
    }
  }
  for (const Node& n : g.nodes) {
    for (int i : n.inputs) {
      if (i < 0 || std::size_t(i) >= g.values.size()) bad(n, "refers to a value that does not exist");
      if (!defined[std::size_t(i)]) bad(n, "uses '" + g.values[std::size_t(i)].name + "' before it is computed");
    }
    const Shape s = inferShape(g, n);
    if (n.outputs.size() != 1) bad(n, "must have exactly one output");
    const Value& out = g.values[std::size_t(n.outputs[0])];
    if (out.shape != s) bad(n, "output '" + out.name + "' has shape " + shapeText(out.shape) + " but the op gives " + shapeText(s));
    defined[std::size_t(n.outputs[0])] = true;
  }
  for (int o : g.outputs)
    if (!defined[std::size_t(o)]) throw CompileError("output '" + g.values[std::size_t(o)].name + "' is never computed");
}

namespace {

std::string numText(double v) {
  // The shortest text that reads back as the same double.
  char b[32];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(b, sizeof b, "%.*g", prec, v);
    if (std::strtod(b, nullptr) == v) break;
  }
  return b;
}

std::string attrText(const Attribute& a) {
  if (const auto* i = std::get_if<std::int64_t>(&a)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&a)) {
    std::string s = numText(*d);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
  }
  if (const auto* s = std::get_if<std::string>(&a)) return "\"" + *s + "\"";
  const auto& v = std::get<std::vector<std::int64_t>>(a);
  std::string t = "[";
  for (std::size_t i = 0; i < v.size(); ++i) t += (i ? "," : "") + std::to_string(v[i]);
  return t + "]";
}

/// " ROLE" or " ROLE(%of)", after an input's shape or an output's name.
std::string roleText(const Value& v) {
  return " " + std::string(roleName(v.role)) + (v.of.empty() ? "" : "(%" + v.of + ")");
}

}  // namespace

std::string printGraph(const Graph& g, bool withData) {
  std::ostringstream os;
  os << "graph " << g.name << "\n";
  for (const Value& v : g.values) {
    if (v.kind == ValueKind::Intermediate) continue;
    os << (v.kind == ValueKind::Input ? "input" : v.kind == ValueKind::Parameter ? "param" : "const") << " %" << v.name
       << " f32" << shapeText(v.shape);
    if (v.kind == ValueKind::Input && v.role != Role::Batch) os << roleText(v);
    if (v.kind == ValueKind::Constant || withData) {
      os << " =";
      for (double d : v.data) os << " " << numText(d);
    }
    os << "\n";
  }
  for (const Node& n : g.nodes) {
    os << "%" << g.values[std::size_t(n.outputs[0])].name << " = " << opName(n.op);
    for (std::size_t i = 0; i < n.inputs.size(); ++i) os << (i ? ", %" : " %") << g.values[std::size_t(n.inputs[i])].name;
    if (!n.attrs.empty()) {
      os << " {";
      bool first = true;
      for (const auto& [k, v] : n.attrs) os << (first ? "" : ", ") << k << "=" << attrText(v), first = false;
      os << "}";
    }
    os << "\n";
  }
  for (int o : g.outputs) {
    const Value& v = g.values[std::size_t(o)];
    os << "output %" << v.name;
    if (v.role != Role::None) os << roleText(v);
    os << "\n";
  }
  return os.str();
}

namespace {

struct Cursor {
  const std::string& s;
  std::size_t i = 0;
  int line;
  const std::string& origin;
  [[noreturn]] void fail(const std::string& why) const {
    throw CompileError(origin + ":" + std::to_string(line) + ":" + std::to_string(i + 1) + ": " + why);
  }
  void skip() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  bool eat(char c) {
    skip();
    if (i < s.size() && s[i] == c) return ++i, true;
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  std::string word() {
    skip();
    const std::size_t b = i;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '.' || s[i] == '/' || s[i] == ':'))
      ++i;
    if (b == i) fail("expected a name");
    return s.substr(b, i - b);
  }
  double number() {
    skip();
    char* end = nullptr;
    const double v = std::strtod(s.c_str() + i, &end);
    if (end == s.c_str() + i) fail("expected a number");
    i = std::size_t(end - s.c_str());
    return v;
  }
  bool atEnd() {
    skip();
    return i >= s.size() || s[i] == '#';
  }
  bool peek(char c) {
    skip();
    return i < s.size() && s[i] == c;
  }
};

/// A role after an input's shape or an output's name: `target`, `state(%w)`, `update(%w)`,
/// `loss`, `metric`. `word` is the role's name when the caller has read it already.
void parseRole(Cursor& c, Graph& g, int v, std::string word = "") {
  if (word.empty()) {
    if (c.atEnd()) return;
    word = c.word();
  }
  Role role;
  try {
    role = roleFromName(word);
  } catch (const CompileError& e) {
    c.fail(e.what());
  }
  std::string of;
  if (c.eat('(')) {
    c.expect('%');
    of = c.word();
    c.expect(')');
  }
  const bool isInput = g.values[std::size_t(v)].kind == ValueKind::Input;
  const bool fits = isInput ? (role == Role::Batch || role == Role::Target || role == Role::OptimizerState)
                            : (role == Role::Update || role == Role::Loss || role == Role::Metric || role == Role::None);
  if (!fits) c.fail(std::string("role '") + roleName(role) + "' is not a role of an " + (isInput ? "input" : "output"));
  try {
    g.setRole(v, role, of);
  } catch (const CompileError& e) {
    c.fail(e.what());
  }
}

std::string shapeNumber(double d) {
  std::ostringstream o;
  o << d;
  return o.str();
}

Shape parseShape(Cursor& c) {
  if (c.word() != "f32") c.fail("expected the element type f32");
  c.expect('[');
  Shape s;
  if (!c.eat(']')) {
    do {
      const double d = c.number();
      if (d < 0 || d != std::floor(d) || d > double(kMaxElements))
        c.fail("dimension " + shapeNumber(d) + " is not a whole number in 0..2^48");
      s.push_back(std::int64_t(d));
    } while (c.eat(','));
    c.expect(']');
  }
  return s;
}

}  // namespace

Graph parseGraph(const std::string& text, const std::string& origin) {
  Graph g;
  std::istringstream in(text);
  std::string line;
  for (int ln = 1; std::getline(in, line); ++ln) {
    Cursor c{line, 0, ln, origin};
    if (c.atEnd()) continue;
    if (c.eat('%')) {
      const std::string out = c.word();
      c.expect('=');
      const std::string op = c.word();
      std::vector<int> ins;
      if (c.eat('%')) {
        do {
          const std::string name = c.word();
          const int v = g.find(name);
          if (v < 0) c.fail("unknown value '%" + name + "'");
          ins.push_back(v);
        } while (c.eat(',') && c.eat('%'));
      }
      std::map<std::string, Attribute> attrs;
      // An integer attribute must be a whole number a 64-bit integer holds exactly (|v| < 2^53).
      const auto integer = [&](double v) {
        if (!(std::fabs(v) < 9007199254740992.0) || v != std::floor(v)) c.fail("integer attribute value " + shapeNumber(v) + " is out of range");
        return std::int64_t(v);
      };
      if (c.eat('{')) {
        do {
          const std::string key = c.word();
          c.expect('=');
          c.skip();
          if (c.eat('[')) {
            std::vector<std::int64_t> v;
            if (!c.eat(']')) {
              do v.push_back(integer(c.number()));
              while (c.eat(','));
              c.expect(']');
            }
            attrs[key] = v;
          } else if (c.eat('"')) {
            const std::size_t e = line.find('"', c.i);
            if (e == std::string::npos) c.fail("unterminated string");
            attrs[key] = line.substr(c.i, e - c.i);
            c.i = e + 1;
          } else {
            const std::size_t b = c.i;
            const double v = c.number();
            const std::string tok = line.substr(b, c.i - b);
            if (tok.find_first_of(".eEn") == std::string::npos) attrs[key] = integer(v);
            else attrs[key] = v;
          }
        } while (c.eat(','));
        c.expect('}');
      }
      try {
        g.op(opFromName(op), ins, attrs, out);
      } catch (const CompileError& e) {
        c.fail(e.what());
      }
    } else {
      const std::string kw = c.word();
      if (kw == "graph") {
        g.name = c.word();
      } else if (kw == "output") {
        c.expect('%');
        const std::string name = c.word();
        const int v = g.find(name);
        if (v < 0) c.fail("unknown value '%" + name + "'");
        g.markOutput(v);
        parseRole(c, g, v);
      } else if (kw == "input" || kw == "param" || kw == "const") {
        c.expect('%');
        const std::string name = c.word();
        const Shape s = parseShape(c);
        std::string roleWord;
        if (kw == "input" && !c.atEnd() && !c.peek('=')) roleWord = c.word();
        std::vector<double> data;
        if (c.eat('='))
          while (!c.atEnd()) data.push_back(c.number());
        try {
          if (kw == "input") {
            const int v = g.input(name, s);
            if (!roleWord.empty()) parseRole(c, g, v, roleWord);
          }
          else if (kw == "param") {
            // A parameter without values starts at zero: up to 2^24 elements (64 MiB in FP32, fifty
            // cores' SRAM; text-IR graphs are small and hand-written); a larger one is surely a typo.
            if (data.empty() && elementCount(s) > (std::int64_t(1) << 24))
              throw CompileError("parameter '" + name + "' " + shapeText(s) + " has no values and more than 2^24 elements");
            g.parameter(name, s, data.empty() ? std::vector<double>(std::size_t(elementCount(s)), 0.0) : data);
          }
          else g.constant(name, s, data);
        } catch (const CompileError& e) {
          c.fail(e.what());
        }
      } else {
        c.fail("expected 'graph', 'input', 'param', 'const', 'output' or '%name = op ...', got '" + kw + "'");
      }
    }
    if (!c.atEnd()) c.fail("unexpected text at the end of the line");
  }
  return g;
}

}  // namespace tatami::compiler
