#include "windows/windows_plan.h"

#include <gtest/gtest.h>

#include <cmath>

#include "salvo/error.h"
#include "windows/time_spec.h"

namespace salvo::windows {
namespace {

WindowsOptions options() {
  WindowsOptions o;
  o.group_by = "customer";
  o.time_column = "ts";
  o.window = "14d";
  o.step = "1d";
  o.features = "count(*), sum(amount), distinct(kind), max(ts)";
  return o;
}

TEST(PlanWindows, ParsesTheOptions) {
  WindowsOptions o = options();
  o.label = "max(churned) over next 30d";
  o.origin = "6h";
  o.memory = "64M";
  o.time_unit = "ms";
  o.column_types = "amount=float64, kind:string";
  const WindowsPlan p = plan_windows(o);
  EXPECT_EQ(p.geometry.window, 14 * kMicrosPerDay);
  EXPECT_EQ(p.geometry.step, kMicrosPerDay);
  EXPECT_EQ(p.geometry.origin, 6 * 3600 * kMicrosPerSecond);
  EXPECT_EQ(p.geometry.horizon, 30 * kMicrosPerDay);
  EXPECT_EQ(p.memory_bytes, uint64_t{64} << 20);
  EXPECT_EQ(p.time_unit, TimeUnit::kMillis);
  EXPECT_EQ(p.column_types.at("amount"), DataType::float64());
  EXPECT_EQ(p.column_types.at("kind"), DataType::string());
  EXPECT_EQ(p.columns, (std::vector<std::string>{"customer", "ts", "amount", "kind", "churned"}));
  EXPECT_EQ(p.value_columns, (std::vector<std::string>{"amount", "kind", "ts", "churned"}));
}

TEST(PlanWindows, StepDefaultsToTheWindowAndOriginWrapsIntoAStep) {
  WindowsOptions o = options();
  o.step.clear();
  o.origin = "2024-01-03T06:00:00Z";
  const WindowsPlan p = plan_windows(o);
  EXPECT_EQ(p.geometry.step, 14 * kMicrosPerDay);
  int64_t origin = 0;
  ASSERT_TRUE(parse_timestamp(o.origin, &origin));
  EXPECT_EQ(p.geometry.origin, floor_mod(origin, 14 * kMicrosPerDay));
  EXPECT_FALSE(p.label);
}

TEST(PlanWindows, RefusalsNameTheFlag) {
  const std::pair<void (*)(WindowsOptions&), const char*> cases[] = {
      {[](WindowsOptions& o) { o.window = "14"; }, "--window"},
      {[](WindowsOptions& o) { o.step = "1mo"; }, "--step"},
      {[](WindowsOptions& o) { o.origin = "noon"; }, "--origin"},
      {[](WindowsOptions& o) { o.features = "median(x)"; }, "--features"},
      {[](WindowsOptions& o) { o.label = "max(x) after 3d"; }, "--label"},
      {[](WindowsOptions& o) { o.memory = "lots"; }, "--memory"},
      {[](WindowsOptions& o) { o.memory = "100K"; }, "--memory"},
      {[](WindowsOptions& o) { o.time_unit = "days"; }, "--time-unit"},
      {[](WindowsOptions& o) { o.column_types = "amount=decimal"; }, "--column-types"},
      {[](WindowsOptions& o) { o.column_types = "amount"; }, "--column-types"},
      {[](WindowsOptions& o) { o.time_column = "customer"; }, "--group-by and --time-column"},
  };
  for (const auto& [change, flag] : cases) {
    WindowsOptions o = options();
    change(o);
    try {
      plan_windows(o);
      ADD_FAILURE() << flag;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  }
}

TEST(ParseByteSize, BinaryUnits) {
  EXPECT_EQ(parse_byte_size("512M", "--memory"), uint64_t{512} << 20);
  EXPECT_EQ(parse_byte_size("2G", "--memory"), uint64_t{2} << 30);
  EXPECT_EQ(parse_byte_size("64MiB", "--memory"), uint64_t{64} << 20);
  EXPECT_EQ(parse_byte_size("100kb", "--memory"), uint64_t{100} << 10);
  EXPECT_EQ(parse_byte_size("4096", "--memory"), 4096u);
  EXPECT_THROW(parse_byte_size("-1M", "--memory"), Error);
  EXPECT_THROW(parse_byte_size("1X", "--memory"), Error);
  EXPECT_THROW(parse_byte_size("0", "--memory"), Error);
}

TEST(ToMicros, UnitsAndRange) {
  int64_t t = 0;
  ASSERT_TRUE(to_micros(int64_t{1700000000}, TimeUnit::kSeconds, &t));
  EXPECT_EQ(t, int64_t{1700000000} * 1000000);
  ASSERT_TRUE(to_micros(int64_t{-1500}, TimeUnit::kMillis, &t));
  EXPECT_EQ(t, -1500000);
  ASSERT_TRUE(to_micros(int64_t{-1}, TimeUnit::kNanos, &t));
  EXPECT_EQ(t, -1);
  EXPECT_FALSE(to_micros(int64_t{1} << 62, TimeUnit::kSeconds, &t));
  ASSERT_TRUE(to_micros(1.5, TimeUnit::kSeconds, &t));
  EXPECT_EQ(t, 1500000);
  EXPECT_FALSE(to_micros(std::nan(""), TimeUnit::kSeconds, &t));
}

}  // namespace
}  // namespace salvo::windows
