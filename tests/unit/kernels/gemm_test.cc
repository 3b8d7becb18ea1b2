#include "kernels/gemm.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "kernels/quantize.h"

namespace salvo {
namespace {

std::vector<float> random_values(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

// Plain triple loop in double: c = alpha * a * op(b) + beta * c. Also returns, per element, the
// sum of |alpha * a * b| terms, which bounds the float rounding error of any summation order.
void reference_gemm(bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, std::vector<double>& c,
                    int64_t ldc, std::vector<double>& magnitude) {
  magnitude.assign(c.size(), 0.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      double abs_sum = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double bv = transpose_b ? b[j * ldb + p] : b[p * ldb + j];
        sum += static_cast<double>(a[i * lda + p]) * bv;
        abs_sum += std::fabs(static_cast<double>(a[i * lda + p]) * bv);
      }
      const double old = beta == 0.0f ? 0.0 : beta * c[i * ldc + j];
      c[i * ldc + j] = alpha * sum + old;
      magnitude[i * ldc + j] = std::fabs(alpha) * abs_sum + std::fabs(old);
    }
  }
}

// Fails unless every element of `actual` is within a float-rounding bound of `expected`.
void expect_close(const std::vector<float>& actual, const std::vector<double>& expected,
                  const std::vector<double>& magnitude) {
  ASSERT_EQ(actual.size(), expected.size());
  int reported = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double tolerance = 1e-5 * magnitude[i] + 1e-6;
    const double diff = std::fabs(actual[i] - expected[i]);
    if (!(diff <= tolerance) && reported++ < 5) {
      ADD_FAILURE() << "element " << i << ": got " << actual[i] << ", expected " << expected[i]
                    << " (tolerance " << tolerance << ")";
    }
  }
}

// Reference for a linear layer: y = x * W^T + b.
std::vector<double> reference_linear(const std::vector<float>& x, const std::vector<float>& w,
                                     const float* bias, int64_t m, int64_t n, int64_t k,
                                     std::vector<double>& magnitude) {
  std::vector<double> y(m * n, 0.0);
  reference_gemm(true, m, n, k, 1.0f, x.data(), k, w.data(), k, 0.0f, y, n, magnitude);
  if (bias != nullptr) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        y[i * n + j] += bias[j];
        magnitude[i * n + j] += std::fabs(bias[j]);
      }
    }
  }
  return y;
}

class PackedLinearTest : public ::testing::TestWithParam<GemmBackend> {};

TEST_P(PackedLinearTest, MatchesReferenceForManyRowCounts) {
  for (auto [n, k] : {std::pair<int64_t, int64_t>{37, 19}, {64, 384}, {1152, 384}, {5, 1}}) {
    const std::vector<float> w = random_values(n * k, 1);
    const std::vector<float> bias = random_values(n, 2);
    for (bool with_bias : {true, false}) {
      PackedLinear layer(w.data(), with_bias ? bias.data() : nullptr, n, k, GetParam());
      EXPECT_EQ(layer.out_features(), n);
      EXPECT_EQ(layer.in_features(), k);
      // Row counts repeat so cached primitives are used again after other sizes ran.
      for (int64_t m : {1, 7, 33, 300, 7, 1}) {
        SCOPED_TRACE(testing::Message()
                     << "n=" << n << " k=" << k << " m=" << m << " bias=" << with_bias);
        const std::vector<float> x = random_values(m * k, 3 + m);
        std::vector<float> y(m * n, std::numeric_limits<float>::quiet_NaN());
        layer.forward(x.data(), m, y.data());
        std::vector<double> magnitude;
        const std::vector<double> expected =
            reference_linear(x, w, with_bias ? bias.data() : nullptr, m, n, k, magnitude);
        expect_close(y, expected, magnitude);
      }
    }
  }
}

TEST_P(PackedLinearTest, ZeroRowsWritesNothing) {
  const std::vector<float> w = random_values(8 * 4, 1);
  PackedLinear layer(w.data(), nullptr, 8, 4, GetParam());
  float sentinel = 42.0f;
  layer.forward(nullptr, 0, &sentinel);
  EXPECT_EQ(sentinel, 42.0f);
}

TEST_P(PackedLinearTest, MovedLayerStillWorks) {
  const int64_t n = 16, k = 8, m = 3;
  const std::vector<float> w = random_values(n * k, 5);
  PackedLinear original(w.data(), nullptr, n, k, GetParam());
  PackedLinear moved(std::move(original));
  const std::vector<float> x = random_values(m * k, 6);
  std::vector<float> y(m * n);
  moved.forward(x.data(), m, y.data());
  std::vector<double> magnitude;
  expect_close(y, reference_linear(x, w, nullptr, m, n, k, magnitude), magnitude);
}

TEST_P(PackedLinearTest, ForwardInsideParallelRegion) {
  // The encoder may run layers from inside its own OpenMP region.
  const int64_t n = 96, k = 64, m = 17;
  const std::vector<float> w = random_values(n * k, 7);
  const std::vector<float> bias = random_values(n, 8);
  PackedLinear layer(w.data(), bias.data(), n, k, GetParam());
  const int tasks = 8;
  std::vector<std::vector<float>> xs(tasks), ys(tasks, std::vector<float>(m * n));
  for (int t = 0; t < tasks; ++t) xs[t] = random_values(m * k, 100 + t);
#pragma omp parallel for num_threads(2)
  for (int t = 0; t < tasks; ++t) layer.forward(xs[t].data(), m, ys[t].data());
  for (int t = 0; t < tasks; ++t) {
    std::vector<double> magnitude;
    expect_close(ys[t], reference_linear(xs[t], w, bias.data(), m, n, k, magnitude), magnitude);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, PackedLinearTest,
                         ::testing::Values(GemmBackend::kOneDnn, GemmBackend::kOpenBlas),
                         [](const auto& info) {
                           return std::string(gemm_backend_name(info.param));
                         });

std::vector<float> gaussian_values(size_t count, uint32_t seed, float stddev) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

// A linear layer's inputs for a test: weights like a trained layer's (std 1 / sqrt(k)), a bias, and
// LayerNorm-like activations with a shift so the u8 zero point is not simply in the middle.
struct LayerData {
  std::vector<float> w, bias, x;
};
LayerData layer_data(int64_t m, int64_t n, int64_t k) {
  LayerData d{gaussian_values(n * k, 1 + n, 1.0f / std::sqrt(float(k))), gaussian_values(n, 2, 0.1f),
              gaussian_values(m * k, 3 + m + k, 1.0f)};
  for (int64_t p = 0; p < m * k; p += 3) d.x[p] += 0.7f;
  return d;
}

// Cosine similarity of row i of y and of the reference.
double row_cosine(const std::vector<float>& y, const std::vector<double>& expected, int64_t i,
                  int64_t n) {
  double dot = 0.0, yy = 0.0, ee = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    dot += y[i * n + j] * expected[i * n + j];
    yy += static_cast<double>(y[i * n + j]) * y[i * n + j];
    ee += expected[i * n + j] * expected[i * n + j];
  }
  return dot / std::sqrt(yy * ee);
}

// Fails unless y is as close to the exact y = x W^T + b as `precision` allows. The bounds are
// worst cases derived from the formats, not fitted to what the kernels happen to do:
//  - bf16 rounds x and W to 8 significant bits (relative error <= u = 2^-9 each), so every
//    product x_p * w_p is off by at most (2u + u^2) |x_p w_p| and the sum by 2^-8 * sum |x_p w_p|
//    (plus float32 accumulation, covered by 1e-5 of the same sum).
//  - int8 quantises x_p with an error <= sx (one step; half a step except where clamping at the
//    range's ends costs a full one) and w_jp with <= sw_j / 2, so with dx, dw those errors
//    |sum x w - sum x^ w^| <= sum (|x_p| sw_j / 2 + |w_jp| sx + sx sw_j / 2). Gaussian data
//    cancels most of that, so each row's cosine must also be >= 0.999.
void expect_within_precision(Precision precision, const std::vector<float>& x,
                             const std::vector<float>& w, const std::vector<float>& y,
                             const std::vector<double>& expected,
                             const std::vector<double>& magnitude, int64_t m, int64_t n,
                             int64_t k) {
  int reported = 0;
  std::vector<double> w_abs_sum(n, 0.0), w_scale(n, 0.0);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t p = 0; p < k; ++p) {
      w_abs_sum[j] += std::fabs(w[j * k + p]);
      w_scale[j] = std::max<double>(w_scale[j], std::fabs(w[j * k + p]) / 127.0);
    }
  }
  for (int64_t i = 0; i < m; ++i) {
    double lo = 0.0, hi = 0.0, x_abs_sum = 0.0;
    for (int64_t p = 0; p < k; ++p) {
      lo = std::min<double>(lo, x[i * k + p]);
      hi = std::max<double>(hi, x[i * k + p]);
      x_abs_sum += std::fabs(x[i * k + p]);
    }
    const double x_scale = (hi - lo) / 255.0;
    for (int64_t j = 0; j < n; ++j) {
      const size_t idx = i * n + j;
      double tolerance = 1e-5 * magnitude[idx] + 1e-6;
      if (precision == Precision::kBF16) tolerance += 0x1p-8 * magnitude[idx];
      if (precision == Precision::kInt8) {
        tolerance += x_abs_sum * w_scale[j] / 2 + w_abs_sum[j] * x_scale +
                     k * x_scale * w_scale[j] / 2;
      }
      const double diff = std::fabs(y[idx] - expected[idx]);
      if (!(diff <= tolerance) && reported++ < 5) {
        ADD_FAILURE() << "row " << i << " col " << j << ": got " << y[idx] << ", expected "
                      << expected[idx] << " (tolerance " << tolerance << ")";
      }
    }
    const double cosine = row_cosine(y, expected, i, n);
    const double min_cosine = precision == Precision::kInt8 ? 0.999 : 0.9999;
    if (!(cosine >= min_cosine) && reported++ < 5) {
      ADD_FAILURE() << "row " << i << ": cosine " << cosine << " < " << min_cosine;
    }
  }
}

class LowPrecisionLinearTest : public ::testing::TestWithParam<Precision> {
 protected:
  void SetUp() override {
    const std::string reason = precision_unavailable_reason(GetParam());
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
};

TEST_P(LowPrecisionLinearTest, MatchesReferenceWithinFormatBounds) {
  struct Shape {
    int64_t m, n, k;
  };
  // Odd and tiny shapes, then the BERT ones (MiniLM 384 / 1536, base 768 / 3072) with a few rows.
  const Shape shapes[] = {{1, 1, 1},       {7, 37, 19},     {1, 1152, 384},   {33, 129, 385},
                          {300, 96, 64},   {5, 5, 1},       {61, 1536, 384},  {13, 384, 1536},
                          {40, 2304, 768}, {9, 768, 3072}};
  for (const Shape& shape : shapes) {
    const auto [m, n, k] = shape;
    const auto [w, bias, x] = layer_data(m, n, k);
    for (bool with_bias : {true, false}) {
      SCOPED_TRACE(testing::Message()
                   << "m=" << m << " n=" << n << " k=" << k << " bias=" << with_bias);
      PackedLinear layer(w.data(), with_bias ? bias.data() : nullptr, n, k, GemmBackend::kOneDnn,
                         GetParam());
      EXPECT_EQ(layer.precision(), GetParam());
      std::vector<float> y(m * n, std::numeric_limits<float>::quiet_NaN());
      layer.forward(x.data(), m, y.data());
      std::vector<double> magnitude;
      const std::vector<double> expected =
          reference_linear(x, w, with_bias ? bias.data() : nullptr, m, n, k, magnitude);
      expect_within_precision(GetParam(), x, w, y, expected, magnitude, m, n, k);
    }
  }
}

TEST_P(LowPrecisionLinearTest, RepeatedRowCountsAndZeroRows) {
  const int64_t n = 70, k = 45;
  const std::vector<float> w = gaussian_values(n * k, 5, 0.15f);
  const std::vector<float> bias = gaussian_values(n, 6, 0.1f);
  PackedLinear layer(w.data(), bias.data(), n, k, GemmBackend::kOneDnn, GetParam());
  float sentinel = 42.0f;
  layer.forward(nullptr, 0, &sentinel);
  EXPECT_EQ(sentinel, 42.0f);
  // Growing and shrinking row counts reuse the per-thread buffers and cached primitives;
  // 1100 rows take the row-block path (blocks of 256 rows and a remainder on each thread).
  for (int64_t m : {1, 500, 3, 1100, 500, 1}) {
    SCOPED_TRACE(testing::Message() << "m=" << m);
    const std::vector<float> x = gaussian_values(m * k, 7 + m, 1.0f);
    std::vector<float> y(m * n);
    layer.forward(x.data(), m, y.data());
    std::vector<double> magnitude;
    const std::vector<double> expected = reference_linear(x, w, bias.data(), m, n, k, magnitude);
    expect_within_precision(GetParam(), x, w, y, expected, magnitude, m, n, k);
  }
}

TEST_P(LowPrecisionLinearTest, ForwardInsideParallelRegionAndAfterMove) {
  const int64_t n = 96, k = 64, m = 17;
  const std::vector<float> w = gaussian_values(n * k, 7, 0.125f);
  const std::vector<float> bias = gaussian_values(n, 8, 0.1f);
  PackedLinear original(w.data(), bias.data(), n, k, GemmBackend::kOneDnn, GetParam());
  PackedLinear layer(std::move(original));
  EXPECT_EQ(layer.precision(), GetParam());
  const int tasks = 8;
  std::vector<std::vector<float>> xs(tasks), ys(tasks, std::vector<float>(m * n));
  for (int t = 0; t < tasks; ++t) xs[t] = gaussian_values(m * k, 100 + t, 1.0f);
#pragma omp parallel for num_threads(2)
  for (int t = 0; t < tasks; ++t) layer.forward(xs[t].data(), m, ys[t].data());
  for (int t = 0; t < tasks; ++t) {
    std::vector<double> magnitude;
    const std::vector<double> expected = reference_linear(xs[t], w, bias.data(), m, n, k, magnitude);
    expect_within_precision(GetParam(), xs[t], w, ys[t], expected, magnitude, m, n, k);
  }
}

TEST_P(LowPrecisionLinearTest, NanInARowStaysInThatRow) {
  const int64_t n = 24, k = 40, m = 3;
  const std::vector<float> w = gaussian_values(n * k, 9, 0.15f);
  PackedLinear layer(w.data(), nullptr, n, k, GemmBackend::kOneDnn, GetParam());
  std::vector<float> x = gaussian_values(m * k, 10, 1.0f);
  x[1 * k + 5] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> y(m * n);
  layer.forward(x.data(), m, y.data());
  for (int64_t j = 0; j < n; ++j) {
    EXPECT_TRUE(std::isfinite(y[0 * n + j])) << j;
    EXPECT_TRUE(std::isnan(y[1 * n + j])) << j;
    EXPECT_TRUE(std::isfinite(y[2 * n + j])) << j;
  }
}

// GELU-output-like activations whose channels 3, 40 and 200 run 40x larger than the rest, as in
// real checkpoints' feed-forward layers: smoothing must keep the product and make it closer to
// the exact one than plain per-row int8 is.
TEST(Int8InputSmoothingTest, KeepsTheProductAndRecoversTheSmallChannels) {
  if (const std::string reason = precision_unavailable_reason(Precision::kInt8); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  const int64_t m = 70, n = 96, k = 384;  // 70 rows take the threaded row-block path
  const std::vector<float> w = gaussian_values(n * k, 21, 1.0f / std::sqrt(float(k)));
  const std::vector<float> bias = gaussian_values(n, 22, 0.1f);
  std::vector<float> x = gaussian_values(m * k, 23, 0.5f);
  for (float& v : x) v = std::max(v, -0.17f);  // GELU's output is >= -0.17
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t p : {3, 40, 200}) x[i * k + p] = 20.0f + static_cast<float>(i % 7);
  }
  std::vector<float> peaks(k, 0.0f);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t p = 0; p < k; ++p) peaks[p] = std::max(peaks[p], std::fabs(x[i * k + p]));
  }
  const std::vector<float> factors = smoothing_factors(peaks.data(), w.data(), n, k, 0.5f);
  const PackedLinear plain(w.data(), bias.data(), n, k, GemmBackend::kOneDnn, Precision::kInt8);
  const PackedLinear smoothed(w.data(), bias.data(), n, k, GemmBackend::kOneDnn, Precision::kInt8, {},
                              factors.data());
  std::vector<float> y_plain(m * n), y_smoothed(m * n);
  plain.forward(x.data(), m, y_plain.data());
  smoothed.forward(x.data(), m, y_smoothed.data());
  std::vector<double> magnitude;
  const std::vector<double> expected = reference_linear(x, w, bias.data(), m, n, k, magnitude);
  double error_plain = 0.0, error_smoothed = 0.0;
  for (int64_t idx = 0; idx < m * n; ++idx) {
    error_plain += std::fabs(y_plain[idx] - expected[idx]);
    error_smoothed += std::fabs(y_smoothed[idx] - expected[idx]);
  }
  // Smoothing gives the small channels about sqrt(40) times more levels.
  EXPECT_LT(error_smoothed, 0.5 * error_plain) << "plain " << error_plain << ", smoothed " << error_smoothed;
  for (int64_t i = 0; i < m; ++i) EXPECT_GE(row_cosine(y_smoothed, expected, i, n), 0.9999) << "row " << i;
}

TEST(Int8InputSmoothingTest, RejectsOtherPrecisionsAndBadFactors) {
  const int64_t n = 4, k = 3;
  const std::vector<float> w = gaussian_values(n * k, 31, 0.5f);
  const float good[k] = {1.0f, 2.0f, 0.5f};
  try {
    PackedLinear(w.data(), nullptr, n, k, GemmBackend::kOneDnn, Precision::kF32, {}, good);
    ADD_FAILURE() << "f32 with smoothing was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("input smoothing is for int8"), std::string::npos) << e.what();
  }
  if (!precision_unavailable_reason(Precision::kInt8).empty()) return;
  const float inf = std::numeric_limits<float>::infinity();
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), inf, 1e-39f}) {
    const float factors[k] = {1.0f, bad, 1.0f};
    try {
      PackedLinear(w.data(), nullptr, n, k, GemmBackend::kOneDnn, Precision::kInt8, {}, factors);
      ADD_FAILURE() << "factor " << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("input smoothing factor 1 "), std::string::npos) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Precisions, LowPrecisionLinearTest,
                         ::testing::Values(Precision::kBF16, Precision::kInt8),
                         [](const auto& info) { return std::string(precision_name(info.param)); });

// The activation in double, as the model defines it (not salvo's approximations).
double reference_activation(Activation activation, double v) {
  switch (activation) {
    case Activation::kGeluErf:
      return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    case Activation::kGeluTanh:
      return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    case Activation::kRelu:
      break;
  }
  return v > 0.0 ? v : 0.0;
}

const char* activation_name(Activation activation) {
  switch (activation) {
    case Activation::kGeluErf:
      return "gelu_erf";
    case Activation::kGeluTanh:
      return "gelu_tanh";
    case Activation::kRelu:
      break;
  }
  return "relu";
}

using EpilogueParam = std::tuple<GemmBackend, Precision>;

class LinearEpilogueTest : public ::testing::TestWithParam<EpilogueParam> {
 protected:
  void SetUp() override {
    const std::string reason = precision_unavailable_reason(std::get<1>(GetParam()));
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
};

// y = act(x W^T + b + y_old) against the double reference. The bound is the plain product's
// (as in expect_within_precision, with |y_old| in the magnitude) times the activation's largest
// slope (GELU's is 1.13, ReLU's 1), plus the activation approximations' own error (salvo's and
// oneDNN's erf / tanh are within ~1e-6 absolute, so GELU within 1e-6 (1 + |v|)).
TEST_P(LinearEpilogueTest, MatchesReferenceForEveryFusion) {
  const auto [backend, precision] = GetParam();
  struct Shape {
    int64_t m, n, k;
  };
  // 600 rows take the low-precision row-block path; the last two are BERT's FFN shapes.
  const Shape shapes[] = {{1, 1, 1},     {7, 37, 19},     {33, 129, 385},
                          {600, 70, 45}, {61, 1536, 384}, {13, 384, 1536}};
  std::vector<LinearEpilogue> epilogues;
  for (Activation a : {Activation::kGeluErf, Activation::kGeluTanh, Activation::kRelu}) {
    epilogues.push_back(LinearEpilogue{.activation = a});
    epilogues.push_back(LinearEpilogue{.activation = a, .accumulate = true});
  }
  epilogues.push_back(LinearEpilogue{.activation = std::nullopt, .accumulate = true});
  for (const Shape& shape : shapes) {
    const auto [m, n, k] = shape;
    const auto [w, bias, x] = layer_data(m, n, k);
    const std::vector<float> residual = gaussian_values(m * n, 4 + m, 1.0f);
    // Per-element error bound of the product itself, as expect_within_precision derives it.
    std::vector<double> w_abs_sum(n, 0.0), w_scale(n, 0.0), x_abs_sum(m, 0.0), x_scale(m, 0.0);
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t p = 0; p < k; ++p) {
        w_abs_sum[j] += std::fabs(w[j * k + p]);
        w_scale[j] = std::max<double>(w_scale[j], std::fabs(w[j * k + p]) / 127.0);
      }
    }
    for (int64_t i = 0; i < m; ++i) {
      double lo = 0.0, hi = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        lo = std::min<double>(lo, x[i * k + p]);
        hi = std::max<double>(hi, x[i * k + p]);
        x_abs_sum[i] += std::fabs(x[i * k + p]);
      }
      x_scale[i] = (hi - lo) / 255.0;
    }
    for (bool with_bias : {true, false}) {
      std::vector<double> magnitude;
      const std::vector<double> product =
          reference_linear(x, w, with_bias ? bias.data() : nullptr, m, n, k, magnitude);
      for (const LinearEpilogue& epilogue : epilogues) {
        SCOPED_TRACE(testing::Message()
                     << "m=" << m << " n=" << n << " k=" << k << " bias=" << with_bias
                     << " activation="
                     << (epilogue.activation ? activation_name(*epilogue.activation) : "none")
                     << " accumulate=" << epilogue.accumulate);
        PackedLinear layer(w.data(), with_bias ? bias.data() : nullptr, n, k, backend, precision,
                           epilogue);
        EXPECT_EQ(layer.epilogue().accumulate, epilogue.accumulate);
        std::vector<float> y = residual;
        if (!epilogue.accumulate) {
          // Without accumulate y is write-only: NaNs there must not leak into the result.
          std::fill(y.begin(), y.end(), std::numeric_limits<float>::quiet_NaN());
        }
        layer.forward(x.data(), m, y.data());
        std::vector<double> expected(m * n);
        int reported = 0;
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            const size_t idx = i * n + j;
            const double old = epilogue.accumulate ? residual[idx] : 0.0;
            const double pre = product[idx] + old;
            double tolerance = 1e-5 * (magnitude[idx] + std::fabs(old)) + 1e-6;
            if (precision == Precision::kBF16) tolerance += 0x1p-8 * magnitude[idx];
            if (precision == Precision::kInt8) {
              tolerance += x_abs_sum[i] * w_scale[j] / 2 + w_abs_sum[j] * x_scale[i] +
                           k * x_scale[i] * w_scale[j] / 2;
            }
            expected[idx] = pre;
            if (epilogue.activation) {
              expected[idx] = reference_activation(*epilogue.activation, pre);
              tolerance = 1.13 * tolerance + 1e-6 * (1.0 + std::fabs(pre));
            }
            const double diff = std::fabs(y[idx] - expected[idx]);
            if (!(diff <= tolerance) && reported++ < 5) {
              ADD_FAILURE() << "row " << i << " col " << j << ": got " << y[idx]
                            << ", expected " << expected[idx] << " (tolerance " << tolerance
                            << ")";
            }
          }
        }
        if (precision != Precision::kF32 && n > 1) {
          const double min_cosine = precision == Precision::kInt8 ? 0.999 : 0.9999;
          for (int64_t i = 0; i < m && reported < 5; ++i) {
            const double cosine = row_cosine(y, expected, i, n);
            if (!(cosine >= min_cosine)) {
              ADD_FAILURE() << "row " << i << ": cosine " << cosine << " < " << min_cosine;
              ++reported;
            }
          }
        }
      }
    }
  }
}

TEST_P(LinearEpilogueTest, AccumulateInsideParallelRegion) {
  // Each thread's int8 accumulators go to its own buffer, not into the residual.
  const auto [backend, precision] = GetParam();
  const int64_t n = 96, k = 64, m = 17;
  const std::vector<float> w = gaussian_values(n * k, 7, 0.125f);
  const std::vector<float> bias = gaussian_values(n, 8, 0.1f);
  const LinearEpilogue epilogue{.activation = Activation::kRelu, .accumulate = true};
  PackedLinear fused(w.data(), bias.data(), n, k, backend, precision, epilogue);
  PackedLinear plain(w.data(), bias.data(), n, k, backend, precision);
  const int tasks = 8;
  std::vector<std::vector<float>> xs(tasks), ys(tasks), residuals(tasks);
  for (int t = 0; t < tasks; ++t) {
    xs[t] = gaussian_values(m * k, 100 + t, 1.0f);
    residuals[t] = gaussian_values(m * n, 200 + t, 1.0f);
    ys[t] = residuals[t];
  }
#pragma omp parallel for num_threads(2)
  for (int t = 0; t < tasks; ++t) fused.forward(xs[t].data(), m, ys[t].data());
  for (int t = 0; t < tasks; ++t) {
    // The unfused layer followed by the add and ReLU, in float: the same roundings but one.
    std::vector<float> expected(m * n);
    plain.forward(xs[t].data(), m, expected.data());
    for (int64_t idx = 0; idx < m * n; ++idx) {
      const float v = expected[idx] + residuals[t][idx];
      EXPECT_NEAR(ys[t][idx], v > 0.0f ? v : 0.0f, 1e-5f * (1.0f + std::fabs(v))) << t << " " << idx;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fusions, LinearEpilogueTest,
    ::testing::Values(EpilogueParam{GemmBackend::kOneDnn, Precision::kF32},
                      EpilogueParam{GemmBackend::kOpenBlas, Precision::kF32},
                      EpilogueParam{GemmBackend::kOneDnn, Precision::kBF16},
                      EpilogueParam{GemmBackend::kOneDnn, Precision::kInt8}),
    [](const auto& info) {
      return std::string(gemm_backend_name(std::get<0>(info.param))) + "_" +
             precision_name(std::get<1>(info.param));
    });

TEST(PrecisionTest, ParsesNamesAndRejectsOthers) {
  EXPECT_EQ(parse_precision("f32"), Precision::kF32);
  EXPECT_EQ(parse_precision("fp32"), Precision::kF32);
  EXPECT_EQ(parse_precision("bf16"), Precision::kBF16);
  EXPECT_EQ(parse_precision("int8"), Precision::kInt8);
  EXPECT_STREQ(precision_name(Precision::kF32), "f32");
  EXPECT_STREQ(precision_name(Precision::kBF16), "bf16");
  EXPECT_STREQ(precision_name(Precision::kInt8), "int8");
  for (const char* bad : {"fp16", "BF16", "", "int4"}) {
    try {
      parse_precision(bad);
      ADD_FAILURE() << "expected an error for '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("bf16"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(precision_unavailable_reason(Precision::kF32), "");
}

TEST(PrecisionTest, F32IsTheDefault) {
  const std::vector<float> w = random_values(8 * 4, 1);
  PackedLinear layer(w.data(), nullptr, 8, 4, GemmBackend::kOneDnn);
  EXPECT_EQ(layer.precision(), Precision::kF32);
  PackedLinear blas(w.data(), nullptr, 8, 4, GemmBackend::kOpenBlas, Precision::kF32);
  EXPECT_EQ(blas.precision(), Precision::kF32);
}

TEST(PrecisionTest, OpenBlasRejectsLowPrecision) {
  const std::vector<float> w = random_values(8 * 4, 1);
  for (Precision precision : {Precision::kBF16, Precision::kInt8}) {
    try {
      PackedLinear layer(w.data(), nullptr, 8, 4, GemmBackend::kOpenBlas, precision);
      ADD_FAILURE() << "expected an error for " << precision_name(precision);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      const std::string message = e.what();
      EXPECT_NE(message.find(precision_name(precision)), std::string::npos) << message;
      EXPECT_NE(message.find("onednn"), std::string::npos) << message;
      EXPECT_NE(message.find("openblas"), std::string::npos) << message;
    }
  }
}

TEST(PrecisionTest, UnavailablePrecisionIsABackendErrorWithTheReason) {
  const std::vector<float> w = random_values(8 * 4, 1);
  for (Precision precision : {Precision::kBF16, Precision::kInt8}) {
    const std::string reason = precision_unavailable_reason(precision);
    if (reason.empty()) {
      // Available here: the layer builds. (The message itself is checked on CPUs without it,
      // or by running this test under ONEDNN_MAX_CPU_ISA=AVX512_CORE.)
      EXPECT_NO_THROW(PackedLinear(w.data(), nullptr, 8, 4, GemmBackend::kOneDnn, precision));
      continue;
    }
    EXPECT_NE(reason.find(precision_name(precision)), std::string::npos) << reason;
    try {
      PackedLinear layer(w.data(), nullptr, 8, 4, GemmBackend::kOneDnn, precision);
      ADD_FAILURE() << "expected an error for " << precision_name(precision);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kBackend);
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
}

// transpose_b, m, n, k, extra leading-dimension padding, alpha, beta.
using GemmCase = std::tuple<bool, int64_t, int64_t, int64_t, int64_t, float, float>;

class GemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmTest, MatchesReference) {
  const auto [transpose_b, m, n, k, pad, alpha, beta] = GetParam();
  const int64_t lda = k + pad;
  const int64_t ldb = (transpose_b ? k : n) + pad;
  const int64_t ldc = n + pad;
  const int64_t b_rows = transpose_b ? n : k;
  const std::vector<float> a = random_values(std::max<int64_t>(1, m * lda), 11);
  const std::vector<float> b = random_values(std::max<int64_t>(1, b_rows * ldb), 12);
  std::vector<float> c = random_values(std::max<int64_t>(1, m * ldc), 13);
  if (beta == 0.0f) {
    // beta = 0 means c is not read: NaNs there must not leak into the result.
    for (float& v : c) v = std::numeric_limits<float>::quiet_NaN();
  }
  std::vector<double> expected(c.begin(), c.end());
  std::vector<double> magnitude;
  reference_gemm(transpose_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, expected, ldc,
                 magnitude);
  gemm(transpose_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t idx = i * ldc + j;
      if (j >= n) {
        if (beta != 0.0f) {
          EXPECT_EQ(c[idx], static_cast<float>(expected[idx])) << "padding changed at " << idx;
        }
        continue;
      }
      const double tolerance = 1e-5 * magnitude[idx] + 1e-6;
      ASSERT_NEAR(c[idx], expected[idx], tolerance) << "row " << i << " col " << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GemmTest,
    ::testing::Combine(::testing::Bool(), ::testing::Values<int64_t>(0, 1, 7, 64, 130),
                       ::testing::Values<int64_t>(1, 13, 64, 130),
                       ::testing::Values<int64_t>(1, 32, 63), ::testing::Values<int64_t>(0, 5),
                       ::testing::Values(1.0f, 0.125f), ::testing::Values(0.0f, 1.0f)));

TEST(GemmTest, ZeroDepthScalesByBeta) {
  std::vector<float> c = {1.0f, 2.0f, 3.0f, 4.0f};
  gemm(false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 1.0f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f}));
  gemm(false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{0.0f, 0.0f, 0.0f, 0.0f}));
}

TEST(GemmTest, ConcurrentCallsFromParallelRegion) {
  // Attention runs one product per (sequence, head) inside an OpenMP loop.
  const int64_t l = 96, d = 32;
  const int tasks = 16;
  std::vector<std::vector<float>> qs(tasks), ks(tasks), scores(tasks, std::vector<float>(l * l));
  for (int t = 0; t < tasks; ++t) {
    qs[t] = random_values(l * d, 200 + t);
    ks[t] = random_values(l * d, 300 + t);
  }
#pragma omp parallel for num_threads(4) schedule(dynamic)
  for (int t = 0; t < tasks; ++t) {
    gemm(true, l, l, d, 0.125f, qs[t].data(), d, ks[t].data(), d, 0.0f, scores[t].data(), l);
  }
  for (int t = 0; t < tasks; ++t) {
    std::vector<double> expected(l * l, 0.0), magnitude;
    reference_gemm(true, l, l, d, 0.125f, qs[t].data(), d, ks[t].data(), d, 0.0f, expected, l,
                   magnitude);
    expect_close(scores[t], expected, magnitude);
  }
}

TEST(GemmTest, LeavesCallersThreadLimitUnchanged) {
  // gemm() lowers the OpenMP thread limit around its call; the caller must not notice.
  const int before = omp_get_max_threads();
  const std::vector<float> a = random_values(8 * 8, 1);
  std::vector<float> c(8 * 8);
  gemm(false, 8, 8, 8, 1.0f, a.data(), 8, a.data(), 8, 0.0f, c.data(), 8);
  EXPECT_EQ(omp_get_max_threads(), before);
}

TEST(GemmTest, ConcurrentCallsFromPlainThreads) {
  const int64_t m = 70, n = 50, k = 40;
  const std::vector<float> a = random_values(m * k, 1);
  const std::vector<float> b = random_values(k * n, 2);
  std::vector<std::vector<float>> results(4, std::vector<float>(m * n));
  std::vector<std::thread> threads;
  for (auto& c : results) {
    threads.emplace_back([&a, &b, &c] {
      for (int repeat = 0; repeat < 20; ++repeat) {
        gemm(false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<double> expected(m * n, 0.0), magnitude;
  reference_gemm(false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, expected, n, magnitude);
  for (const auto& c : results) expect_close(c, expected, magnitude);
}

TEST(GemmBackendTest, ParsesNamesAndRejectsOthers) {
  EXPECT_EQ(parse_gemm_backend("onednn"), GemmBackend::kOneDnn);
  EXPECT_EQ(parse_gemm_backend("openblas"), GemmBackend::kOpenBlas);
  EXPECT_STREQ(gemm_backend_name(GemmBackend::kOneDnn), "onednn");
  EXPECT_STREQ(gemm_backend_name(GemmBackend::kOpenBlas), "openblas");
  try {
    parse_gemm_backend("mkl");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("mkl"), std::string::npos);
  }
}

}  // namespace
}  // namespace salvo
