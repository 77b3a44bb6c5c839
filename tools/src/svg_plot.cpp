// SVG line charts for `tatami traffic --plot`.
#include "svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace tatami::cli {

namespace {

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

double niceStep(double range) {
  const double raw = range / 6.0;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

}  // namespace

std::string svgLineChart(const std::string& title, const std::string& xLabel, const std::string& yLabel,
                         const std::vector<PlotSeries>& series, double yMax) {
  const double W = 720, H = 460, left = 70, right = 170, top = 40, bottom = 55;
  double xMax = 0, yTop = 0;
  for (const auto& s : series)
    for (std::size_t i = 0; i < s.x.size(); ++i) xMax = std::max(xMax, s.x[i]), yTop = std::max(yTop, std::min(s.y[i], yMax));
  if (xMax <= 0) xMax = 1;
  if (yTop <= 0) yTop = 1;
  const auto X = [&](double x) { return left + (W - left - right) * x / xMax; };
  const auto Y = [&](double y) { return H - bottom - (H - top - bottom) * std::min(y, yTop) / yTop; };
  static const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  std::ostringstream os;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' font-family='sans-serif' font-size='12'>\n"
     << "<rect width='100%' height='100%' fill='white'/>\n"
     << "<text x='" << W / 2 - 60 << "' y='22' font-size='14'>" << title << "</text>\n";
  const double xs = niceStep(xMax), ys = niceStep(yTop);
  for (double x = 0; x <= xMax + 1e-9; x += xs)
    os << "<line x1='" << X(x) << "' y1='" << top << "' x2='" << X(x) << "' y2='" << H - bottom << "' stroke='#eee'/>"
       << "<text x='" << X(x) - 10 << "' y='" << H - bottom + 16 << "'>" << num(x) << "</text>\n";
  for (double y = 0; y <= yTop + 1e-9; y += ys)
    os << "<line x1='" << left << "' y1='" << Y(y) << "' x2='" << W - right << "' y2='" << Y(y) << "' stroke='#eee'/>"
       << "<text x='" << left - 45 << "' y='" << Y(y) + 4 << "'>" << num(y) << "</text>\n";
  os << "<line x1='" << left << "' y1='" << H - bottom << "' x2='" << W - right << "' y2='" << H - bottom << "' stroke='black'/>\n"
     << "<line x1='" << left << "' y1='" << top << "' x2='" << left << "' y2='" << H - bottom << "' stroke='black'/>\n"
     << "<text x='" << (left + W - right) / 2 - 80 << "' y='" << H - 15 << "'>" << xLabel << "</text>\n"
     << "<text transform='translate(18," << (H + top) / 2 + 60 << ") rotate(-90)'>" << yLabel << "</text>\n";
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const char* c = colours[k % 8];
    os << "<polyline fill='none' stroke='" << c << "' stroke-width='2' points='";
    for (std::size_t i = 0; i < s.x.size(); ++i) os << X(s.x[i]) << "," << Y(s.y[i]) << " ";
    os << "'/>\n";
    for (std::size_t i = 0; i < s.x.size(); ++i)
      os << "<circle cx='" << X(s.x[i]) << "' cy='" << Y(s.y[i]) << "' r='3' fill='" << c << "'/>\n";
    os << "<rect x='" << W - right + 15 << "' y='" << top + 18 * double(k) << "' width='12' height='12' fill='" << c << "'/>"
       << "<text x='" << W - right + 32 << "' y='" << top + 18 * double(k) + 10 << "'>" << s.name << "</text>\n";
  }
  os << "</svg>\n";
  return os.str();
}

}  // namespace tatami::cli
