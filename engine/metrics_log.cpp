// MetricsLog implementation: write(2) on an O_APPEND descriptor, every write checked; nlohmann-json only to read
// "step" back when trimming on resume.
#include "engine/metrics_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/check.h"

namespace strata {

MetricsLog::MetricsLog(const std::string& run_dir, int keep_up_to_step)
    : path_((std::filesystem::path(run_dir) / "metrics.jsonl").string()) {
  if (keep_up_to_step >= 0 && std::filesystem::exists(path_)) {
    std::ifstream in(path_);
    std::string kept, line;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
          j["step"].get<int>() <= keep_up_to_step)
        kept += line + "\n";
    }
    in.close();
    write_file_atomic(path_, kept);
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  STRATA_USER_CHECK(fd_ >= 0, "cannot open " + path_ + " for writing: " + std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::write(const std::string& json_line) {
  const std::string line = json_line + "\n";
  struct stat st {};
  const off_t before = ::fstat(fd_, &st) == 0 ? st.st_size : -1;
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n > 0) {
      done += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    const int err = n < 0 ? errno : ENOSPC;
    // Never leave a torn line: cut the file back to where this line started.
    if (done > 0 && before >= 0) (void)!::ftruncate(fd_, before);  // best effort: the line is reported lost anyway
    STRATA_USER_FAIL("cannot write " + path_ + ": " + std::strerror(err) +
                     " (the disk may be full: free some space, then resume the run)");
  }
}

}  // namespace strata
