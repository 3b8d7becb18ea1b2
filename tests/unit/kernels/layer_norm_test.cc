#include "kernels/layer_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace salvo {
namespace {

std::vector<float> random_vector(size_t n, float mean, float stddev, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<double> reference(const std::vector<float>& x, const std::vector<float>& residual,
                              const std::vector<float>& gamma, const std::vector<float>& beta,
                              int64_t rows, int64_t n, double eps) {
  std::vector<double> y(rows * n);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0.0;
    for (int64_t i = 0; i < n; ++i) mean += double{x[r * n + i]} + residual[r * n + i];
    mean /= n;
    double var = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double d = double{x[r * n + i]} + residual[r * n + i] - mean;
      var += d * d;
    }
    var /= n;
    for (int64_t i = 0; i < n; ++i) {
      const double v = double{x[r * n + i]} + residual[r * n + i];
      y[r * n + i] = (v - mean) / std::sqrt(var + eps) * gamma[i] + beta[i];
    }
  }
  return y;
}

class LayerNormTest : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {};

TEST_P(LayerNormTest, MatchesReference) {
  const auto [rows, n] = GetParam();
  // A large mean checks that the variance is computed from centred values.
  const std::vector<float> x = random_vector(rows * n, 30.0f, 2.0f, 1);
  const std::vector<float> zero(rows * n, 0.0f);
  const std::vector<float> gamma = random_vector(n, 1.0f, 0.2f, 2);
  const std::vector<float> beta = random_vector(n, 0.0f, 0.2f, 3);
  std::vector<float> y(rows * n);
  layer_norm(x.data(), gamma.data(), beta.data(), rows, n, 1e-12f, y.data());
  const std::vector<double> want = reference(x, zero, gamma, beta, rows, n, 1e-12);
  for (int64_t i = 0; i < rows * n; ++i) ASSERT_NEAR(y[i], want[i], 2e-5) << i;

  std::vector<float> in_place = x;
  layer_norm(in_place.data(), gamma.data(), beta.data(), rows, n, 1e-12f, in_place.data());
  EXPECT_EQ(in_place, y);
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormTest,
                         ::testing::Values(std::pair<int64_t, int64_t>{1, 1},
                                           std::pair<int64_t, int64_t>{3, 37},
                                           std::pair<int64_t, int64_t>{5, 384},
                                           std::pair<int64_t, int64_t>{70, 768}));

TEST(LayerNormConstTest, ConstantRowGivesBeta) {
  const std::vector<float> x(16, 3.25f);
  const std::vector<float> gamma(16, 2.0f);
  const std::vector<float> beta = random_vector(16, 0.0f, 1.0f, 8);
  std::vector<float> y(16);
  layer_norm(x.data(), gamma.data(), beta.data(), 1, 16, 1e-12f, y.data());
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(y[i], beta[i], 1e-6);
}

}  // namespace
}  // namespace salvo
