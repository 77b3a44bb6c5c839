// `tatami info`: the resolved config and the figures derived from it; also the parameter
// reference (`--describe`) and the preset writer (`--ini`).
#include <nlohmann/json.hpp>
#include <ostream>

#include "command.h"
#include "metrics.h"
#include "format_text.h"
#include "tatami/arch/figures.h"

namespace tatami::cli {

namespace {

nlohmann::ordered_json configJson(const ArchConfig& config) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& p : paramSpecs()) {
    const std::string text = paramText(config, p.key());
    nlohmann::ordered_json v;
    switch (p.kind) {
      case ParamKind::Int: v = std::stoll(text); break;
      case ParamKind::Real: v = std::stod(text); break;
      case ParamKind::Choice: v = text; break;
      case ParamKind::Coords: {
        v = nlohmann::ordered_json::array();
        for (const auto& pos : parseGridPosList(text)) v.push_back({pos.row, pos.col});
        break;
      }
    }
    j[p.section][p.name] = v;
  }
  return j;
}

nlohmann::ordered_json figuresJson(const MachineFigures& f) {
  return {
      {"grid_positions_per_die", f.gridPositionsPerDie},
      {"active_cores_per_die", f.activeCoresPerDie},
      {"dies_per_tile", f.diesPerTile},
      {"active_cores_per_tile", f.activeCoresPerTile},
      {"dies_in_system", f.diesInSystem},
      {"active_cores_in_system", f.activeCoresInSystem},
      {"bf16_flop_per_cycle_per_core", f.bf16FlopPerCyclePerCore},
      {"fp32_flop_per_cycle_per_core", f.fp32FlopPerCyclePerCore},
      {"clock_hz", f.clockHz},
      {"peak_bf16_tflops_per_core", f.peakBf16TflopsPerCore},
      {"peak_fp32_tflops_per_core", f.peakFp32TflopsPerCore},
      {"peak_bf16_tflops_per_die", f.peakBf16TflopsPerDie},
      {"peak_fp32_tflops_per_die", f.peakFp32TflopsPerDie},
      {"peak_bf16_pflops_per_tile", f.peakBf16PflopsPerTile},
      {"peak_fp32_tflops_per_tile", f.peakFp32TflopsPerTile},
      {"sram_kib_per_core", f.sramKibPerCore},
      {"sram_mib_per_core", f.sramMibPerCore},
      {"sram_mib_per_die", f.sramMibPerDie},
      {"sram_mib_per_tile", f.sramMibPerTile},
      {"bisection_links", f.bisectionLinks},
      {"bisection_bytes_per_cycle", f.bisectionBytesPerCycle},
      {"bisection_tbps_per_direction", f.bisectionTbpsPerDirection},
      {"link_gbps_per_direction", f.linkGbps},
      {"die_edge_tbps_per_direction", f.edgeTbpsPerDirection},
      {"die_edge_bytes_per_cycle", f.edgeBytesPerCycle},
      {"d2d_latency_cycles", f.d2dLatencyCycles},
      {"tile_edge_tbps_per_direction", f.tileEdgeTbpsPerDirection},
      {"tile_edge_bytes_per_cycle", f.tileEdgeBytesPerCycle},
      {"tile_link_bytes_per_cycle", f.tileLinkBytesPerCycle},
      {"tile_latency_cycles", f.tileLatencyCycles},
      {"tiles", f.tiles},
      {"hbm_bytes_per_cycle", f.hbmBytesPerCycle},
      {"dip_link_bytes_per_cycle", f.dipLinkBytesPerCycle},
      {"hbm_latency_cycles", f.hbmLatencyCycles},
      {"fed_bf16_tflops_per_core", f.feedBf16TflopsPerCore},
      {"fed_cfp8_tflops_per_core", f.feedCfp8TflopsPerCore},
      {"fed_bf16_tflops_per_die", f.feedBf16TflopsPerDie},
      {"fed_cfp8_tflops_per_die", f.feedCfp8TflopsPerDie},
  };
}

void printText(const ArchConfig& config, const MachineFigures& f, const std::string& origin,
               std::ostream& out) {
  out << "Configuration: " << origin << "\n";
  std::string section;
  for (const auto& p : paramSpecs()) {
    if (section != p.section) {
      section = p.section;
      out << "  [" << section << "]\n";
    }
    std::string name = p.name;
    name.resize(26, ' ');
    out << "    " << name << paramText(config, p.key());
    if (p.unit[0] && p.kind != ParamKind::Coords) out << " " << p.unit;
    out << "\n";
  }
  const auto row = [&out](const std::string& label, const std::string& value) {
    std::string l = label;
    l.resize(30, ' ');
    out << "  " << l << value << "\n";
  };
  out << "\nDerived figures (rates decimal, capacities binary):\n";
  row("grid per die", std::to_string(config.die.rows) + " x " + std::to_string(config.die.cols) + " = " +
                          std::to_string(f.gridPositionsPerDie) + " positions, " +
                          std::to_string(config.die.disabled_cores.size()) + " disabled");
  row("active cores", std::to_string(f.activeCoresPerDie) + " per die, " + std::to_string(f.activeCoresPerTile) +
                          " per tile of " + std::to_string(f.diesPerTile) + " dies");
  row("modelled system", std::to_string(config.system.die_rows) + " x " + std::to_string(config.system.die_cols) +
                             " dies, " + std::to_string(f.activeCoresInSystem) + " active cores");
  row("peak BF16/CFP8 per core", readable(f.peakBf16TflopsPerCore) + " TFLOPS (" +
                                     std::to_string(f.bf16FlopPerCyclePerCore) + " FLOP/cycle)");
  row("peak FP32 per core", readable(f.peakFp32TflopsPerCore) + " TFLOPS (" +
                                std::to_string(f.fp32FlopPerCyclePerCore) + " FLOP/cycle)");
  row("peak BF16/CFP8 per die", readable(f.peakBf16TflopsPerDie) + " TFLOPS");
  row("peak FP32 per die", readable(f.peakFp32TflopsPerDie) + " TFLOPS");
  row("peak BF16/CFP8 per tile", readable(f.peakBf16PflopsPerTile) + " PFLOPS");
  row("peak FP32 per tile", readable(f.peakFp32TflopsPerTile) + " TFLOPS");
  row("SRAM per core", readable(f.sramMibPerCore) + " MiB (" + readable(f.sramKibPerCore) + " KiB)");
  row("SRAM per die", readable(f.sramMibPerDie) + " MiB");
  row("SRAM per tile", readable(f.sramMibPerTile) + " MiB");
  row("mesh link", readable(f.linkGbps) + " GB/s per direction");
  row("on-die bisection", readable(f.bisectionTbpsPerDirection) + " TB/s per direction (" +
                              std::to_string(f.bisectionLinks) + " links x " +
                              std::to_string(config.die.link_bytes_per_cycle) + " B/cycle)");
  const std::string at = " at " + readable(config.core.clock_ghz) + " GHz";
  row("die edge", readable(f.edgeTbpsPerDirection) + " TB/s per direction = " + readable(f.edgeBytesPerCycle) + " B/cycle" + at);
  row("die-to-die latency", readable(config.die.d2d_latency_ns) + " ns = " + std::to_string(f.d2dLatencyCycles) + " cycles");
  row("tile edge", readable(f.tileEdgeTbpsPerDirection) + " TB/s per direction = " + readable(f.tileEdgeBytesPerCycle) + " B/cycle" + at +
                       "; a link across it " + readable(f.tileLinkBytesPerCycle) + " B/cycle; latency " +
                       readable(config.tile.edge_latency_ns) + " ns = " + std::to_string(f.tileLatencyCycles) + " cycles" +
                       (f.tiles > 1 ? "" : " (no such edge in this system of " + std::to_string(f.tiles) + " whole tile" + (f.tiles == 1 ? ")" : "s)")));
  row("HBM per DIP", readable(config.dip.hbm_gb_per_s) + " GB/s = " + readable(f.hbmBytesPerCycle) + " B/cycle; latency " +
                         readable(config.dip.hbm_latency_ns) + " ns = " + std::to_string(f.hbmLatencyCycles) + " cycles");
  row("DIP link", readable(config.dip.link_gb_per_s) + " GB/s = " + readable(f.dipLinkBytesPerCycle) + " B/cycle");
  // The matrix units' peak counts MACs; what the SRAM read port feeds them bounds what a program
  // can reach.
  const auto fedRow = [&](const char* type, std::int64_t fedMacs, double perCore, double perDie) {
    const std::int64_t macs = config.core.matrix_units * config.core.matrix_dim * config.core.matrix_dim;
    row(std::string("fed peak ") + type + " per core",
        readable(perCore) + " TFLOPS, " + readable(perDie) + " per die" +
            (fedMacs < macs ? " (below the units' " + std::to_string(macs) + " MAC/cycle: A and B stream through one " +
                                  std::to_string(config.core.sram_port_bytes) + " B read port, " + std::to_string(fedMacs) + " MAC/cycle)"
                            : " (the read port feeds the units' full rate)"));
  };
  fedRow("BF16", f.feedBf16MacsPerCycle, f.feedBf16TflopsPerCore, f.feedBf16TflopsPerDie);
  fedRow("CFP8", f.feedCfp8MacsPerCycle, f.feedCfp8TflopsPerCore, f.feedCfp8TflopsPerDie);
}

}  // namespace

int cmdInfo(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  MachineOptions machine;
  desc.add_options()
      ("help,h", "show this help")
      ("json", "print one JSON object with unrounded figures and the resolved config")
      ("describe", "list every parameter with unit, default, allowed range and description")
      ("markdown", "with --describe: print docs/config.md")
      ("ini", "print the resolved config as an INI preset")
      ("metrics", "print every metric results report, with its unit and meaning (docs/metrics.md)");
  machine.addTo(desc);
  po::variables_map vm;
  if (!parseArgs(args, desc, nullptr, vm,
                 "Usage: tatami info [--json | --describe [--markdown] | --ini | --metrics] [--config FILE] [--set K=V]...\n"
                 "Print the resolved architecture config and the figures derived from it.",
                 out))
    return kExitOk;
  if (vm.count("markdown") && !vm.count("describe")) throw UsageError("--markdown needs --describe");
  if (vm.count("json") + vm.count("describe") + vm.count("ini") + vm.count("metrics") > 1)
    throw UsageError("--json, --describe, --ini and --metrics exclude each other");
  if (vm.count("metrics")) {
    out << "# Metrics\n\nWhat every result reports (`run`, `check` and `train` with `--json`, `compare`, `sweep`'s tables), with its\n"
           "unit, from one declaration (`tools/src/metrics.def`); `*` stands for one name. Regenerate with\n"
           "`tatami info --metrics > docs/metrics.md` (scripts/regen-docs.sh).\n\n"
        << metricTableMarkdown();
    return kExitOk;
  }

  if (vm.count("describe")) {
    out << (vm.count("markdown") ? describeMarkdown() : describeText());
    return kExitOk;
  }
  const ArchConfig config = machine.resolve();
  if (vm.count("ini")) {
    out << "# Tatami architecture preset. Every parameter is listed; see docs/config.md.\n\n" << toIni(config);
    return kExitOk;
  }
  const MachineFigures figures = computeFigures(config);
  if (vm.count("json")) {
    nlohmann::ordered_json j = figuresJson(figures);
    j["config"] = configJson(config);
    j["config_origin"] = machine.origin();
    out << j.dump(2) << "\n";
    return kExitOk;
  }
  printText(config, figures, machine.origin(), out);
  return kExitOk;
}

}  // namespace tatami::cli
