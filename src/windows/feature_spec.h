// The --features and --label specs of `salvo windows`: aggregates over a column, written as SQL
// writes them ("count(*)", "sum(amount)", "distinct(kind) as kinds", "max(churned) over next 30d").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::windows {

// What an aggregate computes over the events of a window. Null values are ignored, as in SQL.
enum class AggregateKind {
  kCount,     // count(*): events; count(x): non-null values of x
  kSum,       // sum of the values (integers stay integers); null when there are none
  kMean,      // mean / avg: arithmetic mean, float64; null when there are none
  kMin,       // smallest value (numbers by value, strings by bytes); null when there are none
  kMax,       // largest value
  kFirst,     // value of the earliest event with a value (ties: input order)
  kLast,      // value of the latest event with a value (ties: input order)
  kDistinct,  // number of distinct values (count distinct); 0 when there are none
  kStddev,    // sample standard deviation (n - 1); null with fewer than two values
  kAny,       // any(*): the window has an event; any(x): some value of boolean x is true (bool_or)
};

// One aggregate of a spec.
struct FeatureSpec {
  AggregateKind kind = AggregateKind::kCount;
  std::string function;  // lower-case, as written ("avg" and "mean" are the same aggregate)
  std::string column;    // empty for count(*) and any(*)
  std::string name;      // the output column: the alias, or "<function>_<column>", or "count" / "any"
  std::string text;      // the aggregate as written, for messages
};

// A label: an aggregate over the events after a window, [window_end, window_end + horizon).
struct LabelSpec {
  FeatureSpec aggregate;  // named "label"
  int64_t horizon = 0;    // microseconds
};

// Parses "count(*), sum(amount), mean(duration) as avg_duration, distinct(kind)". Column names are
// bare (anything but spaces, commas and parentheses) or quoted with "..." or `...`. Throws
// salvo::Error(kInvalidArgument) naming the aggregate that cannot be read, or two outputs of one name.
std::vector<FeatureSpec> parse_features(std::string_view text);

// Parses "max(churned) over next 30d". Throws salvo::Error(kInvalidArgument) like parse_features.
LabelSpec parse_label(std::string_view text);

// "count", "sum", ... for messages.
const char* aggregate_name(AggregateKind kind);

}  // namespace salvo::windows
