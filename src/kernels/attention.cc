#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/gemm.h"
#include "kernels/softmax.h"

namespace salvo {
namespace {

// Query rows per task: a 64 x 512 score block (128 KiB) stays in L2, and long sequences split
// into enough tasks to keep every thread busy.
constexpr int32_t kQueryBlock = 64;

struct AttentionTask {
  int32_t row;
  int32_t head;
  int32_t q_begin;
  int32_t q_count;
};

}  // namespace

void packed_attention(const float* qkv, const int32_t* offsets, int64_t rows, int64_t heads,
                      int64_t head_dim, float* ctx, const RelativePositionBias* bias) {
  const int64_t hidden = heads * head_dim;
  const int64_t ld = 3 * hidden;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

  std::vector<AttentionTask> tasks;
  int64_t max_len = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t len = offsets[r + 1] - offsets[r];
    max_len = std::max<int64_t>(max_len, len);
    for (int32_t q = 0; q < len; q += kQueryBlock) {
      for (int32_t h = 0; h < heads; ++h) {
        tasks.push_back({static_cast<int32_t>(r), h, q, std::min(kQueryBlock, len - q)});
      }
    }
  }
  if (bias != nullptr && bias->max_offset < max_len - 1) {
    throw Error(ErrorCode::kInternal, "relative position bias covers offsets up to " +
                                          std::to_string(bias->max_offset) + ", a sequence has " +
                                          std::to_string(max_len) + " tokens");
  }
  // Largest first, so the dynamic schedule does not end with one thread on a long sequence.
  std::stable_sort(tasks.begin(), tasks.end(), [&](const AttentionTask& a, const AttentionTask& b) {
    const int64_t ca = int64_t{a.q_count} * (offsets[a.row + 1] - offsets[a.row]);
    const int64_t cb = int64_t{b.q_count} * (offsets[b.row + 1] - offsets[b.row]);
    return ca > cb;
  });
  const int64_t n_tasks = static_cast<int64_t>(tasks.size());

#pragma omp parallel if (n_tasks > 1)
  {
    // OpenMP threads live across calls, so each keeps its score buffer between layers.
    thread_local std::vector<float> scores;
    if (static_cast<int64_t>(scores.size()) < kQueryBlock * max_len) {
      scores.resize(kQueryBlock * max_len);
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < n_tasks; ++t) {
      const AttentionTask& task = tasks[t];
      const int64_t begin = offsets[task.row];
      const int64_t len = offsets[task.row + 1] - begin;
      const float* q = qkv + (begin + task.q_begin) * ld + task.head * head_dim;
      const float* k = qkv + begin * ld + hidden + task.head * head_dim;
      const float* v = qkv + begin * ld + 2 * hidden + task.head * head_dim;
      float* out = ctx + (begin + task.q_begin) * hidden + task.head * head_dim;
      gemm(true, task.q_count, len, head_dim, scale, q, ld, k, ld, 0.0f, scores.data(), len);
      if (bias != nullptr) {
        const int64_t span = 2 * bias->max_offset + 1;
        for (int32_t i = 0; i < task.q_count; ++i) {
          // Key j of query q_begin + i reads the table at max_offset + j - (q_begin + i).
          const float* b = bias->values + task.head * span + bias->max_offset - (task.q_begin + i);
          float* s = scores.data() + int64_t{i} * len;
          for (int64_t j = 0; j < len; ++j) s[j] += b[j];
        }
      }
      softmax_rows(scores.data(), task.q_count, len, len);
      gemm(false, task.q_count, head_dim, len, 1.0f, scores.data(), len, v, ld, 0.0f, out, hidden);
    }
  }
}

}  // namespace salvo
