// The metrics' declarations (metrics.def) and their lookup by path.
#include "metrics.h"

#include <sstream>

namespace tatami::cli {

const std::vector<MetricInfo>& metricTable() {
  static const std::vector<MetricInfo> table = {
#define TATAMI_METRIC(path, unit, description) {path, unit, description},
#include "metrics.def"
#undef TATAMI_METRIC
  };
  return table;
}

namespace {

/// Whether `path` matches `pattern`, where a `*` in the pattern matches one dot-free name.
bool matches(const std::string& pattern, const std::string& path) {
  std::size_t i = 0, j = 0;
  while (i < pattern.size() && j < path.size()) {
    if (pattern[i] == '*') {
      while (j < path.size() && path[j] != '.') ++j;
      ++i;
    } else if (pattern[i] == path[j]) {
      ++i, ++j;
    } else {
      return false;
    }
  }
  return i == pattern.size() && j == path.size();
}

}  // namespace

const MetricInfo* findMetric(const std::string& path) {
  for (const MetricInfo& m : metricTable())
    if (matches(m.path, path)) return &m;
  return nullptr;
}

std::string metricTableMarkdown() {
  std::ostringstream os;
  os << "| metric | unit | meaning |\n|---|---|---|\n";
  for (const MetricInfo& m : metricTable()) os << "| `" << m.path << "` | " << m.unit << " | " << m.description << " |\n";
  return os.str();
}

}  // namespace tatami::cli
