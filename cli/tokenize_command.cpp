// `strata tokenize`: runs the tokenize pipeline over dataset files into one token file, with a progress line on
// stderr (records, MB/s, tokens/s) and a summary on stdout.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "core/check.h"
#include "cli/commands.h"
#include "data/tokenize_pipeline.h"
#include "tokenizer/tokenizer.h"

namespace strata {
namespace {

std::string si(double v, const char* unit) {  // 12.3M tokens, 45.6 MB
  char buf[48];
  if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG%s", v / 1e9, unit);
  else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.1fM%s", v / 1e6, unit);
  else if (v >= 1e4) std::snprintf(buf, sizeof buf, "%.1fk%s", v / 1e3, unit);
  else std::snprintf(buf, sizeof buf, "%.0f%s", v, unit);
  return buf;
}

std::string rates(const TokenizeStats& s) {
  const double t = s.seconds > 0 ? s.seconds : 1e-9;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.1f MB at %.1f MB/s, %s tokens at %s tokens/s", s.bytes / 1e6,
                s.bytes / 1e6 / t, si(static_cast<double>(s.tokens), "").c_str(),
                si(static_cast<double>(s.tokens) / t, "").c_str());
  return buf;
}

// A user's files are never overwritten without --force, and an input never (it is still being read).
void check_output_path(const TokenizeArgs& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(o.out, ec)) return;
  for (const std::string& in : o.inputs)
    STRATA_USER_CHECK(!fs::equivalent(in, o.out, ec), "--out " + o.out + " is also an input (" + in +
                                                    "); write the token file to another path");
  STRATA_USER_CHECK(o.force, "--out " + o.out + " already exists; pass --force to replace it, or choose another path");
  STRATA_USER_CHECK(fs::is_regular_file(o.out, ec), "--out " + o.out + " exists and is not a file; choose another path");
}

}  // namespace

int run_tokenize(const TokenizeArgs& o) {
  check_output_path(o);
  const auto tok = make_tokenizer(o.tokenizer);
  TokenizeOptions opts;
  opts.inputs = o.inputs;
  opts.out = o.out;
  opts.read.format = parse_enum<DataFormat>(o.format, "--format");
  opts.read.chat_template = parse_enum<ChatTemplateKind>(o.chat_template, "--chat-template");
  opts.read.text_field = o.text_field;
  opts.read.skip_bad_records = o.skip_bad_records;
  opts.threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  const bool tty = ::isatty(STDERR_FILENO) == 1;
  bool progress_shown = false;
  auto progress = [&](const TokenizeStats& s) {
    std::fprintf(stderr, "%stokenize: file %zu/%zu | %zu records | %s%s", tty ? "\r" : "", s.file + 1, s.files,
                 s.records, rates(s).c_str(), tty ? "\033[K" : "\n");
    std::fflush(stderr);
    progress_shown = true;
  };
  TokenizeStats s;
  try {
    s = tokenize_to_token_file(opts, *tok, progress, tty ? 0.5 : 10.0);
  } catch (...) {
    if (progress_shown && tty) std::fputc('\n', stderr);
    throw;
  }
  if (progress_shown && tty) std::fputc('\n', stderr);
  std::printf("wrote %s: %zu documents, %s tokens (%s, %d bytes per id, with loss masks) from %zu file(s): %s in "
              "%.2f s; %zu record(s), %zu malformed skipped\n",
              o.out.c_str(), s.documents, si(static_cast<double>(s.tokens), "").c_str(), tok->name().c_str(),
              s.bytes_per_id, s.files, rates(s).c_str(), s.seconds, s.records, s.skipped);
  if (s.documents == 0)
    std::fprintf(stderr, "strata: warning: %s holds no documents; check the inputs and --format\n", o.out.c_str());
  return 0;
}

}  // namespace strata
