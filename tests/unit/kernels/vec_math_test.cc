#include "kernels/vec_math.h"

#include <gtest/gtest.h>

#include <cmath>

namespace salvo {
namespace {

TEST(VecMathTest, ExpMatchesLibmWithinFewUlp) {
  double worst = 0.0;
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
    const double ref = std::exp(static_cast<double>(x));
    const double rel = std::abs(exp_approx(x) - ref) / ref;
    worst = std::max(worst, rel);
  }
  EXPECT_LT(worst, 3e-7);
}

TEST(VecMathTest, ExpClampsInsteadOfOverflowing) {
  EXPECT_TRUE(std::isfinite(exp_approx(1000.0f)));
  EXPECT_GE(exp_approx(-1000.0f), 0.0f);
  EXPECT_LT(exp_approx(-1000.0f), 1e-37f);
  EXPECT_FLOAT_EQ(exp_approx(0.0f), 1.0f);
}

TEST(VecMathTest, ErfMatchesLibm) {
  double worst = 0.0;
  for (float x = -7.0f; x <= 7.0f; x += 0.00113f) {
    worst = std::max(worst, std::abs(erf_approx(x) - std::erf(static_cast<double>(x))));
  }
  EXPECT_LT(worst, 1e-6);
}

TEST(VecMathTest, TanhMatchesLibm) {
  double worst = 0.0;
  for (float x = -30.0f; x <= 30.0f; x += 0.00317f) {
    worst = std::max(worst, std::abs(tanh_approx(x) - std::tanh(static_cast<double>(x))));
  }
  EXPECT_LT(worst, 1e-6);
}

}  // namespace
}  // namespace salvo
