// Groups tokenized rows into batches: sorted by length so that rows of similar length run together,
// each batch capped by a token budget and a row count (salvo::BatchingOptions).
#pragma once

#include <cstddef>
#include <vector>

#include "salvo/types.h"

namespace salvo {

class TokenBudgetBatcher {
 public:
  explicit TokenBudgetBatcher(const BatchingOptions& options);

  // Splits rows, given their token counts, into batches of positions into `lengths`.
  // Rows are sorted by length (stable) and cut greedily; a row longer than the budget gets a
  // batch of its own. Every position appears exactly once.
  std::vector<std::vector<size_t>> plan(const std::vector<size_t>& lengths) const;

  const BatchingOptions& options() const { return options_; }

 private:
  BatchingOptions options_;
};

}  // namespace salvo
