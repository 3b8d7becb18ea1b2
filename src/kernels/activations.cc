#include "kernels/activations.h"

#include <algorithm>

#include "kernels/vec_math.h"

namespace salvo {

SALVO_TARGET_CLONES
void gelu_erf(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + erf_approx(v * 0.70710678118654752f));
  }
}

SALVO_TARGET_CLONES
void gelu_tanh(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float inner = 0.79788456080286536f * (v + 0.044715f * v * v * v);
    x[i] = 0.5f * v * (1.0f + tanh_approx(inner));
  }
}

SALVO_TARGET_CLONES
void relu(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

SALVO_TARGET_CLONES
void tanh_inplace(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] = tanh_approx(x[i]);
}

void apply_activation_serial(Activation act, float* x, int64_t n) {
  switch (act) {
    case Activation::kGeluErf:
      gelu_erf(x, n);
      break;
    case Activation::kGeluTanh:
      gelu_tanh(x, n);
      break;
    case Activation::kRelu:
      relu(x, n);
      break;
  }
}

void apply_activation(Activation act, float* x, int64_t n) {
  // Chunks of 4096 floats (16 KiB) keep each thread's slice in L1 and balance the work.
  constexpr int64_t kChunk = 4096;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    apply_activation_serial(act, x + c * kChunk, std::min(kChunk, n - c * kChunk));
  }
}

}  // namespace salvo
