// ModelConfig validation and the layer-major parameter layout (alignment, offsets, HF tensor names).
#include <gtest/gtest.h>

#include "core/check.h"
#include "model/param_layout.h"

namespace strata {

static ModelConfig tiny() {
  ModelConfig c;
  c.dim = 64; c.n_layers = 3; c.n_heads = 4; c.n_kv_heads = 2; c.ffn_dim = 160; c.vocab = 97;
  return c;
}

static std::string error_of(const ModelConfig& c) {
  try {
    c.validate();
  } catch (const StrataError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfig, AcceptsTiny) { EXPECT_EQ(error_of(tiny()), ""); }

TEST(ModelConfig, ErrorsNameTheField) {
  auto c = tiny(); c.n_kv_heads = 3;
  EXPECT_NE(error_of(c).find("n_kv_heads"), std::string::npos);
  c = tiny(); c.dim = 66;
  EXPECT_NE(error_of(c).find("divisible by n_heads"), std::string::npos);
  c = tiny(); c.dim = 4 * 6 + 4; c.n_heads = 4;  // head size 7: odd
  EXPECT_NE(error_of(c).find("even"), std::string::npos);
  c = tiny(); c.vocab = 0;
  EXPECT_NE(error_of(c).find("vocab"), std::string::npos);
  c = tiny(); c.rope_theta = -1;
  EXPECT_NE(error_of(c).find("rope_theta"), std::string::npos);
  c = tiny(); c.norm_eps = 0;
  EXPECT_NE(error_of(c).find("norm_eps"), std::string::npos);
}

TEST(ParamLayout, BlobsAreAlignedAndTensorsDisjoint) {
  const ModelLayout m = make_model_layout(tiny(), DType::F32);
  EXPECT_EQ(m.block.bytes % kBlobAlign, 0u);
  ASSERT_EQ(m.block.tensors.size(), (size_t)kNumBlockTensors);
  size_t end = 0;
  for (const auto& t : m.block.tensors) {
    EXPECT_EQ(t.offset % kTensorAlign, 0u) << t.name;
    EXPECT_GE(t.offset, end) << t.name << " overlaps the previous tensor";
    end = t.offset + t.bytes();
  }
  EXPECT_LE(end, m.block.bytes);
  EXPECT_EQ(m.block.tensors[kWq].name, "self_attn.q_proj.weight");
  EXPECT_EQ(m.block.tensors[kWk].shape, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(m.block.tensors[kWDown].shape, (std::vector<int64_t>{64, 160}));
  EXPECT_EQ(m.embedding.find("model.embed_tokens.weight").shape, (std::vector<int64_t>{97, 64}));
  EXPECT_GT(m.head.bytes, 0u);
  int64_t params = 0;
  for (const auto& t : m.block.tensors) params += t.numel();
  EXPECT_EQ(params * 3 + 97 * 64 * 2 + 64, tiny().num_parameters());
}

TEST(ParamLayout, TiedEmbeddingsHaveNoHeadBlob) {
  auto c = tiny(); c.tie_embeddings = true;
  EXPECT_EQ(make_model_layout(c, DType::F32).head.bytes, 0u);
}

}  // namespace strata
