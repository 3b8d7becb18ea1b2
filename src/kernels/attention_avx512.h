// Fused attention for one (sequence, head): the AVX-512 kernels behind packed_attention.
//
// Internal to kernels/: packed_attention picks these when the CPU has the instructions and the
// head size is a multiple of 16, and falls back to per-head matrix products otherwise.
#pragma once

#include <cstdint>
#include <vector>

namespace salvo::attention {

// One sequence's view of one head: row t of q / k / v is the token's query / key / value slice
// (head_dim floats at stride ld); out row t (stride ldo) receives the token's context slice.
struct HeadView {
  const float* q;
  const float* k;
  const float* v;
  float* out;
  int64_t len;
  int64_t ld;
  int64_t ldo;
  int64_t head_dim;
  float scale;
  // Null, or this head's relative-position bias row: the bias of key j for query i is
  // bias[j - i], valid for |j - i| < len.
  const float* bias;
};

// Per-thread working memory, grown to the largest sequence seen.
struct Workspace {
  std::vector<float> keys;          // K^T [head_dim][padded len]
  std::vector<float> scores;        // [query block][padded len]
  std::vector<float> inverse_sums;  // [query block]: 1 / each row's softmax denominator
  std::vector<uint32_t> keys_bf16;    // [head_dim / 2][padded len]: bf16 pairs along the head
  std::vector<uint32_t> values_bf16;  // [len / 2][head_dim]: bf16 pairs along the sequence
  std::vector<uint16_t> queries_bf16;  // [query block][head_dim], the scale applied
  std::vector<uint16_t> probs_bf16;   // [query block][padded len]
};

// The head sizes the fused kernels take: multiples of 16 up to kMaxHeadDim.
constexpr int64_t kMaxHeadDim = 256;
bool fused_head_dim(int64_t head_dim);

// What this CPU runs (checked once): AVX-512 F/BW/VL/DQ for the f32 kernel, plus AVX512_BF16 for
// the bf16 one.
bool cpu_has_f32_kernel();
bool cpu_has_bf16_kernel();

// ctx = softmax(scale * Q K^T + bias) V with float32 products and accumulation.
void attend_f32(const HeadView& head, Workspace* work);
// The same with both products in bf16: the scaled queries, the keys, the probabilities and the
// values rounded to bfloat16 (nearest even), multiplied by vdpbf16ps and accumulated in float32;
// the softmax runs in float32.
void attend_bf16(const HeadView& head, Workspace* work);
// The scores in float32, as attend_f32; the value product in bf16, as attend_bf16.
void attend_bf16_values(const HeadView& head, Workspace* work);

}  // namespace salvo::attention
