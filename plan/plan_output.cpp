// Rendering plans (text table, JSON), the full-vs-LISA comparison, and the machine figures from `strata probe`.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "memory/memory_tracker.h"
#include "core/process_memory.h"
#include "plan/plan_parts.h"
#include "plan/planner.h"

namespace strata {

namespace {

std::string gib(size_t b) {
  char s[32];
  std::snprintf(s, sizeof s, "%9.2f", (double)b / 1e9);
  return s;
}

}  // namespace

std::string Plan::to_text() const {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "plan: %s\n  model %s (%.2fB parameters), one block = %s\n", description.c_str(),
                model.describe().c_str(), model.num_parameters() / 1e9, format_bytes(blob_bytes).c_str());
  out += line;
  std::snprintf(line, sizeof line, "  blocks: %d resident on the device, %d in pinned host memory, %d on disk\n",
                placement.device, placement.host, placement.disk);
  out += line;
  out += "  GB (1e9 bytes)      ";
  for (int t = 0; t < kPlanTiers; ++t) {
    std::snprintf(line, sizeof line, "%12s", plan_tier_name(t));
    out += line;
  }
  out += "\n";
  for (int c = 0; c < kNumMemoryCategories; ++c) {
    size_t any = 0;
    for (int t = 0; t < kPlanTiers; ++t) any += bytes[t][c];
    if (!any) continue;
    std::snprintf(line, sizeof line, "  %-18s", to_string(static_cast<MemoryCategory>(c)));
    out += line;
    for (int t = 0; t < kPlanTiers; ++t) out += "   " + gib(bytes[t][c]);
    out += "\n";
  }
  out += "  peak              ";
  for (int t = 0; t < kPlanTiers; ++t) out += "   " + gib(peak[t]);
  out += "\n";
  std::snprintf(line, sizeof line,
                "  disk: tier file %s + %d checkpoint%s x %s = %s (keep_checkpoints %d, one more while the newest "
                "is written; a checkpoint: %s weights, %s optimizer state)\n",
                gb((double)peak[kDiskTier]).c_str(), checkpoints_on_disk, checkpoints_on_disk == 1 ? "" : "s",
                gb((double)checkpoint_bytes).c_str(), gb((double)disk_needed).c_str(), keep_checkpoints,
                gb((double)checkpoint_weights_bytes).c_str(), gb((double)checkpoint_optimizer_bytes).c_str());
  out += line;
  std::snprintf(line, sizeof line,
                "  process: host + device peaks %s + %.0f MiB of runtime buffers + the executable and its libraries "
                "(resident now: %s; a run measures it at its start: rss_base)\n",
                gb((double)(peak[0] + peak[1] + peak[2])).c_str(), kRuntimeAllowance / 1048576.0,
                gb((double)read_process_memory().rss).c_str());
  out += line;
  std::snprintf(line, sizeof line,
                "  per step: %.3g TFLOP, %.2f GB streamed to the device (%.2f GB from disk)\n"
                "  needs %.1f GB/s host->device and %.1f GB/s disk to hide streaming behind %.3f s of compute\n"
                "  step time >= %.3f s (compute %.3f s, host->device %.3f s, disk %.3f s)\n",
                flops / 1e12, streamed_bytes / 1e9, disk_bytes / 1e9, required_h2d_gbps, required_disk_gbps,
                compute_seconds, step_seconds_lower_bound, compute_seconds, h2d_seconds, disk_seconds);
  out += line;
  if (ranks > 1) {
    auto gb = [](double b) {  // small models: MB
      char s[32];
      std::snprintf(s, sizeof s, b < 1e8 ? "%.2f MB" : "%.2f GB", b < 1e8 ? b / 1e6 : b / 1e9);
      return std::string(s);
    };
    std::snprintf(line, sizeof line,
                  "  data parallel: %d ranks, each holding the memory above%s; per step each rank all-reduces %s of "
                  "gradients (ring: %s sent per rank); full fine-tuning would all-reduce %s (%.1fx)\n",
                  ranks,
                  sharded ? " at most (distributed.shard_optimizer: each rank holds the optimizer state of the blobs "
                            "it owns)"
                          : "",
                  gb((double)allreduce_bytes).c_str(), gb(allreduce_sent_per_rank).c_str(),
                  gb((double)allreduce_bytes_full).c_str(),
                  allreduce_bytes ? (double)allreduce_bytes_full / (double)allreduce_bytes : 0.0);
    out += line;
    if (peak_other_sharding) {
      const auto& unsharded = sharded ? *peak_other_sharding : peak;
      const auto& with = sharded ? peak : *peak_other_sharding;
      std::snprintf(line, sizeof line,
                    "  per-rank peaks: device %s, pinned host %s without sharding; device %s, pinned host %s with "
                    "distributed.shard_optimizer\n",
                    gb((double)unsharded[0]).c_str(), gb((double)unsharded[1]).c_str(), gb((double)with[0]).c_str(),
                    gb((double)with[1]).c_str());
      out += line;
    }
  }
  out += "  verdict: " + verdict + "\n";
  for (const auto& s : suggestions) out += "    - " + s + "\n";
  return out;
}

std::string Plan::to_json() const {
  nlohmann::json j;
  j["model"] = model.describe();
  j["description"] = description;
  j["parameters"] = model.num_parameters();
  j["block_bytes"] = blob_bytes;
  j["placement"] = {{"resident", placement.device}, {"host", placement.host}, {"disk", placement.disk}};
  for (int t = 0; t < kPlanTiers; ++t) {
    nlohmann::json cats = nlohmann::json::object();
    for (int c = 0; c < kNumMemoryCategories; ++c) cats[to_string(static_cast<MemoryCategory>(c))] = bytes[t][c];
    j["bytes"][plan_tier_name(t)] = cats;
    j["peak"][plan_tier_name(t)] = peak[t];
  }
  j["disk"] = {{"tier_file_bytes", peak[kDiskTier]},
               {"checkpoint_bytes", checkpoint_bytes},
               {"checkpoint_weights_bytes", checkpoint_weights_bytes},
               {"checkpoint_optimizer_bytes", checkpoint_optimizer_bytes},
               {"checkpoint_overhead_bytes", checkpoint_overhead_bytes},
               {"keep_checkpoints", keep_checkpoints},
               {"checkpoints_on_disk", checkpoints_on_disk},
               {"needed_bytes", disk_needed}};
  j["budget"]["device"] = device_budget == SIZE_MAX ? nlohmann::json(nullptr) : nlohmann::json(device_budget);
  j["budget"]["host"] = host_budget == SIZE_MAX ? nlohmann::json(nullptr) : nlohmann::json(host_budget);
  j["data_parallel"] = {{"ranks", ranks},
                        {"shard_optimizer", sharded},
                        {"peak_other_sharding",
                         peak_other_sharding ? nlohmann::json(*peak_other_sharding) : nlohmann::json(nullptr)},
                        {"allreduce_bytes", allreduce_bytes},
                        {"allreduce_bytes_full_fine_tuning", allreduce_bytes_full},
                        {"ring_bytes_sent_per_rank", allreduce_sent_per_rank}};
  j["fits"] = fits;
  j["verdict"] = verdict;
  j["suggestions"] = suggestions;
  j["per_step"] = {{"flops", flops},
                   {"streamed_bytes", streamed_bytes},
                   {"disk_bytes", disk_bytes},
                   {"compute_seconds", compute_seconds},
                   {"h2d_seconds", h2d_seconds},
                   {"disk_seconds", disk_seconds},
                   {"step_seconds_lower_bound", step_seconds_lower_bound},
                   {"required_h2d_gbps", required_h2d_gbps},
                   {"required_disk_gbps", required_disk_gbps}};
  return j.dump(2) + "\n";
}

std::vector<std::pair<std::string, Plan>> compare_modes(const RunConfig& cfg, const ModelConfig& model,
                                                        const PlanOptions& opts) {
  std::vector<std::pair<std::string, Plan>> rows;
  RunConfig full = cfg;
  full.train.mode = TrainMode::Full;
  rows.push_back({"full fine-tuning", make_plan(full, model, opts)});
  for (int g : {1, 2, 4}) {
    if (g > model.n_layers) break;
    RunConfig l = cfg;
    l.train.mode = TrainMode::Lisa;
    l.lisa.layers = g;
    rows.push_back({"LISA gamma=" + std::to_string(g), make_plan(l, model, opts)});
  }
  return rows;
}

std::string comparison_table(const std::vector<std::pair<std::string, Plan>>& rows) {
  // disk: the tier file and the checkpoints kept (Plan::disk_needed).
  std::string out = "  mode                device GB   host GB   disk GB   step >= s   fits\n";
  char line[256];
  for (const auto& [label, p] : rows) {
    std::snprintf(line, sizeof line, "  %-18s %10.2f %9.2f %9.2f %11.3f   %s\n", label.c_str(), p.peak[0] / 1e9,
                  (p.peak[1] + p.peak[2]) / 1e9, p.disk_needed / 1e9, p.step_seconds_lower_bound,
                  p.fits ? "yes" : "no");
    out += line;
  }
  return out;
}

std::string probe_path() {
  if (const char* p = std::getenv("STRATA_PROBE")) return p;
  std::filesystem::path base;
  if (const char* x = std::getenv("XDG_CACHE_HOME")) base = x;
  else if (const char* h = std::getenv("HOME")) base = std::filesystem::path(h) / ".cache";
  else base = std::filesystem::temp_directory_path();
  return (base / "strata" / "probe.json").string();
}

Hardware load_hardware() {
  Hardware hw;
  const std::string path = probe_path();
  std::ifstream in(path);
  if (!in.good()) return hw;
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return hw;
  hw.device_tflops = j.value("gemm_tflops", hw.device_tflops);
  hw.h2d_gbps = j.value("h2d_pinned_gbps", hw.h2d_gbps);
  hw.disk_gbps = j.value("disk_read_gbps", hw.disk_gbps);
  hw.source = path;
  return hw;
}

}  // namespace strata
