// The process's own resident memory as the kernel counts it (/proc/self/status VmRSS and VmHWM): what the plan's
// accounted peaks are checked against, and what progress lines and metrics report next to them.
#pragma once
#include <cstddef>

namespace strata {

struct ProcessMemory {
  size_t rss = 0;       // resident set now (anonymous + file-backed + shared), bytes
  size_t peak_rss = 0;  // its high-water mark since the process started, bytes
};

// Both figures, or zeros where /proc is not mounted.
ProcessMemory read_process_memory();

}  // namespace strata
