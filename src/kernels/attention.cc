#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/attention_avx512.h"
#include "kernels/gemm.h"
#include "kernels/softmax.h"

namespace salvo {
namespace {

// Query rows per block of the fallback path: a 64 x 512 score block (128 KiB) stays in L2.
constexpr int64_t kQueryBlock = 64;

// The fallback: per-head matrix products through gemm(), for head sizes and CPUs the fused
// kernels do not take.
void attend_with_gemm(const attention::HeadView& head, std::vector<float>* scores) {
  if (static_cast<int64_t>(scores->size()) < kQueryBlock * head.len) scores->resize(kQueryBlock * head.len);
  for (int64_t q0 = 0; q0 < head.len; q0 += kQueryBlock) {
    const int64_t count = std::min(kQueryBlock, head.len - q0);
    float* s = scores->data();
    gemm(true, count, head.len, head.head_dim, head.scale, head.q + q0 * head.ld, head.ld, head.k, head.ld, 0.0f, s,
         head.len);
    for (int64_t i = 0; i < count; ++i) {
      float* row = s + i * head.len;
      if (head.bias != nullptr) {
        const float* b = head.bias - (q0 + i);
        for (int64_t j = 0; j < head.len; ++j) row[j] += b[j];
      }
      softmax(row, head.len);
    }
    gemm(false, count, head.head_dim, head.len, 1.0f, s, head.len, head.v, head.ld, 0.0f, head.out + q0 * head.ldo,
         head.ldo);
  }
}

}  // namespace

bool attention_bf16_available() { return attention::cpu_has_bf16_kernel(); }

void packed_attention(const float* qkv, const int32_t* offsets, int64_t rows, int64_t heads,
                      int64_t head_dim, float* ctx, const RelativePositionBias* bias, AttentionPrecision precision) {
  if (precision.scores == Precision::kInt8 || precision.values == Precision::kInt8) {
    throw Error(ErrorCode::kInvalidArgument, "attention runs in f32 or bf16, not int8");
  }
  if (precision.scores == Precision::kBF16 && precision.values != Precision::kBF16) {
    throw Error(ErrorCode::kInvalidArgument, "attention with bf16 scores takes bf16 values too");
  }
  if (precision.values == Precision::kBF16 && !attention_bf16_available()) {
    throw Error(ErrorCode::kBackend, "bf16 attention needs a CPU with AVX512_BF16");
  }
  const int64_t hidden = heads * head_dim;
  const int64_t ld = 3 * hidden;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

  // One task per (sequence, head), longest first, so that the dynamic schedule does not end with
  // one thread on a long sequence.
  struct Task {
    int32_t row;
    int32_t head;
  };
  std::vector<Task> tasks;
  tasks.reserve(rows * heads);
  int64_t max_len = 0;
  for (int64_t r = 0; r < rows; ++r) {
    max_len = std::max<int64_t>(max_len, offsets[r + 1] - offsets[r]);
    for (int64_t h = 0; h < heads; ++h) tasks.push_back({static_cast<int32_t>(r), static_cast<int32_t>(h)});
  }
  if (bias != nullptr && bias->max_offset < max_len - 1) {
    throw Error(ErrorCode::kInternal, "relative position bias covers offsets up to " +
                                          std::to_string(bias->max_offset) + ", a sequence has " +
                                          std::to_string(max_len) + " tokens");
  }
  std::stable_sort(tasks.begin(), tasks.end(), [&](const Task& a, const Task& b) {
    return offsets[a.row + 1] - offsets[a.row] > offsets[b.row + 1] - offsets[b.row];
  });
  const bool fused = attention::fused_head_dim(head_dim) && attention::cpu_has_f32_kernel();
  const bool bf16_scores = fused && precision.scores == Precision::kBF16;
  const bool bf16_values = fused && precision.values == Precision::kBF16;
  const int64_t n_tasks = static_cast<int64_t>(tasks.size());

#pragma omp parallel if (n_tasks > 1)
  {
    // OpenMP threads live across calls, so each keeps its buffers between layers.
    thread_local attention::Workspace work;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < n_tasks; ++t) {
      const Task& task = tasks[t];
      const int64_t begin = offsets[task.row];
      const int64_t column = task.head * head_dim;
      const attention::HeadView head{
          .q = qkv + begin * ld + column,
          .k = qkv + begin * ld + hidden + column,
          .v = qkv + begin * ld + 2 * hidden + column,
          .out = ctx + begin * hidden + column,
          .len = offsets[task.row + 1] - begin,
          .ld = ld,
          .ldo = hidden,
          .head_dim = head_dim,
          .scale = scale,
          .bias = bias != nullptr ? bias->values + task.head * (2 * bias->max_offset + 1) + bias->max_offset : nullptr,
      };
      if (bf16_scores) {
        attention::attend_bf16(head, &work);
      } else if (bf16_values) {
        attention::attend_bf16_values(head, &work);
      } else if (fused) {
        attention::attend_f32(head, &work);
      } else {
        attend_with_gemm(head, &work.scores);
      }
    }
  }
}

}  // namespace salvo
