// Internal: a small SVG line chart (load-latency curves), written without dependencies.
#pragma once

#include <string>
#include <vector>

namespace tatami::cli {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
};

/// An SVG document: one polyline with markers per series, axes with ticks, a legend.
std::string svgLineChart(const std::string& title, const std::string& xLabel, const std::string& yLabel,
                         const std::vector<PlotSeries>& series, double yMax);

/// A roof of a roofline chart: a level of the memory system and its bandwidth (bytes per cycle).
struct Roof {
  std::string name;
  double bytesPerCycle = 0;
};

/// A point of a roofline chart: an op's arithmetic intensity against one level (FLOP per byte),
/// the FLOP per cycle it reached, and its name (a tooltip).
struct RooflinePoint {
  double intensity = 0, flopsPerCycle = 0;
  std::string label;
};

/// An SVG roofline chart on log-log axes: the compute peak as a flat roof, each memory level's
/// bandwidth as a sloped one (FLOP/cycle = intensity x bytes/cycle), and the ops as points, one
/// colour per series (the level the intensity is taken against).
std::string svgRoofline(const std::string& title, double peakFlopsPerCycle, const std::vector<Roof>& roofs,
                        const std::vector<std::pair<std::string, std::vector<RooflinePoint>>>& series);

}  // namespace tatami::cli
