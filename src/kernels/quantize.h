// Number-format conversions behind PackedLinear's bf16 and int8 modes.
//
// Each function is one vectorised pass (AVX-512 / AVX2 clones picked at load time) and splits its
// rows across the OpenMP threads when called outside a parallel region on enough data. Every one
// is checked against a plain scalar reference in tests/unit/kernels/quantize_test.cc.
#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/activations.h"

namespace salvo {

// float32 -> bfloat16 (the upper 16 bits), rounded to nearest, ties to even. Infinities stay
// infinite, finite values beyond bf16's range round to infinity, and NaN stays NaN (made quiet,
// sign kept): exactly what a hardware vcvtneps2bf16 does.
void convert_to_bf16(const float* x, int64_t count, uint16_t* out);

// The float32 value of a bfloat16 (exact).
inline float bf16_to_float(uint16_t v) { return std::bit_cast<float>(uint32_t{v} << 16); }

// Symmetric per-row int8 quantisation of a weight matrix w[n, k] (one row per output channel):
// scales[j] = max|w[j, :]| / 127, q[j, p] = round(w[j, p] / scales[j]) in [-127, 127], and
// col_sums[j] = sum_p q[j, p] (the zero-point correction the int8 product needs). A row of
// zeros (or one whose largest magnitude is below FLT_MIN) gets scale 0 and q = 0; a row holding
// NaN or infinity gets scale NaN, so that output channel comes out NaN as it would in float.
void quantize_weights_s8(const float* w, int64_t n, int64_t k, int8_t* q, float* scales,
                         int32_t* col_sums);

// SmoothQuant's factors (Xiao et al. 2023) for a product x W^T with W [n, k] row-major:
// s[p] = a[p]^strength / b[p]^(1 - strength), where a[p] is the largest |x[:, p]| a calibration
// run saw (activation_peaks) and b[p] = max_j |W[j, p]|. Dividing x[:, p] and multiplying W[:, p]
// by s[p] moves that share of an activation channel's size into the weights (at strength 0.5
// both peaks become sqrt(a[p] b[p])), so a channel far larger than the rest no longer sets its
// whole row's scale. Peaks below 1e-5 count as 1e-5 (a channel the calibration never saw
// active, or a zero weight column, keeps a finite factor); a channel whose peak is not finite
// gets factor 1.
std::vector<float> smoothing_factors(const float* activation_peaks, const float* w, int64_t n,
                                     int64_t k, float strength);

// Asymmetric per-row uint8 quantisation of activations x[m, k]: for each row, the range
// [min(x, 0), max(x, 0)] maps onto [0, 255]: scale = range / 255, zero_point = round(-min / scale),
// q = clamp(round(x / scale) + zero_point, 0, 255), so x ~= scale * (q - zero_point). Zero is
// exact. A row whose range is below 255 * FLT_MIN (~3e-36; all zeros, say) gets scale 0, zero point 0 and q = 0;
// a row holding NaN or infinity gets scale NaN (q = 0), so its output row comes out NaN.
// One pass per row finds the range, the second quantises it while it is still in L1/L2.
// With `channel_multipliers` (k entries) the row quantised is x[i, p] * channel_multipliers[p]
// instead: the activation side of a smoothed product (see PackedLinear's input_smoothing).
void quantize_rows_u8(const float* x, int64_t m, int64_t k, uint8_t* q, float* scales,
                      int32_t* zero_points, const float* channel_multipliers = nullptr);

// Epilogue of the int8 product, in place over y[m, n]: on entry y holds the int32 accumulators
// acc[i, j] = sum_p qx[i, p] * qw[j, p] (their bit patterns, as oneDNN's s32 output wrote them);
// on return y[i, j] = row_scales[i] * col_scales[j] * (acc[i, j] - row_zero_points[i] *
// col_sums[j]) + bias[j]. `bias` may be null.
void dequantize_int8_product(int64_t m, int64_t n, const float* row_scales,
                             const int32_t* row_zero_points, const float* col_scales,
                             const int32_t* col_sums, const float* bias, float* y);

// The same epilogue with PackedLinear's fusions, still one pass over y: the int32 accumulators
// are read from `acc` (which may be y itself, as above, unless `accumulate`), and
// y[i, j] = activation(scaled product + bias[j] + (accumulate ? y[i, j] on entry : 0)), the
// activation computed as apply_activation does while the row is in cache. `bias` may be null.
void dequantize_int8_product(int64_t m, int64_t n, const int32_t* acc, const float* row_scales,
                             const int32_t* row_zero_points, const float* col_scales,
                             const int32_t* col_sums, const float* bias, bool accumulate,
                             std::optional<Activation> activation, float* y);

}  // namespace salvo
