// The report's charts as inline SVG: memory over time stacked by category (one per tier), step time with I/O wait
// per step, and the loss curve. Each returns a complete <svg> element, or "" when there is nothing to draw.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "report/run_data.h"

namespace strata {

// A fixed color per memory category (the tracker's names), a stable fallback for others.
std::string category_color(const std::string& category);

// Stacked step areas of `counter` over [0, t_end] seconds; dashed lines for the planned peak and the budget (the
// budget only when it is at most 4x the chart's top, so a huge budget does not flatten the data).
std::string memory_chart(const MemoryCounter& counter, double t_end, std::optional<double> planned_peak,
                         std::optional<double> budget);

// Whether memory_chart draws `budget` (it leaves out one above 4x the larger of the data and the planned peak).
bool budget_on_chart(const MemoryCounter& counter, std::optional<double> planned_peak, double budget);

// Per step: the step's wall time as a bar with the time compute waited for I/O drawn over it.
std::string step_time_chart(const std::vector<StepRecord>& steps);

// Training loss per step (gaps at skipped steps) and eval loss points.
std::string loss_chart(const std::vector<StepRecord>& steps, const std::vector<EvalRecord>& evals);

}  // namespace strata
