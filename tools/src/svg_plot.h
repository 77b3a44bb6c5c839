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

}  // namespace tatami::cli
