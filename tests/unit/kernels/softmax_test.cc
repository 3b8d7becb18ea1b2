#include "kernels/softmax.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace salvo {
namespace {

std::vector<double> reference(const float* x, int64_t n) {
  double max = x[0];
  for (int64_t i = 0; i < n; ++i) max = std::max(max, double{x[i]});
  std::vector<double> y(n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += y[i] = std::exp(x[i] - max);
  for (double& v : y) v /= sum;
  return y;
}

TEST(SoftmaxTest, MatchesReferenceForManyLengths) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  for (int64_t n : {1, 2, 15, 16, 17, 128, 511, 512}) {
    std::vector<float> x(n);
    for (float& v : x) v = dist(rng);
    const std::vector<double> want = reference(x.data(), n);
    softmax(x.data(), n);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_NEAR(x[i], want[i], 1e-6 * std::max(1.0, want[i] * 10)) << "n=" << n << " i=" << i;
      sum += x[i];
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
}

TEST(SoftmaxTest, StableForLargeLogits) {
  std::vector<float> x = {1000.0f, 999.0f, -1000.0f, 1000.0f};
  softmax(x.data(), 4);
  const double e = std::exp(-1.0);
  EXPECT_NEAR(x[0], 1.0 / (2.0 + e), 1e-6);
  EXPECT_NEAR(x[1], e / (2.0 + e), 1e-6);
  EXPECT_NEAR(x[2], 0.0, 1e-30);
  EXPECT_NEAR(x[3], x[0], 1e-7);
}

TEST(SoftmaxTest, RowsWithStride) {
  // Two rows of 3 values inside rows of 5: the two trailing entries must stay untouched.
  std::vector<float> x = {1, 2, 3, 42, 42, -1, 0, 1, 42, 42};
  softmax_rows(x.data(), 2, 3, 5);
  const float row[3] = {1, 2, 3};
  const std::vector<double> want = reference(row, 3);
  for (int r = 0; r < 2; ++r) {
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(x[r * 5 + i], want[i], 1e-6);
    EXPECT_EQ(x[r * 5 + 3], 42.0f);
    EXPECT_EQ(x[r * 5 + 4], 42.0f);
  }
}

}  // namespace
}  // namespace salvo
