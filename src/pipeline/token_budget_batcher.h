// Groups tokenized rows into batches: sorted by length within a window so that rows of similar
// length run together, each batch capped by a token budget and a row count.
#pragma once

#include <cstddef>
#include <vector>

namespace salvo {

struct BatchingOptions {
  size_t max_batch_tokens = 8192;  // real tokens per batch (execution is padding-free)
  size_t max_batch_rows = 256;     // rows per batch
  size_t window_rows = 2048;       // rows sorted together; bounds memory and output latency
};

class TokenBudgetBatcher {
 public:
  explicit TokenBudgetBatcher(const BatchingOptions& options);

  // Splits a window of rows, given their token counts, into batches of positions into `lengths`.
  // Rows are sorted by length (stable) and cut greedily; a row longer than the budget gets a
  // batch of its own. Every position appears exactly once.
  std::vector<std::vector<size_t>> plan(const std::vector<size_t>& lengths) const;

  const BatchingOptions& options() const { return options_; }

 private:
  BatchingOptions options_;
};

}  // namespace salvo
