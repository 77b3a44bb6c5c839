// Bundle files (docs/bundle.md): writing, reading with line numbers in errors, and running.
#include "tatami/runtime/bundle.h"

#include "tatami/runtime/output_file.h"

#include <algorithm>
#include <map>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tatami/arch/assembler.h"
#include "tatami/runtime/session.h"

namespace tatami::runtime {

namespace {

constexpr const char* kMagic = "tatami-bundle 1";

std::string joinDims(const std::vector<std::int64_t>& v, char sep) {
  if (v.empty()) return "-";
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? std::string(1, sep) : "") + std::to_string(v[i]);
  return s;
}

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), in_(path) {
    if (!in_) throw BundleError("cannot read bundle '" + path + "'");
  }
  bool next(std::string& line) {
    if (!std::getline(in_, line)) return false;
    ++lineNo_;
    return true;
  }
  int line() const { return lineNo_; }
  [[noreturn]] void fail(const std::string& why) const {
    throw BundleError(path_ + ":" + std::to_string(lineNo_) + ": " + why);
  }
  std::vector<std::int64_t> dims(const std::string& text, char sep) const {
    std::vector<std::int64_t> v;
    if (text == "-") return v;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, sep)) {
      try {
        std::size_t used = 0;
        const long long x = std::stoll(item, &used);
        if (used != item.size() || x < 0) throw std::invalid_argument("");
        v.push_back(x);
      } catch (const std::exception&) {
        fail("'" + text + "' is not a list of non-negative integers");
      }
    }
    return v;
  }
  /// A core id: a number that fits an int.
  int coreId(const std::string& text) const {
    const std::uint64_t v = number(text);
    if (v > std::uint64_t(INT32_MAX)) fail("core " + text + " is not a core id");
    return int(v);
  }
  std::uint64_t number(const std::string& text) const {
    try {
      std::size_t used = 0;
      const unsigned long long x = std::stoull(text, &used, 0);
      if (used != text.size()) throw std::invalid_argument("");
      return x;
    } catch (const std::exception&) {
      fail("'" + text + "' is not a number");
    }
  }

 private:
  std::string path_;
  std::ifstream in_;
  int lineNo_ = 0;
};

}  // namespace

const BundleTensor* Bundle::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

bool isBundleFile(const std::string& path) {
  std::ifstream in(path);
  std::string first;
  return in && std::getline(in, first) && first == kMagic;
}

void writeBundle(const std::string& path, const Bundle& b) {
  std::ostringstream o;
  o << kMagic << "\n";
  o << "model " << b.model << "\n";
  o << "step " << b.step << "\n";
  if (b.usefulMatrixFlops) o << "useful-matrix-flops " << *b.usefulMatrixFlops << "\n";
  const auto lineCount = [](const std::string& text) {
    std::size_t n = 0;
    for (char c : text) n += c == '\n';
    return n + (!text.empty() && text.back() != '\n' ? 1 : 0);
  };
  o << "config " << lineCount(b.configIni) << "\n" << b.configIni << (b.configIni.empty() || b.configIni.back() == '\n' ? "" : "\n");
  for (const auto& t : b.tensors) {
    o << "tensor " << t.name << " " << t.role << " " << (t.shape.empty() ? "scalar" : joinDims(t.shape, 'x'));
    if (!t.purpose.empty()) o << " " << t.purpose << (t.of.empty() ? "" : " " + t.of);
    o << "\n";
    for (const auto& p : t.pieces)
      o << "piece " << p.core << " " << p.addr << " " << joinDims(p.block.begin, ',') << " " << joinDims(p.block.real, ',') << " "
        << joinDims(p.block.local, ',') << (p.hbm ? " hbm" : "") << (p.staged ? " staged " + std::to_string(*p.staged) : "") << "\n";
  }
  for (const auto& [addr, values] : b.hbmInit) {
    o << "hbm-init " << addr << " " << values.size() << "\n";
    char buf[32];
    for (std::size_t i = 0; i < values.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%.9g", double(values[i]));
      o << (i ? " " : "") << buf;
    }
    o << "\n";
  }
  for (const auto& p : b.programs) {
    const std::string text = !p.text.empty() ? p.text : !p.header.empty() ? annotatedText(p.program, p.notes, p.header) : disassemble(p.program);
    o << "program " << p.core << " " << lineCount(text) << "\n" << text << (text.empty() || text.back() == '\n' ? "" : "\n");
  }
  o << "end\n";
  writeOutputFile(path, o.str());
}

Bundle readBundle(const std::string& path) {
  Reader r(path);
  Bundle b;
  std::string line;
  if (!r.next(line) || line != kMagic) r.fail("not a bundle: the first line must be '" + std::string(kMagic) + "'");
  const auto block = [&](std::size_t n) {
    std::string text;
    for (std::size_t i = 0; i < n; ++i) {
      std::string l;
      if (!r.next(l)) r.fail("the file ends inside a block of " + std::to_string(n) + " lines");
      text += l + "\n";
    }
    return text;
  };
  bool ended = false;
  while (r.next(line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string key;
    ls >> key;
    std::string rest;
    std::getline(ls, rest);
    if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
    std::istringstream fields(rest);
    if (key == "model") {
      b.model = rest;
    } else if (key == "step") {
      b.step = rest;
    } else if (key == "useful-matrix-flops") {
      b.usefulMatrixFlops = r.number(rest);
    } else if (key == "config") {
      b.configIni = block(r.number(rest));
    } else if (key == "tensor") {
      BundleTensor t;
      std::string shape;
      if (!(fields >> t.name >> t.role >> shape)) r.fail("expected 'tensor NAME ROLE SHAPE'");
      if (t.role != "input" && t.role != "parameter" && t.role != "state" && t.role != "output")
        r.fail("tensor '" + t.name + "': role '" + t.role + "' is not input, parameter, state or output");
      if (shape != "scalar") t.shape = r.dims(shape, 'x');
      // At most 2^40 elements (8 TiB of FP64 on the host): a larger shape is no tensor of a step.
      std::uint64_t elements = 1;
      for (auto d : t.shape)
        if (d && elements > (std::uint64_t(1) << 40) / std::uint64_t(d)) r.fail("tensor '" + t.name + "': shape " + shape + " has more than 2^40 elements");
        else elements *= std::uint64_t(d);
      if (fields >> t.purpose) {
        static const char* const purposes[] = {"batch", "target", "parameter", "state", "update", "loss", "metric"};
        if (std::find(std::begin(purposes), std::end(purposes), t.purpose) == std::end(purposes))
          r.fail("tensor '" + t.name + "': purpose '" + t.purpose + "' is not batch, target, parameter, state, update, loss or metric");
        fields >> t.of;
        if ((t.purpose == "state" || t.purpose == "update") && t.of.empty())
          r.fail("tensor '" + t.name + "': its purpose " + t.purpose + " needs the tensor it belongs to");
      }
      b.tensors.push_back(t);
    } else if (key == "piece") {
      if (b.tensors.empty()) r.fail("a piece before any tensor");
      std::string core, addr, begin, real, local, where;
      if (!(fields >> core >> addr >> begin >> real >> local)) r.fail("expected 'piece CORE ADDR BEGIN REAL LOCAL [hbm [staged SRAM_ADDR]]'");
      TensorPiece p;
      if (fields >> where) {
        if (where != "hbm") r.fail("'" + where + "': a piece ends with 'hbm', 'hbm staged SRAM_ADDR' or nothing");
        p.hbm = true;
        std::string staged, at;
        if (fields >> staged) {
          if (staged != "staged" || !(fields >> at)) r.fail("'" + staged + "': after 'hbm' a piece has nothing or 'staged SRAM_ADDR'");
          p.staged = r.number(at);
          if (fields >> at) r.fail("'" + at + "': a piece ends after its staged address");
        }
      }
      p.core = r.coreId(core);
      p.addr = r.number(addr);
      p.block = {r.dims(begin, ','), r.dims(real, ','), r.dims(local, ',')};
      const auto& t = b.tensors.back();
      if (p.block.begin.size() != t.shape.size() || p.block.real.size() != t.shape.size() || p.block.local.size() != t.shape.size())
        r.fail("piece of '" + t.name + "': its block has not the tensor's " + std::to_string(t.shape.size()) + " dimensions");
      for (std::size_t d = 0; d < t.shape.size(); ++d)
        if (p.block.real[d] > t.shape[d] || p.block.begin[d] > t.shape[d] - p.block.real[d] || p.block.real[d] > p.block.local[d])
          r.fail("piece of '" + t.name + "': its block does not fit the tensor in dimension " + std::to_string(d));
      b.tensors.back().pieces.push_back(p);
    } else if (key == "hbm-init") {
      std::string addr, count;
      if (!(fields >> addr >> count)) r.fail("expected 'hbm-init ADDR COUNT'");
      const std::uint64_t a = r.number(addr), n = r.number(count);
      std::string values;
      if (!r.next(values)) r.fail("the file ends before the values of an hbm-init");
      std::istringstream vs(values);
      std::vector<float> v;
      float x = 0;
      while (vs >> x) v.push_back(x);
      if (v.size() != n || !vs.eof()) r.fail("expected " + std::to_string(n) + " values");
      b.hbmInit.emplace_back(a, std::move(v));
    } else if (key == "program") {
      std::string core, count;
      if (!(fields >> core >> count)) r.fail("expected 'program CORE LINES'");
      const int c = r.coreId(core);
      const int first = r.line() + 1;
      const std::string text = block(r.number(count));
      try {
        b.programs.emplace_back(c, assemble(text, path + ": program of core " + std::to_string(c) + " (from line " + std::to_string(first) + ")"), text);
      } catch (const ProgramError& e) {
        throw BundleError(e.what());
      }
    } else if (key == "end") {
      ended = true;
      break;
    } else {
      r.fail("unknown entry '" + key + "'");
    }
  }
  if (!ended) r.fail("the file ends without 'end' (truncated?)");
  if (b.programs.empty()) r.fail("the bundle has no program");
  return b;
}

BundleRun runBundle(const ArchConfig& config, const Bundle& bundle, const std::vector<NamedArray>& feeds, RunOptions options) {
  Session session(config, bundle);
  return session.run(feeds, options);
}

}  // namespace tatami::runtime
