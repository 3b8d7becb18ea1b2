// Scalar math written so that gcc vectorises it inside `#pragma omp simd` loops.
//
// std::exp and std::erf are calls into libm that block vectorisation without -ffast-math; these
// inline versions use only arithmetic, min/max and integer bit tricks, so a loop over them becomes
// AVX-512 / AVX2 code in the target_clones kernels that call them. Accuracy is stated per function
// and checked against libm in tests/unit/kernels/vec_math_test.cc.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>

// Applied to a kernel to compile it for AVX-512, AVX2+FMA and baseline x86-64, picked at load time.
// Not under ThreadSanitizer: gcc instruments the IFUNC resolvers target_clones makes, and they run
// during relocation, before the TSan runtime is up (the process crashes before main).
#if defined(__SANITIZE_THREAD__)
#define SALVO_TARGET_CLONES
#else
#define SALVO_TARGET_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif

namespace salvo {

// e^x with a relative error of about 2 ulp for x in [-87, 88]; inputs outside are clamped, so
// very negative x gives ~1e-38 instead of 0 and very large x gives ~2e38 instead of inf.
inline float exp_approx(float x) {
  x = x < -87.3f ? -87.3f : x;
  x = x > 88.3f ? 88.3f : x;
  // Round x / ln2 to the nearest integer n by adding 1.5 * 2^23 (no libm rint needed).
  const float shifter = 12582912.0f;
  float t = x * 1.44269504088896341f + shifter;
  float n = t - shifter;
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  return y * std::bit_cast<float>(e);
}

// erf(x) as a rational approximation (the one Eigen and XLA use), x p(x^2) / q(x^2) on [-4, 4];
// absolute error below 1e-6. Coefficients from the highest power down.
inline constexpr float kErfNumerator[] = {-2.72614225801306e-10f, 2.77068142495902e-08f, -2.10102402082508e-06f,
                                          -5.69250639462346e-05f, -7.34990630326855e-04f, -2.95459980854025e-03f,
                                          -1.60960333262415e-02f};
inline constexpr float kErfDenominator[] = {-1.45660718464996e-05f, -2.13374055278905e-04f, -1.68282697438203e-03f,
                                            -7.37332916720468e-03f, -1.42647390514189e-02f};

inline float erf_approx(float x) {
  x = x < -4.0f ? -4.0f : x;
  x = x > 4.0f ? 4.0f : x;
  const float x2 = x * x;
  float p = kErfNumerator[0];
  for (size_t i = 1; i < std::size(kErfNumerator); ++i) p = p * x2 + kErfNumerator[i];
  float q = kErfDenominator[0];
  for (size_t i = 1; i < std::size(kErfDenominator); ++i) q = q * x2 + kErfDenominator[i];
  return x * p / q;
}

// tanh(x) = 1 - 2 / (e^{2x} + 1); absolute error below 1e-6.
inline float tanh_approx(float x) { return 1.0f - 2.0f / (exp_approx(2.0f * x) + 1.0f); }

}  // namespace salvo
