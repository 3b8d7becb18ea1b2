// The sliding aggregates against a naive recomputation over the window's events, after every
// push and pop of a random walk.
#include "windows/sliding_aggregates.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <set>

#include "salvo/error.h"
#include "windows/event_codec.h"

namespace salvo::windows {
namespace {

// Columns: 0 int64, 1 float64, 2 string, 3 bool, 4 int32, 5 timestamp; about a fifth null.
struct Events {
  std::vector<Column> columns;
  EventBuffer buffer{{ValueKind::kInt, ValueKind::kFloat, ValueKind::kString, ValueKind::kBool, ValueKind::kInt,
                      ValueKind::kTimestamp}};

  explicit Events(size_t n, uint32_t seed) {
    for (const DataType& t : {DataType::int64(), DataType::float64(), DataType::string(), DataType::boolean(),
                              DataType::int32(), DataType::timestamp()}) {
      columns.emplace_back(t);
    }
    std::mt19937 rng(seed);
    std::vector<const Column*> pointers;
    for (const Column& c : columns) pointers.push_back(&c);
    std::string payload;
    for (size_t i = 0; i < n; ++i) {
      auto null = [&] { return rng() % 5 == 0; };
      null() ? columns[0].append_null() : columns[0].append_int64(static_cast<int64_t>(rng() % 21) - 10);
      // Large and small magnitudes: sums of a window must not inherit the rounding of values gone.
      null()
          ? columns[1].append_null()
          : columns[1].append_float64((rng() % 3 == 0 ? 1e12 : 1.0) * (static_cast<double>(rng() % 2001) / 100 - 10));
      null() ? columns[2].append_null() : columns[2].append_string(std::string(1 + rng() % 3, "abc"[rng() % 3]));
      null() ? columns[3].append_null() : columns[3].append_bool(rng() % 3 == 0);
      null() ? columns[4].append_null() : columns[4].append_int32(static_cast<int32_t>(rng() % 7));
      null() ? columns[5].append_null() : columns[5].append_int64(static_cast<int64_t>(rng() % 5) * 1000000);
      payload.clear();
      append_payload(pointers, static_cast<int64_t>(i), &payload);
      buffer.push_back(static_cast<int64_t>(i), payload);
    }
  }
};

// Appends to `out` what `spec` gives over rows [lo, hi) of `columns`, computed plainly.
void naive(const FeatureSpec& spec, size_t c, const std::vector<Column>& columns, int64_t lo, int64_t hi, Column* out) {
  if (spec.column.empty()) {
    if (spec.kind == AggregateKind::kAny) {
      out->append_bool(hi > lo);
    } else {
      out->append_int64(hi - lo);
    }
    return;
  }
  const Column& col = columns[c];
  std::vector<int64_t> rows;
  for (int64_t r = lo; r < hi; ++r) {
    if (!col.is_null(r)) rows.push_back(r);
  }
  const TypeId type = col.type().id();
  auto number = [&](int64_t r) {
    switch (type) {
      case TypeId::kFloat64: return col.float64_at(r);
      case TypeId::kBool: return col.bool_at(r) ? 1.0 : 0.0;
      case TypeId::kInt32: return static_cast<double>(col.int32_at(r));
      default: return static_cast<double>(col.int64_at(r));
    }
  };
  auto less = [&](int64_t a, int64_t b) {
    if (type == TypeId::kString) return col.string_at(a) < col.string_at(b);
    return number(a) < number(b);
  };
  switch (spec.kind) {
    case AggregateKind::kCount: out->append_int64(static_cast<int64_t>(rows.size())); return;
    case AggregateKind::kDistinct: {
      std::set<std::string> seen;
      for (int64_t r : rows)
        seen.insert(type == TypeId::kString ? std::string(col.string_at(r)) : std::to_string(number(r)));
      out->append_int64(static_cast<int64_t>(seen.size()));
      return;
    }
    case AggregateKind::kAny: {
      if (rows.empty()) return out->append_null();
      out->append_bool(std::any_of(rows.begin(), rows.end(), [&](int64_t r) { return col.bool_at(r); }));
      return;
    }
    default: break;
  }
  if (rows.empty()) return out->append_null();
  switch (spec.kind) {
    case AggregateKind::kSum: {
      if (type == TypeId::kFloat64) {
        double s = 0;
        for (int64_t r : rows) s += number(r);
        return out->append_float64(s);
      }
      int64_t s = 0;
      for (int64_t r : rows) s += static_cast<int64_t>(number(r));
      return out->append_int64(s);
    }
    case AggregateKind::kMean:
    case AggregateKind::kStddev: {
      double s = 0;
      for (int64_t r : rows) s += number(r);
      const double mean = s / static_cast<double>(rows.size());
      if (spec.kind == AggregateKind::kMean) return out->append_float64(mean);
      if (rows.size() < 2) return out->append_null();
      double ss = 0;
      for (int64_t r : rows) ss += (number(r) - mean) * (number(r) - mean);
      return out->append_float64(std::sqrt(ss / static_cast<double>(rows.size() - 1)));
    }
    case AggregateKind::kMin: return out->append_from(col, *std::min_element(rows.begin(), rows.end(), less));
    case AggregateKind::kMax: return out->append_from(col, *std::max_element(rows.begin(), rows.end(), less));
    case AggregateKind::kFirst: return out->append_from(col, rows.front());
    case AggregateKind::kLast: return out->append_from(col, rows.back());
    default: FAIL();
  }
}

// Values equal, floats within a relative 1e-9 of the window's magnitude.
void expect_same(const Column& got, const Column& want, int64_t row, double scale, const std::string& what) {
  ASSERT_EQ(got.type(), want.type()) << what;
  ASSERT_EQ(got.is_null(row), want.is_null(row)) << what << " at step " << row;
  if (got.is_null(row)) return;
  switch (got.type().id()) {
    case TypeId::kFloat64:
      ASSERT_NEAR(got.float64_at(row), want.float64_at(row), 1e-9 * std::max(1.0, scale)) << what << " at step " << row;
      return;
    case TypeId::kString: ASSERT_EQ(got.string_at(row), want.string_at(row)) << what << " at step " << row; return;
    case TypeId::kBool: ASSERT_EQ(got.bool_at(row), want.bool_at(row)) << what << " at step " << row; return;
    case TypeId::kInt32: ASSERT_EQ(got.int32_at(row), want.int32_at(row)) << what << " at step " << row; return;
    default: ASSERT_EQ(got.int64_at(row), want.int64_at(row)) << what << " at step " << row; return;
  }
}

struct Case {
  const char* spec;
  size_t column;
};

TEST(SlidingAggregates, MatchANaiveRecomputationAfterEveryStep) {
  const Case cases[] = {
      {"count(*)", 0},    {"any(*)", 0},  {"count(x)", 0}, {"sum(x)", 0},      {"sum(x)", 1},      {"sum(x)", 3},
      {"sum(x)", 4},      {"mean(x)", 0}, {"mean(x)", 1},  {"stddev(x)", 1},   {"stddev(x)", 0},   {"min(x)", 0},
      {"min(x)", 1},      {"min(x)", 2},  {"max(x)", 2},   {"max(x)", 4},      {"max(x)", 5},      {"max(x)", 3},
      {"first(x)", 2},    {"last(x)", 1}, {"first(x)", 5}, {"distinct(x)", 0}, {"distinct(x)", 1}, {"distinct(x)", 2},
      {"distinct(x)", 3}, {"any(x)", 3},  {"count(x)", 2},
  };
  for (uint32_t seed : {1u, 2u, 3u}) {
    const size_t n = 3000;
    Events events(n, seed);
    for (const Case& c : cases) {
      FeatureSpec spec = parse_features(c.spec)[0];
      if (spec.column.empty()) spec.column.clear();
      const DataType input = events.columns[c.column].type();
      const DataType type = result_type(spec, spec.column.empty() ? DataType::int64() : input);
      auto aggregate = make_sliding_aggregate(spec, c.column, input);
      Column got(type), want(type);
      std::mt19937 rng(seed * 7919);
      int64_t lo = 0, hi = 0, step = 0;
      // A random walk whose window size drifts from empty to a few hundred events and back.
      while (hi < static_cast<int64_t>(n)) {
        const bool grow = hi == lo || (rng() % 100 < (step / 500 % 2 ? 40u : 62u));
        if (grow) {
          aggregate->push(events.buffer, static_cast<uint64_t>(hi++));
        } else {
          aggregate->pop(events.buffer, static_cast<uint64_t>(lo++));
        }
        aggregate->append_result(events.buffer, &got);
        naive(spec, c.column, events.columns, lo, hi, &want);
        expect_same(got, want, step, c.column == 1 ? 1e13 : 1.0,
                    std::string(c.spec) + " of column " + std::to_string(c.column));
        if (::testing::Test::HasFatalFailure()) return;
        ++step;
      }
      aggregate->clear();
      Column empty(type), empty_want(type);
      aggregate->append_result(events.buffer, &empty);
      naive(spec, c.column, events.columns, 0, 0, &empty_want);
      expect_same(empty, empty_want, 0, 1, std::string(c.spec) + " after clear");
    }
  }
}

TEST(SlidingAggregates, FloatSumsDoNotKeepTheRoundingOfValuesThatLeft) {
  // A huge value enters and leaves; the small ones after it must sum exactly, which subtracting
  // it again would not give.
  Column values(DataType::float64());
  for (double v : {1e20, 1.0, 2.0, 3.0}) values.append_float64(v);
  EventBuffer buffer({ValueKind::kFloat});
  std::string payload;
  for (int64_t i = 0; i < 4; ++i) {
    payload.clear();
    append_payload({&values}, i, &payload);
    buffer.push_back(i, payload);
  }
  const FeatureSpec sum = parse_features("sum(x)")[0];
  auto aggregate = make_sliding_aggregate(sum, 0, DataType::float64());
  for (uint64_t i = 0; i < 4; ++i) aggregate->push(buffer, i);
  aggregate->pop(buffer, 0);
  Column out(DataType::float64());
  aggregate->append_result(buffer, &out);
  EXPECT_EQ(out.float64_at(0), 6.0);
}

TEST(SlidingAggregates, ResultTypesAndRefusals) {
  auto spec = [](const char* text) { return parse_features(text)[0]; };
  EXPECT_EQ(result_type(spec("sum(x)"), DataType::int32()), DataType::int64());
  EXPECT_EQ(result_type(spec("sum(x)"), DataType::float32()), DataType::float64());
  EXPECT_EQ(result_type(spec("mean(x)"), DataType::int64()), DataType::float64());
  EXPECT_EQ(result_type(spec("max(x)"), DataType::int32()), DataType::int32());
  EXPECT_EQ(result_type(spec("last(x)"), DataType::string()), DataType::string());
  EXPECT_EQ(result_type(spec("min(x)"), DataType::timestamp()), DataType::timestamp());
  EXPECT_EQ(result_type(spec("distinct(x)"), DataType::string()), DataType::int64());
  EXPECT_EQ(result_type(spec("any(*)"), DataType::int64()), DataType::boolean());
  for (const auto& [text, type] : {std::pair{"sum(x)", DataType::string()}, std::pair{"mean(x)", DataType::timestamp()},
                                   std::pair{"any(x)", DataType::int64()}, std::pair{"stddev(x)", DataType::binary()},
                                   std::pair{"max(x)", DataType::list(DataType::float32())}}) {
    try {
      result_type(spec(text), type);
      ADD_FAILURE() << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("\"x\""), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace salvo::windows
