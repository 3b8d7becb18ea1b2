// Events as records of the external sort. The key orders them by (group, time) when compared as
// bytes; the payload carries the values the aggregates read.
//   key:     group (0x00 for null; 0x01 then the value: integers and timestamps big-endian with the
//            sign bit flipped, floats likewise ordered, strings with 0x00 escaped as 0x00 0xFF and
//            ended by 0x00 0x00), then the time as an ordered big-endian int64.
//   payload: a validity bitmap (one bit per value column), then each valid value: booleans one
//            byte, integers, timestamps and floats eight bytes, strings a varint length and bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "salvo/table.h"
#include "windows/event_buffer.h"

namespace salvo::windows {

// Appends the group value of row `row` of `column` (bool, integer, float, timestamp, string or
// binary). Floats: NaN sorts after every number, -0.0 equals 0.0.
void append_group_key(const Column& column, int64_t row, std::string* key);
// Appends an event time (microseconds).
void append_time_key(int64_t micros, std::string* key);

// The parts of a key made by the two functions above.
inline std::string_view group_of_key(std::string_view key) { return key.substr(0, key.size() - 8); }
int64_t time_of_key(std::string_view key);
// Appends the group value that `group` (from group_of_key) encodes to `out`, a column of the
// group column's type.
void append_group_value(std::string_view group, Column* out);

// Appends the payload of row `row` of `columns` (EventBuffer::push_back reads it back with the
// columns' value kinds). A NaN float is written as a null.
void append_payload(const std::vector<const Column*>& columns, int64_t row, std::string* payload);

// Reads the varint at `pos` (a string's length) and moves `pos` past it.
uint64_t read_varint(std::string_view bytes, size_t& pos);

}  // namespace salvo::windows
