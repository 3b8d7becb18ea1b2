#include "windows/time_spec.h"

#include <gtest/gtest.h>

#include "salvo/error.h"

namespace salvo::windows {
namespace {

TEST(ParseDuration, UnitsAndSpellings) {
  EXPECT_EQ(parse_duration("30s", "--window"), 30 * kMicrosPerSecond);
  EXPECT_EQ(parse_duration("15m", "--window"), 15 * 60 * kMicrosPerSecond);
  EXPECT_EQ(parse_duration("6h", "--window"), 6 * 3600 * kMicrosPerSecond);
  EXPECT_EQ(parse_duration("14d", "--window"), 14 * kMicrosPerDay);
  EXPECT_EQ(parse_duration("2w", "--window"), 14 * kMicrosPerDay);
  EXPECT_EQ(parse_duration("250ms", "--window"), 250000);
  EXPECT_EQ(parse_duration("7us", "--window"), 7);
}

TEST(ParseDuration, RefusesWhatIsNotOne) {
  for (const char* bad : {"", "d", "14", "14x", "-1d", "0s", "1.5h", "3mo", "1y", "14 d", "99999999999999999999d"}) {
    try {
      parse_duration(bad, "--window");
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << bad;
      EXPECT_NE(std::string(e.what()).find("--window"), std::string::npos) << e.what();
    }
  }
}

TEST(ParseOffset, ZeroAndNegativeOffsetsToo) {
  // Regression: --origin 0s (the default) was refused, and so was a negative offset.
  EXPECT_EQ(parse_offset("0s", "--origin"), 0);
  EXPECT_EQ(parse_offset("00h", "--origin"), 0);
  EXPECT_EQ(parse_offset("-0ms", "--origin"), 0);
  EXPECT_EQ(parse_offset("6h", "--origin"), 6 * 3600 * kMicrosPerSecond);
  EXPECT_EQ(parse_offset("-30m", "--origin"), -30 * 60 * kMicrosPerSecond);
  for (const char* bad : {"", "0", "-", "--1h", "0x", "1.5h", "- 1h"}) {
    EXPECT_THROW(parse_offset(bad, "--origin"), Error) << bad;
  }
}

TEST(FormatDuration, ShortestExactUnit) {
  EXPECT_EQ(format_duration(14 * kMicrosPerDay), "2w");
  EXPECT_EQ(format_duration(36 * 3600 * kMicrosPerSecond), "36h");
  EXPECT_EQ(format_duration(90 * kMicrosPerSecond), "90s");
  EXPECT_EQ(format_duration(1500), "1500us");
}

TEST(ParseTimestamp, IsoForms) {
  int64_t t = 0;
  ASSERT_TRUE(parse_timestamp("1970-01-01", &t));
  EXPECT_EQ(t, 0);
  ASSERT_TRUE(parse_timestamp("2024-03-01", &t));
  EXPECT_EQ(t, days_from_civil(2024, 3, 1) * kMicrosPerDay);
  EXPECT_EQ(days_from_civil(2024, 3, 1), 19783);
  ASSERT_TRUE(parse_timestamp("2024-03-01T12:30", &t));
  EXPECT_EQ(t, 19783 * kMicrosPerDay + (12 * 60 + 30) * 60 * kMicrosPerSecond);
  ASSERT_TRUE(parse_timestamp("2024-03-01 12:30:05.25", &t));
  EXPECT_EQ(t, 19783 * kMicrosPerDay + ((12 * 60 + 30) * 60 + 5) * kMicrosPerSecond + 250000);
  ASSERT_TRUE(parse_timestamp("2024-03-01T12:30:05Z", &t));
  const int64_t utc = t;
  ASSERT_TRUE(parse_timestamp("2024-03-01T14:30:05+02:00", &t));
  EXPECT_EQ(t, utc);
  ASSERT_TRUE(parse_timestamp("2024-03-01T07:30:05-0500", &t));
  EXPECT_EQ(t, utc);
  ASSERT_TRUE(parse_timestamp("2024-03-01T13:30:05+01", &t));
  EXPECT_EQ(t, utc);
  ASSERT_TRUE(parse_timestamp("1969-12-31T23:59:59.999999Z", &t));
  EXPECT_EQ(t, -1);
  ASSERT_TRUE(parse_timestamp("2024-03-01T12:30:05.123456789", &t));  // nanoseconds dropped
  EXPECT_EQ(t % kMicrosPerSecond, 123456);
}

TEST(ParseTimestamp, RefusesOthers) {
  int64_t t = 42;
  for (const char* bad : {"", "2024", "2024-02-30", "2024-13-01", "2024-03-01T25:00", "2024-03-01T12", "2024-03-01x",
                          "yesterday", "2024-03-01T12:30:05.", "2024/03/01", "1709294400"}) {
    EXPECT_FALSE(parse_timestamp(bad, &t)) << bad;
    EXPECT_EQ(t, 42);
  }
}

TEST(FormatTimestamp, RoundTrips) {
  for (int64_t t : {int64_t{0}, int64_t{-1}, int64_t{1709296205250000}, int64_t{-86400000000LL * 400}}) {
    int64_t back = 0;
    ASSERT_TRUE(parse_timestamp(format_timestamp(t), &back)) << format_timestamp(t);
    EXPECT_EQ(back, t);
  }
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00Z");
}

TEST(FloorDiv, RoundsDown) {
  EXPECT_EQ(floor_div(7, 2), 3);
  EXPECT_EQ(floor_div(-7, 2), -4);
  EXPECT_EQ(floor_div(-8, 2), -4);
  EXPECT_EQ(floor_mod(-7, 3), 2);
}

}  // namespace
}  // namespace salvo::windows
