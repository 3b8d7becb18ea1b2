#include "windows/sliding_aggregates.h"

#include <bit>
#include <cmath>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace salvo::windows {
namespace {

// Appends value `seq` of `column` to `out`, converted to out's type (the column's own type).
void append_event_value(const EventBuffer& events, size_t column, uint64_t seq, Column* out) {
  switch (out->type().id()) {
    case TypeId::kBool: out->append_bool(events.int_at(column, seq) != 0); return;
    case TypeId::kInt32: out->append_int32(static_cast<int32_t>(events.int_at(column, seq))); return;
    case TypeId::kInt64:
    case TypeId::kTimestamp: out->append_int64(events.int_at(column, seq)); return;
    case TypeId::kFloat32: out->append_float32(static_cast<float>(events.float_at(column, seq))); return;
    case TypeId::kFloat64: out->append_float64(events.float_at(column, seq)); return;
    case TypeId::kString:
    case TypeId::kBinary: out->append_string(events.string_at(column, seq)); return;
    default: throw Error(ErrorCode::kInternal, "aggregate result of type " + out->type().to_string());
  }
}

// A FIFO queue that keeps the aggregate of its elements under an associative `Combine` without
// ever inverting it: pushes accumulate into the back stack; when the front stack runs out, the
// back stack is moved over with suffix aggregates, so popping just drops one.
template <typename T, typename Combine>
class TwoStackQueue {
 public:
  void push(const T& value) {
    back_values_.push_back(value);
    back_total_ = Combine()(back_total_, value);
  }
  void pop() {
    if (front_.empty()) flip();
    front_.pop_back();
  }
  T total() const { return front_.empty() ? back_total_ : Combine()(front_.back(), back_total_); }
  void clear() {
    front_.clear();
    back_values_.clear();
    back_total_ = T{};
  }

 private:
  void flip() {
    T suffix{};
    for (size_t i = back_values_.size(); i-- > 0;) {
      suffix = Combine()(back_values_[i], suffix);
      front_.push_back(suffix);  // front_.back() ends as the total of all, the oldest on top
    }
    back_values_.clear();
    back_total_ = T{};
  }

  std::vector<T> front_;
  std::vector<T> back_values_;
  T back_total_{};
};

struct Add {
  double operator()(double a, double b) const { return a + b; }
};

// Count, mean and sum of squared deviations of some values; T{} is the empty set.
struct Moments {
  double n = 0;
  double mean = 0;
  double m2 = 0;
};

struct CombineMoments {
  Moments operator()(const Moments& a, const Moments& b) const {
    if (a.n == 0) return b;
    if (b.n == 0) return a;
    const double n = a.n + b.n;
    const double delta = b.mean - a.mean;
    return {n, a.mean + delta * (b.n / n), a.m2 + b.m2 + delta * delta * (a.n * b.n / n)};
  }
};

// count(*), count(x), any(*).
class CountAggregate : public SlidingAggregate {
 public:
  CountAggregate(std::optional<size_t> column, bool as_bool) : column_(column), as_bool_(as_bool) {}
  void push(const EventBuffer& e, uint64_t seq) override { n_ += !column_ || e.valid(*column_, seq); }
  void pop(const EventBuffer& e, uint64_t seq) override { n_ -= !column_ || e.valid(*column_, seq); }
  void append_result(const EventBuffer&, Column* out) const override {
    if (as_bool_) {
      out->append_bool(n_ > 0);
    } else {
      out->append_int64(n_);
    }
  }
  void clear() override { n_ = 0; }

 private:
  std::optional<size_t> column_;
  bool as_bool_;
  int64_t n_ = 0;
};

// any(x) of a boolean column: Spark's bool_or; null when no value is known.
class AnyAggregate : public SlidingAggregate {
 public:
  explicit AnyAggregate(size_t column) : column_(column) {}
  void push(const EventBuffer& e, uint64_t seq) override { step(e, seq, 1); }
  void pop(const EventBuffer& e, uint64_t seq) override { step(e, seq, -1); }
  void append_result(const EventBuffer&, Column* out) const override {
    if (n_ == 0) {
      out->append_null();
    } else {
      out->append_bool(trues_ > 0);
    }
  }
  void clear() override { n_ = trues_ = 0; }

 private:
  void step(const EventBuffer& e, uint64_t seq, int64_t d) {
    if (!e.valid(column_, seq)) return;
    n_ += d;
    trues_ += e.int_at(column_, seq) != 0 ? d : 0;
  }
  size_t column_;
  int64_t n_ = 0;
  int64_t trues_ = 0;
};

// sum of booleans and integers: exact (wrapping at 64 bits, as Spark's long sum does without ANSI mode).
class IntSumAggregate : public SlidingAggregate {
 public:
  explicit IntSumAggregate(size_t column) : column_(column) {}
  void push(const EventBuffer& e, uint64_t seq) override {
    if (!e.valid(column_, seq)) return;
    ++n_;
    sum_ += static_cast<uint64_t>(e.int_at(column_, seq));
  }
  void pop(const EventBuffer& e, uint64_t seq) override {
    if (!e.valid(column_, seq)) return;
    --n_;
    sum_ -= static_cast<uint64_t>(e.int_at(column_, seq));
  }
  void append_result(const EventBuffer&, Column* out) const override {
    if (n_ == 0) {
      out->append_null();
    } else {
      out->append_int64(static_cast<int64_t>(sum_));
    }
  }
  void clear() override { n_ = 0, sum_ = 0; }

 private:
  size_t column_;
  int64_t n_ = 0;
  uint64_t sum_ = 0;  // unsigned: wrapping is defined
};

// sum of floats, and mean of any numbers.
class FloatSumAggregate : public SlidingAggregate {
 public:
  FloatSumAggregate(size_t column, bool mean) : column_(column), mean_(mean) {}
  void push(const EventBuffer& e, uint64_t seq) override {
    const bool valid = e.valid(column_, seq);
    n_ += valid;
    sums_.push(valid ? e.number_at(column_, seq) : 0.0);
  }
  void pop(const EventBuffer& e, uint64_t seq) override {
    n_ -= e.valid(column_, seq);
    sums_.pop();
  }
  void append_result(const EventBuffer&, Column* out) const override {
    if (n_ == 0) {
      out->append_null();
    } else {
      const double sum = sums_.total();
      out->append_float64(mean_ ? sum / static_cast<double>(n_) : sum);
    }
  }
  void clear() override {
    n_ = 0;
    sums_.clear();
  }

 private:
  size_t column_;
  bool mean_;
  int64_t n_ = 0;
  TwoStackQueue<double, Add> sums_;
};

// Sample standard deviation.
class StddevAggregate : public SlidingAggregate {
 public:
  explicit StddevAggregate(size_t column) : column_(column) {}
  void push(const EventBuffer& e, uint64_t seq) override {
    moments_.push(e.valid(column_, seq) ? Moments{1, e.number_at(column_, seq), 0} : Moments{});
  }
  void pop(const EventBuffer&, uint64_t) override { moments_.pop(); }
  void append_result(const EventBuffer&, Column* out) const override {
    const Moments m = moments_.total();
    if (m.n < 2) {
      out->append_null();
    } else if (!std::isfinite(m.mean) || std::isnan(m.m2)) {
      // An infinite value makes the deviations undefined: NaN, as pandas and Spark give (the
      // combination's inf - inf would otherwise come out as 0 or inf).
      out->append_float64(std::numeric_limits<double>::quiet_NaN());
    } else {
      out->append_float64(std::sqrt(std::max(0.0, m.m2 / (m.n - 1))));
    }
  }
  void clear() override { moments_.clear(); }

 private:
  size_t column_;
  TwoStackQueue<Moments, CombineMoments> moments_;
};

// Three-way comparison of two events' values of one column.
int compare_values(const EventBuffer& e, size_t column, uint64_t a, uint64_t b) {
  switch (e.kind(column)) {
    case ValueKind::kFloat: {
      const double x = e.float_at(column, a), y = e.float_at(column, b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case ValueKind::kString: {
      const int c = e.string_at(column, a).compare(e.string_at(column, b));
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    default: {
      const int64_t x = e.int_at(column, a), y = e.int_at(column, b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
  }
}

// min and max: the deque holds, oldest first, the events that may still become the extreme: each
// is strictly better than every older one in the deque, so the front is the window's extreme.
class ExtremeAggregate : public SlidingAggregate {
 public:
  ExtremeAggregate(size_t column, bool max) : column_(column), sign_(max ? -1 : 1) {}
  void push(const EventBuffer& e, uint64_t seq) override {
    if (!e.valid(column_, seq)) return;
    while (!deque_.empty() && sign_ * compare_values(e, column_, seq, deque_.back()) <= 0) deque_.pop_back();
    deque_.push_back(seq);
  }
  void pop(const EventBuffer&, uint64_t seq) override {
    if (!deque_.empty() && deque_.front() == seq) deque_.pop_front();
  }
  void append_result(const EventBuffer& e, Column* out) const override {
    if (deque_.empty()) {
      out->append_null();
    } else {
      append_event_value(e, column_, deque_.front(), out);
    }
  }
  void clear() override { deque_.clear(); }

 private:
  size_t column_;
  int sign_;
  std::deque<uint64_t> deque_;
};

// first and last: the events of the window that have a value, oldest first.
class EndAggregate : public SlidingAggregate {
 public:
  EndAggregate(size_t column, bool last) : column_(column), last_(last) {}
  void push(const EventBuffer& e, uint64_t seq) override {
    if (e.valid(column_, seq)) valued_.push_back(seq);
  }
  void pop(const EventBuffer&, uint64_t seq) override {
    if (!valued_.empty() && valued_.front() == seq) valued_.pop_front();
  }
  void append_result(const EventBuffer& e, Column* out) const override {
    if (valued_.empty()) {
      out->append_null();
    } else {
      append_event_value(e, column_, last_ ? valued_.back() : valued_.front(), out);
    }
  }
  void clear() override { valued_.clear(); }

 private:
  size_t column_;
  bool last_;
  std::deque<uint64_t> valued_;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

// distinct over strings: a count per value in the window.
class StringDistinctAggregate : public SlidingAggregate {
 public:
  explicit StringDistinctAggregate(size_t column) : column_(column) {}
  void push(const EventBuffer& e, uint64_t seq) override {
    if (!e.valid(column_, seq)) return;
    const std::string_view v = e.string_at(column_, seq);
    auto it = counts_.find(v);
    if (it == counts_.end()) {
      counts_.emplace(std::string(v), 1);
    } else {
      ++it->second;
    }
  }
  void pop(const EventBuffer& e, uint64_t seq) override {
    if (!e.valid(column_, seq)) return;
    auto it = counts_.find(e.string_at(column_, seq));
    if (--it->second == 0) counts_.erase(it);
  }
  void append_result(const EventBuffer&, Column* out) const override {
    out->append_int64(static_cast<int64_t>(counts_.size()));
  }
  void clear() override { counts_.clear(); }

 private:
  size_t column_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> counts_;
};

// distinct over numbers and booleans: values by their 64 bits (-0.0 counted as 0.0).
class NumberDistinctAggregate : public SlidingAggregate {
 public:
  explicit NumberDistinctAggregate(size_t column) : column_(column) {}
  void push(const EventBuffer& e, uint64_t seq) override {
    if (e.valid(column_, seq)) ++counts_[bits(e, seq)];
  }
  void pop(const EventBuffer& e, uint64_t seq) override {
    if (!e.valid(column_, seq)) return;
    auto it = counts_.find(bits(e, seq));
    if (--it->second == 0) counts_.erase(it);
  }
  void append_result(const EventBuffer&, Column* out) const override {
    out->append_int64(static_cast<int64_t>(counts_.size()));
  }
  void clear() override { counts_.clear(); }

 private:
  uint64_t bits(const EventBuffer& e, uint64_t seq) const {
    if (e.kind(column_) != ValueKind::kFloat) return static_cast<uint64_t>(e.int_at(column_, seq));
    const double v = e.float_at(column_, seq);
    return std::bit_cast<uint64_t>(v == 0 ? 0.0 : v);
  }
  size_t column_;
  std::unordered_map<uint64_t, uint32_t> counts_;
};

[[noreturn]] void refuse(const FeatureSpec& spec, const DataType& input, const char* needs) {
  throw Error(ErrorCode::kInvalidArgument, "\"" + spec.text + "\": column \"" + spec.column + "\" is " +
                                               input.to_string() + ", and " + spec.function + " needs " + needs);
}

}  // namespace

DataType result_type(const FeatureSpec& spec, const DataType& input) {
  const bool star = spec.column.empty();
  if (spec.kind == AggregateKind::kCount || spec.kind == AggregateKind::kDistinct) return DataType::int64();
  if (spec.kind == AggregateKind::kAny && star) return DataType::boolean();
  const ValueKind kind = value_kind_of(input, spec.column);
  const bool number = kind == ValueKind::kBool || kind == ValueKind::kInt || kind == ValueKind::kFloat;
  switch (spec.kind) {
    case AggregateKind::kAny:
      if (kind != ValueKind::kBool) refuse(spec, input, "a boolean column (any(*) counts events)");
      return DataType::boolean();
    case AggregateKind::kSum:
      if (!number) refuse(spec, input, "numbers");
      return kind == ValueKind::kFloat ? DataType::float64() : DataType::int64();
    case AggregateKind::kMean:
    case AggregateKind::kStddev:
      if (!number) refuse(spec, input, "numbers");
      return DataType::float64();
    default: return input;  // min, max, first, last keep the column's type
  }
}

std::unique_ptr<SlidingAggregate> make_sliding_aggregate(const FeatureSpec& spec, size_t column,
                                                         const DataType& input) {
  const bool star = spec.column.empty();
  switch (spec.kind) {
    case AggregateKind::kCount:
      return std::make_unique<CountAggregate>(star ? std::nullopt : std::optional<size_t>(column), false);
    case AggregateKind::kAny:
      if (star) return std::make_unique<CountAggregate>(std::nullopt, true);
      return std::make_unique<AnyAggregate>(column);
    case AggregateKind::kSum:
      if (value_kind_of(input, spec.column) == ValueKind::kFloat)
        return std::make_unique<FloatSumAggregate>(column, false);
      return std::make_unique<IntSumAggregate>(column);
    case AggregateKind::kMean: return std::make_unique<FloatSumAggregate>(column, true);
    case AggregateKind::kStddev: return std::make_unique<StddevAggregate>(column);
    case AggregateKind::kMin: return std::make_unique<ExtremeAggregate>(column, false);
    case AggregateKind::kMax: return std::make_unique<ExtremeAggregate>(column, true);
    case AggregateKind::kFirst: return std::make_unique<EndAggregate>(column, false);
    case AggregateKind::kLast: return std::make_unique<EndAggregate>(column, true);
    case AggregateKind::kDistinct:
      if (value_kind_of(input, spec.column) == ValueKind::kString)
        return std::make_unique<StringDistinctAggregate>(column);
      return std::make_unique<NumberDistinctAggregate>(column);
  }
  throw Error(ErrorCode::kInternal, "unknown aggregate");
}

}  // namespace salvo::windows
