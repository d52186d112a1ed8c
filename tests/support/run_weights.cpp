// final_weights: load_any_model on the CPU backend, blobs in BlobIds order.
#include "tests/support/run_weights.h"

#include "backend/cpu/cpu_backend.h"
#include "engine/base_weights.h"

namespace strata::test {

std::vector<unsigned char> final_weights(const std::string& run_dir) {
  CpuBackend be;
  const auto m = load_any_model(run_dir, be);
  std::vector<unsigned char> out;
  for (BlobId b : m->params->ids().all()) {
    if (!m->params->has(b)) continue;
    const auto* p = static_cast<const unsigned char*>(m->params->blob(b));
    out.insert(out.end(), p, p + m->params->blob_bytes(b));
  }
  return out;
}

}  // namespace strata::test
