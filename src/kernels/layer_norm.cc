#include "kernels/layer_norm.h"

#include <cmath>

#include "kernels/vec_math.h"

namespace salvo {
namespace {

// Normalises one row that already holds x (+ residual) in y. The mean is summed relative to y[0]
// and the variance from centred values, so both stay accurate when the mean is large compared
// with the spread, whatever order the vectorised sums take.
SALVO_TARGET_CLONES
void normalize_row(float* y, const float* gamma, const float* beta, int64_t n, float eps) {
  const float shift = y[0];
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += y[i] - shift;
  const float mean = shift + sum / static_cast<float>(n);
  float sq = 0.0f;
#pragma omp simd reduction(+ : sq)
  for (int64_t i = 0; i < n; ++i) {
    const float d = y[i] - mean;
    sq += d * d;
  }
  const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(n) + eps);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = (y[i] - mean) * rstd * gamma[i] + beta[i];
}

}  // namespace

void layer_norm(const float* x, const float* gamma, const float* beta, int64_t rows, int64_t n,
                float eps, float* y) {
#pragma omp parallel for schedule(static) if (rows * n > 16384)
  for (int64_t r = 0; r < rows; ++r) {
    float* yr = y + r * n;
    if (yr != x + r * n) {
      for (int64_t i = 0; i < n; ++i) yr[i] = x[r * n + i];
    }
    normalize_row(yr, gamma, beta, n, eps);
  }
}

}  // namespace salvo
