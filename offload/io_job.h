// IoJob: one blob read or write of a disk tier split into file extents (chunks) of at most a fixed size, so several
// chunks can be in flight at once; each chunk shrinks as short transfers complete and is resubmitted for the rest.
#pragma once
#include <algorithm>
#include <cstring>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "offload/async_tier.h"

namespace strata {

struct IoJob;

struct IoChunk {
  IoJob* job = nullptr;
  char* buf = nullptr;   // what is left to transfer: buf[0, len) <-> file[offset, offset + len)
  uint64_t offset = 0;
  size_t len = 0;
};

struct IoJob {
  AsyncTier::Op* op = nullptr;
  std::vector<IoChunk> chunks;  // never resized after split_job: chunk pointers stay valid
  size_t chunks_left = 0;
  std::string error;            // the first chunk error, if any
};

// Splits blob op.id (at `file_offset`, `blob_bytes` long) into chunks of at most `chunk_bytes` (a multiple of 4096).
inline std::unique_ptr<IoJob> split_job(AsyncTier::Op& op, uint64_t file_offset, size_t blob_bytes,
                                        size_t chunk_bytes) {
  auto job = std::make_unique<IoJob>();
  job->op = &op;
  char* base = static_cast<char*>(op.buf);
  for (size_t done = 0; done < blob_bytes; done += chunk_bytes) {
    job->chunks.push_back(IoChunk{job.get(), base + done, file_offset + done, std::min(chunk_bytes, blob_bytes - done)});
  }
  job->chunks_left = job->chunks.size();
  return job;
}

// "<blob>: read of <path> failed at byte offset N (M bytes left): <reason>; ...": chunk errors. err = 0: end of file.
inline std::string io_error_message(const std::string& blob, bool is_read, const std::string& path,
                                    const IoChunk& c, int err) {
  const std::string reason = err != 0 ? std::strerror(err) : (is_read ? "unexpected end of file" : "wrote nothing");
  return blob + ": " + (is_read ? "read of " : "write to ") + path + " failed at byte offset " +
         std::to_string(c.offset) + " (" + std::to_string(c.len) + " bytes left): " + reason +
         "; check the disk (dmesg) and that nothing else truncates or writes the offload file";
}

}  // namespace strata
