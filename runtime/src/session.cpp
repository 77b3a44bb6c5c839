// Sessions: the scatter of full tensors into cores' blocks, the run, the gather of the outputs
// (comparing replicated copies bit for bit), and the carried parameters and optimizer state.
#include "tatami/runtime/session.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <unordered_map>


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

/// A run's output regions by name (a whole tile's run has one per core and tensor: a search
/// through all of them for each piece would take time quadratic in the cores).
using OutputIndex = std::unordered_map<std::string, std::vector<const SramImage*>>;
OutputIndex indexOutputs(const RunResult& run) {
  OutputIndex index;
  index.reserve(run.outputs.size());
  for (const auto& img : run.outputs) index[img.name].push_back(&img);
  return index;
}
const std::vector<const SramImage*>& regionsNamed(const OutputIndex& index, const std::string& name) {
  static const std::vector<const SramImage*> none;
  const auto found = index.find(name);
  return found == index.end() ? none : found->second;
}

/// The programs of `all` by their core (a whole tile has thousands: a search per piece would take
/// time quadratic in the cores).
std::unordered_map<int, CoreProgram*> programsByCore(std::vector<CoreProgram>& all) {
  std::unordered_map<int, CoreProgram*> byCore;
  byCore.reserve(all.size());
  for (auto& cp : all) byCore.emplace(cp.core, &cp);
  return byCore;
}
CoreProgram* programOn(const std::unordered_map<int, CoreProgram*>& byCore, int core) {  // null: the core runs no program
  const auto found = byCore.find(core);
  return found == byCore.end() ? nullptr : found->second;
}

/// Puts tensor t together from the cores' regions; a replicated block whose copies differ is
/// reported in `error`. False when no core returned a piece.
bool gather(const BundleTensor& t, std::size_t programs, const OutputIndex& outputs, NamedArray& a, std::string& error) {
  a = NamedArray{t.name, std::vector<std::uint64_t>(t.shape.begin(), t.shape.end()), std::vector<double>(std::size_t(product(t.shape)), 0.0)};
  bool any = false;
  // Replicated pieces (a weight's update on every core of a slice, a block on a grid line) must
  // hold the same bits: the first copy of each block is kept and the others compared with it.
  std::map<std::vector<std::int64_t>, std::pair<int, std::vector<float>>> first;
  for (const auto& p : t.pieces) {
    const std::string key = regionName(programs, p.core, t.name);
    const std::int64_t count = product(p.block.local);
    for (const SramImage* region : regionsNamed(outputs, key)) {
      const SramImage& img = *region;
      if (img.bytes.size() < std::size_t(count) * 4) continue;
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

namespace {

void checkFeed(const BundleTensor* t, const NamedArray& feed) {
  if (!t) throw BundleError("'" + feed.name + "' is not a tensor of the bundle");
  if (t->role == "output") throw BundleError("'" + feed.name + "' is an output of the bundle; it cannot be fed");
  const std::vector<std::int64_t> shape(feed.shape.begin(), feed.shape.end());
  if (shape != t->shape) throw BundleError("'" + feed.name + "' has shape " + dimsText(shape) + "; the bundle expects " + dimsText(t->shape));
  if (feed.data.size() != std::size_t(product(shape)))
    throw BundleError("'" + feed.name + "' holds " + std::to_string(feed.data.size()) + " values, not the " + std::to_string(product(shape)) +
                      " of its shape");
}

}  // namespace

Session::Session(const ArchConfig& config, Bundle bundle) : config_(config), bundle_(std::move(bundle)) {
  std::vector<const Program*> programs;
  for (const auto& p : bundle_.programs) programs.push_back(&p.program);
  remoteSemaphores_ = tlm::remoteSemaphores(programs);
  for (const auto& t : bundle_.tensors) {
    if (t.purpose != "parameter" && t.purpose != "state") continue;
    auto& pieces = resident_[t.name];
    for (const auto& p : t.pieces) pieces.push_back({p.core, p.addr, p.hbm, std::vector<std::uint8_t>(std::size_t(product(p.block.local)) * 4, 0)});
  }
}

const BundleTensor* Session::withPurpose(const std::string& purpose) const {
  for (const auto& t : bundle_.tensors)
    if (t.purpose == purpose) return &t;
  return nullptr;
}

std::vector<CoreProgram> Session::place(const std::vector<NamedArray>& feeds, const std::vector<NamedArray>* next, RunOptions& options) const {
  options.remoteSemaphores = remoteSemaphores_;
  std::vector<CoreProgram> all;
  for (const auto& p : bundle_.programs) all.emplace_back(p.core, &p.program);
  const auto byCore = programsByCore(all);
  const auto programOf = [&](int core) -> CoreProgram& {
    CoreProgram* cp = programOn(byCore, core);
    if (!cp) throw BundleError("a piece names core " + std::to_string(core) + ", which runs no program of the bundle");
    return *cp;
  };
  const auto nextOf = [&](const std::string& name) -> const NamedArray* {
    if (!next) return nullptr;
    for (const auto& n : *next)
      if (n.name == name) return &n;
    throw BundleError("the next step's feeds have no '" + name + "'");
  };
  for (const auto& feed : feeds) {
    const BundleTensor* t = bundle_.find(feed.name);
    checkFeed(t, feed);
    const NamedArray* later = nextOf(feed.name);
    if (later) checkFeed(t, *later);
    // A replicated block (a weight on every core of a slice) is cut out and converted once.
    std::map<std::vector<std::vector<std::int64_t>>, std::pair<SramImage, SramImage>> made;  // by the block: this step's, the next's
    for (const auto& p : t->pieces) {
      const std::vector<std::vector<std::int64_t>> key = {p.block.begin, p.block.real, p.block.local};
      auto at = made.find(key);
      if (at == made.end()) {
        // A timing-only step writes no floating-point values to SRAM or HBM: their places alone.
        const auto image = [&](const NamedArray& from) {
          if (!options.timingOnly) return floatImage(feed.name, p.addr, sliceBlock(p.block, t->shape, from.data));
          SramImage place;
          place.name = feed.name, place.addr = p.addr, place.shape = {std::uint64_t(product(p.block.local))};
          return place;
        };
        SramImage now = image(feed);
        SramImage then = later && p.staged ? image(*later) : now;
        at = made.emplace(key, std::make_pair(std::move(now), std::move(then))).first;
      }
      if (p.staged) {  // the step's copy in SRAM, the next step's in HBM
        SramImage sram = at->second.first;
        sram.addr = *p.staged;
        programOf(p.core).inputs.push_back(std::move(sram));
        SramImage hbm = at->second.second;
        hbm.addr = p.addr;
        options.hbmInputs.push_back(std::move(hbm));
        continue;
      }
      SramImage img = at->second.first;
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
  return all;
}

BundleRun Session::run(const std::vector<NamedArray>& feeds, RunOptions options) const {
  std::vector<CoreProgram> all = place(feeds, nullptr, options);
  BundleRun out;
  out.run = runPrograms(config_, all, options);
  out.run.usefulMatrixFlops = bundle_.usefulMatrixFlops;
  if (options.timingOnly) return out;
  const OutputIndex outputs = indexOutputs(out.run);
  for (const auto& t : bundle_.tensors) {
    if (t.role != "output") continue;
    NamedArray a;
    if (gather(t, all.size(), outputs, a, out.run.error)) out.outputs.push_back(std::move(a));
  }
  return out;
}

std::map<std::string, std::vector<double>> Session::carried() const {
  ++carriedReads_;
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, pieces] : resident_) {
    const BundleTensor* t = bundle_.find(name);
    std::vector<double>& values = out[name];
    values.assign(std::size_t(product(t->shape)), 0.0);
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      std::vector<float> f(pieces[i].bytes.size() / 4);
      if (!f.empty()) std::memcpy(f.data(), pieces[i].bytes.data(), f.size() * 4);
      placeBlock(t->pieces[i].block, t->shape, std::vector<double>(f.begin(), f.end()), values);
    }
  }
  return out;
}

void Session::setCarried(const std::string& name, const std::vector<double>& values) {
  const auto it = resident_.find(name);
  if (it == resident_.end()) throw BundleError("'" + name + "' is not a parameter or optimizer state of the bundle");
  const BundleTensor* t = bundle_.find(name);
  if (values.size() != std::size_t(product(t->shape)))
    throw BundleError("'" + name + "' holds " + std::to_string(values.size()) + " values, not the " + std::to_string(product(t->shape)) +
                      " of its shape " + dimsText(t->shape));
  for (std::size_t i = 0; i < it->second.size(); ++i) it->second[i].bytes = floatImage(name, 0, sliceBlock(t->pieces[i].block, t->shape, values)).bytes;
}

void Session::setCarried(const std::map<std::string, std::vector<double>>& all) {
  for (const auto& [name, values] : all) setCarried(name, values);
}

std::uint64_t Session::scheduleNextBatch(RunOptions& options) {
  const double rate = hostLinkBytesPerCycle(config_);
  // Batch k = steps + 1: the first two are in place before the first step.
  if (rate <= 0 || host_.steps == 0) return 0;
  const std::uint64_t capacity = std::uint64_t(config_.dip.hbm_gib) << 30, start = host_.lastEnd;
  // Its buffer is free once batch k-2 was read, by step k-3 (the step before the last).
  const std::uint64_t leaves = std::max(host_.lastArrival, host_.steps >= 2 ? host_.endBefore : 0);
  // Each DIP's host link carries its share, in address order.
  std::map<std::uint64_t, std::vector<std::pair<std::uint64_t, std::uint64_t>>> byDip;  // DIP -> (address, bytes)
  for (const auto& t : bundle_.tensors)
    for (const auto& p : t.pieces)
      if (p.staged) byDip[p.addr / capacity].emplace_back(p.addr, std::uint64_t(product(p.block.local)) * 4);
  std::uint64_t last = leaves;
  for (auto& [dip, pieces] : byDip) {
    std::sort(pieces.begin(), pieces.end());
    pieces.erase(std::unique(pieces.begin(), pieces.end()), pieces.end());  // a block several cores read is sent once
    std::uint64_t sent = 0;
    for (const auto& [addr, bytes] : pieces) {
      sent += bytes;
      const std::uint64_t in = leaves + std::uint64_t(std::ceil(double(sent) / rate - 1e-9));
      last = std::max(last, in);
      if (in > start) options.hbmArrivals.push_back({addr, bytes, in - start});
    }
  }
  host_.lastArrival = last;
  return last > start ? last - start : 0;
}

Session::Step Session::step(const std::vector<NamedArray>& feeds, const RunOptions& runOptions, const std::vector<NamedArray>* next) {
  RunOptions options = runOptions;
  std::vector<CoreProgram> all = place(feeds, next, options);
  const auto byCore = programsByCore(all);
  const auto programOf = [&](int core) { return programOn(byCore, core); };
  // The step inputs' SRAM copies as the last step left them (what its reads from HBM brought),
  // which must be this step's feeds.
  if (!staged_.empty()) {
    for (auto& [core, img] : staged_)
      if (CoreProgram* cp = programOf(core))
        for (auto& in : cp->inputs)
          if (in.addr == img.addr && in.name == img.name) {
            if (in.bytes != img.bytes)
              throw BundleError("'" + img.name + "': the copy core " + std::to_string(core) +
                                " read from HBM during the last step is not this step's feed (the last step was told another next batch)");
            in.bytes = std::move(img.bytes);
          }
    staged_.clear();
  }
  // The carried tensors, as the machine holds them (a timing-only step needs their places alone).
  for (const auto& [name, pieces] : resident_)
    for (const Resident& r : pieces) {
      SramImage img;
      img.name = name, img.addr = r.addr, img.shape = {r.bytes.size() / 4};
      if (!options.timingOnly) img.bytes = r.bytes;
      if (r.hbm) options.hbmInputs.push_back(std::move(img));
      else
        if (CoreProgram* cp = programOf(r.core)) cp->inputs.push_back(std::move(img));
    }
  // Read back after the run: what the next step finds in SRAM (the staged inputs).
  if (next)
    for (const auto& t : bundle_.tensors)
      for (const auto& p : t.pieces)
        if (p.staged)
          if (CoreProgram* cp = programOf(p.core))
            cp->dumps.push_back({t.name + ".staged", *p.staged, DType::F32, {std::uint64_t(product(p.block.local))}, {}});
  Step s;
  if (next) s.nextBatchArrival = scheduleNextBatch(options);
  s.result.run = runPrograms(config_, all, options);
  s.result.run.usefulMatrixFlops = bundle_.usefulMatrixFlops;
  if (s.result.run.error.empty()) {
    host_.endBefore = host_.lastEnd;
    host_.lastEnd += s.result.run.stats.cycles;
    ++host_.steps;
  }
  if (!s.result.run.error.empty() || options.timingOnly) return s;
  // Each update replaces its tensor's pieces as bytes (replicas must agree bit for bit); every
  // other output is put together for the caller.
  std::string& error = s.result.run.error;
  const OutputIndex outputs = indexOutputs(s.result.run);
  std::map<std::string, std::vector<Resident>> updated;
  for (const auto& t : bundle_.tensors) {
    if (t.role != "output") continue;
    if (t.purpose == "update" && resident_.count(t.of)) {
      std::vector<Resident> pieces = resident_.at(t.of);
      std::map<std::vector<std::int64_t>, std::pair<int, const std::vector<std::uint8_t>*>> first;
      for (std::size_t i = 0; i < t.pieces.size() && i < pieces.size(); ++i) {
        const std::string key = regionName(all.size(), t.pieces[i].core, t.name);
        const std::vector<const SramImage*>& regions = regionsNamed(outputs, key);
        const SramImage* img = regions.empty() ? nullptr : regions.front();
        if (!img || img->bytes.size() < pieces[i].bytes.size()) {
          error += (error.empty() ? "" : "\n") + std::string("output '") + t.name + "' of core " + std::to_string(t.pieces[i].core) + " is missing";
          continue;
        }
        std::copy_n(img->bytes.begin(), pieces[i].bytes.size(), pieces[i].bytes.begin());
        const auto seen = first.emplace(t.pieces[i].block.begin, std::make_pair(t.pieces[i].core, &pieces[i].bytes));
        if (!seen.second && *seen.first->second.second != pieces[i].bytes)
          error += (error.empty() ? "" : "\n") + std::string("output '") + t.name + "': its copies on core " +
                   std::to_string(seen.first->second.first) + " and core " + std::to_string(t.pieces[i].core) + " differ";
      }
      updated[t.of] = std::move(pieces);
      continue;
    }
    NamedArray a;
    if (gather(t, all.size(), outputs, a, error)) s.result.outputs.push_back(std::move(a));
  }
  if (!error.empty()) return s;
  for (auto& [name, pieces] : updated) resident_[name] = std::move(pieces);
  for (const auto& out : s.result.outputs)
    if (bundle_.find(out.name)->purpose == "loss") s.loss = out.data.at(0);
  if (next)
    for (const auto& t : bundle_.tensors)
      for (const auto& p : t.pieces)
        if (p.staged) {
          const std::string key = regionName(all.size(), p.core, t.name + ".staged");
          for (const SramImage* o : regionsNamed(outputs, key)) {
            SramImage img = *o;
            img.name = t.name, img.addr = *p.staged;
            staged_.emplace_back(p.core, std::move(img));
          }
        }
  return s;
}

}  // namespace tatami::runtime
