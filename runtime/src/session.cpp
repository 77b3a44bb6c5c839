// Sessions: the scatter of full tensors into cores' blocks, the run, the gather of the outputs
// (comparing replicated copies bit for bit), and the carried parameters and optimizer state.
#include "tatami/runtime/session.h"

#include <cstring>
#include <map>


namespace tatami::runtime {

namespace {

std::string dimsText(const std::vector<std::int64_t>& shape) {
  std::string s;
  for (auto d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s.empty() ? "scalar" : s;
}

std::int64_t product(const std::vector<std::int64_t>& dims) {
  std::int64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

SramImage floatImage(const std::string& name, std::uint64_t addr, const std::vector<double>& values) {
  SramImage img;
  img.name = name, img.addr = addr, img.shape = {values.size()};
  const std::vector<float> f(values.begin(), values.end());
  img.bytes.resize(f.size() * 4);
  std::memcpy(img.bytes.data(), f.data(), img.bytes.size());
  return img;
}

/// The name a core's output region has in a run of `programs` programs.
std::string regionName(std::size_t programs, int core, const std::string& tensor) {
  return programs > 1 ? "c" + std::to_string(core) + "." + tensor : tensor;
}

/// Puts tensor t together from the cores' regions; a replicated block whose copies differ is
/// reported in `error`. False when no core returned a piece.
bool gather(const BundleTensor& t, std::size_t programs, const RunResult& run, NamedArray& a, std::string& error) {
  a = NamedArray{t.name, std::vector<std::uint64_t>(t.shape.begin(), t.shape.end()), std::vector<double>(std::size_t(product(t.shape)), 0.0)};
  bool any = false;
  // Replicated pieces (a weight's update on every core of a slice, a block on a grid line) must
  // hold the same bits: the first copy of each block is kept and the others compared with it.
  std::map<std::vector<std::int64_t>, std::pair<int, std::vector<float>>> first;
  for (const auto& p : t.pieces) {
    const std::string key = regionName(programs, p.core, t.name);
    const std::int64_t count = product(p.block.local);
    for (const auto& img : run.outputs) {
      if (img.name != key || img.bytes.size() < std::size_t(count) * 4) continue;
      std::vector<float> f(static_cast<std::size_t>(count));
      if (!f.empty()) std::memcpy(f.data(), img.bytes.data(), f.size() * 4);  // an empty block has no bytes (null data)
      const auto seen = first.find(p.block.begin);
      if (seen == first.end()) {
        placeBlock(p.block, t.shape, std::vector<double>(f.begin(), f.end()), a.data);
        first.emplace(p.block.begin, std::make_pair(p.core, std::move(f)));
      } else if (std::memcmp(seen->second.second.data(), f.data(), std::min(f.size(), seen->second.second.size()) * 4) != 0) {
        std::size_t i = 0;
        while (i < f.size() && std::memcmp(&f[i], &seen->second.second[i], 4) == 0) ++i;
        error += (error.empty() ? "" : "\n") + std::string("output '") + t.name + "': its copies on core " +
                 std::to_string(seen->second.first) + " and core " + std::to_string(p.core) + " differ (element " +
                 std::to_string(i) + " of the block: " + std::to_string(seen->second.second[i]) + " vs " + std::to_string(f[i]) + ")";
      }
      any = true;
    }
  }
  return any;
}

}  // namespace

Session::Session(const ArchConfig& config, Bundle bundle) : config_(config), bundle_(std::move(bundle)) {
  for (const auto& t : bundle_.tensors)
    if (t.purpose == "parameter" || t.purpose == "state") carried_[t.name].assign(std::size_t(product(t.shape)), 0.0);
}

const BundleTensor* Session::withPurpose(const std::string& purpose) const {
  for (const auto& t : bundle_.tensors)
    if (t.purpose == purpose) return &t;
  return nullptr;
}

BundleRun Session::run(const std::vector<NamedArray>& feeds, RunOptions options) const {
  std::vector<CoreProgram> all;
  for (const auto& p : bundle_.programs) all.emplace_back(p.core, &p.program);
  const auto programOf = [&](int core) -> CoreProgram& {
    for (auto& cp : all)
      if (cp.core == core) return cp;
    throw BundleError("a piece names core " + std::to_string(core) + ", which runs no program of the bundle");
  };
  for (const auto& feed : feeds) {
    const BundleTensor* t = bundle_.find(feed.name);
    if (!t) throw BundleError("'" + feed.name + "' is not a tensor of the bundle");
    if (t->role == "output") throw BundleError("'" + feed.name + "' is an output of the bundle; it cannot be fed");
    const std::vector<std::int64_t> shape(feed.shape.begin(), feed.shape.end());
    if (shape != t->shape) throw BundleError("'" + feed.name + "' has shape " + dimsText(shape) + "; the bundle expects " + dimsText(t->shape));
    if (feed.data.size() != std::size_t(product(shape)))
      throw BundleError("'" + feed.name + "' holds " + std::to_string(feed.data.size()) + " values, not the " +
                        std::to_string(product(shape)) + " of its shape");
    // A replicated block (a weight on every core of a slice) is cut out and converted once.
    std::map<std::vector<std::vector<std::int64_t>>, SramImage> made;  // by the block's begin, real and local
    for (const auto& p : t->pieces) {
      const std::vector<std::vector<std::int64_t>> key = {p.block.begin, p.block.real, p.block.local};
      auto at = made.find(key);
      if (at == made.end()) at = made.emplace(key, floatImage(feed.name, p.addr, sliceBlock(p.block, t->shape, feed.data))).first;
      SramImage img = at->second;
      img.addr = p.addr;
      if (p.hbm) options.hbmInputs.push_back(std::move(img));
      else programOf(p.core).inputs.push_back(std::move(img));
    }
  }
  for (const auto& [addr, values] : bundle_.hbmInit)  // before anything fed
    options.hbmInputs.insert(options.hbmInputs.begin(), floatImage("hbm-init", addr, std::vector<double>(values.begin(), values.end())));
  for (const auto& t : bundle_.tensors)
    for (const auto& p : t.pieces)
      if (t.role == "output" && p.hbm) {
        SramImage dump;
        dump.name = regionName(all.size(), p.core, t.name), dump.addr = p.addr;
        dump.shape = {std::uint64_t(product(p.block.local))};
        options.hbmDumps.push_back(dump);
      }
  BundleRun out;
  out.run = runPrograms(config_, all, options);
  out.run.usefulMatrixFlops = bundle_.usefulMatrixFlops;
  if (options.timingOnly) return out;
  for (const auto& t : bundle_.tensors) {
    if (t.role != "output") continue;
    NamedArray a;
    if (gather(t, all.size(), out.run, a, out.run.error)) out.outputs.push_back(std::move(a));
  }
  return out;
}

Session::Step Session::step(const std::vector<NamedArray>& feeds, const RunOptions& options) {
  std::vector<NamedArray> all = feeds;
  for (const auto& [name, values] : carried_) {
    const BundleTensor* t = bundle_.find(name);
    all.push_back({name, std::vector<std::uint64_t>(t->shape.begin(), t->shape.end()), values});
  }
  Step s;
  s.result = run(all, options);
  if (!s.result.run.error.empty() || options.timingOnly) return s;
  for (const auto& out : s.result.outputs) {
    const BundleTensor* t = bundle_.find(out.name);
    if (t->purpose == "loss") s.loss = out.data.at(0);
    if (t->purpose == "update" && carried_.count(t->of)) carried_[t->of] = out.data;
  }
  return s;
}

}  // namespace tatami::runtime
