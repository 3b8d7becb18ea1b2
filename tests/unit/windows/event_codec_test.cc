#include "windows/event_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace salvo::windows {
namespace {

std::string key_of(const Column& c, int64_t row, int64_t time = 0) {
  std::string key;
  append_group_key(c, row, &key);
  append_time_key(time, &key);
  return key;
}

// Keys of the values in `c` (already in ascending order, null first) must be ascending as bytes,
// and decode back to the values.
void expect_ordered_and_decodable(const Column& c) {
  for (int64_t r = 0; r < c.size(); ++r) {
    const std::string key = key_of(c, r);
    if (r > 0) {
      EXPECT_LT(key_of(c, r - 1), key) << "rows " << r - 1 << " and " << r << " of " << c.type().to_string();
    }
    Column back(c.type());
    append_group_value(group_of_key(key), &back);
    ASSERT_EQ(back.is_null(0), c.is_null(r));
    if (c.is_null(r)) continue;
    switch (c.type().id()) {
      case TypeId::kInt64: EXPECT_EQ(back.int64_at(0), c.int64_at(r)); break;
      case TypeId::kInt32: EXPECT_EQ(back.int32_at(0), c.int32_at(r)); break;
      case TypeId::kFloat64: EXPECT_EQ(back.float64_at(0), c.float64_at(r)); break;
      case TypeId::kString: EXPECT_EQ(back.string_at(0), c.string_at(r)); break;
      case TypeId::kBool: EXPECT_EQ(back.bool_at(0), c.bool_at(r)); break;
      default: FAIL();
    }
  }
}

TEST(EventCodec, GroupKeysSortLikeTheirValues) {
  Column ints(DataType::int64());
  ints.append_null();
  for (int64_t v : {std::numeric_limits<int64_t>::min(), int64_t{-5}, int64_t{-1}, int64_t{0}, int64_t{1}, int64_t{300},
                    std::numeric_limits<int64_t>::max()}) {
    ints.append_int64(v);
  }
  expect_ordered_and_decodable(ints);
  Column small(DataType::int32());
  for (int32_t v : {-70000, -1, 0, 2, 70000}) small.append_int32(v);
  expect_ordered_and_decodable(small);
  Column floats(DataType::float64());
  for (double v : {-std::numeric_limits<double>::infinity(), -1e300, -2.5, -1e-300, 0.0, 1e-300, 3.0, 1e300,
                   std::numeric_limits<double>::infinity()}) {
    floats.append_float64(v);
  }
  expect_ordered_and_decodable(floats);
  Column strings(DataType::string());
  strings.append_null();
  for (std::string v : {std::string(""), std::string("\0", 1), std::string("\0\0", 2), std::string("\0a", 2),
                        std::string("a"), std::string("a\0", 2), std::string("a\0\xff", 3), std::string("a\x01"),
                        std::string("ab"), std::string("b"), std::string("\xff")}) {
    strings.append_string(v);
  }
  expect_ordered_and_decodable(strings);
  Column bools(DataType::boolean());
  bools.append_null();
  bools.append_bool(false);
  bools.append_bool(true);
  expect_ordered_and_decodable(bools);
}

TEST(EventCodec, ANanKeyIsTheNullKey) {
  // Regression: a NaN key formed a group of its own, written as null beside the null group.
  Column floats(DataType::float64());
  floats.append_null();
  floats.append_float64(std::numeric_limits<double>::quiet_NaN());
  floats.append_float64(-std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(key_of(floats, 1), key_of(floats, 0));
  EXPECT_EQ(key_of(floats, 2), key_of(floats, 0));
  Column singles(DataType::float32());
  singles.append_float32(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(key_of(singles, 0), key_of(floats, 0));
}

TEST(EventCodec, TimeOrdersWithinAGroupAndNeverAcrossGroups) {
  Column s(DataType::string());
  s.append_string("a");
  s.append_string("a\x01");
  EXPECT_LT(key_of(s, 0, -5), key_of(s, 0, 3));
  EXPECT_LT(key_of(s, 0, std::numeric_limits<int64_t>::max()), key_of(s, 1, std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(time_of_key(key_of(s, 1, -123456789)), -123456789);
  Column z(DataType::float64());
  z.append_float64(0.0);
  z.append_float64(-0.0);
  EXPECT_EQ(group_of_key(key_of(z, 0)), group_of_key(key_of(z, 1))) << "-0.0 and 0.0 are one group";
}

TEST(EventCodec, PayloadRoundTripsThroughTheEventBuffer) {
  Column b(DataType::boolean()), i(DataType::int32()), f(DataType::float32()), s(DataType::string()),
      t(DataType::timestamp());
  b.append_bool(true);
  i.append_null();
  f.append_float32(std::nanf(""));  // NaN is read as null
  s.append_string(std::string(300, 'q'));
  t.append_int64(-42);
  b.append_null();
  i.append_int32(-7);
  f.append_float32(2.5f);
  s.append_null();
  t.append_null();
  EventBuffer buffer({ValueKind::kBool, ValueKind::kInt, ValueKind::kFloat, ValueKind::kString, ValueKind::kTimestamp});
  for (int64_t r = 0; r < 2; ++r) {
    std::string payload;
    append_payload({&b, &i, &f, &s, &t}, r, &payload);
    buffer.push_back(100 + r, payload);
  }
  EXPECT_TRUE(buffer.valid(0, 0));
  EXPECT_EQ(buffer.int_at(0, 0), 1);
  EXPECT_FALSE(buffer.valid(1, 0));
  EXPECT_FALSE(buffer.valid(2, 0));
  EXPECT_EQ(buffer.string_at(3, 0), std::string(300, 'q'));
  EXPECT_EQ(buffer.int_at(4, 0), -42);
  EXPECT_FALSE(buffer.valid(0, 1));
  EXPECT_EQ(buffer.int_at(1, 1), -7);
  EXPECT_EQ(buffer.float_at(2, 1), 2.5);
  EXPECT_FALSE(buffer.valid(3, 1));
  EXPECT_EQ(buffer.time(1), 101);
}

TEST(EventBuffer, GrowsAndDropsInOrder) {
  Column v(DataType::int64());
  EventBuffer buffer({ValueKind::kInt});
  std::string payload;
  for (int64_t n = 0; n < 5000; ++n) {
    v = Column(DataType::int64());
    v.append_int64(n * 3);
    payload.clear();
    append_payload({&v}, 0, &payload);
    buffer.push_back(n, payload);
    if (n % 3 == 0) buffer.pop_front_until(buffer.begin() + 2);
  }
  for (uint64_t seq = buffer.begin(); seq < buffer.end(); ++seq) {
    ASSERT_EQ(buffer.int_at(0, seq), static_cast<int64_t>(seq) * 3);
    ASSERT_EQ(buffer.time(seq), static_cast<int64_t>(seq));
  }
  EXPECT_EQ(buffer.end(), 5000u);
}

}  // namespace
}  // namespace salvo::windows
