#include "pipeline/token_budget_batcher.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace salvo {

TokenBudgetBatcher::TokenBudgetBatcher(const BatchingOptions& options) : options_(options) {
  if (options_.max_batch_tokens == 0 || options_.max_batch_rows == 0) {
    throw Error(ErrorCode::kInvalidArgument, "the batch token budget and row cap must be positive");
  }
}

std::vector<std::vector<size_t>> TokenBudgetBatcher::plan(const std::vector<size_t>& lengths) const {
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] < lengths[b]; });
  std::vector<std::vector<size_t>> batches;
  std::vector<size_t> current;
  size_t tokens = 0;
  for (size_t pos : order) {
    const size_t n = lengths[pos];
    if (!current.empty() && (tokens + n > options_.max_batch_tokens || current.size() >= options_.max_batch_rows)) {
      batches.push_back(std::move(current));
      current.clear();
      tokens = 0;
    }
    current.push_back(pos);
    tokens += n;
  }
  if (!current.empty()) batches.push_back(std::move(current));
  return batches;
}

}  // namespace salvo
