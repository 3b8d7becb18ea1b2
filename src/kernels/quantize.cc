#include "kernels/quantize.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/vec_math.h"

namespace salvo {
namespace {

// Below this many elements a pass is not worth waking the OpenMP threads for.
constexpr int64_t kParallelElements = 1 << 15;

bool run_parallel(int64_t elements) {
  return elements >= kParallelElements && !omp_in_parallel() && omp_get_max_threads() > 1;
}

// Rounds to the nearest integer, ties to even, for |v| < 2^22: adding 1.5 * 2^23 leaves no
// fraction bits, so the FPU's default rounding does the work. Unlike std::nearbyint this always
// vectorises.
inline float round_small(float v) {
  const float shifter = 12582912.0f;
  return (v + shifter) - shifter;
}

// |v|'s bit pattern: at least 0x7f800000 exactly when v is infinite or NaN. Tracking its maximum
// (an integer max reduction) vectorises where a boolean flag does not.
inline uint32_t magnitude_bits(float v) { return std::bit_cast<uint32_t>(v) & 0x7fffffffu; }
constexpr uint32_t kInfinityBits = 0x7f800000u;

SALVO_TARGET_CLONES
void convert_to_bf16_range(const float* x, int64_t count, uint16_t* out) {
#pragma omp simd
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t bits = std::bit_cast<uint32_t>(x[i]);
    // Adding 0x7fff plus the lowest kept bit rounds to nearest even; a carry into the exponent
    // is correct (it rounds up to the next binade or to infinity).
    const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    // NaN payloads could carry into infinity, so NaN keeps its top bits and is made quiet.
    const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
    out[i] = static_cast<uint16_t>(nan ? ((bits >> 16) | 0x40u) : rounded);
  }
}

SALVO_TARGET_CLONES
void quantize_weight_row(const float* w, int64_t k, int8_t* q, float* scale, int32_t* col_sum) {
  float largest = 0.0f;
  uint32_t largest_bits = 0;
#pragma omp simd reduction(max : largest, largest_bits)
  for (int64_t p = 0; p < k; ++p) {
    largest = std::max(largest, std::fabs(w[p]));
    largest_bits = std::max(largest_bits, magnitude_bits(w[p]));
  }
  const bool bad = largest_bits >= kInfinityBits;
  if (bad || largest < FLT_MIN) {
    std::memset(q, 0, k);
    *scale = bad ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    *col_sum = 0;
    return;
  }
  const float inverse = 127.0f / largest;
  int32_t sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t p = 0; p < k; ++p) {
    const float v = std::clamp(round_small(w[p] * inverse), -127.0f, 127.0f);
    const int32_t iv = static_cast<int32_t>(v);
    q[p] = static_cast<int8_t>(iv);
    sum += iv;
  }
  *scale = largest / 127.0f;
  *col_sum = sum;
}

// Where a row's quantisation goes: the range, then scale and zero point, shared by both kernels
// so they agree bit for bit. Returns false (and fills the outputs) for a row of zeros or one
// holding NaN or infinity.
bool row_parameters(float lo, float hi, uint32_t largest_bits, float* scale, float* inverse,
                    float* zero) {
  const bool bad = largest_bits >= kInfinityBits;
  // Divided before subtracting so a range near FLT_MAX cannot overflow to infinity.
  const float step = hi / 255.0f - lo / 255.0f;
  if (bad || step < FLT_MIN) {  // FLT_MIN keeps 1 / step finite
    *scale = bad ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    *zero = 0.0f;
    return false;
  }
  *scale = step;
  *inverse = 1.0f / step;
  *zero = std::clamp(round_small(-lo * *inverse), 0.0f, 255.0f);
  return true;
}

// Plain version for CPUs without AVX-512 (gcc leaves the min/max loop scalar, so it is slow;
// the int8 mode is only offered on AVX-512 VNNI machines anyway).
void quantize_row_u8_plain(const float* x, int64_t k, uint8_t* q, float* scale,
                           int32_t* zero_point, const float* multipliers) {
  auto value = [&](int64_t p) { return multipliers != nullptr ? x[p] * multipliers[p] : x[p]; };
  float lo = 0.0f;
  float hi = 0.0f;
  uint32_t largest_bits = 0;
  for (int64_t p = 0; p < k; ++p) {
    const float v = value(p);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    largest_bits = std::max(largest_bits, magnitude_bits(v));
  }
  float inverse = 0.0f;
  float zero = 0.0f;
  if (!row_parameters(lo, hi, largest_bits, scale, &inverse, &zero)) {
    std::memset(q, 0, k);
    *zero_point = 0;
    return;
  }
  for (int64_t p = 0; p < k; ++p) {
    const float v = std::clamp(round_small(value(p) * inverse) + zero, 0.0f, 255.0f);
    q[p] = static_cast<uint8_t>(static_cast<int32_t>(v));
  }
  *zero_point = static_cast<int32_t>(zero);
}

// gcc 12 warns about the deliberately undefined registers inside its own AVX-512 intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// The 16 values of x (times the multipliers, when given) at p under `mask`, 0 elsewhere.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"), always_inline)) inline __m512
load_scaled(const float* x, const float* multipliers, int64_t p, __mmask16 mask) {
  const __m512 v = _mm512_maskz_loadu_ps(mask, x + p);
  return multipliers != nullptr ? _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mask, multipliers + p)) : v;
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) void quantize_row_u8_avx512(
    const float* x, int64_t k, uint8_t* q, float* scale, int32_t* zero_point,
    const float* multipliers) {
  __m512 lo = _mm512_setzero_ps();
  __m512 hi = _mm512_setzero_ps();
  __m512i largest_bits = _mm512_setzero_si512();
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
  for (int64_t p = 0; p < k; p += 16) {
    // The masked-off lanes load 0, which is inside every row's range already.
    const __mmask16 mask = k - p >= 16 ? 0xffff : static_cast<__mmask16>((1u << (k - p)) - 1);
    const __m512 v = load_scaled(x, multipliers, p, mask);
    lo = _mm512_min_ps(lo, v);
    hi = _mm512_max_ps(hi, v);
    largest_bits = _mm512_max_epu32(largest_bits, _mm512_and_si512(_mm512_castps_si512(v), abs_mask));
  }
  float inverse = 0.0f;
  float zero = 0.0f;
  if (!row_parameters(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi),
                      static_cast<uint32_t>(_mm512_reduce_max_epu32(largest_bits)), scale,
                      &inverse, &zero)) {
    std::memset(q, 0, k);
    *zero_point = 0;
    return;
  }
  const __m512 inv = _mm512_set1_ps(inverse);
  const __m512 zp = _mm512_set1_ps(zero);
  const __m512 top = _mm512_set1_ps(255.0f);
  const __m512 bottom = _mm512_setzero_ps();
  for (int64_t p = 0; p < k; p += 16) {
    const __mmask16 mask = k - p >= 16 ? 0xffff : static_cast<__mmask16>((1u << (k - p)) - 1);
    const __m512 v = load_scaled(x, multipliers, p, mask);
    __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(v, inv),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, zp), bottom), top);
    // r is in [0, 255] already, so truncating to bytes is exact; narrowing in a register and
    // storing 16 bytes ran 12-18% faster on Zen 4 than vpmovusdb's store form.
    const __m128i bytes = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(r));
    if (mask == 0xffff) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + p), bytes);
    } else {
      _mm_mask_storeu_epi8(q + p, mask, bytes);
    }
  }
  *zero_point = static_cast<int32_t>(zero);
}
#pragma GCC diagnostic pop

// One output row of the int8 epilogue; `acc` holds the int32 accumulators' bit patterns and may
// be y itself (it is read as float so that the compiler knows the two can alias). Inlined into
// dequantize_row's clones, so each instantiation is compiled for the clone's instruction set.
template <bool kBias, bool kAccumulate>
__attribute__((always_inline)) inline void dequantize_row_body(
    int64_t n, const float* acc, float row_scale, int32_t row_zero_point, const float* col_scales,
    const int32_t* col_sums, const float* bias, float* y) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) {
    const int32_t sum = std::bit_cast<int32_t>(acc[j]) - row_zero_point * col_sums[j];
    float v = static_cast<float>(sum) * (row_scale * col_scales[j]);
    if constexpr (kBias) v += bias[j];
    if constexpr (kAccumulate) v += y[j];
    y[j] = v;
  }
}

SALVO_TARGET_CLONES
void dequantize_row(int64_t n, const float* acc, float row_scale, int32_t row_zero_point,
                    const float* col_scales, const int32_t* col_sums, const float* bias,
                    bool accumulate, float* y) {
  if (bias != nullptr) {
    if (accumulate) {
      dequantize_row_body<true, true>(n, acc, row_scale, row_zero_point, col_scales, col_sums,
                                      bias, y);
    } else {
      dequantize_row_body<true, false>(n, acc, row_scale, row_zero_point, col_scales, col_sums,
                                       bias, y);
    }
  } else if (accumulate) {
    dequantize_row_body<false, true>(n, acc, row_scale, row_zero_point, col_scales, col_sums,
                                     bias, y);
  } else {
    dequantize_row_body<false, false>(n, acc, row_scale, row_zero_point, col_scales, col_sums,
                                      bias, y);
  }
}


}  // namespace

void convert_to_bf16(const float* x, int64_t count, uint16_t* out) {
  // Chunks of 64 KiB of input keep each thread's share contiguous and cache-line aligned.
  constexpr int64_t kChunk = 16384;
  const int64_t chunks = (count + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (run_parallel(count))
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk;
    convert_to_bf16_range(x + begin, std::min(kChunk, count - begin), out + begin);
  }
}

void quantize_weights_s8(const float* w, int64_t n, int64_t k, int8_t* q, float* scales,
                         int32_t* col_sums) {
#pragma omp parallel for schedule(static) if (run_parallel(n * k))
  for (int64_t j = 0; j < n; ++j) {
    quantize_weight_row(w + j * k, k, q + j * k, scales + j, col_sums + j);
  }
}

std::vector<float> smoothing_factors(const float* activation_peaks, const float* w, int64_t n,
                                     int64_t k, float strength) {
  constexpr float kFloor = 1e-5f;
  std::vector<float> weight_peaks(k, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t p = 0; p < k; ++p) weight_peaks[p] = std::max(weight_peaks[p], std::fabs(w[j * k + p]));
  }
  std::vector<float> factors(k, 1.0f);
  for (int64_t p = 0; p < k; ++p) {
    const float a = activation_peaks[p];
    const float b = weight_peaks[p];
    if (!std::isfinite(a) || !std::isfinite(b)) continue;
    factors[p] = std::pow(std::max(a, kFloor), strength) / std::pow(std::max(b, kFloor), 1.0f - strength);
  }
  return factors;
}

void quantize_rows_u8(const float* x, int64_t m, int64_t k, uint8_t* q, float* scales,
                      int32_t* zero_points, const float* channel_multipliers) {
  static const bool avx512 = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                             __builtin_cpu_supports("avx512vl");
  auto* row_kernel = avx512 ? quantize_row_u8_avx512 : quantize_row_u8_plain;
#pragma omp parallel for schedule(static) if (run_parallel(m * k))
  for (int64_t i = 0; i < m; ++i) {
    row_kernel(x + i * k, k, q + i * k, scales + i, zero_points + i, channel_multipliers);
  }
}

void dequantize_int8_product(int64_t m, int64_t n, const float* row_scales,
                             const int32_t* row_zero_points, const float* col_scales,
                             const int32_t* col_sums, const float* bias, float* y) {
  dequantize_int8_product(m, n, reinterpret_cast<const int32_t*>(y), row_scales, row_zero_points,
                          col_scales, col_sums, bias, false, std::nullopt, y);
}

void dequantize_int8_product(int64_t m, int64_t n, const int32_t* acc, const float* row_scales,
                             const int32_t* row_zero_points, const float* col_scales,
                             const int32_t* col_sums, const float* bias, bool accumulate,
                             std::optional<Activation> activation, float* y) {
  const auto* acc_bits = reinterpret_cast<const float*>(acc);
#pragma omp parallel for schedule(static) if (run_parallel(m * n))
  for (int64_t i = 0; i < m; ++i) {
    float* row = y + i * n;
    dequantize_row(n, acc_bits + i * n, row_scales[i], row_zero_points[i], col_scales, col_sums,
                   bias, accumulate, row);
    if (activation) apply_activation_serial(*activation, row, n);
  }
}

}  // namespace salvo
