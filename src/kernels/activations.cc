#include "kernels/activations.h"

#include <immintrin.h>

#include <algorithm>
#include <span>

#include "kernels/vec_math.h"

namespace salvo {

namespace {

SALVO_TARGET_CLONES
void gelu_erf_plain(float* x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + erf_approx(v * 0.70710678118654752f));
  }
}

// gcc 12 warns about the deliberately undefined registers inside its own AVX-512 intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// erf_approx's rational function with its division replaced by a reciprocal estimate and one
// Newton step (relative error about 2^-23 instead of 0.5 ulp): on Zen 4 the AVX-512 division was
// the slowest instruction of the loop, and int8's encoder (whose feed-forward epilogue runs this)
// spent about 5% of its time in it.
__attribute__((target("avx512f"))) void gelu_erf_avx512(float* x, int64_t n) {
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512 two = _mm512_set1_ps(2.0f);
  const __m512 limit = _mm512_set1_ps(4.0f);
  const __m512 neg_limit = _mm512_set1_ps(-4.0f);
  const __m512 inv_sqrt2 = _mm512_set1_ps(0.70710678118654752f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 mask = n - i >= 16 ? 0xffff : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
    // min / max return their second operand when either is NaN, so a NaN input stays NaN.
    const __m512 t = _mm512_max_ps(neg_limit, _mm512_min_ps(limit, _mm512_mul_ps(v, inv_sqrt2)));
    const __m512 t2 = _mm512_mul_ps(t, t);
    __m512 p = _mm512_set1_ps(kErfNumerator[0]);
    for (float c : std::span(kErfNumerator).subspan(1)) p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(c));
    __m512 q = _mm512_set1_ps(kErfDenominator[0]);
    for (float c : std::span(kErfDenominator).subspan(1)) q = _mm512_fmadd_ps(q, t2, _mm512_set1_ps(c));
    __m512 r = _mm512_rcp14_ps(q);
    r = _mm512_mul_ps(r, _mm512_fnmadd_ps(q, r, two));
    const __m512 erf = _mm512_mul_ps(_mm512_mul_ps(p, t), r);
    const __m512 hv = _mm512_mul_ps(half, v);
    _mm512_mask_storeu_ps(x + i, mask, _mm512_fmadd_ps(hv, erf, hv));
  }
}
#pragma GCC diagnostic pop

}  // namespace

void gelu_erf(float* x, int64_t n) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) {
    gelu_erf_avx512(x, n);
  } else {
    gelu_erf_plain(x, n);
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
