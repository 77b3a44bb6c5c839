// Internal: the sections of the validation report (docs/validation.md) that `tatami validate`
// writes: zero-load latencies against the formula, the fast model against the flit-level
// reference under traffic patterns, the RTL and compiled steps against their references, and the
// sensitivity table.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "tatami/driver/sensitivity.h"
#include "tatami/runtime/validation.h"

namespace tatami::cli {

/// A number in `digits` significant digits.
std::string num(double v, int digits = 3);

void printZeroLoad(std::ostream& out);
void printPatterns(const std::vector<runtime::PatternValidation>& rows, std::ostream& out);
void printAgreement(const std::string& sourceDir, std::ostream& out);
void printSensitivity(const driver::Sensitivity& s, std::ostream& out);

}  // namespace tatami::cli
