// Compiling a step into a bundle for a placement: one core, a data-parallel slice, or a grid.
#include "tatami/driver/job.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <functional>
#include <thread>

#include "tatami/compiler/flops.h"
#include "tatami/compiler/partition.h"
#include "tatami/driver/placement.h"

namespace tatami::driver {

using namespace tatami::compiler;

namespace {

TensorBlock wholeBlock(const Shape& s) { return {std::vector<std::int64_t>(s.size(), 0), s, s}; }

/// fn(k) for k in [first, end), spread over the host's threads; the exception of the lowest k
/// that threw, if any, is rethrown once all are done.
void forEachOnHostThreads(std::size_t first, std::size_t end, const std::function<void(std::size_t)>& fn) {
  if (end <= first) return;
  const std::size_t workers = std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), end - first);
  std::atomic<std::size_t> next{first};
  std::vector<std::exception_ptr> failed(end - first);
  const auto work = [&] {
    for (std::size_t k; (k = next++) < end;) try {
        fn(k);
      } catch (...) {
        failed[k - first] = std::current_exception();
      }
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < workers; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : failed)
    if (e) std::rethrow_exception(e);
}

/// How the runtime treats a value of the training-step graph in a bundle (from its role).
std::string roleOf(const Graph& g, int v) {
  const Value& val = g.values[std::size_t(v)];
  if (std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end()) return "output";
  if (val.role == Role::Parameter) return "parameter";
  return val.role == Role::OptimizerState ? "state" : "input";
}


}  // namespace

Graph compileShare(const CompileRequest& r, const Graph& whole, const BatchShare& share) {
  Graph part = compileModel(r, nullptr, share);
  // The loss is reported through an all-reduce: give that value the loss's name (and the
  // per-core loss the other), so the bundle names the same tensors as the model.
  for (std::size_t i = 0; i < whole.outputs.size() && i < part.outputs.size(); ++i) {
    const std::string& want = whole.values[std::size_t(whole.outputs[i])].name;
    Value& have = part.values[std::size_t(part.outputs[i])];
    if (have.name == want) continue;
    const int other = part.find(want);
    // (The nodes that make them swap names too: a grid's local graph names values by their node.)
    const auto renameNode = [&](int v, const std::string& from, const std::string& to) {
      const int producer = part.values[std::size_t(v)].producer;
      if (producer >= 0 && part.nodes[std::size_t(producer)].name == from) part.nodes[std::size_t(producer)].name = to;
    };
    const std::string was = have.name;
    renameNode(part.outputs[i], was, want);
    if (other >= 0) renameNode(other, want, was), part.values[std::size_t(other)].name = was;
    part.values[std::size_t(part.outputs[i])].name = want;
  }
  const int mine = part.findRole(Role::Batch), all = whole.findRole(Role::Batch);
  // (A text-IR model has no batch to shrink: every core of a slice runs the whole graph.)
  const bool tir = isTextIr(r.model);
  if (!tir && mine >= 0 && all >= 0 && share.examples != r.batch && part.values[std::size_t(mine)].shape == whole.values[std::size_t(all)].shape)
    throw RequestError("input '" + whole.values[std::size_t(all)].name + "' has a fixed batch dimension (" +
                       shapeText(whole.values[std::size_t(all)].shape) + " in the model): a data-parallel slice needs a symbolic one "
                       "(torch.onnx.export with dynamic_axes); run it on one core or a grid");
  return part;
}

/// A data-parallel slice (or one core): core k takes its share of the batch (shareOf: the first
/// batch % cores cores one example more); statistics over the examples, gradients and the loss
/// are averaged over the ring, weighted by the shares.
CompiledJob compileOnSlice(const CompileRequest& r, const ArchConfig& config, const Graph& g, std::ostream* print) {
  CompiledJob job;
  const std::vector<int> ring = sliceOf(r, config);
  const std::int64_t cores = std::int64_t(ring.size());
  // One graph per share size (at most two), or per core when the model draws a mask per
  // example (training-mode dropout: each core's rows of the whole batch's mask).
  const bool perCore = std::any_of(g.values.begin(), g.values.end(), [](const Value& v) { return v.name.rfind("dropout_mask", 0) == 0; });
  const auto keyOf = [&](std::int64_t k) { return perCore ? k : shareOf(r.batch, cores, k).examples; };
  std::map<std::int64_t, Graph> parts;
  if (cores > 1) {
    if (r.batch <= 0) throw RequestError("--slice over several cores needs --batch (split across the cores)");
    if (r.batch < cores)
      throw RequestError("--batch " + std::to_string(r.batch) + " is smaller than the slice's " + std::to_string(cores) +
                         " active cores: each core needs at least one example");
    for (std::int64_t k = 0; k < cores; ++k) {
      const BatchShare share = shareOf(r.batch, cores, k);
      if (parts.count(keyOf(k))) continue;
      parts.emplace(keyOf(k), compileShare(r, g, share));
    }
  }
  const auto partOf = [&](std::int64_t k) -> const Graph& { return cores > 1 ? parts.at(keyOf(k)) : g; };
  // With two shares, two graphs lay out SRAM differently: a core's puts name its ring
  // neighbour's all-reduce buffers, learnt from one lowering of each graph.
  std::map<int, std::vector<CollectiveBuffers>> buffersOfCore;
  const auto contextOf = [&, plans = newCollectivePlans()](std::int64_t k) {
    CoreContext ctx = coreContext(r, config, ring, k, cores);
    ctx.collectivePlans = plans;  // the ring's all-reduce plans, weighed once for all its cores
    return ctx;
  };
  if (cores > 1 && r.batch % cores) {
    std::map<std::int64_t, std::vector<CollectiveBuffers>> byShare;
    for (std::int64_t k = 0; k < cores; ++k) {
      const std::int64_t examples = shareOf(r.batch, cores, k).examples;
      if (!byShare.count(examples)) byShare[examples] = lowerOrStream(partOf(k), config, contextOf(k), k).collectives;
    }
    for (std::int64_t k = 0; k < cores; ++k) buffersOfCore[ring[std::size_t(k)]] = byShare.at(shareOf(r.batch, cores, k).examples);
  }
  // Core 0 first (it prints, and learns what the others share: the all-reduce plans, the graph
  // decomposed), then the others on the host's threads; each core's program depends on its
  // context alone, so the bundle is the same whatever the threads.
  std::vector<LoweredProgram> lowered(static_cast<std::size_t>(cores));
  const auto lowerCore = [&](std::size_t k) {
    CoreContext ctx = contextOf(std::int64_t(k));
    if (k == 0) ctx.print = print, ctx.printAfter = r.printAfter;
    for (const auto& [core, buffers] : buffersOfCore)
      if (core != ring[k]) ctx.peerCollectives[core] = buffers;
    lowered[k] = lowerOrStream(partOf(std::int64_t(k)), config, ctx, std::int64_t(k));
  };
  lowerCore(0);
  forEachOnHostThreads(1, std::size_t(cores), lowerCore);
  for (const auto& lp : lowered) job.sramPeakBytes = std::max(job.sramPeakBytes, lp.sramPeakBytes);
  // Tensors whose leading dimension shrinks with the share of the batch (the examples, or a row
  // per example and position) are split by those rows; everything else is whole on every core.
  job.placement = cores > 1 ? "data parallel over a " + r.slice + " slice" : "one core";
  job.slice = r.slice;
  job.bundle = makeBundle(r, job.placement, config, g, ring, lowered,
                          [&](std::size_t k, int v) {
                            const Shape& full = g.values[std::size_t(v)].shape;
                            const Graph& part = partOf(std::int64_t(k));
                            const Shape& local = part.values[std::size_t(part.find(g.values[std::size_t(v)].name))].shape;
                            TensorBlock b = wholeBlock(full);
                            if (full.empty() || local.size() != full.size() || local == full) return b;
                            const std::int64_t examples = shareOf(r.batch, cores, std::int64_t(k)).examples;
                            const std::int64_t rowsPerExample = local[0] / examples;
                            if (local[0] % examples || rowsPerExample * r.batch != full[0] || !std::equal(full.begin() + 1, full.end(), local.begin() + 1))
                              throw CompileError("internal: '" + g.values[std::size_t(v)].name + "' is " + shapeText(full) + " for the batch and " +
                                                 shapeText(local) + " for a core's share of it: not a split by rows");
                            b.begin[0] = shareOf(r.batch, cores, std::int64_t(k)).first * rowsPerExample, b.real[0] = b.local[0] = local[0];
                            return b;
                          });
  job.lowered = std::move(lowered);  // moved, not copied: a whole die's programs are hundreds of MB
  return job;
}

namespace {

/// Copies of a grid, one per die: replica i runs the grid on the same cores of the i-th die of
/// the system's tour (dieCycle), on examples [i B/K, (i+1) B/K) of the batch; every gradient (and
/// the loss) is averaged over the replicas, block by block (`allreduce_mean` over the ring of
/// the grid position's cores on every die): data parallel over the dies, tensor parallel within
/// each.
struct Replicas {
  GridSpec spec;
  std::vector<std::vector<int>> cores;  ///< per replica, its grid's cores (row-major)
  Graph part;                           ///< a replica's step (the shares are equal: one for all)
};

Replicas replicasOf(const CompileRequest& r, const ArchConfig& config, const Graph& g) {
  const int K = r.replicas;
  const std::vector<std::pair<int, int>> dies = dieCycle(int(config.system.die_rows), int(config.system.die_cols));
  if (K > int(dies.size()))
    throw RequestError("--replicas " + std::to_string(K) + ": the system has " + std::to_string(dies.size()) + " die(s) (system.die_rows x system.die_cols), one replica each");
  if (r.batch < K || r.batch % K)
    throw RequestError("--batch " + std::to_string(r.batch) + " does not split evenly over --replicas " + std::to_string(K));
  Replicas out;
  out.spec = gridOf(r, config);
  for (int core : out.spec.cores)
    if (dieOfCore(config, core) != 0) throw RequestError("--replicas: the grid " + r.grid + " must lie within the first die (--slice at most the die)");
  const int systemCols = int(config.die.cols * config.system.die_cols);
  out.cores.assign(std::size_t(K), {});
  for (int i = 0; i < K; ++i)
    for (int core : out.spec.cores)
      out.cores[std::size_t(i)].push_back((core / systemCols + dies[std::size_t(i)].first * int(config.die.rows)) * systemCols +
                                          core % systemCols + dies[std::size_t(i)].second * int(config.die.cols));
  out.part = compileShare(r, g, shareOf(r.batch, K, 0));
  return out;
}

/// Replica i placed: its grid's programs, each all-reducing over its position's ring of replicas.
GridJob placeReplica(const CompileRequest& r, const ArchConfig& config, const Replicas& reps, int i, const CoreContext& printing,
                     const std::shared_ptr<CollectivePlans>& plans) {
  const int K = int(reps.cores.size()), positions = reps.spec.rows * reps.spec.cols;
  const bool dips = feedsFromDips(r, config);
  const std::vector<int>& mine = reps.cores[std::size_t(i)];
  return placeOnGrid(
      reps.part, config, mine, reps.spec.rows, reps.spec.cols, r.precision, true, printing,
      [&](std::size_t pos, CoreContext& ctx) {
        const std::int64_t k = std::int64_t(i) * positions + std::int64_t(pos);
        if (dips) {
          const CoreContext feed = coreContext(r, config, {mine[pos]}, k, std::int64_t(K) * positions);
          ctx.loadInputs = feed.loadInputs, ctx.inputBase = feed.inputBase, ctx.inputBytes = feed.inputBytes;
        }
        ctx.ring.clear();
        for (int j = 0; j < K; ++j) ctx.ring.push_back(reps.cores[std::size_t(j)][pos]);
        ctx.rank = i, ctx.collectivePlans = plans;
      },
      [&](const Graph& local, const CoreContext& ctx, std::size_t pos) {
        return lowerOrStream(local, config, ctx, std::int64_t(i) * positions + std::int64_t(pos));
      });
}

CompiledJob compileOnGridReplicas(const CompileRequest& r, const ArchConfig& config, const Graph& g, std::ostream* print) {
  const Replicas reps = replicasOf(r, config, g);
  const GridSpec& spec = reps.spec;
  const Graph& part = reps.part;
  const int K = r.replicas, positions = spec.rows * spec.cols;
  const std::shared_ptr<CollectivePlans> plans = newCollectivePlans();
  CompiledJob job;
  std::vector<int> all;
  std::vector<LoweredProgram> lowered;
  for (int i = 0; i < K; ++i) {
    CoreContext printing;
    if (i == 0) printing.print = print, printing.printAfter = r.printAfter;
    GridJob placed = placeReplica(r, config, reps, i, printing, plans);
    all.insert(all.end(), placed.cores.begin(), placed.cores.end());
    for (auto& lp : placed.lowered) lowered.push_back(std::move(lp));
    if (i == 0) job.plan = std::move(placed.plan);
  }
  for (const auto& lp : lowered) job.sramPeakBytes = std::max(job.sramPeakBytes, lp.sramPeakBytes);
  job.placement = "tensor parallel over a " + r.grid + " grid on each of " + std::to_string(K) + " dies, data parallel over them";
  job.slice = r.slice, job.grid = r.grid, job.replicas = K;
  job.bundle = makeBundle(r, job.placement, config, g, all, lowered, [&](std::size_t k, int v) {
    const int i = int(k) / positions, pos = int(k) % positions;
    const int pv = part.find(g.values[std::size_t(v)].name);
    if (pv < 0) throw CompileError("internal: '" + g.values[std::size_t(v)].name + "' is not in a replica's step");
    TensorBlock b = blockOf(part, job.plan, pv, pos / spec.cols, pos % spec.cols);
    const Shape &full = g.values[std::size_t(v)].shape, &share = part.values[std::size_t(pv)].shape;
    if (!full.empty() && share.size() == full.size() && share[0] != full[0]) b.begin[0] += std::int64_t(i) * share[0];  // the replica's rows
    return b;
  });
  job.lowered = std::move(lowered);
  return job;
}

}  // namespace

std::vector<LoweredProgram> lowerGridReplica(const CompileRequest& r, const ArchConfig& config, const Graph& g) {
  return placeReplica(r, config, replicasOf(r, config, g), 0, {}, newCollectivePlans()).lowered;
}

CompiledJob compileOnGrid(const CompileRequest& r, const ArchConfig& config, const Graph& g, std::ostream* print) {
  if (r.replicas > 1) return compileOnGridReplicas(r, config, g, print);
  CompiledJob job;
  job.placement = "tensor parallel over a " + r.grid + " grid";
  job.slice = r.slice, job.grid = r.grid;
  const GridSpec spec = gridOf(r, config);
  const int cols = spec.cols;
  CoreContext printing;
  printing.print = print, printing.printAfter = r.printAfter;
  GridJob placed = placeOnGrid(g, config, spec.cores, spec.rows, spec.cols, r.precision, true, printing, gridFeed(r, config, spec),
                               [&](const Graph& local, const CoreContext& ctx, std::size_t pos) { return lowerOrStream(local, config, ctx, std::int64_t(pos)); });
  job.bundle = makeBundle(r, job.placement, config, g, placed.cores, placed.lowered,
                          [&](std::size_t k, int v) { return blockOf(g, placed.plan, v, int(k) / cols, int(k) % cols); });
  for (const auto& lp : placed.lowered) job.sramPeakBytes = std::max(job.sramPeakBytes, lp.sramPeakBytes);
  job.lowered = std::move(placed.lowered);
  job.plan = std::move(placed.plan);
  return job;
}

CompiledJob compileJob(const CompileRequest& r, const ArchConfig& config, std::ostream* print) {
  const Graph g = compileModel(r, nullptr);
  CompiledJob job = !r.grid.empty()      ? compileOnGrid(r, config, g, print)
                    : !r.slice.empty()   ? compileOnSlice(r, config, g, print)
                                         : placeAutomatically(r, config, g, print);
  job.step = g;
  job.precision = r.precision;
  return job;
}

/// The bundle of a compiled step: its tensors (inputs, parameters and state, outputs) with the
/// pieces each core holds, and every core's program. `blockOn(k, value)` gives core k's block.
runtime::Bundle makeBundle(const CompileRequest& r, const std::string& placement, const ArchConfig& config, const Graph& g,
                           const std::vector<int>& cores, std::vector<LoweredProgram>& lowered,
                           const std::function<TensorBlock(std::size_t, int)>& blockOn) {
  runtime::Bundle b;
  b.model = r.model;
  b.step = "loss " + r.loss + ", optimizer " + r.optimizer.kind + ", batch " + std::to_string(r.batch) + ", precision " + r.precision +
           ", " + placement;
  b.configIni = toIni(config);
  // In FP32 the matrix products run on the vector units: the matrix units have no useful work.
  b.usefulMatrixFlops = r.precision == "mixed" ? matrixFlops(g) : 0;
  std::vector<int> values(g.inputs.begin(), g.inputs.end());
  values.insert(values.end(), g.parameters.begin(), g.parameters.end());
  values.insert(values.end(), g.outputs.begin(), g.outputs.end());
  for (int v : values) {
    runtime::BundleTensor t;
    t.name = g.values[std::size_t(v)].name;
    t.role = roleOf(g, v);
    const Value& val = g.values[std::size_t(v)];
    if (val.role != Role::None) t.purpose = roleName(val.role), t.of = val.of;
    t.shape = val.shape;
    for (std::size_t k = 0; k < cores.size(); ++k) {
      const auto found = lowered[k].layout.find(t.name);
      if (found == lowered[k].layout.end())
        throw CompileError("internal: tensor '" + t.name + "' of the step has no place in core " + std::to_string(cores[k]) + "'s program");
      const TensorPlacement& at = found->second;
      const TensorBlock block = blockOn(k, v);
      std::uint64_t bytes = 4;
      for (auto d : block.local) bytes *= std::uint64_t(d);
      if (bytes > at.bytes)
        throw CompileError("internal: core " + std::to_string(cores[k]) + "'s block of '" + t.name + "' is " + std::to_string(bytes) +
                           " bytes; its program holds " + std::to_string(at.bytes) + " for it");
      t.pieces.push_back({cores[k], at.addr, block, at.hbm, at.staged});
    }
    b.tensors.push_back(std::move(t));
  }
  for (std::size_t k = 0; k < cores.size(); ++k) {
    b.programs.emplace_back(cores[k], std::move(lowered[k].program), std::move(lowered[k].notes), std::move(lowered[k].header));
    lowered[k].program = Program{};
    b.hbmInit.insert(b.hbmInit.end(), lowered[k].hbmInit.begin(), lowered[k].hbmInit.end());
  }
  return b;
}

std::vector<std::pair<std::string, double>> runAgainstOracle(const CompiledJob& job, const ArchConfig& config,
                                                             const std::map<std::string, Tensor>& feeds, const runtime::RunOptions& options,
                                                             runtime::BundleRun& run) {
  std::vector<runtime::NamedArray> named;
  for (const auto& [name, t] : feeds) named.push_back({name, std::vector<std::uint64_t>(t.shape.begin(), t.shape.end()), t.data});
  run = runtime::runBundle(config, job.bundle, named, options);
  std::vector<std::pair<std::string, double>> errors;
  if (!run.run.error.empty()) return errors;
  EvalOptions machine;
  machine.roundToFloat = true;
  machine.bf16MatrixOperands = job.precision == "mixed";
  const Graph& g = job.step;
  const auto oracle = evaluate(g, feeds, machine);
  for (int o : g.outputs) {
    const std::string& name = g.values[std::size_t(o)].name;
    const auto& want = oracle[std::size_t(o)].data;
    std::vector<double> got(want.size(), 0.0);
    for (const auto& a : run.outputs)
      if (a.name == name && a.data.size() == want.size()) got = a.data;
    errors.emplace_back(name, relativeError(got, want));
  }
  return errors;
}

StepCheck checkStep(const CompileRequest& r, const ArchConfig& config, std::uint64_t seed, runtime::RunOptions options) {
  StepCheck c;
  c.job = compileJob(r, config);
  c.errors = runAgainstOracle(c.job, config, seededInputs(c.job.step, r.loss, seed), options, c.run);
  for (const auto& [name, rel] : c.errors) c.worst = std::max(c.worst, rel);
  return c;
}

}  // namespace tatami::driver
