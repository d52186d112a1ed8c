// The run report: RUN_DIR/report.html, one self-contained page (inline CSS and SVG, no scripts, no external
// resources) built from metrics.jsonl, trace.json and plan.json. `strata report RUN_DIR` and profiling runs write it.
#pragma once
#include <string>

namespace strata {

// Reads the run folder and writes RUN_DIR/report.html atomically (temp + rename); returns its path. Missing
// trace.json or plan.json are stated in the page, which shows what the remaining files allow.
std::string write_html_report(const std::string& run_dir);

}  // namespace strata
