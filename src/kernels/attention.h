// Multi-head self-attention over sequences packed end to end without padding.
#pragma once

#include <cstdint>

namespace salvo {

// For every sequence r (tokens [offsets[r], offsets[r+1])) and head h:
//   ctx_h = softmax(Q_h K_h^T / sqrt(head_dim)) V_h
// qkv is [tokens, 3 * heads * head_dim], each row holding Q | K | V with heads contiguous inside
// each block (the output of the fused QKV projection); ctx is [tokens, heads * head_dim].
// Each sequence attends only to itself, so no mask is needed. Uses all OpenMP threads, spread over
// (sequence, head, block of query rows).
void packed_attention(const float* qkv, const int32_t* offsets, int64_t rows, int64_t heads,
                      int64_t head_dim, float* ctx);

}  // namespace salvo
