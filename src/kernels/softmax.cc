#include "kernels/softmax.h"

#include "kernels/vec_math.h"

namespace salvo {

SALVO_TARGET_CLONES
void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float max = x[0];
#pragma omp simd reduction(max : max)
  for (int64_t i = 0; i < n; ++i) max = x[i] > max ? x[i] : max;
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) {
    const float e = exp_approx(x[i] - max);
    x[i] = e;
    sum += e;
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void softmax_rows(float* x, int64_t rows, int64_t n, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) softmax(x + r * ld, n);
}

}  // namespace salvo
