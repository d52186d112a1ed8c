// Atomic publishing of files and folders: write_file_atomic (temp file + fsync + rename + folder fsync),
// publish_folder (fsync a fully written temp folder, rename it into place, fsync the parent) and replace_folder
// (the same, swapping the temp folder with an existing one in one renameat2(RENAME_EXCHANGE)).
#pragma once
#include <functional>
#include <string>
#include <string_view>

namespace strata {

// Writes `contents` to `path` atomically: a temp file next to it, fully written and fsync'ed, renamed over `path`,
// then the folder fsync'ed. Any failure throws naming `path` and the OS error (and leaves no temp file behind).
void write_file_atomic(const std::string& path, std::string_view contents);

// Makes a fully written temp folder `tmp` appear as `final_dir` (fsync of its files and of it, rename, fsync of
// the parent). Throws naming the paths. `final_dir` must not exist (or be an empty folder): replace_folder
// replaces an existing one. The parent fsync after the rename is best effort: once the rename succeeded the folder
// is published, and no error is thrown for it.
void publish_folder(const std::string& tmp, const std::string& final_dir);

// Replaces the existing `final_dir` by the fully written temp folder `tmp` (a sibling of it), so that at every
// moment, a kill included, `final_dir` is either the complete old folder or the complete new one:
//  1. fsync of every file and folder under `tmp`, and of `tmp`;
//  2. renameat2(tmp, final_dir, RENAME_EXCHANGE): one atomic step; the old folder now sits at `tmp`;
//  3. fsync of the parent (the exchange is durable);
//  4. removal of the old folder (at `tmp`), then fsync of the parent.
// A file system without RENAME_EXCHANGE (renameat2 fails with EINVAL or ENOSYS: NFS, some FUSE, old kernels) gets
// two renames instead: final_dir -> `old_dir`, tmp -> final_dir. Between those two renames `final_dir` does not
// exist; a kill in that window leaves `old_dir` (the complete old folder) and `tmp` (the complete new one), which
// the caller's next run must recognise (see hf_export's leftover recovery). A failed second rename moves `old_dir`
// back. Errors before the replacement throw naming the paths and leave `final_dir` untouched. Returns "" or, when
// the old copy could not be removed after a successful replacement, a sentence naming it (the new folder is in
// place; the caller warns).
std::string replace_folder(const std::string& tmp, const std::string& final_dir, const std::string& old_dir);

// fsyncs the folder holding `path` (after a rename into it), best effort: the rename has happened already.
void sync_parent_folder(const std::string& path);

// Test hooks of replace_folder (not for production use). `after_step` is called with the name of each step as it
// completes: "synced" (1), "exchanged" (2), or "moved-aside" and "renamed" (the two-rename fallback), then
// "parent-synced" (3) and "old-removed" (4). A test stops the process there (_exit in a forked child) to check the
// state a kill would leave. `no_exchange` forces the two-rename fallback.
struct FolderReplaceTestHooks {
  std::function<void(std::string_view step)> after_step;
  bool no_exchange = false;
};
FolderReplaceTestHooks& folder_replace_test_hooks();

}  // namespace strata
