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

std::string escaped(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else o += c;
  }
  return o;
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

std::string svgRoofline(const std::string& title, double peak, const std::vector<Roof>& roofs,
                        const std::vector<std::pair<std::string, std::vector<RooflinePoint>>>& series) {
  const double W = 780, H = 460, left = 70, right = 250, top = 40, bottom = 55;
  // Axes: whole decades around the points and the ridge points of every roof.
  double xLo = 1e300, xHi = 0, yLo = 1e300;
  for (const auto& [name, pts] : series)
    for (const RooflinePoint& p : pts)
      if (p.intensity > 0 && p.flopsPerCycle > 0)
        xLo = std::min(xLo, p.intensity), xHi = std::max(xHi, p.intensity), yLo = std::min(yLo, p.flopsPerCycle);
  for (const Roof& r : roofs)
    if (r.bytesPerCycle > 0) xLo = std::min(xLo, peak / r.bytesPerCycle / 10), xHi = std::max(xHi, peak / r.bytesPerCycle * 10);
  if (xHi <= 0) xLo = 0.01, xHi = 100;
  if (yLo > peak) yLo = peak / 100;
  const double x0 = std::floor(std::log10(xLo)), x1 = std::max(x0 + 1, std::ceil(std::log10(xHi)));
  const double y0 = std::min(std::floor(std::log10(yLo)), std::floor(std::log10(peak)) - 2), y1 = std::ceil(std::log10(peak * 1.5));
  const auto X = [&](double x) { return left + (W - left - right) * (std::log10(x) - x0) / (x1 - x0); };
  const auto Y = [&](double y) { return H - bottom - (H - top - bottom) * (std::clamp(std::log10(y), y0, y1) - y0) / (y1 - y0); };
  static const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
  std::ostringstream os;
  os << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' font-family='sans-serif' font-size='12'>\n"
     << "<rect width='100%' height='100%' fill='white'/>\n"
     << "<text x='" << W / 2 - 100 << "' y='22' font-size='14'>" << title << "</text>\n";
  for (double e = x0; e <= x1 + 1e-9; e += 1)
    os << "<line x1='" << X(std::pow(10, e)) << "' y1='" << top << "' x2='" << X(std::pow(10, e)) << "' y2='" << H - bottom
       << "' stroke='#eee'/><text x='" << X(std::pow(10, e)) - 12 << "' y='" << H - bottom + 16 << "'>" << num(std::pow(10, e)) << "</text>\n";
  for (double e = y0; e <= y1 + 1e-9; e += 1)
    os << "<line x1='" << left << "' y1='" << Y(std::pow(10, e)) << "' x2='" << W - right << "' y2='" << Y(std::pow(10, e))
       << "' stroke='#eee'/><text x='" << left - 50 << "' y='" << Y(std::pow(10, e)) + 4 << "'>" << num(std::pow(10, e)) << "</text>\n";
  os << "<line x1='" << left << "' y1='" << H - bottom << "' x2='" << W - right << "' y2='" << H - bottom << "' stroke='black'/>\n"
     << "<line x1='" << left << "' y1='" << top << "' x2='" << left << "' y2='" << H - bottom << "' stroke='black'/>\n"
     << "<text x='" << (left + W - right) / 2 - 110 << "' y='" << H - 15 << "'>arithmetic intensity (FLOP per byte, log)</text>\n"
     << "<text transform='translate(18," << (H + top) / 2 + 70 << ") rotate(-90)'>FLOP per cycle (log)</text>\n";
  // Roofs: the peak, then each level's slope up to its ridge point.
  const double xMin = std::pow(10, x0), xMax = std::pow(10, x1);
  // The legend, on the right: the roofs (line samples), then the series.
  double legendY = top + 10;
  const auto legendLine = [&](const std::string& dash, const std::string& text) {
    os << "<line x1='" << W - right + 8 << "' y1='" << legendY - 4 << "' x2='" << W - right + 30 << "' y2='" << legendY - 4
       << "' stroke='black' stroke-width='1.5'" << dash << "/><text x='" << W - right + 36 << "' y='" << legendY << "'>" << escaped(text)
       << "</text>\n";
    legendY += 18;
  };
  os << "<line x1='" << X(xMin) << "' y1='" << Y(peak) << "' x2='" << X(xMax) << "' y2='" << Y(peak) << "' stroke='black' stroke-width='2'/>\n";
  legendLine("", "peak " + num(peak) + " FLOP/cycle");
  for (std::size_t k = 0; k < roofs.size(); ++k) {
    const Roof& r = roofs[k];
    if (r.bytesPerCycle <= 0) continue;
    const double ridge = std::min(xMax, peak / r.bytesPerCycle), from = std::max(xMin, std::pow(10, y0) / r.bytesPerCycle);
    const std::string dash = " stroke-dasharray='" + std::to_string(2 + 3 * k) + ",3'";
    os << "<line x1='" << X(from) << "' y1='" << Y(from * r.bytesPerCycle) << "' x2='" << X(ridge) << "' y2='" << Y(ridge * r.bytesPerCycle)
       << "' stroke='black' stroke-width='1.5'" << dash << "/>\n";
    legendLine(dash, r.name + " " + num(r.bytesPerCycle) + " B/cycle");
  }
  legendY += 8;
  for (std::size_t k = 0; k < series.size(); ++k) {
    const char* c = colours[k % 6];
    for (const RooflinePoint& p : series[k].second)
      if (p.intensity > 0 && p.flopsPerCycle > 0)
        os << "<circle cx='" << X(std::clamp(p.intensity, xMin, xMax)) << "' cy='" << Y(p.flopsPerCycle) << "' r='4' fill='" << c
           << "' fill-opacity='0.7'><title>" << escaped(p.label) << ": " << num(p.intensity) << " FLOP/B, " << num(p.flopsPerCycle)
           << " FLOP/cycle</title></circle>\n";
    os << "<circle cx='" << W - right + 19 << "' cy='" << legendY - 4 << "' r='5' fill='" << c << "'/>"
       << "<text x='" << W - right + 36 << "' y='" << legendY << "'>" << escaped(series[k].first) << "</text>\n";
    legendY += 18;
  }
  os << "</svg>\n";
  return os.str();
}

}  // namespace tatami::cli
