// Benchmark on a CUDA device: cuBLAS bf16 GEMM peak, one LLaMA-2-7B block forward + backward (bf16 engine) as a
// fraction of that peak and per op, pinned H2D/D2H GB/s, and an 8-block LISA step streamed from host vs all resident.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/fill_values.h"
#include "bench/op_breakdown.h"
#include "bench/train_timing.h"
#include "backend/backend_registry.h"
#include "core/check.h"
#include "memory/memory_tracker.h"
#include "core/dtype_convert.h"
#include "formats/hf_export.h"
#include "model/llama_model.h"

using namespace strata;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

#define BENCH_CUDA(expr)                                                                                \
  do {                                                                                                 \
    const cudaError_t err_ = (expr);                                                                   \
    if (err_ != cudaSuccess) STRATA_FAIL(std::string(#expr) + " failed: " + cudaGetErrorString(err_)); \
  } while (0)
#define BENCH_CUBLAS(expr)                                                                              \
  do {                                                                                                 \
    const cublasStatus_t st_ = (expr);                                                                 \
    if (st_ != CUBLAS_STATUS_SUCCESS) STRATA_FAIL(std::string(#expr) + " failed: " + cublasGetStatusString(st_)); \
  } while (0)

namespace {

// ---- small helpers ---------------------------------------------------------------------------------------------

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// RAII handles of the raw CUDA measurements (a and c).
struct DeviceMem {
  void* p = nullptr;
  explicit DeviceMem(size_t bytes) { BENCH_CUDA(cudaMalloc(&p, bytes)); }
  ~DeviceMem() { cudaFree(p); }
  DeviceMem(const DeviceMem&) = delete;
  DeviceMem& operator=(const DeviceMem&) = delete;
};
struct PinnedMem {
  void* p = nullptr;
  explicit PinnedMem(size_t bytes) { BENCH_CUDA(cudaHostAlloc(&p, bytes, cudaHostAllocDefault)); }
  ~PinnedMem() { cudaFreeHost(p); }
  PinnedMem(const PinnedMem&) = delete;
  PinnedMem& operator=(const PinnedMem&) = delete;
};
struct CudaStream {
  cudaStream_t s = nullptr;
  CudaStream() { BENCH_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); }
  ~CudaStream() { cudaStreamDestroy(s); }
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
};
struct CudaEvent {
  cudaEvent_t e = nullptr;
  CudaEvent() { BENCH_CUDA(cudaEventCreate(&e)); }
  ~CudaEvent() { cudaEventDestroy(e); }
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
};
struct Cublas {
  cublasHandle_t h = nullptr;
  Cublas() { BENCH_CUBLAS(cublasCreate(&h)); }
  ~Cublas() { cublasDestroy(h); }
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;
};

// Seconds of `op` (enqueued on `s`) between two events, median of `reps` after `warmup` untimed calls.
template <class F>
double event_median_s(cudaStream_t s, int warmup, int reps, F op) {
  for (int i = 0; i < warmup; ++i) op();
  BENCH_CUDA(cudaStreamSynchronize(s));
  CudaEvent t0, t1;
  std::vector<double> secs;
  for (int i = 0; i < reps; ++i) {
    BENCH_CUDA(cudaEventRecord(t0.e, s));
    op();
    BENCH_CUDA(cudaEventRecord(t1.e, s));
    BENCH_CUDA(cudaEventSynchronize(t1.e));
    float ms = 0;
    BENCH_CUDA(cudaEventElapsedTime(&ms, t0.e, t1.e));
    secs.push_back(ms * 1e-3);
  }
  return median(secs);
}

using bench::fill_values;
using bench::fill_values_from;

// The LLaMA-2-7B block shape with `layers` blocks and a small vocabulary (the byte tokenizer needs >= 258 ids).
ModelConfig llama2_7b_blocks(int layers, int vocab, int seq) {
  ModelConfig c;
  c.dim = 4096, c.n_layers = layers, c.n_heads = 32, c.n_kv_heads = 32, c.ffn_dim = 11008, c.vocab = vocab;
  c.rope_theta = 10000.0f, c.norm_eps = 1e-5f, c.tie_embeddings = false, c.max_seq_len = seq;
  return c;
}

// Parameters of one block's weight matrices (the norm vectors are not multiplied).
double block_matrix_params(const ModelConfig& c) {
  return (double)c.dim * c.q_dim() * 2 + (double)c.dim * c.kv_dim() * 2 + 3.0 * c.dim * c.ffn_dim;
}

// ---- a. cuBLAS bf16 GEMM ---------------------------------------------------------------------------------------

struct GemmResult {
  int n = 0;
  double tflops_c_f32 = 0, tflops_c_bf16 = 0;
  double peak() const { return std::max(tflops_c_f32, tflops_c_bf16); }
};

// n x n x n with the engine's linear-forward mapping (op T on the weight, op N on the activations): bf16 inputs
// holding random values, fp32 accumulation, default math (tensor cores); C in fp32 and in bf16.
GemmResult gemm_peak(int n) {
  GemmResult r;
  r.n = n;
  const size_t elems = (size_t)n * n;
  DeviceMem a(elems * 2), b(elems * 2), c(elems * 4);
  {
    std::vector<uint16_t> host(elems);
    fill_values(host.data(), DType::BF16, (int64_t)elems, false, 1.0f, 11);
    BENCH_CUDA(cudaMemcpy(a.p, host.data(), elems * 2, cudaMemcpyHostToDevice));
    fill_values(host.data(), DType::BF16, (int64_t)elems, false, 1.0f, 12);
    BENCH_CUDA(cudaMemcpy(b.p, host.data(), elems * 2, cudaMemcpyHostToDevice));
  }
  CudaStream stream;
  Cublas blas;
  BENCH_CUBLAS(cublasSetStream(blas.h, stream.s));
  BENCH_CUBLAS(cublasSetMathMode(blas.h, CUBLAS_DEFAULT_MATH));
  const float one = 1.0f, zero = 0.0f;
  const double flops = 2.0 * n * (double)n * n;
  for (const cudaDataType ct : {CUDA_R_32F, CUDA_R_16BF}) {
    auto op = [&] {
      BENCH_CUBLAS(cublasGemmEx(blas.h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, a.p, CUDA_R_16BF, n, b.p,
                                CUDA_R_16BF, n, &zero, c.p, ct, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    };
    const double s = event_median_s(stream.s, 5, 20, op);
    (ct == CUDA_R_32F ? r.tflops_c_f32 : r.tflops_c_bf16) = flops / s / 1e12;
  }
  return r;
}

// ---- c. pinned host <-> device copies --------------------------------------------------------------------------

struct CopyResult {
  size_t bytes = 0;
  double h2d_gbps = 0, d2h_gbps = 0;
};

CopyResult pinned_copies(size_t bytes) {
  CopyResult r;
  r.bytes = bytes;
  PinnedMem host(bytes);
  std::memset(host.p, 1, bytes);  // touch every page
  DeviceMem dev(bytes);
  CudaStream stream;
  const double h2d = event_median_s(stream.s, 1, 5, [&] {
    BENCH_CUDA(cudaMemcpyAsync(dev.p, host.p, bytes, cudaMemcpyHostToDevice, stream.s));
  });
  const double d2h = event_median_s(stream.s, 1, 5, [&] {
    BENCH_CUDA(cudaMemcpyAsync(host.p, dev.p, bytes, cudaMemcpyDeviceToHost, stream.s));
  });
  r.h2d_gbps = bytes / h2d / 1e9;
  r.d2h_gbps = bytes / d2h / 1e9;
  return r;
}

// ---- b. one 7B block forward + backward on the engine ----------------------------------------------------------

struct BlockResult {
  int tokens = 0;
  double ms = 0, flops = 0, tflops = 0, device_peak_mib = 0;
};

// `cfg` has one block; embedding, head and final norm are frozen so only the block trains.
BlockResult block_fwd_bwd(const std::string& backend_name, const ModelConfig& cfg, int warmup, int iters) {
  const int seq = cfg.max_seq_len;
  auto be = make_backend(backend_name);
  ModelOptions mo;
  mo.precision = Precision::BF16;
  mo.checkpointing = false;
  LlamaModel model(*be, cfg, mo);
  model.set_embedding_trainable(false);
  model.set_head_trainable(false);
  model.set_final_norm_trainable(false);
  model.set_block_trainable(0, true);
  ParamStore& params = model.params();
  for (BlobId blob : model.ids().all()) {
    if (!params.has(blob)) continue;
    const BlobLayout& bl = params.layout_of(blob);
    std::vector<unsigned char> host(bl.bytes, 0);
    for (size_t i = 0; i < bl.tensors.size(); ++i) {
      const TensorSpec& t = bl.tensors[i];
      fill_values(host.data() + t.offset, t.dtype, t.numel(), t.shape.size() == 1, 0.02f, 100 + blob.value * 16 + i);
    }
    be->copy(params.blob(blob), host.data(), bl.bytes);
  }
  const int B = 1, T = seq, N = B * T;
  std::vector<int32_t> tokens(N), targets(N);
  for (int i = 0; i < N; ++i) {
    tokens[i] = (int32_t)((i * 2654435761u) % (uint32_t)cfg.vocab);
    targets[i] = (int32_t)(((i + 1) * 2654435761u) % (uint32_t)cfg.vocab);
  }
  std::vector<double> secs;
  for (int it = 0; it < warmup + iters; ++it) {
    model.zero_grads();
    be->synchronize();
    const auto t0 = Clock::now();
    model.forward(tokens.data(), targets.data(), B, T);
    model.backward();
    be->synchronize();
    if (it >= warmup) secs.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  BlockResult r;
  r.tokens = N;
  r.ms = median(secs) * 1e3;
  // Matmuls: 2 FLOPs per parameter per token forward, 4 backward (dX and dW). Causal attention: QK^T and PV
  // over half the T x T scores, 2BT^2C forward, twice that backward. Embedding, head (vocab 512) and loss excluded.
  r.flops = 6.0 * N * block_matrix_params(cfg) + 6.0 * B * (double)T * T * cfg.dim;
  r.tflops = r.flops / (r.ms * 1e-3) / 1e12;
  r.device_peak_mib = be->memory().peak(MemoryKind::Device) / 1048576.0;
  return r;
}

// ---- d. 8-block LISA step: frozen blocks streamed from host vs all resident ------------------------------------

// Writes an HF folder (config.json + bf16 safetensors) of `cfg` with fast pseudo-random weights.
void write_model_folder(const std::string& dir, const ModelConfig& cfg) {
  ModelInfo info;
  info.config = cfg;
  const ModelLayout layout = make_model_layout(cfg, DType::F32);
  std::vector<TensorSource> tensors = tensor_sources_from_init(layout, 1, info.initializer_range, DType::BF16);
  uint64_t salt = 1000;
  for (TensorSource& t : tensors) {
    const bool ones = t.shape.size() == 1;
    const DType dt = t.dtype;
    const int64_t esize = (int64_t)dtype_size(dt);
    const float std = info.initializer_range;
    t.fill = nullptr;
    t.fill_range = [ones, dt, esize, std, s = salt++](void* dst, size_t offset, size_t bytes) {
      fill_values_from(dst, dt, (int64_t)bytes / esize, ones, std, s, (int64_t)offset / esize);
    };
  }
  ExportOptions ex;
  ex.dtype = DType::BF16;
  write_hf_model(dir, info, tensors, ex);
}

// A skipped (non-finite) step does no AdamW work, so its time would flatter the figure: fail instead.
void check_finite_losses(const std::string& run_dir) {
  std::ifstream in(fs::path(run_dir) / "metrics.jsonl");
  std::string line;
  int steps = 0;
  while (std::getline(in, line)) {
    const json j = json::parse(line);
    if (!j.contains("seconds")) continue;
    ++steps;
    STRATA_CHECK(!j["loss"].is_null(), run_dir + ": step " + std::to_string(j["step"].get<int>()) +
                                           " had a non-finite loss or gradient; the timing would not be comparable");
  }
  STRATA_CHECK(steps > 0, run_dir + "/metrics.jsonl has no steps");
}

struct LisaResult {
  bench::Timing resident, streamed;
  double ratio() const { return resident.median_s > 0 ? streamed.median_s / resident.median_s : 0; }
};

// `shape` blocks trained LISA-style (2 blocks, no re-sampling within the run; embedding, head and final norm
// trainable as in the paper), bf16, micro-batch 1 x seq, synthetic stories with the byte tokenizer.
LisaResult lisa_streamed_vs_resident(const std::string& backend_name, const ModelConfig& shape, int seq, int steps,
                                     const std::string& scratch) {
  const std::string model_dir = scratch + "/model";
  write_model_folder(model_dir, shape);
  const std::string config = R"([model]
path = ')" + model_dir + R"('
[data]
train = "synthetic"
synthetic_documents = 1000
seq_len = )" + std::to_string(seq) + R"(
[train]
micro_batch = 1
precision = "bf16"
lr = 1e-5
eval_every = 0
[lisa]
layers = 2
interval = 1000
[memory]
backend = ")" + backend_name + R"("
prefetch = 2
[output]
checkpoint_every = 0
)";
  const std::string st = "train.steps=" + std::to_string(steps + 1);  // step 1 (allocations) is not timed
  LisaResult r;
  r.resident = bench::timed_training(config.c_str(), scratch + "/resident", {st, "memory.frozen_tier=device"});
  check_finite_losses(scratch + "/resident");
  fs::remove_all(scratch + "/resident");  // its final checkpoint (trained blocks + AdamW state)
  r.streamed = bench::timed_training(config.c_str(), scratch + "/streamed", {st, "memory.frozen_tier=host"});
  check_finite_losses(scratch + "/streamed");
  fs::remove_all(scratch + "/streamed");
  fs::remove_all(model_dir);
  return r;
}

// The bench's scratch folder: created here, removed however the bench ends.
struct ScratchDir {
  std::string path;
  explicit ScratchDir(std::string p) : path(std::move(p)) {
    std::error_code ec;
    fs::create_directories(path, ec);
    STRATA_CHECK(!ec, "cannot create the scratch folder " + path + ": " + ec.message() + " (pass --dir DIR)");
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// /dev/shm when it can hold the model folder and one run's checkpoint (~10 GB), else the temp folder, else `cwd`.
std::string pick_scratch_base(const std::string& requested, size_t need) {
  if (!requested.empty()) return requested;
  for (const fs::path& p : {fs::path("/dev/shm"), fs::temp_directory_path()}) {
    std::error_code ec;
    const auto sp = fs::space(p, ec);
    if (!ec && sp.available >= need) return p.string();
  }
  return fs::current_path().string();
}

json timing_json(const bench::Timing& t) {
  return {{"median_step_s", t.median_s},
          {"device_peak_mib", t.device_peak_mib},
          {"io_wait_s_per_step", t.io_wait_s},
          {"read_mb_per_step", t.read_mb}};
}

int usage() {
  std::fprintf(stderr,
               "usage: bench_gpu [--json FILE] [--dir DIR (scratch for part d, ~10 GB; default /dev/shm or the temp "
               "folder)] [--steps N (timed LISA steps, default 4)] [--cpu-dry-run (parts b and d, tiny shapes, cpu "
               "backend: checks the bench's config path without a device)]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path, dir;
  int steps = 4;
  bool cpu_dry_run = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--steps" && i + 1 < argc) steps = std::max(2, std::atoi(argv[++i]));
    else if (a == "--cpu-dry-run") cpu_dry_run = true;
    else return usage();
  }
  try {
    if (cpu_dry_run) {  // the code paths of parts b and d on the CPU backend with tiny shapes; no figures
      ScratchDir scratch(pick_scratch_base(dir, size_t{1} << 30) + "/strata-bench-gpu-" + std::to_string(::getpid()));
      ModelConfig tiny = llama2_7b_blocks(8, 512, 256);
      tiny.dim = 64, tiny.n_heads = 4, tiny.n_kv_heads = 4, tiny.ffn_dim = 172;
      ModelConfig one = tiny;
      one.n_layers = 1;
      const BlockResult b = block_fwd_bwd("cpu", one, 1, 2);
      std::printf("bench_gpu --cpu-dry-run: 1 tiny block, bf16, cpu: %.2f ms, %.3f GFLOP per iteration\n", b.ms,
                  b.flops / 1e9);
      const bench::OpBreakdown ops = bench::block_op_breakdown("cpu", one, 1, one.max_seq_len, fill_values);
      std::printf("bench_gpu --cpu-dry-run: per-op breakdown of that block step, cpu:\n");
      bench::print_op_breakdown(ops, b.ms);
      const LisaResult r = lisa_streamed_vs_resident("cpu", tiny, 256, steps, scratch.path);
      std::printf("bench_gpu --cpu-dry-run: 8 tiny blocks, LISA 2/8, cpu: resident %.4f s, streamed %.4f s (read "
                  "%.2f MB/step), ratio %.3f\n",
                  r.resident.median_s, r.streamed.median_s, r.streamed.read_mb, r.ratio());
      return 0;
    }

    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
      std::printf("bench_gpu: no CUDA device (%s)\n",
                  err != cudaSuccess ? cudaGetErrorString(err) : "no CUDA device present");
      return 3;
    }
    cudaDeviceProp prop{};
    BENCH_CUDA(cudaGetDeviceProperties(&prop, 0));
    BENCH_CUDA(cudaSetDevice(0));
    const auto t_start = Clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t_start).count(); };
    json out;
    // Written after each part, so a failure later still leaves the figures measured so far.
    auto save_json = [&] {
      if (json_path.empty()) return;
      out["seconds"] = elapsed();
      std::ofstream f(json_path);
      f << out.dump(2) << "\n";
      STRATA_CHECK(f.good(), "--json: cannot write " + json_path);
    };
    out["device"] = prop.name;
    out["sm_count"] = prop.multiProcessorCount;
    out["memory_gib"] = prop.totalGlobalMem / 1073741824.0;
    std::printf("bench_gpu: %s, %d SMs, %.1f GiB\n", prop.name, prop.multiProcessorCount,
                prop.totalGlobalMem / 1073741824.0);
    std::fflush(stdout);

    // a. (raw cuBLAS; freed before the engine's backend takes the device memory for its arena)
    const GemmResult g = gemm_peak(8192);
    std::printf("a. cuBLAS bf16 GEMM 8192^3 (cublasGemmEx, fp32 accumulate, default math, median of 20): C fp32 "
                "%.1f, C bf16 %.1f TFLOP/s [%.0f s]\n",
                g.tflops_c_f32, g.tflops_c_bf16, elapsed());
    std::fflush(stdout);
    out["gemm"] = {{"m", g.n},
                   {"n", g.n},
                   {"k", g.n},
                   {"tflops_c_f32", g.tflops_c_f32},
                   {"tflops_c_bf16", g.tflops_c_bf16},
                   {"peak_tflops", g.peak()}};
    save_json();

    // c. (before the engine's arena is created, so the raw 1 GiB device buffer fits)
    const CopyResult c = pinned_copies(size_t{1} << 30);
    std::printf("c. pinned 1 GiB cudaMemcpyAsync on a non-blocking stream, median of 5: H2D %.1f GB/s, D2H %.1f "
                "GB/s [%.0f s]\n",
                c.h2d_gbps, c.d2h_gbps, elapsed());
    std::fflush(stdout);
    out["pinned_copy"] = {{"bytes", c.bytes}, {"h2d_gbps", c.h2d_gbps}, {"d2h_gbps", c.d2h_gbps}};
    save_json();

    // b.
    const int seq = 4096;
    const BlockResult b = block_fwd_bwd("cuda:0", llama2_7b_blocks(1, 512, seq), 2, 10);
    const double block_ratio = b.tflops / g.peak();
    std::printf("b. LLaMA-2-7B block (dim 4096, 32/32 heads, ffn 11008), bf16, 1 x %d tokens, forward + backward, "
                "block trainable, no checkpointing, vocab 512 (embedding/head/loss negligible, frozen, not counted), "
                "median of 10: %.2f ms, %.1f TFLOP/s (%.2f TFLOP per iteration), %.2fx GEMM peak (target >= 0.5), "
                "device peak %.0f MiB [%.0f s]\n",
                seq, b.ms, b.tflops, b.flops / 1e12, block_ratio, b.device_peak_mib, elapsed());
    std::fflush(stdout);
    out["block"] = {{"tokens", b.tokens},
                    {"ms", b.ms},
                    {"flops", b.flops},
                    {"tflops", b.tflops},
                    {"ratio_to_gemm_peak", block_ratio},
                    {"target", ">= 0.5"},
                    {"target_met", block_ratio >= 0.5},
                    {"device_peak_mib", b.device_peak_mib},
                    {"flop_formula", "6*tokens*block_matrix_params + 6*B*T^2*dim"}};
    save_json();

    // b2. (after b's backend has released the device; its own backend is gone before d)
    const bench::OpBreakdown ops =
        bench::block_op_breakdown("cuda:0", llama2_7b_blocks(1, 512, seq), 1, seq, fill_values);
    std::printf("b2. per-op breakdown of the block step in b (the same calls and shapes, each distinct call timed "
                "alone on cuda:0: %d warm-ups, median of %d batches of ~1 ms; GB/s = minimum traffic) [%.0f s]\n",
                ops.warmup, ops.reps, elapsed());
    bench::print_op_breakdown(ops, b.ms);
    std::fflush(stdout);
    out["block_breakdown"] = bench::op_breakdown_json(ops, b.ms);
    save_json();

    // d.
    ScratchDir scratch(pick_scratch_base(dir, size_t{12} << 30) + "/strata-bench-gpu-" + std::to_string(::getpid()));
    const LisaResult l = lisa_streamed_vs_resident("cuda:0", llama2_7b_blocks(8, 512, seq), seq, steps, scratch.path);
    std::printf("d. 8 LLaMA-2-7B blocks, vocab 512, LISA 2 of 8 (no re-sampling; embedding, head and final norm "
                "trainable), bf16, 1 x %d tokens, AdamW, median of %d steps after 1:\n"
                "   all resident:                 %.1f ms/step, device peak %.0f MiB\n"
                "   frozen streamed from host:    %.1f ms/step, device peak %.0f MiB, read %.0f MB/step, compute "
                "waited %.1f ms/step\n"
                "   streamed / resident:          %.3fx (target <= 1.15) [%.0f s]\n",
                seq, steps, l.resident.median_s * 1e3, l.resident.device_peak_mib, l.streamed.median_s * 1e3,
                l.streamed.device_peak_mib, l.streamed.read_mb, l.streamed.io_wait_s * 1e3, l.ratio(), elapsed());
    out["lisa"] = {{"config",
                    "8 LLaMA-2-7B blocks, vocab 512, lisa.layers 2, interval 1000, embedding/head/final norm "
                    "trainable, "
                    "train.precision bf16, micro_batch 1, seq_len " +
                        std::to_string(seq) + ", synthetic data, byte tokenizer, prefetch 2, cuda:0"},
                   {"timed_steps", steps},
                   {"resident", timing_json(l.resident)},
                   {"streamed_host", timing_json(l.streamed)},
                   {"ratio", l.ratio()},
                   {"target", "<= 1.15"},
                   {"target_met", l.ratio() > 0 && l.ratio() <= 1.15}};
    save_json();

    std::printf("\nsummary (%s):\n", prop.name);
    std::printf("  bf16 GEMM 8192^3:               %.1f TFLOP/s (peak for the ratios below)\n", g.peak());
    std::printf("  7B block fwd+bwd, %d tok:     %.1f ms, %.1f TFLOP/s = %.2fx GEMM peak (target >= 0.5)%s\n", seq,
                b.ms, b.tflops, block_ratio, block_ratio >= 0.5 ? "" : "  MISSED");
    std::printf("  top 3 ops of that block step:   %s\n", bench::top_ops(ops, b.ms, 3).c_str());
    std::printf("  pinned H2D / D2H:               %.1f / %.1f GB/s\n", c.h2d_gbps, c.d2h_gbps);
    std::printf("  8-block LISA streamed/resident: %.2fx (target <= 1.15)%s\n", l.ratio(),
                l.ratio() <= 1.15 ? "" : "  MISSED");
    std::printf("  total %.0f s\n", elapsed());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu: error: %s\n", e.what());
    return 1;
  }
}
