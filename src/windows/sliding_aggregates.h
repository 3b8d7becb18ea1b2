// Aggregates over a sliding window of events: events enter at the back and leave from the front,
// in order, and the aggregate of those inside is ready at any time. Each costs O(1) amortised per
// event and holds at most a few words per event in the window:
//   count, sum of integers     running totals (exact)
//   sum and mean of floats     a two-stack queue of partial sums: no value is ever subtracted, so
//                              rounding stays that of plain summation however long the group
//   stddev                     the same queue over (count, mean, M2), combined as Chan et al. do
//   min, max                   a monotonic deque of event numbers
//   first, last                a queue of the events that have a value
//   distinct                   a hash map from value to its count in the window
#pragma once

#include <memory>

#include "salvo/table.h"
#include "windows/event_buffer.h"
#include "windows/feature_spec.h"

namespace salvo::windows {

class SlidingAggregate {
 public:
  virtual ~SlidingAggregate() = default;
  // Event `seq` of `events` enters the window; events enter in sequence order.
  virtual void push(const EventBuffer& events, uint64_t seq) = 0;
  // Event `seq`, the oldest in the window, leaves it.
  virtual void pop(const EventBuffer& events, uint64_t seq) = 0;
  // Appends the aggregate of the events in the window to `out` (of result_type()).
  virtual void append_result(const EventBuffer& events, Column* out) const = 0;
  // Empties the window.
  virtual void clear() = 0;
};

// The type an aggregate returns for a column of `input` type (ignored for count(*) and any(*)).
// Throws salvo::Error(kInvalidArgument) naming the aggregate when it does not apply to the type
// (sum of strings, any of integers, ...).
DataType result_type(const FeatureSpec& spec, const DataType& input);

// An aggregate reading column `column` of the event buffer (ignored for count(*) and any(*)),
// whose values are of `input` type.
std::unique_ptr<SlidingAggregate> make_sliding_aggregate(const FeatureSpec& spec, size_t column, const DataType& input);

}  // namespace salvo::windows
