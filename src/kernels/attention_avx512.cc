#include "kernels/attention_avx512.h"

// GCC 12's AVX-512 headers initialise their "undefined" vectors from themselves, which
// -Wmaybe-uninitialized reports at every inlined use (a false positive fixed in later GCCs).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>

// Compiled for AVX-512 whatever the build's baseline; packed_attention calls these only after
// cpu_has_*_kernel() said yes. (Not target_clones: one ISA level, so no IFUNC resolver, which
// keeps them usable under ThreadSanitizer.)
#define SALVO_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define SALVO_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

namespace salvo::attention {
namespace {

// Query rows per block: a 64 x 512 score block (128 KiB) stays in L2.
constexpr int64_t kQueryBlock = 64;

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

template <typename T>
T* grow(std::vector<T>& buffer, size_t n) {
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

uint32_t load_pair(const uint16_t* p) {
  uint32_t pair;
  std::memcpy(&pair, p, sizeof pair);
  return pair;
}

// e^x for x <= 0 (a score minus its row's maximum): x / ln 2 split into an integer n and a
// remainder r in [-ln2/2, ln2/2], e^r by its degree-6 Taylor-like polynomial (relative error about
// 2 ulp), times 2^n by vscalefps. Below -87.3 the result is about 1e-38, not 0.
SALVO_AVX512 inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

__mmask16 lanes_left(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
}

// The softmax of one score row of len keys, without its division: adds the bias row (when not
// null) to s, stores e^(s_j - max) for j < len (and zeros up to the next multiple of 16) through
// `store`, and returns 1 / sum_j e^(s_j - max), which the value product applies to its output row.
template <typename Store>
SALVO_AVX512 inline float softmax_numerators(float* s, const float* bias, int64_t len, Store store) {
  __m512 max = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 mask = lanes_left(len - j);
    __m512 x = _mm512_maskz_loadu_ps(mask, s + j);
    if (bias != nullptr) {
      x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, bias + j));
      _mm512_mask_storeu_ps(s + j, mask, x);
    }
    max = _mm512_mask_max_ps(max, mask, max, x);
  }
  const __m512 row_max = _mm512_set1_ps(_mm512_reduce_max_ps(max));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 mask = lanes_left(len - j);
    const __m512 e = _mm512_maskz_mov_ps(mask, exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, s + j), row_max)));
    sum = _mm512_add_ps(sum, e);
    store(j, e);
  }
  return 1.0f / _mm512_reduce_add_ps(sum);
}

// Calls TILE(MR) for the MR in 1..8 that equals `rows`.
#define SALVO_SWITCH_ROWS(rows, TILE) \
  switch (rows) {                     \
    case 8: TILE(8); break;           \
    case 7: TILE(7); break;           \
    case 6: TILE(6); break;           \
    case 5: TILE(5); break;           \
    case 4: TILE(4); break;           \
    case 3: TILE(3); break;           \
    case 2: TILE(2); break;           \
    case 1: TILE(1); break;           \
    default: break;                   \
  }

// ---- float32 ----

// s[i][0:16 NV] = scale * sum_c q[i][c] kt[c][0:16 NV] for i < MR.
template <int MR, int NV>
SALVO_AVX512 inline void scores_tile_f32(const float* q, int64_t ldq, const float* kt, int64_t ldk, int64_t d,
                                         float scale, float* s, int64_t lds) {
  __m512 acc[MR][NV];
  for (int i = 0; i < MR; ++i) {
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  }
  for (int64_t c = 0; c < d; ++c) {
    __m512 keys[NV];
    for (int v = 0; v < NV; ++v) keys[v] = _mm512_loadu_ps(kt + c * ldk + 16 * v);
    for (int i = 0; i < MR; ++i) {
      const __m512 query = _mm512_set1_ps(q[i * ldq + c]);
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(query, keys[v], acc[i][v]);
    }
  }
  const __m512 factor = _mm512_set1_ps(scale);
  for (int i = 0; i < MR; ++i) {
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(s + i * lds + 16 * v, _mm512_mul_ps(acc[i][v], factor));
  }
}

// Scores of `count` queries against all lp (a multiple of 16) packed keys.
SALVO_AVX512 void scores_f32(const float* q, int64_t ldq, int64_t count, const float* kt, int64_t lp, int64_t d,
                             float scale, float* s) {
  for (int64_t j = 0; j < lp; j += 32) {
    const bool two = j + 32 <= lp;
    for (int64_t i = 0; i < count; i += 8) {
      const float* qi = q + i * ldq;
      float* si = s + i * lp + j;
#define SALVO_TILE(MR)                                                \
  if (two) {                                                          \
    scores_tile_f32<MR, 2>(qi, ldq, kt + j, lp, d, scale, si, lp);    \
  } else {                                                            \
    scores_tile_f32<MR, 1>(qi, ldq, kt + j, lp, d, scale, si, lp);    \
  }
      SALVO_SWITCH_ROWS(std::min<int64_t>(8, count - i), SALVO_TILE)
#undef SALVO_TILE
    }
  }
}

// out[i][0:16 NV] = inv[i] * sum_{j < len} p[i][j] v[j][0:16 NV] for i < MR.
template <int MR, int NV>
SALVO_AVX512 inline void pv_tile_f32(const float* p, int64_t ldp, const float* inv, const float* v, int64_t ldv,
                                     int64_t len, float* out, int64_t ldo) {
  __m512 acc[MR][NV];
  for (int i = 0; i < MR; ++i) {
    for (int w = 0; w < NV; ++w) acc[i][w] = _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < len; ++j) {
    __m512 values[NV];
    for (int w = 0; w < NV; ++w) values[w] = _mm512_loadu_ps(v + j * ldv + 16 * w);
    for (int i = 0; i < MR; ++i) {
      const __m512 prob = _mm512_set1_ps(p[i * ldp + j]);
      for (int w = 0; w < NV; ++w) acc[i][w] = _mm512_fmadd_ps(prob, values[w], acc[i][w]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    const __m512 factor = _mm512_set1_ps(inv[i]);
    for (int w = 0; w < NV; ++w) _mm512_storeu_ps(out + i * ldo + 16 * w, _mm512_mul_ps(acc[i][w], factor));
  }
}

// Rows of MR queries times NV vectors of the head; MR * NV stays within 24 accumulators.
template <int NV>
SALVO_AVX512 void pv_columns_f32(const float* p, int64_t ldp, const float* inv, int64_t count, const float* v,
                                 int64_t ldv, int64_t len, float* out, int64_t ldo) {
  constexpr int kRows = NV == 4 ? 6 : 8;
  for (int64_t i = 0; i < count; i += kRows) {
    const float* pi = p + i * ldp;
    float* oi = out + i * ldo;
#define SALVO_TILE(MR) \
  if constexpr (MR <= kRows) pv_tile_f32<MR, NV>(pi, ldp, inv + i, v, ldv, len, oi, ldo);
    SALVO_SWITCH_ROWS(std::min<int64_t>(kRows, count - i), SALVO_TILE)
#undef SALVO_TILE
  }
}

SALVO_AVX512 void pv_f32(const float* p, int64_t ldp, const float* inv, int64_t count, const float* v, int64_t ldv,
                         int64_t len, int64_t d, float* out, int64_t ldo) {
  for (int64_t c = 0; c < d;) {
    const int64_t vectors = std::min<int64_t>(4, (d - c) / 16);
    switch (vectors) {
      case 4: pv_columns_f32<4>(p, ldp, inv, count, v + c, ldv, len, out + c, ldo); break;
      case 3: pv_columns_f32<3>(p, ldp, inv, count, v + c, ldv, len, out + c, ldo); break;
      case 2: pv_columns_f32<2>(p, ldp, inv, count, v + c, ldv, len, out + c, ldo); break;
      default: pv_columns_f32<1>(p, ldp, inv, count, v + c, ldv, len, out + c, ldo); break;
    }
    c += 16 * vectors;
  }
}

// ---- bfloat16 ----

// bf16 lanes of 16 floats, rounded to nearest even.
SALVO_AVX512_BF16 inline __m256i to_bf16(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }

// s[i][0:16 NV] = sum over pairs c of dot(q[i][2c:2c+2], kp[c][0:16 NV][0:2]) for i < MR, in
// float32; q already carries the scale.
template <int MR, int NV>
SALVO_AVX512_BF16 inline void scores_tile_bf16(const uint16_t* q, int64_t ldq, const uint32_t* kp, int64_t ldk,
                                               int64_t pairs, float* s, int64_t lds) {
  __m512 acc[MR][NV];
  for (int i = 0; i < MR; ++i) {
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  }
  for (int64_t c = 0; c < pairs; ++c) {
    __m512bh keys[NV];
    for (int v = 0; v < NV; ++v) keys[v] = (__m512bh)_mm512_loadu_si512(kp + c * ldk + 16 * v);
    for (int i = 0; i < MR; ++i) {
      const __m512bh query = (__m512bh)_mm512_set1_epi32(static_cast<int>(load_pair(q + i * ldq + 2 * c)));
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], keys[v], query);
    }
  }
  for (int i = 0; i < MR; ++i) {
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(s + i * lds + 16 * v, acc[i][v]);
  }
}

SALVO_AVX512_BF16 void scores_bf16(const uint16_t* q, int64_t ldq, int64_t count, const uint32_t* kp, int64_t lp,
                                   int64_t pairs, float* s) {
  for (int64_t j = 0; j < lp; j += 32) {
    const bool two = j + 32 <= lp;
    for (int64_t i = 0; i < count; i += 8) {
      const uint16_t* qi = q + i * ldq;
      float* si = s + i * lp + j;
#define SALVO_TILE(MR)                                              \
  if (two) {                                                        \
    scores_tile_bf16<MR, 2>(qi, ldq, kp + j, lp, pairs, si, lp);    \
  } else {                                                          \
    scores_tile_bf16<MR, 1>(qi, ldq, kp + j, lp, pairs, si, lp);    \
  }
      SALVO_SWITCH_ROWS(std::min<int64_t>(8, count - i), SALVO_TILE)
#undef SALVO_TILE
    }
  }
}

// softmax_numerators of one score row, stored as bf16 probabilities p[0:lp) (zeros past len, for
// the value product's pairs); returns 1 / the row's sum.
SALVO_AVX512_BF16 inline float softmax_to_bf16(float* s, const float* bias, int64_t len, int64_t lp, uint16_t* p) {
  const float inverse = softmax_numerators(s, bias, len, [p](int64_t j, __m512 e) SALVO_AVX512_BF16 {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + j), to_bf16(e));
  });
  // Zeros from the last stored vector up to the row's width.
  std::fill(p + round_up(len, 16), p + lp, uint16_t{0});
  return inverse;
}

// out[i][0:16 NV] = inv[i] * sum over key pairs j of dot(p[i][2j:2j+2], vp[j][0:16 NV][0:2]) for
// i < MR.
template <int MR, int NV>
SALVO_AVX512_BF16 inline void pv_tile_bf16(const uint16_t* p, int64_t ldp, const float* inv, const uint32_t* vp,
                                           int64_t ldv, int64_t pairs, float* out, int64_t ldo) {
  __m512 acc[MR][NV];
  for (int i = 0; i < MR; ++i) {
    for (int w = 0; w < NV; ++w) acc[i][w] = _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < pairs; ++j) {
    __m512bh values[NV];
    for (int w = 0; w < NV; ++w) values[w] = (__m512bh)_mm512_loadu_si512(vp + j * ldv + 16 * w);
    for (int i = 0; i < MR; ++i) {
      const __m512bh prob = (__m512bh)_mm512_set1_epi32(static_cast<int>(load_pair(p + i * ldp + 2 * j)));
      for (int w = 0; w < NV; ++w) acc[i][w] = _mm512_dpbf16_ps(acc[i][w], values[w], prob);
    }
  }
  for (int i = 0; i < MR; ++i) {
    const __m512 factor = _mm512_set1_ps(inv[i]);
    for (int w = 0; w < NV; ++w) _mm512_storeu_ps(out + i * ldo + 16 * w, _mm512_mul_ps(acc[i][w], factor));
  }
}

template <int NV>
SALVO_AVX512_BF16 void pv_columns_bf16(const uint16_t* p, int64_t ldp, const float* inv, int64_t count,
                                       const uint32_t* vp, int64_t ldv, int64_t pairs, float* out, int64_t ldo) {
  constexpr int kRows = NV == 4 ? 6 : 8;
  for (int64_t i = 0; i < count; i += kRows) {
    const uint16_t* pi = p + i * ldp;
    float* oi = out + i * ldo;
#define SALVO_TILE(MR) \
  if constexpr (MR <= kRows) pv_tile_bf16<MR, NV>(pi, ldp, inv + i, vp, ldv, pairs, oi, ldo);
    SALVO_SWITCH_ROWS(std::min<int64_t>(kRows, count - i), SALVO_TILE)
#undef SALVO_TILE
  }
}

SALVO_AVX512_BF16 void pv_bf16(const uint16_t* p, int64_t ldp, const float* inv, int64_t count, const uint32_t* vp,
                               int64_t pairs, int64_t d, float* out, int64_t ldo) {
  for (int64_t c = 0; c < d;) {
    const int64_t vectors = std::min<int64_t>(4, (d - c) / 16);
    switch (vectors) {
      case 4: pv_columns_bf16<4>(p, ldp, inv, count, vp + c, d, pairs, out + c, ldo); break;
      case 3: pv_columns_bf16<3>(p, ldp, inv, count, vp + c, d, pairs, out + c, ldo); break;
      case 2: pv_columns_bf16<2>(p, ldp, inv, count, vp + c, d, pairs, out + c, ldo); break;
      default: pv_columns_bf16<1>(p, ldp, inv, count, vp + c, d, pairs, out + c, ldo); break;
    }
    c += 16 * vectors;
  }
}

// Token rows of one head are 3 * hidden floats apart, more than a 4 KiB page from MiniLM's size
// up, and the hardware prefetchers stay inside a page; so the pass that packs the keys asks
// for the rows kPrefetchAhead tokens on: the keys into L1, the queries and values into L2, where the
// products then find them. (Worth a few per cent on a batch whose QKV output is out of cache; the
// kernel still waits on memory for much of its time there.)
constexpr int64_t kPrefetchAhead = 16;

template <_mm_hint kHint>
void prefetch_floats(const float* p, int64_t floats) {
  for (int64_t c = 0; c < floats; c += 16) _mm_prefetch(reinterpret_cast<const char*>(p + c), kHint);
}

void prefetch_token(const HeadView& head, int64_t j) {
  if (j >= head.len) return;
  prefetch_floats<_MM_HINT_T0>(head.k + j * head.ld, head.head_dim);
  prefetch_floats<_MM_HINT_T1>(head.q + j * head.ld, head.head_dim);
  prefetch_floats<_MM_HINT_T1>(head.v + j * head.ld, head.head_dim);
}

// Transposes the 16 x 16 block of 32-bit values in r: r[c][t] takes r[t][c]. Four rounds of
// shuffles: pairs of rows interleaved, then groups of four within each 128-bit lane, then the
// lanes themselves (a 4 x 4 transpose of 128-bit blocks, in two rounds).
SALVO_AVX512 inline void transpose_16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4g + m], lane L: column 4L + m of rows 4g .. 4g + 3.
  __m512 u[16];
  for (int g = 0; g < 4; ++g) {
    u[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  // Column 4L + m is lane L of u[m], u[4 + m], u[8 + m] and u[12 + m].
  for (int m = 0; m < 4; ++m) {
    const __m512 low01 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x44);
    const __m512 high01 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xEE);
    const __m512 low23 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x44);
    const __m512 high23 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xEE);
    r[m] = _mm512_shuffle_f32x4(low01, low23, 0x88);
    r[4 + m] = _mm512_shuffle_f32x4(low01, low23, 0xDD);
    r[8 + m] = _mm512_shuffle_f32x4(high01, high23, 0x88);
    r[12 + m] = _mm512_shuffle_f32x4(high01, high23, 0xDD);
  }
}

// Calls block(j0, rows) for each block of 16 tokens of the head's keys up to lp (rows < 16 in the
// last block when len is not a multiple of 16, 0 past len), asking for the head's rows
// kPrefetchAhead tokens on (prefetch_token).
template <typename Block>
inline void for_each_key_block(const HeadView& head, int64_t lp, Block&& block) {
  for (int64_t j = 0; j < std::min(kPrefetchAhead, head.len); ++j) prefetch_token(head, j);
  for (int64_t j0 = 0; j0 < lp; j0 += 16) {
    for (int64_t j = j0; j < j0 + 16; ++j) prefetch_token(head, j + kPrefetchAhead);
    block(j0, std::clamp<int64_t>(head.len - j0, 0, 16));
  }
}

// kp[c][j] = the bf16 pair (k[j][2c], k[j][2c+1]) for j < len, zero for len <= j < lp: 16 tokens
// by 16 pairs at a time, each token's 32 channels converted into one vector of pairs and the block
// transposed.
SALVO_AVX512_BF16 void pack_keys_bf16(const HeadView& head, int64_t lp, uint32_t* kp) {
  for_each_key_block(head, lp, [&](int64_t j0, int64_t rows) SALVO_AVX512_BF16 {
    for (int64_t c0 = 0; c0 < head.head_dim; c0 += 32) {
      // The head size is a multiple of 16: the last block may hold 16 channels, 8 pairs.
      const bool full = c0 + 32 <= head.head_dim;
      __m512 block[16];
      for (int64_t t = 0; t < 16; ++t) {
        if (t >= rows) {
          block[t] = _mm512_setzero_ps();
          continue;
        }
        const float* k = head.k + (j0 + t) * head.ld + c0;
        const __m512 high = full ? _mm512_loadu_ps(k + 16) : _mm512_setzero_ps();
        block[t] = (__m512)_mm512_cvtne2ps_pbh(high, _mm512_loadu_ps(k));
      }
      transpose_16x16(block);
      for (int64_t c = 0; c < (full ? 16 : 8); ++c) {
        _mm512_storeu_ps(reinterpret_cast<float*>(kp + (c0 / 2 + c) * lp + j0), block[c]);
      }
    }
  });
}

// vp[j][c] = the bf16 pair (v[2j][c], v[2j+1][c]), with v[len] = 0 when len is odd.
SALVO_AVX512_BF16 void pack_values_bf16(const HeadView& head, uint32_t* vp) {
  // Word 2i of the result takes word i of the even row, word 2i+1 word i of the odd one.
  alignas(64) static constexpr uint16_t kInterleave[32] = {0,  16, 1,  17, 2,  18, 3,  19, 4,  20, 5,
                                                           21, 6,  22, 7,  23, 8,  24, 9,  25, 10, 26,
                                                           11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i interleave = _mm512_load_si512(kInterleave);
  for (int64_t j = 0; j < head.len; j += 2) {
    const float* even = head.v + j * head.ld;
    const float* odd = j + 1 < head.len ? even + head.ld : nullptr;
    uint32_t* out = vp + (j / 2) * head.head_dim;
    for (int64_t c = 0; c < head.head_dim; c += 16) {
      const __m512 lo = _mm512_loadu_ps(even + c);
      const __m512 hi = odd != nullptr ? _mm512_loadu_ps(odd + c) : _mm512_setzero_ps();
      // Words 0..15: the even row; words 16..31: the odd row.
      const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
      _mm512_storeu_si512(out + c, _mm512_permutexvar_epi16(interleave, both));
    }
  }
}

// q[i][0:d] * scale in bf16 for the `count` queries from q0.
SALVO_AVX512_BF16 void convert_queries_bf16(const HeadView& head, int64_t q0, int64_t count, uint16_t* out) {
  const __m512 scale = _mm512_set1_ps(head.scale);
  for (int64_t i = 0; i < count; ++i) {
    const float* q = head.q + (q0 + i) * head.ld;
    for (int64_t c = 0; c < head.head_dim; c += 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i * head.head_dim + c),
                          to_bf16(_mm512_mul_ps(_mm512_loadu_ps(q + c), scale)));
    }
  }
}

}  // namespace

bool fused_head_dim(int64_t head_dim) { return head_dim > 0 && head_dim % 16 == 0 && head_dim <= kMaxHeadDim; }

bool cpu_has_f32_kernel() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return has;
}

bool cpu_has_bf16_kernel() {
  static const bool has = cpu_has_f32_kernel() && __builtin_cpu_supports("avx512bf16");
  return has;
}

// K^T [head_dim][lp] in float32, zero past len, 16 x 16 blocks at a time.
SALVO_AVX512 void transpose_keys_f32(const HeadView& head, int64_t lp, float* kt) {
  for_each_key_block(head, lp, [&](int64_t j0, int64_t rows) SALVO_AVX512 {
    for (int64_t c0 = 0; c0 < head.head_dim; c0 += 16) {
      __m512 block[16];
      for (int64_t t = 0; t < 16; ++t) {
        block[t] = t < rows ? _mm512_loadu_ps(head.k + (j0 + t) * head.ld + c0) : _mm512_setzero_ps();
      }
      transpose_16x16(block);
      for (int64_t c = 0; c < 16; ++c) _mm512_storeu_ps(kt + (c0 + c) * lp + j0, block[c]);
    }
  });
}

SALVO_AVX512 void attend_f32(const HeadView& head, Workspace* work) {
  const int64_t len = head.len;
  const int64_t d = head.head_dim;
  const int64_t lp = round_up(len, 16);
  float* kt = grow(work->keys, d * lp);
  transpose_keys_f32(head, lp, kt);
  const int64_t block = std::min(kQueryBlock, len);
  float* scores = grow(work->scores, block * lp);
  float* inv = grow(work->inverse_sums, block);
  for (int64_t q0 = 0; q0 < len; q0 += kQueryBlock) {
    const int64_t count = std::min(kQueryBlock, len - q0);
    scores_f32(head.q + q0 * head.ld, head.ld, count, kt, lp, d, head.scale, scores);
    for (int64_t i = 0; i < count; ++i) {
      float* s = scores + i * lp;
      inv[i] = softmax_numerators(s, head.bias != nullptr ? head.bias - (q0 + i) : nullptr, len,
                                  [s](int64_t j, __m512 e) SALVO_AVX512 { _mm512_storeu_ps(s + j, e); });
    }
    pv_f32(scores, lp, inv, count, head.v, head.ld, len, d, head.out + q0 * head.ldo, head.ldo);
  }
}

namespace {

// attend_bf16 (kBf16Scores) and attend_bf16_values: the value product in bf16, the scores in bf16
// or in float32.
template <bool kBf16Scores>
SALVO_AVX512_BF16 void attend_bf16_products(const HeadView& head, Workspace* work) {
  const int64_t len = head.len;
  const int64_t d = head.head_dim;
  const int64_t lp = round_up(len, 16);
  const int64_t value_pairs = round_up(len, 2) / 2;
  const int64_t block = std::min(kQueryBlock, len);
  uint32_t* kp = nullptr;
  uint16_t* queries = nullptr;
  float* kt = nullptr;
  if constexpr (kBf16Scores) {
    kp = grow(work->keys_bf16, (d / 2) * lp);
    pack_keys_bf16(head, lp, kp);
    queries = grow(work->queries_bf16, block * d);
  } else {
    kt = grow(work->keys, d * lp);
    transpose_keys_f32(head, lp, kt);
  }
  uint32_t* vp = grow(work->values_bf16, value_pairs * d);
  pack_values_bf16(head, vp);
  float* scores = grow(work->scores, block * lp);
  uint16_t* probs = grow(work->probs_bf16, block * lp);
  float* inv = grow(work->inverse_sums, block);
  for (int64_t q0 = 0; q0 < len; q0 += kQueryBlock) {
    const int64_t count = std::min(kQueryBlock, len - q0);
    if constexpr (kBf16Scores) {
      convert_queries_bf16(head, q0, count, queries);
      scores_bf16(queries, d, count, kp, lp, d / 2, scores);
    } else {
      scores_f32(head.q + q0 * head.ld, head.ld, count, kt, lp, d, head.scale, scores);
    }
    for (int64_t i = 0; i < count; ++i) {
      inv[i] = softmax_to_bf16(scores + i * lp, head.bias != nullptr ? head.bias - (q0 + i) : nullptr, len, lp,
                               probs + i * lp);
    }
    pv_bf16(probs, lp, inv, count, vp, value_pairs, d, head.out + q0 * head.ldo, head.ldo);
  }
}

}  // namespace

SALVO_AVX512_BF16 void attend_bf16(const HeadView& head, Workspace* work) { attend_bf16_products<true>(head, work); }

SALVO_AVX512_BF16 void attend_bf16_values(const HeadView& head, Workspace* work) {
  attend_bf16_products<false>(head, work);
}

}  // namespace salvo::attention
