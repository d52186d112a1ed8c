// read_process_memory: the two "kB" lines of /proc/self/status.
#include "core/process_memory.h"

#include <cstdio>
#include <cstring>

namespace strata {

ProcessMemory read_process_memory() {
  ProcessMemory m;
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return m;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long kb = 0;
    if (std::sscanf(line, "VmRSS: %llu kB", &kb) == 1) m.rss = (size_t)kb * 1024;
    else if (std::sscanf(line, "VmHWM: %llu kB", &kb) == 1) m.peak_rss = (size_t)kb * 1024;
  }
  std::fclose(f);
  return m;
}

}  // namespace strata
