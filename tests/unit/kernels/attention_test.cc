#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ostream>
#include <random>
#include <vector>

#include "core/error.h"

namespace salvo {

// For gtest's messages about AttentionTest's parameter.
void PrintTo(const AttentionPrecision& p, std::ostream* os) {
  *os << precision_name(p.scores) << " scores, " << precision_name(p.values) << " values";
}

namespace {

// x rounded to the nearest bfloat16 (ties to even), as a float.
float round_to_bf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// Plain per-sequence, per-head attention in double precision.
// `bias` is empty or a RelativePositionBias table for `max_offset`. The inputs of each product that
// `rounded` puts in bf16 are first rounded to bfloat16, as the kernels do: the scaled queries and
// the keys for the scores, the values for the value product.
std::vector<double> reference(std::vector<float> qkv, const std::vector<int32_t>& offsets,
                              int64_t heads, int64_t d, const std::vector<float>& bias = {},
                              int64_t max_offset = 0, AttentionPrecision rounded = {}) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const int64_t hidden = heads * d;
  for (size_t i = 0; i < qkv.size(); ++i) {
    const int64_t block = static_cast<int64_t>(i % (3 * hidden)) / hidden;  // 0 query, 1 key, 2 value
    if (block == 0 && rounded.scores == Precision::kBF16) {
      // The kernel rounds q * scale; dividing back leaves the reference's own scaling exact.
      qkv[i] = static_cast<float>(round_to_bf16(static_cast<float>(qkv[i] * scale)) / scale);
    } else if ((block == 1 && rounded.scores == Precision::kBF16) || (block == 2 && rounded.values == Precision::kBF16)) {
      qkv[i] = round_to_bf16(qkv[i]);
    }
  }
  const int64_t tokens = offsets.back();
  std::vector<double> ctx(tokens * hidden, 0.0);
  for (size_t r = 0; r + 1 < offsets.size(); ++r) {
    const int64_t begin = offsets[r];
    const int64_t len = offsets[r + 1] - begin;
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < len; ++i) {
        std::vector<double> s(len);
        double max = -1e300;
        for (int64_t j = 0; j < len; ++j) {
          double dot = 0.0;
          for (int64_t c = 0; c < d; ++c) {
            dot += double{qkv[(begin + i) * 3 * hidden + h * d + c]} *
                   qkv[(begin + j) * 3 * hidden + hidden + h * d + c];
          }
          s[j] = dot * scale;
          if (!bias.empty()) s[j] += bias[h * (2 * max_offset + 1) + max_offset + j - i];
          max = std::max(max, s[j]);
        }
        double sum = 0.0;
        for (double& v : s) sum += v = std::exp(v - max);
        for (int64_t j = 0; j < len; ++j) {
          for (int64_t c = 0; c < d; ++c) {
            ctx[(begin + i) * hidden + h * d + c] +=
                s[j] / sum * qkv[(begin + j) * 3 * hidden + 2 * hidden + h * d + c];
          }
        }
      }
    }
  }
  return ctx;
}

void check(const std::vector<int32_t>& lengths, int64_t heads, int64_t d, float scale,
           bool with_bias = false, AttentionPrecision precision = {}) {
  std::vector<int32_t> offsets = {0};
  for (int32_t len : lengths) offsets.push_back(offsets.back() + len);
  const int64_t tokens = offsets.back();
  const int64_t hidden = heads * d;
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> qkv(tokens * 3 * hidden);
  for (float& v : qkv) v = dist(rng);
  // A table wider than needed (max_offset past the longest sequence), as a caller may pass.
  const int64_t max_offset = *std::max_element(lengths.begin(), lengths.end()) + 3;
  std::vector<float> bias;
  if (with_bias) {
    bias.resize(heads * (2 * max_offset + 1));
    for (float& v : bias) v = 2.0f * dist(rng);
  }
  const RelativePositionBias table{bias.data(), max_offset};
  std::vector<float> ctx(tokens * hidden, std::nanf(""));
  packed_attention(qkv.data(), offsets.data(), static_cast<int64_t>(lengths.size()), heads, d,
                   ctx.data(), with_bias ? &table : nullptr, precision);
  // bf16 is held to a reference whose inputs are rounded as the kernels round them; what remains
  // is the probabilities' own rounding, 2^-9 of each (so at most 2^-9 of the largest value; 2^-8
  // allows for the float32 sums). Head sizes the fused kernels do not take run in float32.
  const AttentionPrecision rounded = d % 16 == 0 ? precision : AttentionPrecision{};
  const bool bf16 = rounded.values == Precision::kBF16;
  double largest_value = 0.0;
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t c = 0; c < hidden; ++c) largest_value = std::max<double>(largest_value, std::abs(qkv[t * 3 * hidden + 2 * hidden + c]));
  }
  const std::vector<double> want = reference(qkv, offsets, heads, d, bias, max_offset, rounded);
  double worst = 0.0;
  for (int64_t i = 0; i < tokens * hidden; ++i) {
    ASSERT_TRUE(std::isfinite(ctx[i])) << i;
    worst = std::max(worst, std::abs(ctx[i] - want[i]));
  }
  EXPECT_LT(worst, bf16 ? largest_value / 256 : 2e-5 * scale) << "heads=" << heads << " d=" << d;
  if (bf16) {
    // And the rounding is really there: bf16 is measurably off the float32 result.
    const std::vector<double> exact = reference(qkv, offsets, heads, d, bias, max_offset);
    double off = 0.0;
    for (int64_t i = 0; i < tokens * hidden; ++i) off = std::max(off, std::abs(ctx[i] - exact[i]));
    EXPECT_GT(off, 1e-5 * scale);
    EXPECT_LT(off, largest_value / 20);
  }
}

// Every test in float32 and, where the CPU runs them, bf16 and bf16 values with float32 scores.
class AttentionTest : public ::testing::TestWithParam<AttentionPrecision> {
 protected:
  void SetUp() override {
    if (GetParam().values == Precision::kBF16 && !attention_bf16_available()) GTEST_SKIP() << "no AVX512_BF16 here";
  }
};

TEST_P(AttentionTest, MixedLengthsMatchReference) {
  // Lengths around the 64-row query block and the 16-key vector boundaries, single tokens, odd
  // lengths (a bf16 value pair half empty), and a long sequence.
  check({1, 3, 64, 65, 2, 130, 15, 16, 17, 31, 33}, 4, 16, 1.0f, false, GetParam());
}

TEST_P(AttentionTest, MiniLmHeadShape) { check({5, 128, 7}, 12, 32, 1.0f, false, GetParam()); }

TEST_P(AttentionTest, BertBaseHeadShape) { check({128, 77, 1}, 3, 64, 1.0f, false, GetParam()); }

TEST_P(AttentionTest, HeadSizesBetweenTheKernelsTileWidths) {
  // 48: three vectors of the head in one tile; 80: four and one; 128: two tiles of four.
  for (int64_t d : {48, 80, 128}) check({9, 70}, 2, d, 1.0f, false, GetParam());
}

TEST_P(AttentionTest, HeadSizesTheFusedKernelsDoNotTake) {
  // Not a multiple of 16: the per-head matrix products, in float32 whatever was asked.
  check({300}, 1, 8, 1.0f, false, GetParam());
  check({5, 66}, 3, 24, 1.0f, false, GetParam());
}

TEST_P(AttentionTest, PeakedScores) {
  // Large activations make the softmax nearly one-hot, where cancellation errors would show.
  check({33, 9}, 2, 64, 3.0f, false, GetParam());
}

TEST_P(AttentionTest, RelativePositionBiasMatchesReference) {
  // Query blocks past the first (65, 130) read the table at their own offsets.
  check({1, 3, 65, 2, 130}, 4, 16, 1.0f, true, GetParam());
  check({1, 3, 65, 2, 130}, 2, 12, 1.0f, true, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Formats, AttentionTest,
                         ::testing::Values(AttentionPrecision{Precision::kF32, Precision::kF32},
                                           AttentionPrecision{Precision::kBF16, Precision::kBF16},
                                           AttentionPrecision{Precision::kF32, Precision::kBF16}),
                         [](const ::testing::TestParamInfo<AttentionPrecision>& info) {
                           return std::string(precision_name(info.param.scores)) + "_scores_" +
                                  precision_name(info.param.values) + "_values";
                         });

TEST(AttentionFormatTest, Int8AndBf16ScoresWithFloat32ValuesAreRefused) {
  std::vector<float> qkv(5 * 3 * 32, 0.1f), ctx(5 * 32);
  const std::vector<int32_t> offsets = {0, 5};
  for (const AttentionPrecision refused : {AttentionPrecision{Precision::kInt8, Precision::kInt8},
                                           AttentionPrecision{Precision::kF32, Precision::kInt8},
                                           AttentionPrecision{Precision::kBF16, Precision::kF32}}) {
    EXPECT_THROW(packed_attention(qkv.data(), offsets.data(), 1, 2, 16, ctx.data(), nullptr, refused), Error)
        << precision_name(refused.scores) << " / " << precision_name(refused.values);
  }
}

TEST(AttentionFormatTest, BiasTableTooNarrowIsRefused) {
  std::vector<float> qkv(5 * 3 * 8, 0.1f), ctx(5 * 8), bias(2 * 7, 0.0f);
  const std::vector<int32_t> offsets = {0, 5};
  const RelativePositionBias table{bias.data(), 3};  // offsets up to 3, the sequence needs 4
  EXPECT_THROW(packed_attention(qkv.data(), offsets.data(), 1, 2, 4, ctx.data(), &table), Error);
}

}  // namespace
}  // namespace salvo
