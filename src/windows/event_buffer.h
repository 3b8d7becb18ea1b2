// The events of one group that some window still needs, oldest first: their times and the values
// of the columns the aggregates read. Events are numbered by a sequence number that only grows, so
// aggregates can keep numbers rather than copies of values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "salvo/table.h"

namespace salvo::windows {

// How the engine holds a column's values: booleans and integers (and timestamps, in microseconds)
// as int64, floats as double, strings and binaries as bytes.
enum class ValueKind : uint8_t { kBool, kInt, kFloat, kString, kTimestamp };

// The kind of a column type; throws salvo::Error(kInvalidArgument) for lists and JSON values.
ValueKind value_kind_of(const DataType& type, const std::string& column);

inline bool is_integer_kind(ValueKind k) {
  return k == ValueKind::kBool || k == ValueKind::kInt || k == ValueKind::kTimestamp;
}

class EventBuffer {
 public:
  explicit EventBuffer(std::vector<ValueKind> kinds);

  // Sequence numbers of the events held: [begin(), end()).
  uint64_t begin() const { return begin_; }
  uint64_t end() const { return end_; }
  bool empty() const { return begin_ == end_; }

  int64_t time(uint64_t seq) const { return times_[seq & mask_]; }
  bool valid(size_t column, uint64_t seq) const { return columns_[column].valid[seq & mask_] != 0; }
  // Booleans (0/1), integers and timestamps.
  int64_t int_at(size_t column, uint64_t seq) const { return columns_[column].ints[seq & mask_]; }
  double float_at(size_t column, uint64_t seq) const { return columns_[column].floats[seq & mask_]; }
  std::string_view string_at(size_t column, uint64_t seq) const { return columns_[column].strings[seq & mask_]; }
  // A value as a double (integers converted), for sums and means over numbers.
  double number_at(size_t column, uint64_t seq) const {
    const Slots& c = columns_[column];
    return c.kind == ValueKind::kFloat ? c.floats[seq & mask_] : static_cast<double>(c.ints[seq & mask_]);
  }
  ValueKind kind(size_t column) const { return columns_[column].kind; }
  size_t num_columns() const { return columns_.size(); }

  // Appends an event: its time and its values as event_codec encoded them.
  void push_back(int64_t time, std::string_view payload);
  // Drops the events numbered below `seq`.
  void pop_front_until(uint64_t seq);
  // Drops every event (numbering goes on).
  void clear() { begin_ = end_; }

 private:
  struct Slots {
    ValueKind kind;
    std::vector<uint8_t> valid;
    std::vector<int64_t> ints;
    std::vector<double> floats;
    std::vector<std::string> strings;
  };
  void grow();

  std::vector<Slots> columns_;
  std::vector<int64_t> times_;
  uint64_t begin_ = 0;
  uint64_t end_ = 0;
  size_t capacity_ = 0;  // a power of two
  uint64_t mask_ = 0;
};

}  // namespace salvo::windows
