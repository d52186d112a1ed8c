// The metrics.jsonl records as JSON (nlohmann-json). Key names are what report/ and users' scripts read.
#include "engine/step_metrics.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace strata {

namespace {

nlohmann::json finite_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json io_json(const PlacementStats& a, const PlacementStats& b) {
  const uint64_t read = b.host.bytes_read + b.disk.bytes_read - a.host.bytes_read - a.disk.bytes_read;
  const double busy =
      b.host.read_busy_seconds + b.disk.read_busy_seconds - a.host.read_busy_seconds - a.disk.read_busy_seconds;
  return {{"host_read_bytes", b.host.bytes_read - a.host.bytes_read},
          {"host_write_bytes", b.host.bytes_written - a.host.bytes_written},
          {"disk_read_bytes", b.disk.bytes_read - a.disk.bytes_read},
          {"disk_write_bytes", b.disk.bytes_written - a.disk.bytes_written},
          {"io_wait_seconds", b.streamer.io_wait_seconds - a.streamer.io_wait_seconds},
          {"read_gbps", busy > 0 ? read / busy / 1e9 : 0.0}};
}

}  // namespace

std::string step_metrics_json(const StepRecord& r) {
  const MemorySnapshot& m = r.memory;
  nlohmann::json j;
  j["step"] = r.step;
  j["loss"] = r.skipped ? nlohmann::json(nullptr) : finite_or_null(r.loss);
  j["lr"] = r.lr;
  j["grad_norm"] = finite_or_null(r.grad_norm);
  j["tokens"] = r.tokens;
  j["seconds"] = r.seconds;
  j["optimizer_seconds"] = r.optimizer_seconds;
  if (r.allreduce_bytes >= 0) {
    j["allreduce_bytes"] = r.allreduce_bytes;
    j["allreduce_seconds"] = r.allreduce_seconds;
  }
  j["active_layers"] = r.active_layers;
  j["skipped"] = r.skipped;
  j["memory"] = {{"device", m.kind_current[0]},      {"device_peak", m.kind_peak[0]},
                 {"host_pinned", m.kind_current[1]}, {"host_pinned_peak", m.kind_peak[1]},
                 {"host", m.kind_current[2]},        {"host_peak", m.kind_peak[2]},
                 {"rss", r.process.rss},             {"rss_peak", r.process.peak_rss},
                 {"rss_base", r.rss_base}};
  j["io"] = io_json(r.io_before, r.io_after);
  return j.dump();
}

std::string samples_metrics_json(int step, const std::vector<TrainingSample>& samples) {
  nlohmann::json j;
  j["step"] = step;
  j["samples"] = nlohmann::json::array();
  for (const TrainingSample& s : samples) j["samples"].push_back({{"prompt", s.prompt}, {"text", s.text}, {"ids", s.ids}});
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string eval_metrics_json(const EvalRecord& r) {
  nlohmann::json j;
  j["step"] = r.step;
  j["eval_loss"] = r.loss;
  j["eval_perplexity"] = std::exp(r.loss);
  j["eval_tokens"] = r.tokens;
  return j.dump();
}

}  // namespace strata
