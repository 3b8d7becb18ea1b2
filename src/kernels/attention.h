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

// The number formats of attention's two products, each accumulated in float32, with the softmax
// in float32:
//   scores  Q K^T: kF32, or kBF16 (the scaled queries and the keys rounded to bfloat16);
//   values  P V:   kF32, or kBF16 (the probabilities and the values rounded to bfloat16).
struct AttentionPrecision {
  Precision scores = Precision::kF32;
  Precision values = Precision::kF32;
};

// For every sequence r (tokens [offsets[r], offsets[r+1])) and head h:
//   ctx_h = softmax(Q_h K_h^T / sqrt(head_dim) + B_h) V_h
// where B_h is `bias`'s table for head h (zero when `bias` is null).
// qkv is [tokens, 3 * heads * head_dim], each row holding Q | K | V with heads contiguous inside
// each block (the output of the fused QKV projection); ctx is [tokens, heads * head_dim].
// Each sequence attends only to itself, so no mask is needed. Uses all OpenMP threads, spread over
// (sequence, head).
//
// The products run with vdpbf16ps where `precision` asks for bf16, which needs AVX512_BF16
// (attention_bf16_available(); Error kBackend otherwise). bf16 scores need bf16 values, and kInt8
// is refused (Error kInvalidArgument). On a CPU with AVX-512 and a head size that is a multiple of
// 16 (up to 256), one fused kernel per (sequence, head) keeps its scores in L2; other shapes and
// CPUs run per-head matrix products in float32, whatever `precision` asks.
void packed_attention(const float* qkv, const int32_t* offsets, int64_t rows, int64_t heads,
                      int64_t head_dim, float* ctx, const RelativePositionBias* bias = nullptr,
                      AttentionPrecision precision = {});

// Whether packed_attention runs bf16 products on this CPU.
bool attention_bf16_available();

}  // namespace salvo
