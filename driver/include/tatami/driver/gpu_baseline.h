// A GPU baseline: the same training step estimated on GPUs described by their published figures
// (configs/gpu/*.ini), by the roofline, so that the emulated wafer can be set beside N GPUs. It
// is an estimate, not a simulation: each op takes the longer of its FLOPs at the GPU's peak and
// its bytes at the HBM's bandwidth; data parallel over N GPUs adds a ring all-reduce of the
// gradients over the GPU's link (docs/gpu.md).
#pragma once

#include <string>
#include <vector>

#include "tatami/arch/config.h"
#include "tatami/compiler/ir.h"
#include "tatami/driver/step.h"

namespace tatami::driver {

struct GpuSpec {
  std::string name;
  double bf16Tflops = 0;  ///< dense BF16 tensor throughput (matrix products in mixed precision)
  double fp32Tflops = 0;  ///< FP32 throughput (matrix products in FP32, every other op)
  double hbmGbPerS = 0;
  double hbmGib = 0;      ///< a step whose tensors need more does not fit
  double l2Mib = 0;       ///< an op's operand written by the op just before, if it fits, comes from L2
  double linkGbPerS = 0;  ///< per GPU, to the others (the all-reduce's ring)
  double powerW = 0;
};

/// Reads a GPU description (an INI file with a [gpu] section: name, bf16_tflops, fp32_tflops,
/// hbm_gb_per_s, hbm_gib, l2_mib, link_gb_per_s, power_w; all required). Throws RequestError
/// naming the file, the line and the key.
GpuSpec readGpuSpec(const std::string& path);

struct GpuOp {
  std::string node, op;
  double flops = 0, bytes = 0;  ///< bytes from HBM (operands from L2 not counted)
  double seconds = 0;           ///< max(flops / peak, bytes / bandwidth)
  bool matrix = false;          ///< on the tensor cores (BF16) rather than FP32
};

struct GpuEstimate {
  std::vector<GpuOp> ops;      ///< one GPU's share of the step
  double computeSeconds = 0;   ///< the sum of ops[].seconds
  double allreduceSeconds = 0; ///< the gradients' ring all-reduce over `gpus`
  double stepSeconds = 0;      ///< compute then all-reduce (no overlap assumed)
  double peakBytes = 0;        ///< every tensor of the step at once (what HBM must hold)
  int gpus = 1;
  bool fits = true;
};

/// The roofline of one step graph `g` (one GPU's share) on `gpu`; `precision` "mixed" runs
/// matrix products on the BF16 tensor cores with BF16 operands, "fp32" on FP32.
std::vector<GpuOp> gpuRoofline(const compiler::Graph& g, const GpuSpec& gpu, const std::string& precision);

/// The dies the cores `cores` (ids: row x the system's columns + column) lie on: a step's power
/// is that of its dies (die.power_w each).
int diesUsed(const ArchConfig& config, const std::vector<int>& cores);

/// r's step, data parallel over `gpus` GPUs (each its share of the batch, as the slices split it).
GpuEstimate estimateOnGpus(const CompileRequest& r, const GpuSpec& gpu, int gpus);

/// One side of the comparison: a step's time, power and throughput.
struct StepFigures {
  double seconds = 0, watts = 0;
  double examplesPerSecond = 0, examplesPerSecondPerW = 0;
};

/// The emulated wafer's step (`cycles` on `cores`) beside the GPUs' estimate `g`, for `batch`
/// examples: the wafer's power is that of the dies it uses (die.power_w each), the GPUs' that of
/// `g.gpus` boards.
struct WaferBesideGpus {
  StepFigures wafer, gpus;
  int dies = 0;
};
WaferBesideGpus besideGpus(const ArchConfig& config, const std::vector<int>& cores, std::uint64_t cycles, std::int64_t batch,
                           const GpuEstimate& g, const GpuSpec& gpu);

}  // namespace tatami::driver
