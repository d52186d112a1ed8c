// Op-parity harness (ggml test-backend-ops style): every op variant is a small OpCase class that builds seeded
// host tensors and calls one Backend op on device pointers. run_case() runs a case on the reference backend and
// on a backend under test, each tensor wrapped in NaN-pattern guard bytes, and checks: guards untouched, inputs
// unchanged, outputs finite and fully written, and each output within the case's normalised error of the
// reference. Adding an op = one OpCase subclass + one line in op_cases() (op_cases.cpp).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "tests/support/tensor_compare.h"

namespace strata::test {

enum class TensorRole : uint8_t {
  Input,   // read only: must be bitwise unchanged after the op
  Output,  // overwritten: pre-filled with the guard NaN pattern, so an element the op forgets shows as NaN
  Accum,   // "+=" output: pre-filled with non-zero random values; compared as (after - before)
  InOut,   // aliased input and output (ops documented "out may alias in"): compared as a plain output
};

struct HostTensor {
  std::string name;
  TensorRole role = TensorRole::Input;
  bool is_i32 = false;
  std::vector<float> f;      // when !is_i32 (for bf16 tensors: the values, each exactly a bf16 value)
  std::vector<int32_t> i;    // when is_i32
  bool is_bf16 = false;      // stored on the device as bf16 (2 bytes per element)
  size_t count() const { return is_i32 ? i.size() : f.size(); }
  size_t bytes() const { return count() * (is_bf16 ? 2 : 4); }
  std::vector<uint8_t> image() const;  // the device bytes
  void load_image(const uint8_t* bytes);  // from device bytes
};

// The host tensors of one case, in the order the case's run() indexes them.
class TensorSet {
 public:
  int input(std::string name, std::vector<float> v);
  int input_i32(std::string name, std::vector<int32_t> v);
  int output(std::string name, size_t n);
  int accum(std::string name, std::vector<float> init);
  int inout(std::string name, std::vector<float> v);
  // bf16 tensors: values are rounded to bf16 first; outputs are pre-filled with a bf16 NaN.
  int input_bf16(std::string name, std::vector<float> v);
  int output_bf16(std::string name, size_t n);
  int accum_bf16(std::string name, std::vector<float> init);
  int inout_bf16(std::string name, std::vector<float> v);
  const std::vector<HostTensor>& tensors() const { return t_; }

 private:
  int push(HostTensor t);
  std::vector<HostTensor> t_;
};

// Device pointers of one run, indexed like the TensorSet.
struct OpArgs {
  std::vector<void*> ptrs;
  float* f(int idx) const { return static_cast<float*>(ptrs.at(idx)); }
  bf16* h(int idx) const { return static_cast<bf16*>(ptrs.at(idx)); }
  const int32_t* i32(int idx) const { return static_cast<const int32_t*>(ptrs.at(idx)); }
};

class OpCase {
 public:
  virtual ~OpCase() = default;
  virtual OpKind op() const = 0;
  // Op, direction and shape, e.g. "attention_bwd(B=2,T=7,NH=4,NKV=2,HS=16)". Unique in the registry.
  virtual std::string name() const = 0;
  // Fills `ts` with seeded inputs and outputs. `host_ref` is a reference backend whose ops accept host
  // pointers (device_is_host), for inputs that come from a forward pass (rstd, attention out/lse).
  virtual void build(TensorSet& ts, Backend& host_ref, uint64_t seed) const = 0;
  // Queues the op on `be` (the harness synchronises).
  virtual void run(Backend& be, const OpArgs& a) const = 0;
  // Bound on rel_l2 = ||out - ref|| / ||ref|| for every fp32 output of this case.
  virtual double tolerance() const = 0;
  // Bound for bf16 outputs: a sum that lands near a rounding boundary may round one bf16 step (2^-8 relative)
  // differently when backends sum in different orders; wrong rows or indices give errors of order 1.
  virtual double bf16_tolerance() const { return 4e-3; }
  // The bound a given backend must meet (default tolerance()); for ops whose fast path on some backend has
  // documented extra rounding (the CUDA tensor-core attention rounds P to bf16).
  virtual double tolerance_for(const std::string& backend_name) const {
    (void)backend_name;
    return tolerance();
  }
};

// Every registered case, in registry order.
const std::vector<std::unique_ptr<OpCase>>& op_cases();

inline constexpr size_t kGuardBytes = 256;
inline constexpr uint32_t kGuardWord = 0x7FA5A5A5u;  // a quiet NaN as float: out-of-bounds reads poison results

struct OutputResult {
  std::string name;
  ErrorStats err;
  double tol = 0;
};

struct CaseResult {
  bool pass = true;
  std::vector<std::string> problems;  // guard hits, modified inputs, non-finite outputs, tolerance misses
  std::vector<OutputResult> outputs;
  std::vector<HostTensor> after;      // every tensor of the case after the op on the backend under test
  double worst_rel_l2() const;
  std::string describe() const;       // "dq rel_l2=... | dk ..." plus problems
};

// Runs `c` on `ref` and on `be` from the same host tensors and compares them. Never throws: exceptions from
// the backends become problems. Both backends' guards and inputs are checked.
CaseResult run_case(const OpCase& c, Backend& be, Backend& ref);

// Runs `c` on `be` alone (inputs built with `host_ref`, seeded as in run_case) and returns every tensor after the op,
// for comparing two runs of the same case bit for bit (e.g. the emulated device under different thread orders).
// Empty, with the reasons in *problems, when the case failed to build or run, or touched a guard or an input.
std::vector<HostTensor> run_case_outputs(const OpCase& c, Backend& be, Backend& host_ref,
                                         std::vector<std::string>* problems);

}  // namespace strata::test
