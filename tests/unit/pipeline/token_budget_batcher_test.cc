#include "pipeline/token_budget_batcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "core/error.h"

namespace salvo {
namespace {

TEST(TokenBudgetBatcherTest, SortsByLengthAndRespectsBudgetAndRowCap) {
  BatchingOptions options;
  options.max_batch_tokens = 100;
  options.max_batch_rows = 3;
  TokenBudgetBatcher batcher(options);
  std::mt19937 rng(7);
  std::vector<size_t> lengths(500);
  for (auto& n : lengths) n = 2 + rng() % 60;
  const auto plan = batcher.plan(lengths);

  std::vector<int> seen(lengths.size(), 0);
  size_t previous_max = 0;
  for (const auto& batch : plan) {
    ASSERT_FALSE(batch.empty());
    EXPECT_LE(batch.size(), 3u);
    size_t tokens = 0, lo = SIZE_MAX, hi = 0;
    for (size_t pos : batch) {
      ++seen[pos];
      tokens += lengths[pos];
      lo = std::min(lo, lengths[pos]);
      hi = std::max(hi, lengths[pos]);
    }
    EXPECT_LE(tokens, 100u);
    EXPECT_GE(lo, previous_max);  // batches come out in length order
    previous_max = hi;
  }
  for (int count : seen) EXPECT_EQ(count, 1);
}

TEST(TokenBudgetBatcherTest, OversizeRowGetsItsOwnBatch) {
  BatchingOptions options;
  options.max_batch_tokens = 10;
  TokenBudgetBatcher batcher(options);
  const auto plan = batcher.plan({3, 50, 4});
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0], (std::vector<size_t>{0, 2}));
  EXPECT_EQ(plan[1], (std::vector<size_t>{1}));
}

TEST(TokenBudgetBatcherTest, EmptyWindowAndBadOptions) {
  EXPECT_TRUE(TokenBudgetBatcher(BatchingOptions{}).plan({}).empty());
  BatchingOptions bad;
  bad.max_batch_rows = 0;
  EXPECT_THROW(TokenBudgetBatcher{bad}, Error);
}

}  // namespace
}  // namespace salvo
