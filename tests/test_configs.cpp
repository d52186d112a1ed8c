// Every shipped config under configs/ parses and validates (against its preset's shape when it names one), and the
// README's key table lists every key with every allowed value of the enumerated ones, so the docs cannot rot.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

TEST(ShippedConfigs, ReadmeKeyTableListsEveryKeyAndEveryAllowedValue) {
  const std::filesystem::path readme =
      std::filesystem::path(STRATA_GOLDEN_DIR).parent_path().parent_path() / "README.md";
  std::ifstream in(readme);
  ASSERT_TRUE(in) << readme;
  std::vector<std::string> rows;  // the table rows of the README
  for (std::string line; std::getline(in, line);)
    if (line.rfind("| `", 0) == 0) rows.push_back(line);
  for (const RunConfig::KeyInfo& key : RunConfig::keys()) {
    SCOPED_TRACE(key.name);
    const std::string quoted = "`" + key.name + "`";
    const std::string* row = nullptr;
    for (const std::string& r : rows)
      if (r.find(quoted) != std::string::npos) row = &r;
    ASSERT_NE(row, nullptr) << "README.md has no key-table row for " << quoted;
    for (const std::string& v : key.allowed)
      EXPECT_NE(row->find("`" + v + "`"), std::string::npos) << "README.md's row for " << quoted << " omits `" << v << "`";
  }
}

}  // namespace
}  // namespace strata
