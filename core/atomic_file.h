// Atomic publishing of files and folders: write_file_atomic (temp file + fsync + rename + folder fsync) and
// publish_folder (fsync a fully written temp folder, rename it into place, fsync the parent).
#pragma once
#include <string>
#include <string_view>

namespace strata {

// Writes `contents` to `path` atomically: a temp file next to it, fully written and fsync'ed, renamed over `path`,
// then the folder fsync'ed. Any failure throws naming `path` and the OS error (and leaves no temp file behind).
void write_file_atomic(const std::string& path, std::string_view contents);

// Makes a fully written temp folder `tmp` appear as `final_dir` (fsync of its files and of it, rename, fsync of
// the parent). Throws naming the paths. `final_dir` must not exist (or be an empty folder): callers that replace
// an existing one remove it or move it aside first. The parent fsync after the rename is best effort: once the
// rename succeeded the folder is published, and no error is thrown for it.
void publish_folder(const std::string& tmp, const std::string& final_dir);

// fsyncs the folder holding `path` (after a rename into it), best effort: the rename has happened already.
void sync_parent_folder(const std::string& path);

}  // namespace strata
