// Test helpers shared by the suites that write files: a self-deleting temporary folder and the message of the
// StrataError a callable throws ("" when it throws none).
#pragma once
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "core/check.h"

namespace strata::test {

class TempDir {
 public:
  // Under `root` (default: the system temp folder; suites needing O_DIRECT pass the current, on-disk folder).
  explicit TempDir(const std::filesystem::path& root = std::filesystem::temp_directory_path()) {
    std::string tmpl = (root / "strata-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed under " + root.string());
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }

 private:
  std::string path_;
};

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const StrataError& e) {
    return e.what();
  }
  return "";
}

}  // namespace strata::test
