// FolderLock: one process per folder. An exclusive flock(2) on FOLDER/.strata.lock, held for the object's life and
// released by the kernel when the process dies (even by kill -9); the file names the holder's PID for the message.
#pragma once
#include <string>

namespace strata {

class FolderLock {
 public:
  // Locks `folder` (which must exist) or throws StrataError naming the folder and the PID that holds it. `role`
  // starts the message ("output.dir", "run folder").
  FolderLock(const std::string& folder, const std::string& role);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

  static constexpr const char* kFileName = ".strata.lock";

 private:
  int fd_ = -1;
};

}  // namespace strata
