// The report's HTML tables: planned vs measured peaks per tier and category, the top memory consumers, and the
// profiled time per kind of span. Each returns a complete <table> (or a <p> saying why there is none).
#pragma once
#include <string>

#include "report/run_data.h"

namespace strata {

// A measured peak more than this fraction away from the planned one is highlighted.
inline constexpr double kPlanTolerance = 0.05;

std::string planned_vs_measured_table(const RunData& d);
std::string top_consumers_table(const RunData& d, size_t max_rows = 10);
std::string activity_table(const RunData& d);

}  // namespace strata
