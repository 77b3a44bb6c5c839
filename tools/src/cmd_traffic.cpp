// `tatami traffic`: synthetic traffic on the mesh; one rate or a sweep, as a table, CSV, JSON
// and a load-latency plot.
#include <algorithm>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "command.h"
#include "format_text.h"
#include "svg_plot.h"
#include "tatami/runtime/output_file.h"
#include "tatami/runtime/traffic.h"
#include "tatami/tlm/network.h"
#include "tatami/arch/config_files.h"

namespace tatami::cli {

namespace {

std::vector<double> parseRates(const std::string& spec) {
  // a:b:step (inclusive) or a comma-separated list
  std::vector<double> rates;
  try {
    if (spec.find(':') != std::string::npos) {
      std::stringstream ss(spec);
      std::string a, b, st;
      std::getline(ss, a, ':');
      std::getline(ss, b, ':');
      std::getline(ss, st, ':');
      const double from = std::stod(a), to = std::stod(b), step = std::stod(st);
      if (!(step > 0) || to < from) throw std::invalid_argument("");
      for (int i = 0;; ++i) {
        const double r = from + step * i;
        if (r > to + step * 1e-6) break;
        rates.push_back(r);
      }
    } else {
      std::stringstream ss(spec);
      std::string r;
      while (std::getline(ss, r, ',')) rates.push_back(std::stod(r));
    }
  } catch (const std::exception&) {
    throw UsageError("--rates '" + spec + "': expected FROM:TO:STEP (e.g. 0.05:0.6:0.05) or a list (0.1,0.2)");
  }
  if (rates.empty()) throw UsageError("--rates '" + spec + "' gives no rate");
  return rates;
}

}  // namespace

int cmdTraffic(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  po::options_description desc("Options");
  MachineOptions machine;
  runtime::TrafficOptions t;
  std::string rates, series, csvPath, plotPath;
  desc.add_options()
      ("help,h", "show this help")
      ("pattern", po::value<std::string>(&t.pattern)->default_value("uniform"), "uniform, transpose, bitcomp, hotspot or neighbor")
      ("rate", po::value<double>(&t.rate)->default_value(0.1, "0.1"), "offered load: 64 B packets per node per cycle")
      ("rates", po::value<std::string>(&rates), "a sweep: FROM:TO:STEP or a comma-separated list")
      ("size", po::value<std::uint64_t>(&t.packets)->default_value(1), "transfer size in packets")
      ("warmup", po::value<std::uint64_t>(&t.warmupCycles)->default_value(1000), "warm-up cycles (not measured)")
      ("measure", po::value<std::uint64_t>(&t.measureCycles)->default_value(5000), "measurement window in cycles")
      ("seed", po::value<std::uint64_t>(&t.seed)->default_value(1), "random seed")
      ("hotspot-fraction", po::value<double>(&t.hotspotFraction)->default_value(0.2, "0.2"), "hotspot: share sent to the hotspot")
      ("hotspot-node", po::value<int>(&t.hotspotNode)->default_value(-1), "hotspot: node id (default: the middle)")
      ("series", po::value<std::string>(&series), "repeat the sweep for each value of a parameter: KEY=V1,V2,...")
      ("csv", po::value<std::string>(&csvPath)->value_name("FILE"), "write the table as CSV")
      ("plot", po::value<std::string>(&plotPath)->value_name("FILE.svg"), "write latency versus offered load as SVG")
      ("json", "print the results as JSON");
  machine.addTo(desc);
  po::variables_map vm;
  if (!parseArgs(args, desc, nullptr, vm,
                 "Usage: tatami traffic [--pattern P] [--rate R | --rates A:B:S] [--size N] [--series K=V1,V2] ...\n"
                 "Synthetic traffic on the mesh of the configured system: accepted throughput and latency.",
                 out))
    return kExitOk;
  for (const std::string* path : {&csvPath, &plotPath})  // before the sweep, not after it
    if (!path->empty()) runtime::checkOutputPath(*path);
  const std::vector<double> rateList = rates.empty() ? std::vector<double>{t.rate} : parseRates(rates);
  std::string seriesKey;
  std::vector<std::string> seriesValues = {""};
  if (!series.empty()) {
    const auto eq = series.find('=');
    if (eq == std::string::npos) throw UsageError("--series '" + series + "': expected KEY=V1,V2,...");
    seriesKey = series.substr(0, eq);
    seriesValues.clear();
    std::stringstream ss(series.substr(eq + 1));
    std::string v;
    while (std::getline(ss, v, ',')) seriesValues.push_back(v);
    if (!findParam(seriesKey)) throw ConfigError("--series: unknown parameter '" + seriesKey + "'");
  }

  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  std::vector<PlotSeries> plot;
  std::ostringstream csv;
  csv << "series,pattern,offered_rate,accepted_rate,avg_latency_cycles,p99_latency_cycles,transfers,packet_hops,host_seconds\n";
  // With --json, stdout is the JSON alone; the table (the progress) goes to stderr.
  std::ostream& text = vm.count("json") ? err : out;
  text << std::left << std::setw(30) << "series" << std::setw(10) << "offered" << std::setw(10) << "accepted"
      << std::setw(12) << "avg lat" << std::setw(10) << "p99 lat" << std::setw(10) << "host s" << "packet-hops/s\n";
  for (const std::string& value : seriesValues) {
    MachineOptions m = machine;
    if (!seriesKey.empty()) m.overrides.push_back(seriesKey + "=" + value);
    const ArchConfig config = m.resolve();
    const std::string name = seriesKey.empty() ? t.pattern : seriesKey + "=" + value;
    PlotSeries ps{name, {}, {}};
    for (double r : rateList) {
      runtime::TrafficOptions o = t;
      o.rate = r;
      runtime::TrafficPoint p;
      try {
        p = runtime::runTraffic(config, o);
      } catch (const std::invalid_argument& e) {
        throw UsageError(e.what());
      } catch (const tlm::NetworkError& e) {
        err << "tatami traffic: " << e.what() << "\n";
        return kExitRunFailed;
      }
      text << std::setw(30) << name << std::setw(10) << readable(p.offeredRate, 4) << std::setw(10)
          << readable(p.acceptedRate, 4) << std::setw(12) << readable(p.avgLatencyCycles, 1) << std::setw(10)
          << readable(p.p99LatencyCycles, 0) << std::setw(10) << readable(p.hostSeconds, 3)
          << readable(double(p.packetHops) / p.hostSeconds / 1e6, 2) << " M\n";
      csv << name << "," << t.pattern << "," << p.offeredRate << "," << p.acceptedRate << "," << p.avgLatencyCycles << ","
          << p.p99LatencyCycles << "," << p.transfersMeasured << "," << p.packetHops << "," << p.hostSeconds << "\n";
      results.push_back({{"series", name},
                         {"pattern", t.pattern},
                         {"nodes", p.nodes},
                         {"offered_rate", p.offeredRate},
                         {"accepted_rate", p.acceptedRate},
                         {"avg_latency_cycles", p.avgLatencyCycles},
                         {"p99_latency_cycles", p.p99LatencyCycles},
                         {"transfers_measured", p.transfersMeasured},
                         {"packet_hops", p.packetHops},
                         {"host_seconds", p.hostSeconds}});
      ps.x.push_back(p.offeredRate);
      ps.y.push_back(p.avgLatencyCycles);
    }
    plot.push_back(ps);
  }
  if (vm.count("json")) out << results.dump(2) << "\n";
  if (!csvPath.empty()) {
    runtime::writeOutputFile(csvPath, csv.str());
  }
  if (!plotPath.empty()) {
    // Clip the saturated tail so that the knee of each curve is readable.
    double minLatency = 1e30;
    for (const auto& s : plot)
      for (double y : s.y) minLatency = std::min(minLatency, y);
    runtime::writeOutputFile(plotPath, svgLineChart(t.pattern + " traffic: latency versus offered load", "offered load (packets/node/cycle)",
                                                   "average latency (cycles)", plot, std::max(40.0, 8.0 * minLatency)));
  }
  return kExitOk;
}

}  // namespace tatami::cli
