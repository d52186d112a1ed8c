// Every shipped config under configs/ parses and validates (against its preset's shape when it names one), so the
// examples in the README cannot rot.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/base_weights.h"
#include "config/run_config.h"
#include "model/presets.h"

namespace strata {
namespace {

TEST(ShippedConfigs, AllParseAndValidate) {
  const std::filesystem::path dir = std::filesystem::path(STRATA_GOLDEN_DIR).parent_path().parent_path() / "configs";
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".toml") continue;
    ++n;
    SCOPED_TRACE(e.path().string());
    RunConfig cfg;
    ASSERT_NO_THROW(cfg = RunConfig::load(e.path().string()));
    if (!cfg.model.preset.empty()) {
      const ModelConfig m = base_model_info(cfg.model).config;
      EXPECT_NO_THROW(cfg.validate_against_model(m.n_layers, m.max_seq_len));
    }
  }
  EXPECT_GE(n, 3);
}

}  // namespace
}  // namespace strata
