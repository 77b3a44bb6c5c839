// Internal: text renderings of numbers and of the parameter table.
#pragma once

#include <string>

#include "tatami/arch/config.h"

namespace tatami::cli {

/// A number for reading: at most `decimals` decimals, trailing zeros dropped.
std::string readable(double v, int decimals = 4);
/// The allowed values of a parameter, e.g. "64..16384" or "xy|yx".
std::string allowedText(const ParamSpec& p);
/// Every parameter as a text table (for `tatami info --describe`).
std::string describeText();
/// Every parameter as Markdown: the contents of docs/config.md.
std::string describeMarkdown();

}  // namespace tatami::cli
