#include "io/parquet/logical_values.h"

#include <cmath>
#include <cstring>

namespace salvo::parquet {
namespace {

constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000000;
constexpr int64_t kJulianDayOfEpoch = 2440588;  // 1970-01-01

bool is_unsigned(const SchemaElement& e) {
  if (e.logical_type && e.logical_type->kind == LogicalType::Kind::kInteger) return !e.logical_type->is_signed;
  const int c = e.converted_type ? static_cast<int>(*e.converted_type) : -1;
  return c >= static_cast<int>(ConvertedType::kUint8) && c <= static_cast<int>(ConvertedType::kUint64);
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

}  // namespace

ValueMeaning meaning_of(const SchemaElement& e) {
  using Kind = ValueMeaning::Kind;
  const auto logical = e.logical_type ? e.logical_type->kind : LogicalType::Kind::kNone;
  if (logical == LogicalType::Kind::kDecimal) return {Kind::kDecimal, e.logical_type->scale};
  if (e.converted_type && *e.converted_type == ConvertedType::kDecimal) return {Kind::kDecimal, e.scale.value_or(0)};
  if (!e.type) return {};
  switch (*e.type) {
    case Type::kInt32:
      if (logical == LogicalType::Kind::kDate || (e.converted_type && *e.converted_type == ConvertedType::kDate)) {
        return {Kind::kDate};
      }
      return {is_unsigned(e) ? Kind::kUnsigned : Kind::kPlain};
    case Type::kInt64:
      if (logical == LogicalType::Kind::kTimestamp) {
        using Unit = LogicalType::TimeUnit;
        const Unit unit = e.logical_type->unit;
        return {unit == Unit::kMillis ? Kind::kMillis : unit == Unit::kMicros ? Kind::kMicros : Kind::kNanos};
      }
      if (e.converted_type && *e.converted_type == ConvertedType::kTimestampMillis) return {Kind::kMillis};
      if (e.converted_type && *e.converted_type == ConvertedType::kTimestampMicros) return {Kind::kMicros};
      return {is_unsigned(e) ? Kind::kUnsigned : Kind::kPlain};
    case Type::kInt96: return {Kind::kInt96};
    default: return {};
  }
}

std::optional<int64_t> timestamp_micros(const ColumnValues& values, size_t i, ValueMeaning::Kind kind) {
  using Kind = ValueMeaning::Kind;
  switch (kind) {
    case Kind::kDate: return values.ints[i] * kMicrosPerDay;
    case Kind::kMillis: return values.ints[i] * 1000;
    case Kind::kMicros: return values.ints[i];
    case Kind::kNanos: return floor_div(values.ints[i], 1000);
    case Kind::kInt96: {
      const std::string_view b = values.bytes_at(i);
      if (b.size() != 12) return std::nullopt;
      int64_t nanos = 0;
      uint32_t julian = 0;
      std::memcpy(&nanos, b.data(), 8);
      std::memcpy(&julian, b.data() + 8, 4);
      return (static_cast<int64_t>(julian) - kJulianDayOfEpoch) * kMicrosPerDay + floor_div(nanos, 1000);
    }
    default: return values.ints[i];
  }
}

double big_endian_integer(std::string_view bytes) {
  if (bytes.empty()) return 0.0;
  if (bytes.size() <= 16) {
    // Exact in 128 bits, then one rounding to double.
    unsigned __int128 bits = static_cast<uint8_t>(bytes[0]) & 0x80 ? ~static_cast<unsigned __int128>(0) : 0;
    for (char c : bytes) bits = (bits << 8) | static_cast<uint8_t>(c);
    return static_cast<double>(static_cast<__int128>(bits));
  }
  // Longer than any DECIMAL(38) needs, but legal for BYTE_ARRAY decimals: accumulate in long
  // double; a negative value as -(~x + 1), which cancels nothing.
  const bool negative = static_cast<uint8_t>(bytes[0]) & 0x80;
  long double v = 0;
  for (char c : bytes) v = v * 256 + static_cast<uint8_t>(negative ? ~c : c);
  return static_cast<double>(negative ? -(v + 1) : v);
}

double decimal_value(const ColumnValues& values, size_t i, int32_t scale) {
  const double unscaled =
      values.is_bytes() ? big_endian_integer(values.bytes_at(i)) : static_cast<double>(values.ints[i]);
  if (scale == 0) return unscaled;
  // 10^scale is exact in a double up to 10^22: one correctly rounded division.
  if (scale > 0 && scale <= 22) return unscaled / std::pow(10.0, scale);
  return static_cast<double>(static_cast<long double>(unscaled) * std::pow(10.0L, -scale));
}

}  // namespace salvo::parquet
