#include "kernels/activations.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace salvo {
namespace {

double gelu_erf_ref(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh_ref(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

// Inputs spanning the range activations see, plus odd lengths that exercise vector tails.
std::vector<float> inputs(size_t n, float scale) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  x[0] = 0.0f;
  if (n > 2) {
    x[1] = -12.0f;
    x[2] = 12.0f;
  }
  return x;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& in,
                  double (*ref)(double), double tol) {
  ASSERT_EQ(got.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const double want = ref(in[i]);
    ASSERT_NEAR(got[i], want, tol * std::max(1.0, std::abs(want))) << "x=" << in[i];
  }
}

TEST(ActivationsTest, GeluErfMatchesReference) {
  for (size_t n : {1, 7, 16, 33, 1001}) {
    std::vector<float> x = inputs(n, 3.0f);
    std::vector<float> y = x;
    gelu_erf(y.data(), static_cast<int64_t>(n));
    expect_close(y, x, gelu_erf_ref, 2e-6);
  }
}

TEST(ActivationsTest, GeluErfDiffersFromTanhApproximation) {
  // The two GELUs differ by up to ~5e-4 near |x| = 2; the erf kernel must be the exact one.
  std::vector<float> x = {-2.0f, 2.0f, -1.5f};
  std::vector<float> y = x;
  gelu_erf(y.data(), 3);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(y[i], gelu_erf_ref(x[i]), 1e-6);
    EXPECT_GT(std::abs(y[i] - gelu_tanh_ref(x[i])), 1e-5);
  }
}

TEST(ActivationsTest, GeluErfKeepsNanAndInfinities) {
  // NaN in one lane of a vector must not spill into its neighbours; +inf stays +inf. -inf times
  // a vanishing 1 + erf is NaN in PyTorch; here NaN or -inf, depending on the last ulp of erf(-4).
  std::vector<float> x(19, 1.0f);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[17] = std::numeric_limits<float>::infinity();
  x[18] = -std::numeric_limits<float>::infinity();
  std::vector<float> y = x;
  gelu_erf(y.data(), static_cast<int64_t>(y.size()));
  for (size_t i = 0; i < 17; ++i) {
    if (i == 3) {
      EXPECT_TRUE(std::isnan(y[i]));
    } else {
      EXPECT_NEAR(y[i], gelu_erf_ref(1.0), 1e-6) << i;
    }
  }
  EXPECT_EQ(y[17], std::numeric_limits<float>::infinity());
  EXPECT_FALSE(std::isfinite(y[18]));
}

TEST(ActivationsTest, GeluTanhMatchesReference) {
  for (size_t n : {1, 9, 64, 1003}) {
    std::vector<float> x = inputs(n, 3.0f);
    std::vector<float> y = x;
    gelu_tanh(y.data(), static_cast<int64_t>(n));
    expect_close(y, x, gelu_tanh_ref, 2e-6);
  }
}

TEST(ActivationsTest, ReluAndTanh) {
  std::vector<float> x = inputs(37, 2.0f);
  std::vector<float> y = x;
  relu(y.data(), 37);
  expect_close(
      y, x, [](double v) { return v > 0 ? v : 0.0; }, 0.0);
  y = x;
  tanh_inplace(y.data(), 37);
  expect_close(
      y, x, [](double v) { return std::tanh(v); }, 1e-6);
}

TEST(ActivationsTest, ApplyActivationCoversEveryChunk) {
  // Several 4096-float chunks plus a tail, split across OpenMP threads.
  const size_t n = 3 * 4096 + 123;
  std::vector<float> x = inputs(n, 2.0f);
  std::vector<float> y = x;
  apply_activation(Activation::kGeluErf, y.data(), static_cast<int64_t>(n));
  expect_close(y, x, gelu_erf_ref, 2e-6);
  y = x;
  apply_activation(Activation::kGeluTanh, y.data(), static_cast<int64_t>(n));
  expect_close(y, x, gelu_tanh_ref, 2e-6);
  y = x;
  apply_activation(Activation::kRelu, y.data(), static_cast<int64_t>(n));
  expect_close(
      y, x, [](double v) { return v > 0 ? v : 0.0; }, 0.0);
}

}  // namespace
}  // namespace salvo
