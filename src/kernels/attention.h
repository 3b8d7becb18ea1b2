// Multi-head self-attention over sequences packed end to end without padding.
#pragma once

#include <cstdint>

#include "kernels/gemm.h"

namespace salvo {

// An additive bias on the attention scores that depends only on the head and on the key's position
// relative to the query's (MPNet's relative position buckets, looked up once per batch).
struct RelativePositionBias {
  // [heads, 2 * max_offset + 1]: the bias of key j for query i of head h is
  // values[h * (2 * max_offset + 1) + max_offset + (j - i)].
  const float* values = nullptr;
  // The largest |j - i| the table covers: at least the longest sequence's length minus one.
  int64_t max_offset = 0;
};

// For every sequence r (tokens [offsets[r], offsets[r+1])) and head h:
//   ctx_h = softmax(Q_h K_h^T / sqrt(head_dim) + B_h) V_h
// where B_h is `bias`'s table for head h (zero when `bias` is null).
// qkv is [tokens, 3 * heads * head_dim], each row holding Q | K | V with heads contiguous inside
// each block (the output of the fused QKV projection); ctx is [tokens, heads * head_dim].
// Each sequence attends only to itself, so no mask is needed. Uses all OpenMP threads, spread over
// (sequence, head).
//
// `precision` is the number format of the two products (QK^T and PV), always accumulated in float32,
// with the softmax in float32:
//   kF32   float32 throughout;
//   kBF16  Q, K, V and the probabilities rounded to bfloat16 (vdpbf16ps). Needs AVX512_BF16
//          (attention_bf16_available()); Error kBackend otherwise. Head sizes the fused kernel
//          does not take (not a multiple of 16) run in float32.
// kInt8 is refused (Error kInvalidArgument). On a CPU with AVX-512 and a head size that is a
// multiple of 16 (up to 256), one fused kernel per (sequence, head) keeps its scores in L2; other
// shapes and CPUs run per-head matrix products.
void packed_attention(const float* qkv, const int32_t* offsets, int64_t rows, int64_t heads,
                      int64_t head_dim, float* ctx, const RelativePositionBias* bias = nullptr,
                      Precision precision = Precision::kF32);

// Whether packed_attention runs Precision::kBF16 on this CPU.
bool attention_bf16_available();

}  // namespace salvo
