// What a Parquet leaf column's physical values stand for, from its annotations (logical and
// converted types), and the conversions to the values salvo carries: timestamps as microseconds
// since the Unix epoch, decimals as doubles. ParquetSource (carried columns) and
// ParquetTableReader (windows) share it, so both read a column the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "io/parquet/parquet_decoder.h"
#include "io/parquet/parquet_metadata.h"

namespace salvo::parquet {

struct ValueMeaning {
  enum class Kind {
    kPlain,     // the physical value as it is: booleans, integers, floats, strings, bytes
    kUnsigned,  // UINT_8 .. UINT_64 / INT(n, unsigned): the bits read unsigned
    kDate,      // INT32 days since the epoch
    kMillis,    // INT64 TIMESTAMP in milliseconds
    kMicros,    // INT64 TIMESTAMP in microseconds
    kNanos,     // INT64 TIMESTAMP in nanoseconds
    kInt96,     // Spark's legacy timestamps: nanoseconds of the day, then the Julian day
    kDecimal,   // an unscaled integer (INT32, INT64, or big-endian two's complement bytes) / 10^scale
  };
  Kind kind = Kind::kPlain;
  int32_t scale = 0;  // kDecimal

  bool is_timestamp() const { return kind >= Kind::kDate && kind <= Kind::kInt96; }
};

ValueMeaning meaning_of(const SchemaElement& e);

// Value `i` of a timestamp column (ValueMeaning::is_timestamp) in microseconds since the epoch;
// nanoseconds are floored. nullopt for an INT96 value that is not 12 bytes.
std::optional<int64_t> timestamp_micros(const ColumnValues& values, size_t i, ValueMeaning::Kind kind);

// Value `i` of a kDecimal column as the nearest double (exact while the unscaled integer has at
// most 15 digits and the scale is at most 22).
double decimal_value(const ColumnValues& values, size_t i, int32_t scale);

// A big-endian two's complement integer of any length as the nearest double.
double big_endian_integer(std::string_view bytes);

}  // namespace salvo::parquet
