#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"

namespace salvo {
namespace {

// Plain per-sequence, per-head attention in double precision.
// `bias` is empty or a RelativePositionBias table for `max_offset`.
std::vector<double> reference(const std::vector<float>& qkv, const std::vector<int32_t>& offsets,
                              int64_t heads, int64_t d, const std::vector<float>& bias = {},
                              int64_t max_offset = 0) {
  const int64_t hidden = heads * d;
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
          s[j] = dot / std::sqrt(static_cast<double>(d));
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
           bool with_bias = false) {
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
                   ctx.data(), with_bias ? &table : nullptr);
  const std::vector<double> want = reference(qkv, offsets, heads, d, bias, max_offset);
  double worst = 0.0;
  for (int64_t i = 0; i < tokens * hidden; ++i) {
    ASSERT_TRUE(std::isfinite(ctx[i])) << i;
    worst = std::max(worst, std::abs(ctx[i] - want[i]));
  }
  EXPECT_LT(worst, 2e-5 * scale) << "heads=" << heads << " d=" << d;
}

TEST(AttentionTest, MixedLengthsMatchReference) {
  // Lengths around the 64-row query block boundary, single tokens, and a long sequence.
  check({1, 3, 64, 65, 2, 130}, 4, 16, 1.0f);
}

TEST(AttentionTest, MiniLmHeadShape) { check({5, 128, 7}, 12, 32, 1.0f); }

TEST(AttentionTest, PeakedScores) {
  // Large activations make the softmax nearly one-hot, where cancellation errors would show.
  check({33, 9}, 2, 64, 3.0f);
}

TEST(AttentionTest, SingleSequenceSingleHead) { check({300}, 1, 8, 1.0f); }

TEST(AttentionTest, RelativePositionBiasMatchesReference) {
  // Query blocks past the first (65, 130) read the table at their own offsets.
  check({1, 3, 65, 2, 130}, 4, 16, 1.0f, true);
}

TEST(AttentionTest, BiasTableTooNarrowIsRefused) {
  std::vector<float> qkv(5 * 3 * 8, 0.1f), ctx(5 * 8), bias(2 * 7, 0.0f);
  const std::vector<int32_t> offsets = {0, 5};
  const RelativePositionBias table{bias.data(), 3};  // offsets up to 3, the sequence needs 4
  EXPECT_THROW(packed_attention(qkv.data(), offsets.data(), 1, 2, 4, ctx.data(), &table), Error);
}

}  // namespace
}  // namespace salvo
