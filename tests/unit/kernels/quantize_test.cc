#include "kernels/quantize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <vector>

namespace salvo {
namespace {

std::vector<float> gaussian_values(size_t count, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

// The value of a bf16 bit pattern, with the overflow pattern 0x7f80 read as 2^128 (the "next
// value" IEEE rounding compares against, so that FLT_MAX rounds to infinity).
double bf16_value_for_rounding(uint32_t pattern) {
  if ((pattern & 0x7fffu) == 0x7f80u) return (pattern & 0x8000u) ? -0x1p128 : 0x1p128;
  return bf16_to_float(static_cast<uint16_t>(pattern));
}

// Scalar reference: the nearer of the two bf16 neighbours of `x` (the truncation and the next
// pattern away from zero), ties to the even pattern, compared in double.
uint16_t reference_bf16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  if (std::isnan(x)) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  if (std::isinf(x)) return static_cast<uint16_t>(bits >> 16);
  const uint32_t down = bits >> 16;
  const uint32_t up = down + 1;
  const double below = std::fabs(x - bf16_value_for_rounding(down));
  const double above = std::fabs(bf16_value_for_rounding(up) - x);
  if (below < above) return static_cast<uint16_t>(down);
  if (above < below) return static_cast<uint16_t>(up);
  return static_cast<uint16_t>((down & 1u) == 0 ? down : up);
}

TEST(ConvertToBf16Test, MatchesScalarReferenceOnAllBinades) {
  // Random bit patterns cover every exponent, denormals and both signs; the count is odd and
  // large enough for the threaded path.
  std::mt19937 rng(7);
  std::vector<float> x(100'003);
  for (float& v : x) {
    do {
      v = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    } while (std::isnan(v));
  }
  std::vector<uint16_t> out(x.size());
  convert_to_bf16(x.data(), static_cast<int64_t>(x.size()), out.data());
  int failures = 0;
  for (size_t i = 0; i < x.size() && failures < 5; ++i) {
    if (out[i] != reference_bf16(x[i])) {
      ++failures;
      ADD_FAILURE() << "x=" << x[i] << " (bits " << std::hex << std::bit_cast<uint32_t>(x[i])
                    << "): got " << out[i] << ", expected " << reference_bf16(x[i]);
    }
  }
}

TEST(ConvertToBf16Test, TiesGoToEvenAndSpecialValuesSurvive) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<std::pair<uint32_t, uint16_t>> cases = {
      {0x3f800000u, 0x3f80},  // 1.0 is representable: exact
      {0x3f808000u, 0x3f80},  // tie between 0x3f80 (even) and 0x3f81: down
      {0x3f818000u, 0x3f82},  // tie between 0x3f81 and 0x3f82 (even): up
      {0x3f808001u, 0x3f81},  // just above the tie: up
      {0x3f807fffu, 0x3f80},  // just below the tie: down
      {0x80000000u, 0x8000},  // -0 keeps its sign
      {0x00000001u, 0x0000},  // smallest denormal rounds to +0
      {0x007fffffu, 0x0080},  // largest denormal rounds up to FLT_MIN's pattern
      {0x7f7fffffu, 0x7f80},  // FLT_MAX rounds to infinity
      {0xff7fffffu, 0xff80},  // -FLT_MAX to -infinity
      {0x7f7f7fffu, 0x7f7f},  // just below the overflow tie: the largest bf16
      {std::bit_cast<uint32_t>(inf), 0x7f80},
      {std::bit_cast<uint32_t>(-inf), 0xff80},
      {0x7fc00000u, 0x7fc0},  // quiet NaN
      {0x7f800001u, 0x7fc0},  // signalling NaN with a low payload: stays NaN, made quiet
      {0xff800001u, 0xffc0},  // negative one keeps its sign
  };
  std::vector<float> x;
  for (const auto& [bits, expected] : cases) x.push_back(std::bit_cast<float>(bits));
  std::vector<uint16_t> out(x.size());
  convert_to_bf16(x.data(), static_cast<int64_t>(x.size()), out.data());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(out[i], cases[i].second)
        << std::hex << "input bits " << cases[i].first << ", got " << out[i];
  }
}

TEST(ConvertToBf16Test, RepresentableValuesRoundTripExactly) {
  std::vector<float> x;
  for (uint32_t pattern = 0; pattern < 0x10000u; ++pattern) {
    const float v = bf16_to_float(static_cast<uint16_t>(pattern));
    if (!std::isnan(v)) x.push_back(v);
  }
  std::vector<uint16_t> out(x.size());
  convert_to_bf16(x.data(), static_cast<int64_t>(x.size()), out.data());
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(bf16_to_float(out[i]), x[i]) << "index " << i;
    ASSERT_EQ(std::signbit(bf16_to_float(out[i])), std::signbit(x[i])) << "index " << i;
  }
}

// Checks one row's u8 quantisation against what the definition in quantize.h implies.
void check_u8_row(const float* x, int64_t k, const uint8_t* q, float scale, int32_t zero_point) {
  double lo = 0.0, hi = 0.0;
  for (int64_t p = 0; p < k; ++p) {
    lo = std::min<double>(lo, x[p]);
    hi = std::max<double>(hi, x[p]);
  }
  ASSERT_GT(scale, 0.0f);
  EXPECT_NEAR(scale, (hi - lo) / 255.0, 1e-6 * (hi - lo) / 255.0);
  ASSERT_GE(zero_point, 0);
  ASSERT_LE(zero_point, 255);
  EXPECT_NEAR(zero_point, -lo / scale, 0.5 + 1e-4);
  for (int64_t p = 0; p < k; ++p) {
    // q = round(x / scale) + zero_point: the dequantised value is within half a step of x,
    // except at the range's ends, where the rounded zero point can push q past 0 or 255 and
    // clamping costs up to one full step.
    const double dequantised = static_cast<double>(scale) * (q[p] - zero_point);
    const double exact = std::nearbyint(x[p] / static_cast<double>(scale)) + zero_point;
    const bool clamped = exact < 0.0 || exact > 255.0;
    const double bound = (clamped ? 1.0 : 0.5) * scale * (1.0 + 1e-4);
    ASSERT_LE(std::fabs(dequantised - x[p]), bound)
        << "p=" << p << " x=" << x[p] << " q=" << int{q[p]} << " scale=" << scale
        << " zero_point=" << zero_point;
    if (x[p] == 0.0f) {
      ASSERT_EQ(q[p], zero_point) << "zero must be exact";
    }
  }
}

TEST(QuantizeRowsU8Test, GaussianRowsOfManyWidths) {
  for (int64_t k : {1, 15, 16, 17, 385, 3072}) {
    for (int64_t m : {1, 3, 64}) {  // 64 x 3072 takes the threaded path
      SCOPED_TRACE(testing::Message() << "m=" << m << " k=" << k);
      std::vector<float> x = gaussian_values(m * k, 11 + k + m);
      for (int64_t p = 0; p < k; ++p) x[p] = std::fabs(x[p]) + 0.5f;  // row 0: positive only
      std::vector<uint8_t> q(m * k);
      std::vector<float> scales(m);
      std::vector<int32_t> zero_points(m);
      quantize_rows_u8(x.data(), m, k, q.data(), scales.data(), zero_points.data());
      EXPECT_EQ(zero_points[0], 0);  // a positive row's range starts at zero
      for (int64_t i = 0; i < m; ++i) {
        check_u8_row(x.data() + i * k, k, q.data() + i * k, scales[i], zero_points[i]);
        if (testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

// With channel multipliers the row quantised is x * multipliers, bit for bit, on the kernel this
// CPU runs, at widths that are multiples of 16 and with ragged tails, and on the threaded path.
TEST(QuantizeRowsU8Test, ChannelMultipliersQuantiseTheScaledRow) {
  for (int64_t k : {1, 17, 384, 1539}) {
    for (int64_t m : {1, 40}) {
      SCOPED_TRACE(testing::Message() << "m=" << m << " k=" << k);
      const std::vector<float> x = gaussian_values(m * k, 41 + k + m);
      std::vector<float> multipliers = gaussian_values(k, 43 + k, 3.0f);
      for (float& v : multipliers) v = std::fabs(v) + 0.01f;
      std::vector<float> scaled(m * k);
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t p = 0; p < k; ++p) scaled[i * k + p] = x[i * k + p] * multipliers[p];
      }
      std::vector<uint8_t> q(m * k), q_expected(m * k);
      std::vector<float> scales(m), scales_expected(m);
      std::vector<int32_t> zero_points(m), zero_points_expected(m);
      quantize_rows_u8(x.data(), m, k, q.data(), scales.data(), zero_points.data(), multipliers.data());
      quantize_rows_u8(scaled.data(), m, k, q_expected.data(), scales_expected.data(), zero_points_expected.data());
      EXPECT_EQ(q, q_expected);
      EXPECT_EQ(scales, scales_expected);
      EXPECT_EQ(zero_points, zero_points_expected);
    }
  }
}

TEST(SmoothingFactorsTest, BalancesEachChannelsPeaks) {
  // W [2, 4]: column peaks 0.5, 2, 0 (a zero column) and 1.
  const float w[] = {0.5f, -2.0f, 0.0f, 1.0f,  //
                     -0.25f, 1.0f, 0.0f, -1.0f};
  const float inf = std::numeric_limits<float>::infinity();
  const float peaks[] = {8.0f, 0.5f, 4.0f, inf};
  const std::vector<float> s = smoothing_factors(peaks, w, 2, 4, 0.5f);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_FLOAT_EQ(s[0], 4.0f);                    // sqrt(8 / 0.5): both peaks become 2
  EXPECT_FLOAT_EQ(s[1], 0.5f);                    // sqrt(0.5 / 2)
  EXPECT_FLOAT_EQ(s[2], std::sqrt(4.0f / 1e-5f));  // a zero column counts as 1e-5
  EXPECT_FLOAT_EQ(s[3], 1.0f);                    // a non-finite peak is left alone
  // Strength 0.25: s = a^0.25 / b^0.75.
  EXPECT_FLOAT_EQ(smoothing_factors(peaks, w, 2, 4, 0.25f)[0], std::pow(8.0f, 0.25f) / std::pow(0.5f, 0.75f));
  const float unseen[] = {0.0f, 0.0f, 0.0f, 0.0f};  // channels the calibration never saw
  for (float f : smoothing_factors(unseen, w, 2, 4, 0.35f)) {
    EXPECT_TRUE(std::isfinite(f) && f > 0.0f) << f;
  }
}

TEST(QuantizeRowsU8Test, ZeroConstantHugeTinyAndNonFiniteRows) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const int64_t k = 19;
  const std::vector<std::vector<float>> rows = {
      std::vector<float>(k, 0.0f),           // 0: all zero
      std::vector<float>(k, 3.5f),           // 1: constant positive
      std::vector<float>(k, -2.0f),          // 2: constant negative
      std::vector<float>(k, 1e-39f),         // 3: range below 255 * FLT_MIN: treated as zero
      [] {                                   // 4: near FLT_MAX, both signs
        std::vector<float> r(k, 3e38f);
        r[1] = -3.4e38f;
        r[2] = 0.0f;
        return r;
      }(),
      [] {  // 5: tiny but normal values
        std::vector<float> r = gaussian_values(k, 5, 1e-30f);
        return r;
      }(),
      [&] {  // 6: one NaN
        std::vector<float> r = gaussian_values(k, 6);
        r[k - 1] = nan;
        return r;
      }(),
      [&] {  // 7: one infinity
        std::vector<float> r = gaussian_values(k, 7);
        r[3] = -inf;
        return r;
      }(),
      gaussian_values(k, 8),  // 8: an ordinary row after the bad ones
  };
  const int64_t m = static_cast<int64_t>(rows.size());
  std::vector<float> x;
  for (const auto& row : rows) x.insert(x.end(), row.begin(), row.end());
  std::vector<uint8_t> q(m * k, 77);
  std::vector<float> scales(m);
  std::vector<int32_t> zero_points(m);
  quantize_rows_u8(x.data(), m, k, q.data(), scales.data(), zero_points.data());
  auto row_q = [&](int64_t i) { return std::vector<uint8_t>(q.begin() + i * k, q.begin() + (i + 1) * k); };

  for (int64_t i : {0, 3}) {
    EXPECT_EQ(scales[i], 0.0f) << "row " << i;
    EXPECT_EQ(zero_points[i], 0) << "row " << i;
    EXPECT_EQ(row_q(i), std::vector<uint8_t>(k, 0)) << "row " << i;
  }
  // A constant row is one end of its range: exact up to the scale's own rounding.
  EXPECT_EQ(zero_points[1], 0);
  EXPECT_EQ(row_q(1), std::vector<uint8_t>(k, 255));
  EXPECT_NEAR(scales[1] * 255.0f, 3.5f, 1e-6f);
  EXPECT_EQ(zero_points[2], 255);
  EXPECT_EQ(row_q(2), std::vector<uint8_t>(k, 0));
  EXPECT_NEAR(-scales[2] * 255.0f, -2.0f, 1e-6f);
  for (int64_t i : {4, 5, 8}) {
    SCOPED_TRACE(testing::Message() << "row " << i);
    EXPECT_TRUE(std::isfinite(scales[i]));
    check_u8_row(x.data() + i * k, k, q.data() + i * k, scales[i], zero_points[i]);
  }
  for (int64_t i : {6, 7}) {
    EXPECT_TRUE(std::isnan(scales[i])) << "row " << i;
    EXPECT_EQ(zero_points[i], 0) << "row " << i;
    EXPECT_EQ(row_q(i), std::vector<uint8_t>(k, 0)) << "row " << i;
  }
}

TEST(QuantizeWeightsS8Test, PerChannelSymmetric) {
  for (int64_t k : {1, 17, 768}) {
    const int64_t n = 70;  // 70 x 768 takes the threaded path
    SCOPED_TRACE(testing::Message() << "k=" << k);
    std::vector<float> w = gaussian_values(n * k, 21 + k, 0.05f);
    std::fill(w.begin() + 2 * k, w.begin() + 3 * k, 0.0f);  // row 2: zeros
    w[4 * k] = std::numeric_limits<float>::quiet_NaN();       // row 4: NaN
    std::vector<int8_t> q(n * k);
    std::vector<float> scales(n);
    std::vector<int32_t> sums(n);
    quantize_weights_s8(w.data(), n, k, q.data(), scales.data(), sums.data());
    for (int64_t j = 0; j < n; ++j) {
      const float* row = w.data() + j * k;
      const int8_t* qrow = q.data() + j * k;
      if (j == 2 || j == 4) {
        if (j == 2) {
          EXPECT_EQ(scales[j], 0.0f);
        } else {
          EXPECT_TRUE(std::isnan(scales[j]));
        }
        EXPECT_EQ(sums[j], 0);
        for (int64_t p = 0; p < k; ++p) ASSERT_EQ(qrow[p], 0);
        continue;
      }
      float largest = 0.0f;
      for (int64_t p = 0; p < k; ++p) largest = std::max(largest, std::fabs(row[p]));
      ASSERT_EQ(scales[j], largest / 127.0f) << "row " << j;
      int32_t sum = 0;
      int largest_q = 0;
      for (int64_t p = 0; p < k; ++p) {
        ASSERT_GE(qrow[p], -127);
        const double error = std::fabs(static_cast<double>(scales[j]) * qrow[p] - row[p]);
        ASSERT_LE(error, 0.5 * scales[j] * (1.0 + 1e-4)) << "row " << j << " p=" << p;
        sum += qrow[p];
        largest_q = std::max(largest_q, std::abs(int{qrow[p]}));
      }
      EXPECT_EQ(sums[j], sum) << "row " << j;
      EXPECT_EQ(largest_q, 127) << "row " << j;  // the largest weight maps to +-127 exactly
    }
  }
}

TEST(DequantizeInt8ProductTest, MatchesScalarReference) {
  const int64_t m = 67, n = 531;  // 67 x 531 takes the threaded path
  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> acc_dist(-5'000'000, 5'000'000);
  std::uniform_int_distribution<int32_t> zp_dist(0, 255);
  std::uniform_int_distribution<int32_t> sum_dist(-20'000, 20'000);
  std::uniform_real_distribution<float> scale_dist(1e-4f, 1e-1f);
  std::vector<int32_t> acc(m * n), row_zero_points(m), col_sums(n);
  std::vector<float> row_scales(m), col_scales(n), bias = gaussian_values(n, 4);
  for (int32_t& v : acc) v = acc_dist(rng);
  for (int32_t& v : row_zero_points) v = zp_dist(rng);
  for (int32_t& v : col_sums) v = sum_dist(rng);
  for (float& v : row_scales) v = scale_dist(rng);
  for (float& v : col_scales) v = scale_dist(rng);
  row_scales[5] = std::numeric_limits<float>::quiet_NaN();  // a row that held NaN
  for (bool with_bias : {true, false}) {
    std::vector<float> y(m * n);
    for (size_t i = 0; i < y.size(); ++i) y[i] = std::bit_cast<float>(acc[i]);
    dequantize_int8_product(m, n, row_scales.data(), row_zero_points.data(), col_scales.data(),
                            col_sums.data(), with_bias ? bias.data() : nullptr, y.data());
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const float got = y[i * n + j];
        if (i == 5) {
          ASSERT_TRUE(std::isnan(got));
          continue;
        }
        const double integer = static_cast<double>(acc[i * n + j]) -
                               static_cast<double>(row_zero_points[i]) * col_sums[j];
        const double product = static_cast<double>(row_scales[i]) * col_scales[j] * integer;
        const double expected = product + (with_bias ? bias[j] : 0.0);
        // Three float roundings (int -> float, the scale product, the fused multiply-add).
        const double tolerance = 4 * FLT_EPSILON * (std::fabs(product) + std::fabs(expected));
        ASSERT_NEAR(got, expected, tolerance) << "i=" << i << " j=" << j;
      }
    }
  }
}

TEST(DequantizeInt8ProductTest, FusedResidualAndActivationMatchScalarReference) {
  const int64_t m = 67, n = 531;  // the threaded path
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> acc_dist(-5'000'000, 5'000'000);
  std::uniform_int_distribution<int32_t> zp_dist(0, 255);
  std::uniform_int_distribution<int32_t> sum_dist(-20'000, 20'000);
  std::uniform_real_distribution<float> scale_dist(1e-4f, 1e-3f);
  std::vector<int32_t> acc(m * n), row_zero_points(m), col_sums(n);
  std::vector<float> row_scales(m), col_scales(n), bias = gaussian_values(n, 4);
  const std::vector<float> residual = gaussian_values(m * n, 6);
  for (int32_t& v : acc) v = acc_dist(rng);
  for (int32_t& v : row_zero_points) v = zp_dist(rng);
  for (int32_t& v : col_sums) v = sum_dist(rng);
  for (float& v : row_scales) v = scale_dist(rng);
  for (float& v : col_scales) v = scale_dist(rng);
  struct Case {
    bool accumulate;
    std::optional<Activation> activation;
  };
  for (const Case& c : {Case{true, std::nullopt}, Case{true, Activation::kGeluErf},
                        Case{false, Activation::kGeluTanh}, Case{true, Activation::kRelu}}) {
    SCOPED_TRACE(testing::Message() << "accumulate=" << c.accumulate
                                    << " activation=" << (c.activation ? int(*c.activation) : -1));
    // With accumulate y holds the residual and the sums come from their own buffer; without,
    // they are read from y in place as the unfused epilogue does.
    std::vector<float> y(m * n);
    if (c.accumulate) {
      y = residual;
    } else {
      for (size_t i = 0; i < y.size(); ++i) y[i] = std::bit_cast<float>(acc[i]);
    }
    const int32_t* sums = c.accumulate ? acc.data() : reinterpret_cast<const int32_t*>(y.data());
    dequantize_int8_product(m, n, sums, row_scales.data(), row_zero_points.data(),
                            col_scales.data(), col_sums.data(), bias.data(), c.accumulate,
                            c.activation, y.data());
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const double integer = static_cast<double>(acc[i * n + j]) -
                               static_cast<double>(row_zero_points[i]) * col_sums[j];
        const double product = static_cast<double>(row_scales[i]) * col_scales[j] * integer;
        const double old = c.accumulate ? residual[i * n + j] : 0.0;
        double v = product + bias[j] + old;
        // Four float roundings on the sum's terms; the activation is 1.13-Lipschitz at most and
        // salvo's erf / tanh approximations are within 1e-6.
        double tolerance =
            5 * FLT_EPSILON * (std::fabs(product) + std::fabs(bias[j]) + std::fabs(old));
        if (c.activation == Activation::kGeluErf) {
          v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
          tolerance = 1.13 * tolerance + 1e-6 * (1.0 + std::fabs(v));
        } else if (c.activation == Activation::kGeluTanh) {
          v = 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
          tolerance = 1.13 * tolerance + 1e-6 * (1.0 + std::fabs(v));
        } else if (c.activation == Activation::kRelu) {
          v = std::max(v, 0.0);
        }
        ASSERT_NEAR(y[i * n + j], v, tolerance) << "i=" << i << " j=" << j;
      }
    }
  }
}

}  // namespace
}  // namespace salvo
