// Internal: the metrics' one declaration (metrics.def): unit and meaning by path.
#pragma once

#include <string>
#include <vector>

namespace tatami::cli {

struct MetricInfo {
  const char* path;  ///< `*` stands for one name
  const char* unit;
  const char* description;
};

const std::vector<MetricInfo>& metricTable();
/// The declaration of the metric at `path` ("units.dma.busy_cycles"), or null when none.
const MetricInfo* findMetric(const std::string& path);
/// The table as Markdown (docs/metrics.md).
std::string metricTableMarkdown();

}  // namespace tatami::cli
