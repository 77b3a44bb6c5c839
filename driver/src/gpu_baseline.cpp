// The GPU baseline by the roofline (see gpu_baseline.h).
#include "tatami/driver/gpu_baseline.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>

#include "tatami/compiler/flops.h"
#include "tatami/compiler/ops.h"

namespace tatami::driver {

using namespace tatami::compiler;

GpuSpec readGpuSpec(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw RequestError("cannot read GPU description '" + path + "'");
  GpuSpec g;
  std::map<std::string, double*> numbers = {{"bf16_tflops", &g.bf16Tflops}, {"fp32_tflops", &g.fp32Tflops},
                                            {"hbm_gb_per_s", &g.hbmGbPerS},  {"hbm_gib", &g.hbmGib},
                                            {"l2_mib", &g.l2Mib},            {"link_gb_per_s", &g.linkGbPerS},
                                            {"power_w", &g.powerW}};
  std::map<std::string, bool> given;
  const auto trim = [](const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  std::string line, section;
  int number = 0;
  while (std::getline(f, line)) {
    ++number;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    if (line.front() == '[') {
      section = line;
      if (section != "[gpu]") throw RequestError(where + "unknown section " + section + " (a GPU description has [gpu])");
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos || section.empty()) throw RequestError(where + "expected 'key = value' in [gpu]");
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "name") {
      g.name = value, given[key] = true;
      continue;
    }
    const auto it = numbers.find(key);
    if (it == numbers.end())
      throw RequestError(where + "unknown key '" + key + "' (name, bf16_tflops, fp32_tflops, hbm_gb_per_s, hbm_gib, l2_mib, link_gb_per_s, power_w)");
    double v = 0;
    try {
      std::size_t used = 0;
      v = std::stod(value, &used);
      if (used != value.size()) throw std::invalid_argument("trailing");
    } catch (const std::logic_error&) {
      throw RequestError(where + key + " = '" + value + "' is not a number");
    }
    if (!std::isfinite(v) || v <= 0) throw RequestError(where + key + " = '" + value + "' must be a number above 0");
    *it->second = v, given[key] = true;
  }
  for (const char* key : {"name", "bf16_tflops", "fp32_tflops", "hbm_gb_per_s", "hbm_gib", "l2_mib", "link_gb_per_s", "power_w"})
    if (!given.count(key)) throw RequestError(path + ": no " + std::string(key) + " in [gpu]");
  return g;
}

std::vector<GpuOp> gpuRoofline(const Graph& g, const GpuSpec& gpu, const std::string& precision) {
  const auto bytesOf = [&](int v, double perElement) { return double(elementCount(g.values[std::size_t(v)].shape)) * perElement; };
  const double l2 = gpu.l2Mib * 1024 * 1024;
  std::vector<GpuOp> ops;
  int previousOutput = -1;
  for (const Node& n : g.nodes) {
    if (n.op == Op::reshape || n.op == Op::identity || opHas(n.op, kCollective)) continue;  // views; communication is costed apart
    GpuOp o;
    o.node = n.name, o.op = opName(n.op);
    const std::uint64_t matrix = matrixFlops(g, n);
    o.matrix = matrix > 0 && precision == "mixed";
    const double operandBytes = o.matrix ? 2.0 : 4.0;  // mixed: BF16 operands, FP32 results
    for (int in : n.inputs) {
      const double b = bytesOf(in, operandBytes);
      if (in == previousOutput && b <= l2) continue;  // just written, still in L2
      o.bytes += b;
    }
    for (int out : n.outputs) o.bytes += bytesOf(out, 4.0);
    o.flops = matrix > 0 ? double(matrix) : double(elementCount(g.values[std::size_t(n.outputs[0])].shape));
    const double peak = (o.matrix ? gpu.bf16Tflops : gpu.fp32Tflops) * 1e12;
    o.seconds = std::max(o.flops / peak, o.bytes / (gpu.hbmGbPerS * 1e9));
    ops.push_back(o);
    previousOutput = n.outputs[0];
  }
  return ops;
}

int diesUsed(const ArchConfig& config, const std::vector<int>& cores) {
  std::set<int> dies;
  for (int id : cores) dies.insert(dieOfCore(config, id));
  return int(dies.size());
}

GpuEstimate estimateOnGpus(const CompileRequest& r, const GpuSpec& gpu, int gpus) {
  if (gpus < 1) throw RequestError("--gpus " + std::to_string(gpus) + ": at least 1");
  if (gpus > 1 && r.batch < gpus)
    throw RequestError("--gpus " + std::to_string(gpus) + ": the batch of " + std::to_string(r.batch) + " has fewer examples than GPUs");
  GpuEstimate e;
  e.gpus = gpus;
  // The first GPU's share is the largest (the slowest GPU sets the step).
  const Graph g = compileModel(r, nullptr, gpus > 1 ? shareOf(r.batch, gpus, 0) : BatchShare{});
  e.ops = gpuRoofline(g, gpu, r.precision);
  for (const GpuOp& o : e.ops) e.computeSeconds += o.seconds;
  // Each all-reduce of the step (gradients, batch statistics) as a ring over the GPUs' links:
  // 2 (N - 1) / N of its bytes leave each GPU.
  for (const Node& n : g.nodes)
    if (opHas(n.op, kCollective) && gpus > 1)
      e.allreduceSeconds += 2.0 * double(gpus - 1) / double(gpus) * double(elementCount(g.values[std::size_t(n.inputs[0])].shape)) * 4.0 /
                            (gpu.linkGbPerS * 1e9);
  e.stepSeconds = e.computeSeconds + e.allreduceSeconds;
  for (const Value& v : g.values) e.peakBytes += double(elementCount(v.shape)) * 4.0;
  e.fits = e.peakBytes <= gpu.hbmGib * 1024.0 * 1024.0 * 1024.0;
  return e;
}

WaferBesideGpus besideGpus(const ArchConfig& config, const std::vector<int>& cores, std::uint64_t cycles, std::int64_t batch,
                           const GpuEstimate& g, const GpuSpec& gpu) {
  WaferBesideGpus w;
  w.dies = diesUsed(config, cores);
  const auto figures = [&](double seconds, double watts) {
    StepFigures f{seconds, watts, seconds > 0 ? double(batch) / seconds : 0.0, 0.0};
    f.examplesPerSecondPerW = watts > 0 ? f.examplesPerSecond / watts : 0.0;
    return f;
  };
  w.wafer = figures(double(cycles) / (config.core.clock_ghz * 1e9), double(w.dies) * config.die.power_w);
  w.gpus = figures(g.stepSeconds, double(g.gpus) * gpu.powerW);
  return w;
}

}  // namespace tatami::driver
