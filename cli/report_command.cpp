// `strata report RUN_DIR`: (re)generates RUN_DIR/report.html from the run's metrics.jsonl, trace.json and plan.json
// and prints its path.
#include <cstdio>
#include <filesystem>

#include "core/check.h"
#include "cli/commands.h"
#include "report/html_report.h"

namespace strata {

int run_report(const std::string& run_dir) {
  namespace fs = std::filesystem;
  STRATA_USER_CHECK(fs::is_directory(run_dir), "report: " + run_dir + " is not a folder; pass a run folder (output.dir)");
  STRATA_USER_CHECK(fs::is_regular_file(fs::path(run_dir) / "metrics.jsonl"),
               "report: " + run_dir + " has no metrics.jsonl; pass the output.dir of a training run");
  const std::string path = write_html_report(run_dir);
  std::printf("report: wrote %s\n", path.c_str());
  return 0;
}

}  // namespace strata
