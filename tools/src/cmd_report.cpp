// `tatami report`: one self-contained HTML page (inline SVG, no scripts, nothing fetched) of a
// compiled step run on the emulator: the configuration, the step's breakdown by unit and stall,
// each op's measured cycles and FLOPs per cycle against the matrix peak (with what limited it),
// heat maps of the die (each core's busy share of the matrix, vector and DMA units, its SRAM
// peak) and of the mesh (each link's utilization and peak queue); or of a sweep's table: each
// metric against each axis.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <ostream>
#include <sstream>

#include "command.h"
#include "cost_table.h"
#include "format_text.h"
#include "metrics.h"
#include "run_report.h"
#include "step_options.h"
#include "svg_plot.h"
#include "tatami/arch/figures.h"
#include "tatami/driver/gpu_baseline.h"
#include "tatami/driver/job.h"
#include "tatami/runtime/bundle.h"
#include "tatami/arch/config_files.h"
#include "tatami/runtime/output_file.h"
#include "tatami/runtime/results.h"

namespace tatami::cli {

using namespace tatami::compiler;
using namespace tatami::driver;

namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : c == '"' ? "&quot;" : std::string(1, c);
  return o;
}

std::string num(double v) {
  std::ostringstream os;
  os.precision(4);
  os << v;
  return os.str();
}

/// White to dark blue for 0..1.
std::string shade(double f) {
  f = std::clamp(f, 0.0, 1.0);
  const int r = int(255 - 215 * f), g = int(255 - 170 * f), b = int(255 - 75 * f);
  std::ostringstream os;
  os << "rgb(" << r << "," << g << "," << b << ")";
  return os.str();
}

/// A rows x cols heat map of `value` (0..1 after dividing by `full`), cells labelled on hover.
std::string heatMap(const std::string& id, const std::string& title, int rows, int cols, const std::map<int, double>& value, double full,
                    const std::string& unit) {
  const int cell = std::max(6, std::min(24, 480 / std::max(rows, cols)));
  const int w = cols * cell + 20, h = rows * cell + 50;
  std::ostringstream os;
  os << "<figure><svg id='" << id << "' xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << h << "'>";
  os << "<text x='0' y='14' font-size='13'>" << esc(title) << "</text>";
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const auto it = value.find(r * cols + c);
      const double v = it == value.end() ? 0 : it->second;
      os << "<rect x='" << c * cell << "' y='" << 20 + r * cell << "' width='" << cell - 1 << "' height='" << cell - 1 << "' fill='"
         << (it == value.end() ? "#eee" : shade(full > 0 ? v / full : 0)) << "'><title>(" << r << "," << c << "): "
         << (it == value.end() ? "idle" : num(v) + " " + unit) << "</title></rect>";
    }
  os << "<text x='0' y='" << 20 + rows * cell + 18 << "' font-size='11'>white 0, dark " << num(full) << " " << esc(unit)
     << "; grey: no program</text></svg></figure>\n";
  return os.str();
}

/// Horizontal bars (name, value) scaled to the largest.
std::string bars(const std::string& id, const std::string& title, const std::vector<std::pair<std::string, double>>& rows, const std::string& unit) {
  double most = 1;
  for (const auto& r : rows) most = std::max(most, r.second);
  const int h = 24 + 18 * int(rows.size());
  std::ostringstream os;
  os << "<figure><svg id='" << id << "' xmlns='http://www.w3.org/2000/svg' width='720' height='" << h << "'>";
  os << "<text x='0' y='14' font-size='13'>" << esc(title) << "</text>";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const double y = 22 + 18 * double(i), w = 420 * rows[i].second / most;
    os << "<text x='0' y='" << y + 12 << "' font-size='11'>" << esc(rows[i].first) << "</text><rect x='200' y='" << y << "' width='" << w
       << "' height='14' fill='#3a6ea5'/><text x='" << 206 + w << "' y='" << y + 12 << "' font-size='11'>" << num(rows[i].second) << " "
       << esc(unit) << "</text>";
  }
  os << "</svg></figure>\n";
  return os.str();
}

/// "(r,c)->(r,c)" -> both positions; false for injection and ejection ports.
bool parseLink(const std::string& name, int& r0, int& c0, int& r1, int& c1) {
  return std::sscanf(name.c_str(), "(%d,%d)->(%d,%d)", &r0, &c0, &r1, &c1) == 4;
}

/// The mesh: each link drawn between its routers, coloured by utilization, width by peak queue.
std::string meshMap(const runtime::NetworkSummary& n, int rows, int cols, std::uint64_t cycles) {
  const int cell = std::max(10, std::min(36, 640 / std::max(rows, cols)));
  std::ostringstream os;
  os << "<figure><svg id='mesh-links' xmlns='http://www.w3.org/2000/svg' width='" << cols * cell + 20 << "' height='" << rows * cell + 50
     << "'><text x='0' y='14' font-size='13'>Mesh links: utilization (busy cycles / step cycles), line width by peak queue</text>";
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      os << "<circle cx='" << 10 + c * cell << "' cy='" << 30 + r * cell << "' r='1.5' fill='#999'/>";
  std::size_t drawn = 0;
  for (const auto& l : n.links) {
    int r0, c0, r1, c1;
    if (!parseLink(l.name, r0, c0, r1, c1)) continue;
    const double u = cycles ? double(l.busyCycles) / double(cycles) : 0;
    // Offset the two directions of a link so both show.
    const double dx = (r1 - r0) * 2.0, dy = (c1 - c0) * -2.0;
    os << "<line x1='" << 10 + c0 * cell + dx << "' y1='" << 30 + r0 * cell + dy << "' x2='" << 10 + c1 * cell + dx << "' y2='"
       << 30 + r1 * cell + dy << "' stroke='" << shade(u) << "' stroke-width='" << 1.5 + std::min(4.0, double(l.peakQueue) / 2)
       << "'><title>" << esc(l.name) << ": " << num(100 * u) << "% busy, peak queue " << l.peakQueue << ", " << l.packets
       << " packets</title></line>";
    ++drawn;
  }
  os << "<text x='0' y='" << 30 + rows * cell + 10 << "' font-size='11'>" << drawn
     << " links carried traffic; white 0%, dark 100% busy</text></svg></figure>\n";
  return os.str();
}

const char* kStyle =
    "<style>body{font-family:sans-serif;margin:24px;max-width:1100px}table{border-collapse:collapse;font-size:12px}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eef}td:first-child{text-align:left}"
    "figure{display:inline-block;margin:8px 16px 8px 0;vertical-align:top}.note{color:#555;font-size:12px}</style>";

/// The first core's ops of a traced run: the roofline (FLOPs against bytes at each level) and a
/// table of the 40 longest.
std::string opsSection(const LoweredProgram& lp, const runtime::RunResult& res, const ArchConfig& config) {
  std::ostringstream h;
  const std::vector<OpMeasure> measured = measuredPerOp(lp, res);
  const double peak = 2.0 * double(config.core.matrix_units) * double(config.core.matrix_dim) * double(config.core.matrix_dim);
  // The roofs a core's op can meet: its SRAM ports (vector/matrix ports and the DMA's NoC port),
  // its way onto the mesh, and HBM (one interface processor's whole bandwidth: an upper bound).
  const auto& c = config.core;
  const std::vector<Roof> roofs = {
      {"SRAM ports", double((c.sram_read_ports + c.sram_write_ports) * c.sram_port_bytes + c.noc_read_bytes_per_cycle + c.noc_write_bytes_per_cycle)},
      {"mesh (core port)", double(std::min(c.noc_read_bytes_per_cycle, config.die.link_bytes_per_cycle) +
                                  std::min(c.noc_write_bytes_per_cycle, config.die.link_bytes_per_cycle))},
      {"HBM", config.dip.hbm_gb_per_s / c.clock_ghz}};
  std::vector<std::pair<std::string, std::vector<RooflinePoint>>> points = {
      {"ops vs SRAM bytes", {}}, {"ops vs mesh bytes", {}}, {"ops vs HBM bytes", {}}};
  std::vector<double> flopsPerCycle(lp.ops.size(), 0);
  std::vector<std::string> roofBound(lp.ops.size(), "-");
  for (std::size_t i = 0; i < lp.ops.size(); ++i) {
    const OpMeasure& m = measured[i];
    const double flops = double(lp.ops[i].usefulFlops);
    flopsPerCycle[i] = m.cycles ? flops / double(m.cycles) : 0;
    if (flops <= 0 || !m.cycles) continue;
    // The roof the op sits under: the lowest of the peak and each level's bandwidth x intensity.
    double lowest = peak;
    roofBound[i] = "compute";
    const std::uint64_t bytes[3] = {m.sramBytes, m.meshBytes, m.hbmBytes};
    for (std::size_t l = 0; l < 3; ++l) {
      if (!bytes[l]) continue;
      const double intensity = flops / double(bytes[l]);
      points[l].second.push_back({intensity, flopsPerCycle[i], lp.ops[i].op + " " + lp.ops[i].node});
      if (intensity * roofs[l].bytesPerCycle < lowest) lowest = intensity * roofs[l].bytesPerCycle, roofBound[i] = roofs[l].name;
    }
  }
  h << "<h2>Ops on the first core: the roofline</h2><p class='note'>Each op with matrix work is a point per level it moved bytes "
       "at: its useful matrix FLOPs over those bytes (arithmetic intensity) against the useful FLOPs per cycle it reached "
       "(measured). Roofs: the core's matrix peak (2 x matrix_units x matrix_dim^2 = "
    << num(peak) << " FLOP/cycle) and each level's bandwidth: the SRAM ports (read and write ports of sram_port_bytes, and the "
       "DMA's NoC port), the core's port onto the mesh, and one interface processor's HBM (an upper bound for one core). "
       "Bytes are counted per instruction as the timing model moves them (whole port lines). An op under the roofs by far "
       "is limited by latency and dependences, not by a bandwidth.</p>";
  h << "<figure id='roofline'>" << svgRoofline("Roofline of the first core's ops", peak, roofs, points) << "</figure>";
  h << "<table><tr><th>op</th><th>thread</th><th>measured cycles</th><th>estimate</th><th>useful MFLOP</th><th>FLOP/cycle</th>"
       "<th>SRAM KiB</th><th>mesh KiB</th><th>HBM KiB</th><th>roof</th><th>matrix</th><th>vector</th><th>dma</th><th>busiest</th></tr>";
  std::vector<std::size_t> order(lp.ops.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return measured[a].cycles > measured[b].cycles; });
  for (std::size_t k = 0; k < std::min<std::size_t>(order.size(), 40); ++k) {
    const std::size_t i = order[k];
    const OpMeasure& m = measured[i];
    const auto share = [&](Unit u) { return m.cycles ? num(100.0 * double(m.busy[std::size_t(u)]) / double(m.cycles)) + "%" : std::string("-"); };
    const auto kib = [](std::uint64_t b) { return num(double(b) / 1024.0); };
    h << "<tr><td>" << esc(lp.ops[i].op + " " + lp.ops[i].node) << "</td><td>" << lp.ops[i].thread << "</td><td>" << m.cycles << "</td><td>"
      << std::llround(lp.ops[i].cycles) << "</td><td>" << num(double(lp.ops[i].usefulFlops) / 1e6) << "</td><td>" << num(flopsPerCycle[i])
      << "</td><td>" << kib(m.sramBytes) << "</td><td>" << kib(m.meshBytes) << "</td><td>" << kib(m.hbmBytes) << "</td><td>"
      << esc(roofBound[i]) << "</td><td>" << share(Unit::Matrix) << "</td><td>" << share(Unit::Vector) << "</td><td>" << share(Unit::Dma)
      << "</td><td>" << m.limit() << "</td></tr>";
  }
  h << "</table><p class='note'>The 40 longest ops of " << lp.ops.size() << ".</p>";
  return h.str();
}

/// The step beside `gpus` GPUs described by `gpuFile` (driver/gpu_baseline.h): a table and what
/// the estimate is.
std::string gpuSection(const CompileRequest& r, const ArchConfig& config, const driver::CompiledJob& job, std::uint64_t cycles,
                       const std::string& gpuFile, int gpus) {
  const driver::GpuSpec gpu = driver::readGpuSpec(gpuFile);
  const driver::GpuEstimate g = driver::estimateOnGpus(r, gpu, gpus);
  std::vector<int> cores;
  for (const auto& p : job.bundle.programs) cores.push_back(p.core);
  const driver::WaferBesideGpus w = driver::besideGpus(config, cores, cycles, r.batch, g, gpu);
  std::ostringstream h;
  h << "<h2>Beside GPUs: an estimate</h2><p class='note'>The same step, data parallel over " << gpus << " x " << esc(gpu.name) << " ("
    << esc(gpuFile) << "), ESTIMATED by the roofline, not simulated: each op the longer of its FLOPs at the GPU's peak and its bytes "
    << "at its HBM bandwidth, then a ring all-reduce of the gradients over its links (a lower bound for the GPUs: no kernel launch, "
    << "no cache misses beyond the roofline). Compute " << num(g.computeSeconds * 1e6) << " us + all-reduce " << num(g.allreduceSeconds * 1e6)
    << " us per step" << (g.fits ? "" : "; the step's tensors do NOT fit the GPU's HBM") << ". The wafer's power is its " << w.dies
    << " die(s) at die.power_w = " << num(config.die.power_w) << " W (docs/gpu.md).</p>";
  h << "<table id='gpu-table'><tr><th></th><th>wafer (emulated)</th><th>GPUs (estimated)</th><th>GPUs / wafer</th></tr>";
  const auto row = [&](const std::string& name, double a, double b) {
    h << "<tr><td>" << name << "</td><td>" << num(a) << "</td><td>" << num(b) << "</td><td>" << (a > 0 ? num(b / a) : "-") << "</td></tr>";
  };
  row("step time (us)", w.wafer.seconds * 1e6, w.gpus.seconds * 1e6);
  row("examples per second", w.wafer.examplesPerSecond, w.gpus.examplesPerSecond);
  row("power (W)", w.wafer.watts, w.gpus.watts);
  row("examples per second per kW", w.wafer.examplesPerSecondPerW * 1000, w.gpus.examplesPerSecondPerW * 1000);
  h << "</table>";
  return h.str();
}

int reportStep(const CompileRequest& r, const MachineOptions& machine, const std::string& gpuFile, int gpus, const std::string& outPath,
               std::ostream& out, std::ostream& err) {
  const ArchConfig config = machine.resolve();
  const driver::CompiledJob job = driver::compileJob(r, config);
  runtime::RunOptions options;
  options.timingOnly = true;
  options.trace = true;
  const runtime::BundleRun run = runtime::runBundle(config, job.bundle, {}, options);
  if (!run.run.error.empty()) {
    err << "tatami report: the run failed: " << run.run.error << "\n";
    return kExitRunFailed;
  }
  const runtime::RunResult& res = run.run;
  const std::uint64_t cycles = res.stats.cycles;
  const int cols = int(config.die.cols * config.system.die_cols), rows = int(config.die.rows * config.system.die_rows);
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>tatami report: " << esc(r.model) << "</title>" << kStyle << "</head><body>";
  h << "<h1>Training step of " << esc(r.model) << "</h1>";
  h << "<p>" << esc(job.placement) << "; batch " << r.batch << ", " << esc(r.precision) << " precision; " << cycles << " cycles ("
    << num(double(cycles) / config.core.clock_ghz / 1000) << " us at " << num(config.core.clock_ghz) << " GHz), timing only. Made by "
    << "<code>tatami report</code>.</p>";
  // Configuration: what differs from the D1 preset, then the figures.
  h << "<h2>Configuration</h2><table><tr><th>parameter</th><th>value</th><th>D1 preset</th></tr>";
  const ArchConfig d1;
  int differing = 0;
  for (const ParamSpec& p : paramSpecs()) {
    const std::string now = paramText(config, p.key()), base = paramText(d1, p.key());
    if (now == base) continue;
    ++differing;
    h << "<tr><td>" << esc(p.key()) << "</td><td>" << esc(now) << "</td><td>" << esc(base) << "</td></tr>";
  }
  if (!differing) h << "<tr><td colspan='3'>the D1 preset, unchanged</td></tr>";
  h << "</table>";
  // Breakdown.
  h << "<h2>Step breakdown</h2><p class='note'>Busy cycles of each unit and stall cycles of the threads, summed over the "
    << res.coresUsed << " cores that ran (each core has " << cycles << " cycles in the step).</p>";
  std::vector<std::pair<std::string, double>> busy, stalls;
  for (int u = 0; u < kUnitCount; ++u) busy.emplace_back(unitName(Unit(u)), double(res.stats.unitBusy[std::size_t(u)]));
  double hz = 0, un = 0, po = 0, se = 0, ba = 0;
  for (const auto& t : res.stats.threads) hz += double(t.stallHazard), un += double(t.stallUnit), po += double(t.stallPort), se += double(t.stallSemaphore), ba += double(t.stallBarrier);
  stalls = {{"hazard (waiting for a result)", hz}, {"unit busy", un}, {"SRAM port busy", po}, {"semaphore (DMA, other cores)", se}, {"barrier", ba}};
  h << bars("breakdown-units", "Unit busy cycles", busy, "cycles") << bars("breakdown-stalls", "Thread stall cycles", stalls, "cycles");
  h << opsSection(job.lowered[0], res, config);
  // Die heat maps.
  h << "<h2>The die" << (config.system.die_rows * config.system.die_cols > 1 ? "s" : "") << "</h2>";
  std::map<int, double> matrix, vector, dma, sram;
  for (const auto& [core, st] : res.perCore) {
    matrix[core] = double(st.unitBusy[std::size_t(Unit::Matrix)]) / double(std::max<std::uint64_t>(1, cycles));
    vector[core] = double(st.unitBusy[std::size_t(Unit::Vector)]) / double(std::max<std::uint64_t>(1, cycles));
    dma[core] = double(st.unitBusy[std::size_t(Unit::Dma)]) / double(std::max<std::uint64_t>(1, cycles));
  }
  for (std::size_t k = 0; k < job.bundle.programs.size() && k < job.lowered.size(); ++k)
    sram[job.bundle.programs[k].core] = double(job.lowered[k].sramPeakBytes) / 1024.0;
  h << heatMap("heat-matrix", "Matrix unit busy share", rows, cols, matrix, 1.0, "of the step")
    << heatMap("heat-vector", "Vector unit busy share", rows, cols, vector, 1.0, "of the step")
    << heatMap("heat-dma", "DMA engine busy share", rows, cols, dma, 1.0, "of the step")
    << heatMap("heat-sram", "SRAM high-water mark", rows, cols, sram, double(config.core.sram_kib), "KiB");
  h << "<h2>The mesh</h2>" << meshMap(res.network, rows, cols, cycles);
  h << "<p class='note'>" << res.network.packets << " packets, " << res.network.bytes << " bytes injected.</p>";
  if (!gpuFile.empty()) h << gpuSection(r, config, job, cycles, gpuFile, gpus);
  h << "</body></html>\n";
  runtime::writeOutputFile(outPath, h.str());
  out << "wrote " << outPath << " (" << job.lowered[0].ops.size() << " ops, " << res.coresUsed << " cores, " << res.network.links.size() << " links)\n";
  return kExitOk;
}

/// A training run's step compiled again from the request its run file keeps (attribute `step`)
/// and run once, timing only, with a trace: the roofline of its first core's ops. Without the
/// request or the model file, a note says why there is none.
std::string stepOpsSection(const std::map<std::string, std::string>& attrs, const ArchConfig& config, std::uint64_t lastStepCycles) {
  std::ostringstream h;
  h << "<h2>The step's ops</h2>";
  if (!attrs.count("step")) return h.str() + "<p class='note'>This run file keeps no step request (written before it was kept): no roofline.</p>";
  try {
    const CompileRequest r = driver::requestFromJson(attrs.at("step"));
    if (!std::ifstream(r.model))
      return h.str() + "<p class='note'>The model " + esc(r.model) + " is not readable from here, so the step cannot be compiled again for "
             "its roofline (run tatami report where tatami train ran).</p>";
    const driver::CompiledJob job = driver::compileJob(r, config);
    runtime::RunOptions options;
    options.timingOnly = true;
    options.trace = true;
    const runtime::BundleRun run = runtime::runBundle(config, job.bundle, {}, options);
    if (!run.run.error.empty()) return h.str() + "<p class='note'>The step compiled again failed to run: " + esc(run.run.error) + "</p>";
    h << "<p class='note'>The step compiled again from the run's request (" << esc(job.placement) << ") and run once, timing only: "
      << run.run.stats.cycles << " cycles"
      << (run.run.stats.cycles == lastStepCycles ? ", as the run's last step." : "; the run's last step took " + std::to_string(lastStepCycles) + ".")
      << "</p>" << opsSection(job.lowered[0], run.run, config);
  } catch (const std::exception& e) {
    h << "<p class='note'>The step could not be compiled again: " << esc(e.what()) << "</p>";
  }
  return h.str();
}

/// A training run's results file (tatami train --output): the loss curve, cycles per step, the
/// accuracy per epoch, and the last step's heat maps of the cores and the mesh.
int reportTraining(const std::string& path, const std::string& outPath, std::ostream& out, std::ostream& err) {
  std::map<std::string, std::string> attrs;
  std::vector<runtime::NamedArray> arrays;
  try {
    arrays = runtime::readArrays(path, &attrs);
  } catch (const std::exception& e) {
    err << "tatami report: " << e.what() << "\n";
    return kExitBadInput;
  }
  std::map<std::string, const runtime::NamedArray*> by;
  for (const auto& a : arrays) by[a.name] = &a;
  if (!by.count("loss") || !by.count("cycles") || !attrs.count("config")) {
    err << "tatami report: '" << path << "' is not a training run's results (tatami train --output): it has no loss, cycles or config\n";
    return kExitBadInput;
  }
  ArchConfig config;
  try {
    applyIni(config, attrs.at("config"), path + " (its configuration)");
  } catch (const ConfigError& e) {
    err << "tatami report: " << e.what() << "\n";
    return kExitBadInput;
  }
  const auto& loss = by.at("loss")->data;
  const auto& cycles = by.at("cycles")->data;
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>tatami report: " << esc(path) << "</title>" << kStyle << "</head><body>";
  h << "<h1>Training run " << esc(path) << "</h1><p>" << loss.size() << " steps. Made by <code>tatami report</code>.</p>";
  if (attrs.count("summary")) {
    h << "<h2>Summary</h2><table><tr><th>figure</th><th>value</th></tr>";
    try {
      const auto j = nlohmann::ordered_json::parse(attrs.at("summary"));
      for (const auto& [k, v] : j.items())
        if (v.is_primitive()) h << "<tr><td>" << esc(k) << "</td><td>" << esc(v.is_string() ? v.get<std::string>() : v.dump()) << "</td></tr>";
    } catch (const nlohmann::json::exception&) {
      h << "<tr><td colspan='2'>(its summary is not JSON)</td></tr>";
    }
    if (by.count("host/seconds") && by.at("host/seconds")->data.size() == 1)
      h << "<tr><td>host seconds (the simulation's time, not the machine's)</td><td>" << num(by.at("host/seconds")->data[0]) << "</td></tr>";
    h << "</table>";
  }
  PlotSeries lossCurve{"loss", {}, {}}, cycleCurve{"cycles per step", {}, {}};
  double lossMax = 0, cycleMax = 0;
  for (std::size_t i = 0; i < loss.size(); ++i) {
    if (!std::isfinite(loss[i])) continue;
    lossCurve.x.push_back(double(i)), lossCurve.y.push_back(loss[i]), lossMax = std::max(lossMax, loss[i]);
  }
  for (std::size_t i = 0; i < cycles.size(); ++i) cycleCurve.x.push_back(double(i)), cycleCurve.y.push_back(cycles[i]), cycleMax = std::max(cycleMax, cycles[i]);
  h << "<h2>Loss</h2><figure id='loss-curve'>" << svgLineChart("training loss per step", "step", "loss", {lossCurve}, lossMax * 1.1 + 1e-12)
    << "</figure><figure id='cycles-curve'>" << svgLineChart("simulated cycles per step", "step", "cycles", {cycleCurve}, cycleMax * 1.1 + 1)
    << "</figure>";
  if (by.count("epoch_accuracy") && !by.at("epoch_accuracy")->data.empty()) {
    h << "<table><tr><th>epoch</th><th>test accuracy</th></tr>";
    const auto& acc = by.at("epoch_accuracy")->data;
    for (std::size_t e = 0; e < acc.size(); ++e) h << "<tr><td>" << e + 1 << "</td><td>" << num(100 * acc[e]) << "%</td></tr>";
    h << "</table>";
  }
  // The last step's cores: stats/core_<id>/unit_busy_cycles (scalar, sync, vector, matrix, dma).
  const int cols = int(config.die.cols * config.system.die_cols), rows = int(config.die.rows * config.system.die_rows);
  std::map<int, double> matrix, vector, dma;
  const double stepCycles = cycles.empty() ? 1 : std::max(1.0, cycles.back());
  for (const auto& a : arrays) {
    int core = -1;
    if (std::sscanf(a.name.c_str(), "stats/core_%d/unit_busy_cycles", &core) != 1 || a.data.size() != 5) continue;
    vector[core] = a.data[2] / stepCycles, matrix[core] = a.data[3] / stepCycles, dma[core] = a.data[4] / stepCycles;
  }
  h << "<h2>The last step on the die" << (config.system.die_rows * config.system.die_cols > 1 ? "s" : "") << "</h2>"
    << heatMap("heat-matrix", "Matrix unit busy share", rows, cols, matrix, 1.0, "of the step")
    << heatMap("heat-vector", "Vector unit busy share", rows, cols, vector, 1.0, "of the step")
    << heatMap("heat-dma", "DMA engine busy share", rows, cols, dma, 1.0, "of the step");
  runtime::NetworkSummary net;
  if (attrs.count("stats_link_names") && by.count("stats/link_busy_cycles")) {
    try {
      const auto names = nlohmann::json::parse(attrs.at("stats_link_names"));
      const auto& busy = by.at("stats/link_busy_cycles")->data;
      for (std::size_t i = 0; i < names.size() && i < busy.size(); ++i) {
        runtime::NetworkSummary::LinkRow l;
        l.name = names[i].get<std::string>(), l.busyCycles = std::uint64_t(busy[i]);
        net.links.push_back(l);
      }
    } catch (const nlohmann::json::exception&) {
    }
  }
  h << "<h2>The mesh in the last step</h2>" << meshMap(net, rows, cols, std::uint64_t(stepCycles));
  h << stepOpsSection(attrs, config, cycles.empty() ? 0 : std::uint64_t(cycles.back())) << "</body></html>\n";
  runtime::writeOutputFile(outPath, h.str());
  out << "wrote " << outPath << " (" << loss.size() << " steps, " << matrix.size() << " cores, " << net.links.size() << " links)\n";
  return kExitOk;
}

/// A sweep's CSV table: each numeric metric against each numeric axis.
int reportSweep(const std::string& csvPath, const std::string& outPath, std::ostream& out, std::ostream& err) {
  std::ifstream in(csvPath);
  if (!in) {
    err << "tatami report: cannot read '" << csvPath << "'\n";
    return kExitBadInput;
  }
  // Fields are numbers or text; text may be quoted (with "" for a quote).
  const auto split = [](const std::string& line) {
    std::vector<std::string> f;
    std::string cur;
    bool q = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (q && c == '"' && i + 1 < line.size() && line[i + 1] == '"') cur += '"', ++i;
      else if (c == '"') q = !q;
      else if (c == ',' && !q) f.push_back(cur), cur.clear();
      else cur += c;
    }
    f.push_back(cur);
    return f;
  };
  std::string line;
  if (!std::getline(in, line)) {
    err << "tatami report: '" << csvPath << "' is empty\n";
    return kExitBadInput;
  }
  const std::vector<std::string> header = split(line);
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(split(line));
  std::vector<std::size_t> axes;
  for (std::size_t c = 0; c < header.size(); ++c)
    if (findParam(header[c])) axes.push_back(c);
  if (header.size() < 2 || header[0] != "point" || header[1] != "workload" || axes.empty()) {
    err << "tatami report: '" << csvPath << "' is not a sweep's table (point, workload, the axes, the metrics)\n";
    return kExitBadInput;
  }
  const auto number = [](const std::string& s, double& v) {
    try {
      std::size_t used = 0;
      v = std::stod(s, &used);
      return used == s.size();
    } catch (const std::logic_error&) {
      return false;
    }
  };
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>tatami report: " << esc(csvPath) << "</title>" << kStyle << "</head><body>";
  h << "<h1>Sweep " << esc(csvPath) << "</h1><p>" << rows.size() << " points. Each metric against each axis, one line per workload "
    << "and value of the other axes. Made by <code>tatami report</code>.</p>";
  const std::vector<std::string> shown = {"cycles", "matrix_utilization", "accepted_rate", "avg_latency_cycles"};
  int plots = 0;
  for (const std::string& metric : shown) {
    const auto mc = std::find(header.begin(), header.end(), metric);
    if (mc == header.end()) continue;
    const std::size_t m = std::size_t(mc - header.begin());
    std::set<std::string> workloads;
    for (const auto& row : rows)
      if (row.size() == header.size()) workloads.insert(row[1]);
    for (std::size_t a : axes) {
      // One line per workload (when there are several) and value of the other axes, in the
      // table's order; the legend holds the values, the title names the axes.
      std::vector<PlotSeries> list;
      std::map<std::string, std::size_t> at;
      std::string others;
      for (std::size_t b : axes)
        if (b != a) others += (others.empty() ? "" : ", ") + header[b];
      double most = 0;
      for (const auto& row : rows) {
        double x = 0, y = 0;
        if (row.size() != header.size() || !number(row[a], x) || !number(row[m], y)) continue;
        std::string key = workloads.size() > 1 ? row[1] : "";
        for (std::size_t b : axes)
          if (b != a) key += (key.empty() ? "" : ", ") + row[b];
        if (key.empty()) key = row[1];
        if (!at.count(key)) at[key] = list.size(), list.push_back({key, {}, {}});
        list[at[key]].x.push_back(x), list[at[key]].y.push_back(y);
        most = std::max(most, y);
      }
      if (list.empty()) continue;
      const MetricInfo* info = findMetric(metric);
      h << "<figure class='sweep-plot'>"
        << svgLineChart(metric + " against " + header[a] + (others.empty() ? "" : " (lines: " + others + ")"), header[a],
                        metric + (info ? " (" + std::string(info->unit) + ")" : ""), list, most * 1.1 + 1e-12)
        << "</figure>";
      ++plots;
    }
  }
  h << "</body></html>\n";
  runtime::writeOutputFile(outPath, h.str());
  out << "wrote " << outPath << " (" << plots << " plots of " << rows.size() << " points)\n";
  return kExitOk;
}

}  // namespace

int cmdReport(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  CompileRequest r;
  MachineOptions machine;
  std::string outPath, input, gpuFile;
  int gpus = 1;
  desc.add_options()("help,h", "show this help")("output,o", po::value<std::string>(&outPath)->value_name("FILE"), "the HTML page (required)")
      ("gpu", po::value<std::string>(&gpuFile)->value_name("FILE"),
       "a model's page also sets the step beside GPUs described by FILE (configs/gpu/*.ini), estimated by the roofline (docs/gpu.md)")
      ("gpus", po::value<int>(&gpus)->default_value(1), "with --gpu: GPUs, data parallel over the batch");
  addStepOptions(desc, r);
  machine.addTo(desc);
  po::options_description hidden;
  hidden.add_options()("input", po::value<std::string>(&input));
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  const std::string usage =
      "Usage: tatami report MODEL [step options] [--config FILE] [--set K=V] [--gpu FILE [--gpus N]] -o report.html\n"
      "       tatami report SWEEP.csv -o report.html            (a sweep's table)\n"
      "       tatami report RUN.h5 -o report.html               (a training run: tatami train --output)\n"
      "One self-contained HTML page: a compiled step run on the emulator (configuration, breakdown, per-op roofline position,\n"
      "heat maps of the die and the mesh), a training run (loss curve, cycles per step, the last step's heat maps), or a\n"
      "sweep's table (each metric against each axis).";
  if (!parseArgs(args, desc, &pos, vm, usage, out, &hidden)) return kExitOk;
  if (input.empty()) throw UsageError("no model or sweep table given");
  if (outPath.empty()) throw UsageError("-o FILE: where to write the page");
  runtime::checkOutputPath(outPath);
  const bool table = input.size() > 4 && input.substr(input.size() - 4) == ".csv", run = input.size() > 3 && input.substr(input.size() - 3) == ".h5";
  if ((table || run) && !gpuFile.empty()) throw UsageError("--gpu sets a model's step beside GPUs; give a model, not " + input);
  if (vm.count("gpus") && !vm["gpus"].defaulted() && gpuFile.empty()) throw UsageError("--gpus needs --gpu FILE");
  if (table) return reportSweep(input, outPath, out, err);
  if (run) return reportTraining(input, outPath, out, err);
  r.model = input;
  checkStepOptions(r);
  try {
    return reportStep(r, machine, gpuFile, gpus, outPath, out, err);
  } catch (const CompileError& e) {
    err << "tatami report: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const driver::RequestError& e) {
    err << "tatami report: " << e.what() << "\n";
    return kExitBadInput;
  }
}

}  // namespace tatami::cli
