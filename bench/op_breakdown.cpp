// Per-op breakdown of one LLaMA block step on the bf16 engine (bench_gpu part b2): the call sequence of
// LlamaModel::forward + backward for one trainable block, replayed op by op on backend buffers and timed per call.
#include "bench/op_breakdown.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <utility>

#include "backend/backend_registry.h"
#include "core/check.h"
#include "model/llama_model.h"

namespace strata::bench {

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string dims(std::initializer_list<int64_t> d) {
  std::string s = "[";
  for (const int64_t v : d) {
    if (s.size() > 1) s += ',';
    s += std::to_string(v);
  }
  return s + ']';
}

// One backend call of the step. Calls with equal `op` and `shape` are one row, timed once.
struct Site {
  std::string op, name, shape;
  double flops = 0, bytes = 0;  // per call
  std::function<void()> run;
};

// Seconds per call of `run`: `warmup` untimed calls, then the median of `reps` batches between backend
// synchronisations; a batch holds as many calls as last ~1 ms (one call alone sizes it), so the synchronisation
// costs little and the queue stays full, as it does in the step.
double time_per_call(Backend& be, const std::function<void()>& run, int warmup, int reps) {
  constexpr double kBatchS = 1e-3;
  constexpr int kMaxBatch = 32;
  for (int i = 0; i < warmup; ++i) run();
  be.synchronize();
  auto t0 = Clock::now();
  run();
  be.synchronize();
  const double one = seconds_since(t0);
  const int batch = std::clamp((int)std::ceil(kBatchS / std::max(one, 1e-9)), 1, kMaxBatch);
  std::vector<double> secs;
  for (int r = 0; r < reps; ++r) {
    t0 = Clock::now();
    for (int i = 0; i < batch; ++i) run();
    be.synchronize();
    secs.push_back(seconds_since(t0) / batch);
  }
  return median(secs);
}

}  // namespace

OpBreakdown block_op_breakdown(const std::string& backend_name, const ModelConfig& cfg, int B, int T, FillFn fill,
                               int warmup, int reps) {
  STRATA_CHECK(B > 0 && T > 0 && fill != nullptr, "block_op_breakdown: B, T > 0 and a fill function are needed");
  auto be_owner = make_backend(backend_name);
  Backend& be = *be_owner;
  const int N = B * T, C = cfg.dim, Q = cfg.q_dim(), KV = cfg.kv_dim(), F = cfg.ffn_dim, V = cfg.vocab;
  const int NH = cfg.n_heads, NKV = cfg.n_kv_heads, HS = cfg.head_dim();
  const size_t nc = (size_t)N * C, nq = (size_t)N * Q, nkv = (size_t)N * KV, nf = (size_t)N * F, nv = (size_t)N * V;

  // Device buffers, zeroed (the CUDA emulation poisons fresh memory with NaN); model/activations.h names.
  auto dev = [&](size_t bytes, MemoryCategory cat) {
    Buffer b = be.alloc(MemoryKind::Device, bytes, cat, 256);
    be.fill_zero(b.data(), bytes);
    return b;
  };
  auto f32 = [&](size_t n, MemoryCategory cat = MemoryCategory::Activations) { return dev(n * 4, cat); };
  auto b16 = [&](size_t n, MemoryCategory cat) { return dev(n * 2, cat); };
  // weights (bf16 matrices, fp32 norm vectors) and the block's gradients; the rest is frozen
  Buffer embed = b16((size_t)V * C, MemoryCategory::Weights);  // [V,C]
  Buffer wq = b16((size_t)Q * C, MemoryCategory::Weights);     // [Q,C]
  Buffer wk = b16((size_t)KV * C, MemoryCategory::Weights);    // [KV,C]
  Buffer wv = b16((size_t)KV * C, MemoryCategory::Weights);    // [KV,C]
  Buffer wo = b16((size_t)C * Q, MemoryCategory::Weights);     // [C,Q]
  Buffer wgate = b16((size_t)F * C, MemoryCategory::Weights);  // [F,C]
  Buffer wup = b16((size_t)F * C, MemoryCategory::Weights);    // [F,C]
  Buffer wdown = b16((size_t)C * F, MemoryCategory::Weights);  // [C,F]
  Buffer whead = b16((size_t)V * C, MemoryCategory::Weights);  // [V,C]
  Buffer attn_norm = f32(C, MemoryCategory::Weights);          // [C]
  Buffer mlp_norm = f32(C, MemoryCategory::Weights);           // [C]
  Buffer final_norm = f32(C, MemoryCategory::Weights);         // [C]
  Buffer gq = b16((size_t)Q * C, MemoryCategory::Grads);       // [Q,C]
  Buffer gk = b16((size_t)KV * C, MemoryCategory::Grads);      // [KV,C]
  Buffer gv = b16((size_t)KV * C, MemoryCategory::Grads);      // [KV,C]
  Buffer go = b16((size_t)C * Q, MemoryCategory::Grads);       // [C,Q]
  Buffer ggate = b16((size_t)F * C, MemoryCategory::Grads);    // [F,C]
  Buffer gup = b16((size_t)F * C, MemoryCategory::Grads);      // [F,C]
  Buffer gdown = b16((size_t)C * F, MemoryCategory::Grads);    // [C,F]
  Buffer g_attn_norm = f32(C, MemoryCategory::Grads);          // [C]
  Buffer g_mlp_norm = f32(C, MemoryCategory::Grads);           // [C]
  // activations of the step
  Buffer tokens = f32(N, MemoryCategory::Workspace);    // [N] int32
  Buffer targets = f32(N, MemoryCategory::Workspace);   // [N] int32
  Buffer x = f32(nc);                                   // [N,C] block input (embedding output)
  Buffer xn1 = f32(nc), rstd1 = f32(N);                 // [N,C], [N]
  Buffer q = f32(nq), k = f32(nkv), v = f32(nkv);       // [N,Q], [N,KV], [N,KV] (q, k after RoPE)
  Buffer att = f32(nq), lse = f32((size_t)B * NH * T);  // [N,Q], [B,NH,T]
  Buffer h = f32(nc), xn2 = f32(nc), rstd2 = f32(N);    // [N,C], [N,C], [N]
  Buffer gate = f32(nf), up = f32(nf), act = f32(nf);   // [N,F] each
  Buffer y = f32(nc);                                   // [N,C] block output (o_proj scratch first)
  Buffer xnf = f32(nc, MemoryCategory::Workspace);      // [N,C] final norm output
  Buffer rstdf = f32(N, MemoryCategory::Workspace);     // [N]
  Buffer logits = f32(nv, MemoryCategory::Workspace);   // [N,V] one loss chunk (V small), dlogits in place
  Buffer losses = f32(N, MemoryCategory::Workspace);    // [N]
  // gradient scratch (GradScratch)
  Buffer dres = f32(nc, MemoryCategory::Workspace), dxn = f32(nc, MemoryCategory::Workspace);   // [N,C]
  Buffer dq = f32(nq, MemoryCategory::Workspace), datt = f32(nq, MemoryCategory::Workspace);    // [N,Q]
  Buffer dk = f32(nkv, MemoryCategory::Workspace), dv = f32(nkv, MemoryCategory::Workspace);    // [N,KV]
  Buffer dgate = f32(nf, MemoryCategory::Workspace), dup = f32(nf, MemoryCategory::Workspace);  // [N,F]
  Buffer dact = f32(nf, MemoryCategory::Workspace);                                             // [N,F]

  // Finite inputs: weights as bench_gpu part b fills them (std 0.02, norm weights 1), token ids in range.
  {
    uint64_t salt = 500;
    for (Buffer* w : {&embed, &wq, &wk, &wv, &wo, &wgate, &wup, &wdown, &whead}) {
      std::vector<unsigned char> host(w->bytes());
      fill(host.data(), DType::BF16, (int64_t)(w->bytes() / 2), false, 0.02f, salt++);
      be.copy(w->data(), host.data(), host.size());
    }
    std::vector<float> ones(C);
    fill(ones.data(), DType::F32, C, true, 0, 0);
    for (Buffer* w : {&attn_norm, &mlp_norm, &final_norm}) be.copy(w->data(), ones.data(), sizeof(float) * C);
  }
  std::vector<int32_t> tokens_host(N), targets_host(N);  // [N] each, as bench_gpu part b
  for (int i = 0; i < N; ++i) {
    tokens_host[i] = (int32_t)((i * 2654435761u) % (uint32_t)V);
    targets_host[i] = (int32_t)(((i + 1) * 2654435761u) % (uint32_t)V);
  }
  std::vector<float> losses_host(N);  // [N]

  auto P = [](const Buffer& b) { return b.as<float>(); };
  auto W = [](const Buffer& b) { return b.as<bf16>(); };
  const AttentionShape as{B, T, NH, NKV, HS, true};
  const float eps = cfg.norm_eps, theta = cfg.rope_theta;
  const float ce_scale = 1.0f / (float)N;  // the mean over N valid targets

  // ---- the step, in LlamaModel's order (1 block, bf16, no checkpointing, need_dx false for block 0) ----
  std::vector<Site> sites;
  std::vector<size_t> linear_converts;  // elements each linear_*_bf16 call rounds to bf16 (cuda_linear_bf16.cu)
  auto site = [&](std::string op, std::string name, std::string shape, double flops, double bytes,
                  std::function<void()> run) {
    sites.push_back({std::move(op), std::move(name), std::move(shape), flops, bytes, std::move(run)});
  };
  auto lin_shape = [&](int IC, int OC) {
    return std::to_string(N) + " x " + std::to_string(IC) + " -> " + std::to_string(OC);
  };
  auto linear_fwd = [&](const char* name, float* out, const float* in, const Buffer& w, int IC, int OC) {
    linear_converts.push_back((size_t)N * IC);
    site("linear_forward_bf16", name, lin_shape(IC, OC), 2.0 * N * IC * OC, 4.0 * N * IC + 2.0 * IC * OC + 4.0 * N * OC,
         [&be, out, in, wp = W(w), N, IC, OC] { be.linear_forward_bf16(out, in, wp, N, IC, OC); });
  };
  auto linear_bwd = [&](const char* name, float* dx, bf16* dw, const float* dout, const float* in, const Buffer& w,
                        int IC, int OC) {
    linear_converts.push_back((size_t)N * OC);
    if (dw) linear_converts.push_back((size_t)N * IC);
    const std::string flags = dx && dw ? ", dx+dw" : dx ? ", dx" : ", dw";
    const double bytes =
        4.0 * N * OC + 2.0 * IC * OC + (dx ? 8.0 * N * IC : 0) + (dw ? 4.0 * N * IC + 4.0 * IC * OC : 0);
    site("linear_backward_bf16", name, lin_shape(IC, OC) + flags, 2.0 * N * IC * OC * ((dx ? 1 : 0) + (dw ? 1 : 0)),
         bytes,
         [&be, dx, dw, dout, in, wp = W(w), N, IC, OC] { be.linear_backward_bf16(dx, dw, dout, in, wp, N, IC, OC); });
  };
  auto rmsnorm_fwd = [&](const char* name, float* out, float* rstd, const float* in, const Buffer& w) {
    site("rmsnorm_forward", name, dims({N, C}), 0, 8.0 * N * C + 4.0 * N,
         [&be, out, rstd, in, wp = P(w), N, C, eps] { be.rmsnorm_forward(out, rstd, in, wp, N, C, eps); });
  };
  auto rmsnorm_bwd = [&](const char* name, float* dx, float* dw, const float* dout, const float* in, const Buffer& w,
                         const float* rstd) {
    const std::string flags = dx && dw ? ", dx+dw" : dx ? ", dx" : ", dw";
    site("rmsnorm_backward", name, dims({N, C}) + flags, 0, 8.0 * N * C + 4.0 * N + (dx ? 8.0 * N * C : 0),
         [&be, dx, dw, dout, in, wp = P(w), rstd, N, C] { be.rmsnorm_backward(dx, dw, dout, in, wp, rstd, N, C); });
  };
  auto rope = [&](bool fwd, const char* name, float* t, int H) {
    site(fwd ? "rope_forward" : "rope_backward", name, dims({B, T, H, HS}), 0, 8.0 * N * H * HS,
         [&be, fwd, t, B, T, H, HS, theta] {
           if (fwd)
             be.rope_forward(t, t, nullptr, B, T, H, HS, theta);
           else
             be.rope_backward(t, t, nullptr, B, T, H, HS, theta);
         });
  };
  auto zero = [&](const char* name, const Buffer& b, size_t n, int cols) {
    site("fill_zero", name, dims({N, cols}) + " f32", 0, 4.0 * n,
         [&be, p = b.data(), n] { be.fill_zero(p, sizeof(float) * n); });
  };
  auto add = [&](const char* name, float* out, const float* a, const float* b2) {
    site("add", name, dims({N, C}), 0, 12.0 * nc, [&be, out, a, b2, nc] { be.add(out, a, b2, nc); });
  };
  char att_shape[96];  // B1 T4096 H32/32 d128 causal
  std::snprintf(att_shape, sizeof(att_shape), "B%d T%d H%d/%d d%d causal", B, T, NH, NKV, HS);
  const double att_flops = 2.0 * B * (double)T * T * NH * HS;  // QK^T and PV over the causal half

  // forward (LlamaModel::forward, block_forward)
  site("copy (H2D)", "tokens", dims({N}) + " i32", 0, 4.0 * N,
       [&] { be.copy(tokens.data(), tokens_host.data(), sizeof(int32_t) * N); });
  site("copy (H2D)", "targets", dims({N}) + " i32", 0, 4.0 * N,
       [&] { be.copy(targets.data(), targets_host.data(), sizeof(int32_t) * N); });
  site("embedding_forward_bf16", "embedding", dims({N, C}) + " of " + dims({V, C}), 0, 6.0 * N * C + 4.0 * N,
       [&] { be.embedding_forward_bf16(P(x), tokens.as<int32_t>(), W(embed), N, C, V); });
  rmsnorm_fwd("attn", P(xn1), P(rstd1), P(x), attn_norm);
  linear_fwd("q", P(q), P(xn1), wq, C, Q);
  linear_fwd("k", P(k), P(xn1), wk, C, KV);
  linear_fwd("v", P(v), P(xn1), wv, C, KV);
  rope(true, "q", P(q), NH);
  rope(true, "k", P(k), NKV);
  site("attention_forward", "attention", att_shape, att_flops, 4.0 * (2.0 * nq + 2.0 * nkv),
       [&] { be.attention_forward(P(att), P(lse), P(q), P(k), P(v), as); });
  linear_fwd("o", P(y), P(att), wo, Q, C);
  add("attn residual", P(h), P(x), P(y));
  rmsnorm_fwd("mlp", P(xn2), P(rstd2), P(h), mlp_norm);
  linear_fwd("gate", P(gate), P(xn2), wgate, C, F);
  linear_fwd("up", P(up), P(xn2), wup, C, F);
  site("swiglu_forward", "mlp", dims({N, F}), 0, 12.0 * nf, [&] { be.swiglu_forward(P(act), P(gate), P(up), nf); });
  linear_fwd("down", P(y), P(act), wdown, F, C);
  add("mlp residual", P(y), P(y), P(h));
  rmsnorm_fwd("final", P(xnf), P(rstdf), P(y), final_norm);
  linear_fwd("lm head", P(logits), P(xnf), whead, C, V);
  site("cross_entropy_forward", "loss", dims({N, V}), 0, 4.0 * nv + 12.0 * N,
       [&] { be.cross_entropy_forward(P(losses), P(logits), targets.as<int32_t>(), N, V, kIgnoreIndex); });
  site("copy (D2H)", "losses", dims({N}) + " f32", 0, 4.0 * N,
       [&] { be.copy(losses_host.data(), losses.data(), sizeof(float) * N); });
  // backward (LlamaModel::backward: head frozen, final norm frozen; block_backward with need_dx false)
  zero("dxn", dxn, nc, C);
  site("cross_entropy_backward", "loss", dims({N, V}), 0, 8.0 * nv + 4.0 * N,
       [&] { be.cross_entropy_backward(P(logits), P(logits), targets.as<int32_t>(), ce_scale, N, V, kIgnoreIndex); });
  linear_bwd("lm head", P(dxn), nullptr, P(logits), P(xnf), whead, C, V);
  zero("dres", dres, nc, C);
  rmsnorm_bwd("final", P(dres), nullptr, P(dxn), P(y), final_norm, P(rstdf));
  zero("dact", dact, nf, F);
  zero("dgate", dgate, nf, F);
  zero("dup", dup, nf, F);
  zero("dxn", dxn, nc, C);
  linear_bwd("down", P(dact), W(gdown), P(dres), P(act), wdown, F, C);
  site("swiglu_backward", "mlp", dims({N, F}), 0, 28.0 * nf,
       [&] { be.swiglu_backward(P(dgate), P(dup), P(dact), P(gate), P(up), nf); });
  linear_bwd("gate", P(dxn), W(ggate), P(dgate), P(xn2), wgate, C, F);
  linear_bwd("up", P(dxn), W(gup), P(dup), P(xn2), wup, C, F);
  rmsnorm_bwd("mlp", P(dres), P(g_mlp_norm), P(dxn), P(h), mlp_norm, P(rstd2));
  zero("datt", datt, nq, Q);
  zero("dq", dq, nq, Q);
  zero("dk", dk, nkv, KV);
  zero("dv", dv, nkv, KV);
  linear_bwd("o", P(datt), W(go), P(dres), P(att), wo, Q, C);
  site("attention_backward", "attention", att_shape, 2.0 * att_flops, 4.0 * (4.0 * nq + 2.0 * nkv + 4.0 * nkv),
       [&] { be.attention_backward(P(dq), P(dk), P(dv), P(datt), P(q), P(k), P(v), P(att), P(lse), as); });
  rope(false, "q", P(dq), NH);
  rope(false, "k", P(dk), NKV);
  zero("dxn", dxn, nc, C);
  linear_bwd("q", P(dxn), W(gq), P(dq), P(xn1), wq, C, Q);
  linear_bwd("k", P(dxn), W(gk), P(dk), P(xn1), wk, C, KV);
  linear_bwd("v", P(dxn), W(gv), P(dv), P(xn1), wv, C, KV);
  rmsnorm_bwd("attn", nullptr, P(g_attn_norm), P(dxn), P(x), attn_norm, P(rstd1));

  auto run_step = [&] {
    for (const Site& s : sites) s.run();
    be.synchronize();
  };
  // The loss, the attention output, the gradients at the end of the backward and the last weight gradient.
  auto outputs_finite = [&] {
    const double ss = be.sum_squares(P(att), nq) + be.sum_squares(P(dres), nc) + be.sum_squares(P(dxn), nc) +
                      be.sum_squares_bf16(W(gq), (size_t)Q * C);
    be.copy(losses_host.data(), losses.data(), sizeof(float) * N);
    return std::isfinite(ss) &&
           std::all_of(losses_host.begin(), losses_host.end(), [](float l) { return std::isfinite(l); });
  };
  run_step();  // every intermediate now holds what the step computes; the backend's scratch has its final size
  OpBreakdown r;
  r.outputs_finite = outputs_finite();
  r.backend = be.name();
  r.B = B, r.T = T, r.warmup = warmup, r.reps = reps;
  {
    std::vector<double> secs;
    for (int i = 0; i < 3; ++i) {
      const auto t0 = Clock::now();
      run_step();
      secs.push_back(seconds_since(t0));
    }
    r.replay_ms = median(secs) * 1e3;
  }

  // Rows: sites with equal op and shape, in the order of their first call; each timed through its first site.
  std::map<std::pair<std::string, std::string>, size_t> row_of;
  std::vector<const Site*> timed;
  for (const Site& s : sites) {
    const auto key = std::make_pair(s.op, s.shape);
    auto it = row_of.find(key);
    if (it == row_of.end()) {
      row_of.emplace(key, r.rows.size());
      r.rows.push_back({s.op, s.name, s.shape, 1, 0, s.flops, s.bytes});
      timed.push_back(&s);
      continue;
    }
    OpTiming& row = r.rows[it->second];
    ++row.calls;
    const std::string sep = "/";
    if (("/" + row.sites + "/").find(sep + s.name + sep) == std::string::npos) row.sites += "/" + s.name;
  }
  for (size_t i = 0; i < r.rows.size(); ++i) {
    r.rows[i].ms_per_call = time_per_call(be, timed[i]->run, warmup, reps) * 1e3;
    r.sum_ms += r.rows[i].ms_per_step();
  }

  r.outputs_finite = r.outputs_finite && outputs_finite();  // the timed calls ran on the same buffers

  // The linear calls' own operand rounding: convert_f32_to_bf16 of each size they round, timed alone.
  {
    std::map<size_t, int> calls_of;
    for (const size_t n : linear_converts) ++calls_of[n];
    const size_t most = std::prev(calls_of.end())->first;
    Buffer src = f32(most, MemoryCategory::Workspace);  // zeros: finite
    Buffer dst = b16(most, MemoryCategory::Workspace);
    for (const auto& [n, calls] : calls_of) {
      const double ms = time_per_call(
                            be, [&, n = n] { be.convert_f32_to_bf16(W(dst), P(src), n); }, warmup, reps) *
                        1e3;
      r.convert_calls += calls;
      r.convert_ms += ms * calls;
    }
  }
  return r;
}

void print_op_breakdown(const OpBreakdown& r, double block_ms) {
  size_t w_op = 2, w_sites = 10, w_shape = 5;
  for (const OpTiming& t : r.rows) {
    w_op = std::max(w_op, t.op.size());
    w_sites = std::max(w_sites, t.sites.size());
    w_shape = std::max(w_shape, t.shape.size());
  }
  const int wo = (int)w_op, ws = (int)w_sites, wsh = (int)w_shape;
  std::printf("   %-*s  %-*s  %-*s  %5s  %8s  %8s  %7s  %s\n", wo, "op", ws, "call sites", wsh, "shape", "calls",
              "ms/call", "ms/step", "% block", "achieved");
  for (const OpTiming& t : r.rows) {
    char rate[48];
    if (t.flops > 0)
      std::snprintf(rate, sizeof(rate), "%8.1f TFLOP/s", t.tflops());
    else
      std::snprintf(rate, sizeof(rate), "%8.1f GB/s", t.gbps());
    std::printf("   %-*s  %-*s  %-*s  %5d  %8.3f  %8.3f  %6.1f%%  %s\n", wo, t.op.c_str(), ws, t.sites.c_str(), wsh,
                t.shape.c_str(), t.calls, t.ms_per_call, t.ms_per_step(),
                block_ms > 0 ? 100 * t.ms_per_step() / block_ms : 0, rate);
  }
  int calls = 0;
  for (const OpTiming& t : r.rows) calls += t.calls;
  std::printf(
      "   sum of the ops: %.2f ms = %.2fx the measured block step (%.2f ms); the step's %d calls queued back "
      "to back: %.2f ms\n",
      r.sum_ms, block_ms > 0 ? r.sum_ms / block_ms : 0, block_ms, calls, r.replay_ms);
  std::printf(
      "   of which rounding the GEMM operands to bf16 inside linear_*_bf16 (%d convert_f32_to_bf16 calls, "
      "timed alone): %.2f ms (%.1f%% of the block step)\n",
      r.convert_calls, r.convert_ms, block_ms > 0 ? 100 * r.convert_ms / block_ms : 0);
  std::printf("   top 3: %s\n", top_ops(r, block_ms, 3).c_str());
  if (!r.outputs_finite)
    std::printf(
        "   WARNING: the step's loss, attention output or gradients were not finite: timings may not be "
        "representative\n");
}

nlohmann::json op_breakdown_json(const OpBreakdown& r, double block_ms) {
  nlohmann::json rows = nlohmann::json::array();
  for (const OpTiming& t : r.rows) {
    nlohmann::json j = {{"op", t.op},
                        {"sites", t.sites},
                        {"shape", t.shape},
                        {"calls", t.calls},
                        {"ms_per_call", t.ms_per_call},
                        {"ms_per_step", t.ms_per_step()},
                        {"share_of_block", block_ms > 0 ? t.ms_per_step() / block_ms : 0}};
    if (t.flops > 0)
      j["tflops"] = t.tflops();
    else
      j["gbps"] = t.gbps();
    rows.push_back(std::move(j));
  }
  return {{"backend", r.backend},
          {"tokens", r.B * r.T},
          {"method", "each distinct call alone on the step's buffers: " + std::to_string(r.warmup) +
                         " warm-ups, median of " + std::to_string(r.reps) +
                         " batches of calls between backend synchronisations (~1 ms a batch)"},
          {"rows", rows},
          {"sum_ms", r.sum_ms},
          {"block_ms", block_ms},
          {"sum_over_block", block_ms > 0 ? r.sum_ms / block_ms : 0},
          {"replay_ms", r.replay_ms},
          {"linear_operand_convert", {{"calls", r.convert_calls}, {"ms", r.convert_ms}, {"in_sum", false}}},
          {"top3", top_ops(r, block_ms, 3)},
          {"outputs_finite", r.outputs_finite}};
}

std::string top_ops(const OpBreakdown& r, double block_ms, int k) {
  std::vector<const OpTiming*> by_time;
  for (const OpTiming& t : r.rows) by_time.push_back(&t);
  std::stable_sort(by_time.begin(), by_time.end(),
                   [](const OpTiming* a, const OpTiming* b) { return a->ms_per_step() > b->ms_per_step(); });
  std::string s;
  for (int i = 0; i < k && i < (int)by_time.size(); ++i) {
    const OpTiming& t = *by_time[i];
    char buf[256];
    std::snprintf(buf, sizeof(buf), "%s%s %s %.2f ms (%.0f%%)", i ? ", " : "", t.op.c_str(), t.sites.c_str(),
                  t.ms_per_step(), block_ms > 0 ? 100 * t.ms_per_step() / block_ms : 0);
    s += buf;
  }
  return s;
}

}  // namespace strata::bench
