// Tests of dtype_convert.h: exhaustive bf16/f16 round trips, ties to even, subnormals, overflow, NaN handling,
// f16 against the compiler's _Float16 when available, and the bulk converters on unaligned buffers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/dtype_convert.h"

namespace strata {
namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(DTypeConvert, Bf16ExhaustiveRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    EXPECT_EQ(bits(f), h << 16) << "bf16 " << h;
    const uint16_t back = f32_to_bf16(f);
    if ((h & 0x7F80) == 0x7F80 && (h & 0x7F)) {  // NaN: stays NaN, quiet bit set, sign kept
      ASSERT_TRUE(std::isnan(f)) << h;
      EXPECT_TRUE(std::isnan(bf16_to_f32(back))) << h;
      EXPECT_EQ(back, h | 0x40) << h;
    } else {
      ASSERT_EQ(back, h) << "bf16 " << h;
    }
  }
}

TEST(DTypeConvert, F16ExhaustiveRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    const uint16_t back = f32_to_f16(f);
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) {
      ASSERT_TRUE(std::isnan(f)) << h;
      EXPECT_EQ(back, h | 0x200) << h;  // payload kept, made quiet
    } else {
      ASSERT_EQ(back, h) << "f16 " << h;
    }
  }
}

TEST(DTypeConvert, F16KnownValues) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));          // smallest normal
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));          // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03FF), std::ldexp(1023.0f, -24));       // largest subnormal
  EXPECT_EQ(f16_to_f32(0x0200), std::ldexp(1.0f, -15));
  EXPECT_EQ(bits(f16_to_f32(0x8000)), 0x80000000u);               // -0
  EXPECT_EQ(f16_to_f32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_f32(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
}

TEST(DTypeConvert, Bf16TiesToEven) {
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F808000)), 0x3F80);  // halfway, lower is even
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F818000)), 0x3F82);  // halfway, upper is even
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F808001)), 0x3F81);  // just above halfway
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F807FFF)), 0x3F80);  // just below halfway
  EXPECT_EQ(f32_to_bf16(from_bits(0xBF818000)), 0xBF82);  // sign-symmetric
  EXPECT_EQ(f32_to_bf16(from_bits(0x3F80FFFF)), 0x3F81);
  // Carry into the exponent, and overflow of the largest finite f32 to Inf.
  EXPECT_EQ(f32_to_bf16(from_bits(0x3FFFFFFF)), 0x4000);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(f32_to_bf16(from_bits(0x7F7F7FFF)), 0x7F7F);
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xFF80);
  // f32 subnormals round like any other value.
  EXPECT_EQ(f32_to_bf16(from_bits(0x00008000)), 0x0000);
  EXPECT_EQ(f32_to_bf16(from_bits(0x00018000)), 0x0002);
  EXPECT_EQ(f32_to_bf16(from_bits(0x80000001)), 0x8000);
}

TEST(DTypeConvert, Bf16NaNStaysQuietNaN) {
  const uint32_t nans[] = {0x7F800001u, 0x7FC00000u, 0xFF800001u, 0x7F810000u, 0x7FFFFFFFu, 0xFFC12345u};
  for (uint32_t n : nans) {
    const uint16_t h = f32_to_bf16(from_bits(n));
    EXPECT_TRUE(std::isnan(bf16_to_f32(h))) << std::hex << n;
    EXPECT_EQ(h & 0x40, 0x40) << std::hex << n;                  // quiet
    EXPECT_EQ(h & 0x8000, (n >> 16) & 0x8000) << std::hex << n;  // sign kept
  }
}

TEST(DTypeConvert, F16TiesSubnormalsOverflow) {
  // Ties to even in the normal range: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10.
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(f32_to_f16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3C01);
  EXPECT_EQ(f32_to_f16(-(1.0f + 3 * std::ldexp(1.0f, -11))), 0xBC02);
  // Subnormals: multiples of 2^-24, ties to even, underflow to signed zero.
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);                        // tie -> 0 (even)
  EXPECT_EQ(f32_to_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);  // just above the tie
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);                        // 1.5 x 2^-24 -> 2
  EXPECT_EQ(f32_to_f16(std::ldexp(5.0f, -25)), 0x0002);                        // 2.5 x 2^-24 -> 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1023.0f, -24)), 0x03FF);
  EXPECT_EQ(f32_to_f16(std::ldexp(1023.5f, -24)), 0x0400);  // rounds up into the smallest normal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(f32_to_f16(-std::ldexp(1.0f, -26)), 0x8000);
  EXPECT_EQ(f32_to_f16(from_bits(0x00000001)), 0x0000);  // f32 subnormal
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  // Overflow: 65504 is the largest finite half; 65520 is the tie with 65536 and rounds to Inf.
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65519.996f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);
  EXPECT_EQ(f32_to_f16(-1e10f), 0xFC00);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::max()), 0x7C00);
  // NaN stays a quiet NaN with its sign.
  const uint16_t n = f32_to_f16(from_bits(0xFF800001u));
  EXPECT_EQ(n & 0xFE00, 0xFE00);
  EXPECT_TRUE(std::isnan(f16_to_f32(n)));
}

#ifdef __FLT16_MAX__
// The compiler's _Float16 conversions (libgcc or F16C) are IEEE round-to-nearest-even.
uint16_t compiler_f32_to_f16(float f) {
  volatile float v = f;
  const _Float16 h = static_cast<_Float16>(v);
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}

TEST(DTypeConvert, F16MatchesCompilerFloat16) {
  for (uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue;  // NaN payload handling is implementation-specific
    _Float16 x;
    const uint16_t hh = static_cast<uint16_t>(h);
    std::memcpy(&x, &hh, 2);
    ASSERT_EQ(bits(f16_to_f32(hh)), bits(static_cast<float>(x))) << "f16 " << h;
  }
  // f32 -> f16 over a strided sweep of all f32 bit patterns plus random ones concentrated near the f16 range,
  // including exact ties (low 13 bits 0x1000) and values around subnormal/overflow boundaries.
  std::mt19937 rng(1234);
  auto check = [](uint32_t u) {
    const float f = from_bits(u);
    if (std::isnan(f)) return;
    ASSERT_EQ(f32_to_f16(f), compiler_f32_to_f16(f)) << "f32 bits 0x" << std::hex << u;
  };
  for (uint64_t u = 0; u < (uint64_t{1} << 32); u += 65537) check(static_cast<uint32_t>(u));
  for (int i = 0; i < 300000; ++i) {
    const uint32_t sign = (rng() & 1u) << 31;
    const uint32_t exp = 97 + rng() % 48;  // 2^-30 .. 2^17
    uint32_t mant = rng() & 0x7FFFFFu;
    if (i % 3 == 0) mant = (mant & ~0x1FFFu) | 0x1000u;  // normal-range tie
    check(sign | (exp << 23) | mant);
  }
}
#endif

TEST(DTypeConvert, BulkUnalignedAllDTypes) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  const size_t n = 1001;
  std::vector<float> src(n);
  for (auto& v : src) v = nd(rng);
  src[0] = 0.0f; src[1] = -0.0f; src[2] = std::numeric_limits<float>::infinity(); src[3] = 1e-6f;
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    const size_t es = dtype_size(dt);
    std::vector<unsigned char> storage(n * es + 3);
    void* dst = storage.data() + 1;  // deliberately misaligned
    convert_from_f32(dst, src.data(), dt, n);
    for (size_t i = 0; i < n; ++i) {
      uint16_t h = 0;
      if (es == 2) std::memcpy(&h, storage.data() + 1 + 2 * i, 2);
      if (dt == DType::BF16) {
        ASSERT_EQ(h, f32_to_bf16(src[i])) << i;
      } else if (dt == DType::F16) {
        ASSERT_EQ(h, f32_to_f16(src[i])) << i;
      }
    }
    std::vector<float> back(n + 1);
    convert_to_f32(back.data(), dst, dt, n);
    for (size_t i = 0; i < n; ++i) {
      uint16_t h = 0;
      if (es == 2) std::memcpy(&h, storage.data() + 1 + 2 * i, 2);
      const float want = dt == DType::F32 ? src[i] : dt == DType::BF16 ? bf16_to_f32(h) : f16_to_f32(h);
      ASSERT_EQ(bits(back[i]), bits(want)) << to_string(dt) << " element " << i;
    }
    convert_to_f32(back.data(), dst, dt, 0);  // n = 0 is a no-op
  }
}

TEST(DTypeConvert, BulkLargeMatchesScalar) {  // exercises the OpenMP path
  const size_t n = (size_t{1} << 18) + 5;
  std::vector<uint16_t> h(n);
  for (size_t i = 0; i < n; ++i) h[i] = static_cast<uint16_t>(i * 40503u);
  std::vector<float> f(n);
  for (DType dt : {DType::BF16, DType::F16}) {
    convert_to_f32(f.data(), h.data(), dt, n);
    std::vector<uint16_t> back(n);
    convert_from_f32(back.data(), f.data(), dt, n);
    for (size_t i = 0; i < n; ++i) {
      const float want = dt == DType::BF16 ? bf16_to_f32(h[i]) : f16_to_f32(h[i]);
      ASSERT_EQ(bits(f[i]), bits(want)) << i;
      ASSERT_EQ(back[i], dt == DType::BF16 ? f32_to_bf16(f[i]) : f32_to_f16(f[i])) << i;
    }
  }
}

}  // namespace
}  // namespace strata
