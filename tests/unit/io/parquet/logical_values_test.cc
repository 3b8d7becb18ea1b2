#include "io/parquet/logical_values.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

namespace salvo::parquet {
namespace {

using Kind = ValueMeaning::Kind;

SchemaElement element(Type type) {
  SchemaElement e;
  e.type = type;
  return e;
}

ColumnValues ints(Type type, std::vector<int64_t> values) {
  ColumnValues v;
  v.type = type;
  v.ints = std::move(values);
  return v;
}

// Byte-array values viewing `held`, which outlives them.
ColumnValues byte_values(Type type, const std::vector<std::string>& held) {
  ColumnValues v;
  v.type = type;
  for (const auto& s : held) v.views.emplace_back(s);
  return v;
}

std::string int96(int64_t nanos_of_day, uint32_t julian_day) {
  std::string b(12, '\0');
  std::memcpy(b.data(), &nanos_of_day, 8);
  std::memcpy(b.data() + 8, &julian_day, 4);
  return b;
}

TEST(LogicalValues, MeaningFromLogicalAndConvertedTypes) {
  SchemaElement date = element(Type::kInt32);
  date.converted_type = ConvertedType::kDate;
  EXPECT_EQ(meaning_of(date).kind, Kind::kDate);

  SchemaElement nanos = element(Type::kInt64);
  nanos.logical_type = LogicalType{LogicalType::Kind::kTimestamp};
  nanos.logical_type->unit = LogicalType::TimeUnit::kNanos;
  EXPECT_EQ(meaning_of(nanos).kind, Kind::kNanos);
  EXPECT_TRUE(meaning_of(nanos).is_timestamp());

  SchemaElement millis = element(Type::kInt64);
  millis.converted_type = ConvertedType::kTimestampMillis;
  EXPECT_EQ(meaning_of(millis).kind, Kind::kMillis);

  EXPECT_EQ(meaning_of(element(Type::kInt96)).kind, Kind::kInt96);

  SchemaElement u32 = element(Type::kInt32);
  u32.converted_type = ConvertedType::kUint32;
  EXPECT_EQ(meaning_of(u32).kind, Kind::kUnsigned);
  EXPECT_FALSE(meaning_of(u32).is_timestamp());

  // Legacy annotation: converted type and the element's scale.
  SchemaElement legacy = element(Type::kFixedLenByteArray);
  legacy.converted_type = ConvertedType::kDecimal;
  legacy.scale = 4;
  EXPECT_EQ(meaning_of(legacy).kind, Kind::kDecimal);
  EXPECT_EQ(meaning_of(legacy).scale, 4);
  // The logical type alone.
  SchemaElement logical = element(Type::kInt64);
  logical.logical_type = LogicalType{LogicalType::Kind::kDecimal};
  logical.logical_type->scale = 2;
  EXPECT_EQ(meaning_of(logical).kind, Kind::kDecimal);
  EXPECT_EQ(meaning_of(logical).scale, 2);

  EXPECT_EQ(meaning_of(element(Type::kInt64)).kind, Kind::kPlain);
  EXPECT_EQ(meaning_of(element(Type::kByteArray)).kind, Kind::kPlain);
}

TEST(LogicalValues, TimestampsInMicrosecondsFloored) {
  const ColumnValues days = ints(Type::kInt32, {0, 19723, -1});
  EXPECT_EQ(*timestamp_micros(days, 1, Kind::kDate), int64_t{19723} * 86400 * 1000000);
  EXPECT_EQ(*timestamp_micros(days, 2, Kind::kDate), int64_t{-86400} * 1000000);
  const ColumnValues ms = ints(Type::kInt64, {1700000000123});
  EXPECT_EQ(*timestamp_micros(ms, 0, Kind::kMillis), 1700000000123000);
  const ColumnValues ns = ints(Type::kInt64, {1999, -1, -1000});
  EXPECT_EQ(*timestamp_micros(ns, 0, Kind::kNanos), 1);
  EXPECT_EQ(*timestamp_micros(ns, 1, Kind::kNanos), -1);  // floored, not truncated to 0
  EXPECT_EQ(*timestamp_micros(ns, 2, Kind::kNanos), -1);
}

TEST(LogicalValues, Int96IsJulianDayAndNanosOfDay) {
  // 2001-09-09 01:46:40.123456789 UTC = 1,000,000,000.123456789 s after the epoch.
  const int64_t seconds_of_day = 1000000000 % 86400;
  const uint32_t julian = 2440588 + 1000000000 / 86400;
  const std::vector<std::string> held = {int96(seconds_of_day * 1000000000 + 123456789, julian),
                                         int96(0, 2440588 - 1), std::string(11, '\0')};
  const ColumnValues v = byte_values(Type::kInt96, held);
  EXPECT_EQ(*timestamp_micros(v, 0, Kind::kInt96), 1000000000123456);
  EXPECT_EQ(*timestamp_micros(v, 1, Kind::kInt96), int64_t{-86400} * 1000000);
  EXPECT_FALSE(timestamp_micros(v, 2, Kind::kInt96).has_value());
}

TEST(LogicalValues, BigEndianTwosComplement) {
  EXPECT_EQ(big_endian_integer(std::string("\x00", 1)), 0.0);
  EXPECT_EQ(big_endian_integer("\x7f"), 127.0);
  EXPECT_EQ(big_endian_integer("\x80"), -128.0);
  EXPECT_EQ(big_endian_integer(std::string("\xff\xff\xff\xfe", 4)), -2.0);
  EXPECT_EQ(big_endian_integer(std::string("\x01\x00\x00", 3)), 65536.0);
  // 16 bytes: -1, and 2^120.
  EXPECT_EQ(big_endian_integer(std::string(16, '\xff')), -1.0);
  std::string big(16, '\0');
  big[0] = 1;
  EXPECT_EQ(big_endian_integer(big), std::ldexp(1.0, 120));
  // Longer than 16 bytes (BYTE_ARRAY decimals may be): -2^8 in 20 bytes, 2^144 in 19.
  std::string minus256(20, '\xff');
  minus256[19] = '\0';
  EXPECT_EQ(big_endian_integer(minus256), -256.0);
  std::string huge(19, '\0');
  huge[0] = 1;
  EXPECT_EQ(big_endian_integer(huge), std::ldexp(1.0, 144));
}

TEST(LogicalValues, DecimalsOfEveryPhysicalType) {
  const ColumnValues i32 = ints(Type::kInt32, {123, -5});
  EXPECT_DOUBLE_EQ(decimal_value(i32, 0, 2), 1.23);
  EXPECT_DOUBLE_EQ(decimal_value(i32, 1, 0), -5.0);
  const ColumnValues i64 = ints(Type::kInt64, {-123456789012345});
  EXPECT_EQ(decimal_value(i64, 0, 4), -12345678901.2345);
  // FIXED_LEN_BYTE_ARRAY(9): -1.23 at scale 2 is -123.
  const std::vector<std::string> held = {std::string(8, '\xff') + "\x85", std::string("\x30\x39", 2)};
  const ColumnValues flba = byte_values(Type::kFixedLenByteArray, held);
  EXPECT_EQ(decimal_value(flba, 0, 2), -1.23);
  EXPECT_EQ(decimal_value(flba, 1, 3), 12.345);  // 0x3039 = 12345
}

}  // namespace
}  // namespace salvo::parquet
