// The window engine against a plain enumeration: for each group, for each window, filter the
// events and aggregate them.
#include "windows/window_engine.h"

#include <gtest/gtest.h>

#include <random>

#include "windows/event_codec.h"
#include "windows/time_spec.h"

namespace salvo::windows {
namespace {

struct Event {
  int64_t group;
  int64_t time;
  std::optional<int64_t> x;
};

// Groups of 1 to 60 events with gaps, ties and long silences; x sometimes null.
std::vector<Event> random_events(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Event> events;
  for (int64_t g = 0; g < 40; ++g) {
    const size_t n = g % 7 == 0 ? 1 : 1 + rng() % 60;
    int64_t t = static_cast<int64_t>(rng() % 50) - 25;
    for (size_t i = 0; i < n; ++i) {
      const uint32_t r = rng() % 10;
      t += r < 3 ? 0 : r < 8 ? 1 + rng() % 3 : 10 + rng() % 40;
      events.push_back({g, t, rng() % 4 == 0 ? std::nullopt : std::optional<int64_t>(rng() % 100)});
    }
  }
  return events;
}

struct Row {
  int64_t group, start, end, count;
  std::optional<int64_t> sum, max, label;
  bool operator==(const Row&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Row& r) {
  auto opt = [](std::optional<int64_t> v) { return v ? std::to_string(*v) : std::string("null"); };
  return os << "{group " << r.group << " [" << r.start << ", " << r.end << ") count " << r.count << " sum "
            << opt(r.sum) << " max " << opt(r.max) << " label " << opt(r.label) << "}";
}

std::vector<Row> naive(const std::vector<Event>& events, const WindowGeometry& g, bool label) {
  std::vector<Row> rows;
  for (size_t begin = 0; begin < events.size();) {
    size_t end = begin;
    while (end < events.size() && events[end].group == events[begin].group) ++end;
    const int64_t first = floor_div(events[begin].time - g.window - g.origin, g.step) + 1;
    const int64_t last = floor_div(events[end - 1].time - g.origin, g.step);
    for (int64_t k = first; k <= last; ++k) {
      const int64_t s = g.origin + k * g.step;
      Row row{events[begin].group, s, s + g.window, 0, {}, {}, {}};
      for (size_t i = begin; i < end; ++i) {
        const Event& e = events[i];
        if (e.time >= s && e.time < s + g.window) {
          ++row.count;
          if (e.x) {
            row.sum = row.sum.value_or(0) + *e.x;
            row.max = std::max(row.max.value_or(INT64_MIN), *e.x);
          }
        }
        if (label && e.time >= s + g.window && e.time < s + g.window + g.horizon && e.x) {
          row.label = std::max(row.label.value_or(INT64_MIN), *e.x);
        }
      }
      if (g.skip_empty && row.count == 0) continue;
      rows.push_back(row);
    }
    begin = end;
  }
  return rows;
}

std::vector<Row> run_engine(const std::vector<Event>& events, const WindowGeometry& g, bool label) {
  const FeatureSpec count = parse_features("count(*)")[0];
  const FeatureSpec sum = parse_features("sum(x)")[0];
  const FeatureSpec max = parse_features("max(x)")[0];
  std::vector<std::unique_ptr<SlidingAggregate>> features;
  features.push_back(make_sliding_aggregate(count, 0, DataType::int64()));
  features.push_back(make_sliding_aggregate(sum, 0, DataType::int64()));
  features.push_back(make_sliding_aggregate(max, 0, DataType::int64()));
  Schema schema{{{"g", DataType::int64()},
                 {"window_start", DataType::timestamp()},
                 {"window_end", DataType::timestamp()},
                 {"count", DataType::int64()},
                 {"sum_x", DataType::int64()},
                 {"max_x", DataType::int64()}},
                {}};
  std::unique_ptr<SlidingAggregate> label_aggregate;
  if (label) {
    label_aggregate = make_sliding_aggregate(max, 0, DataType::int64());
    schema.fields.push_back({"label", DataType::int64()});
  }
  std::vector<Row> rows;
  auto opt = [](const Column& c, int64_t r) {
    return c.is_null(r) ? std::nullopt : std::optional<int64_t>(c.int64_at(r));
  };
  WindowEngine engine(
      g, {ValueKind::kInt}, std::move(features), std::move(label_aggregate), schema,
      [&](RecordBatch&& b) {
        for (int64_t r = 0; r < b.num_rows(); ++r) {
          rows.push_back({b.column(0).int64_at(r), b.column(1).int64_at(r), b.column(2).int64_at(r),
                          b.column(3).int64_at(r), opt(b.column(4), r), opt(b.column(5), r),
                          label ? opt(b.column(6), r) : std::nullopt});
        }
      },
      7);
  Column group(DataType::int64()), x(DataType::int64());
  std::string key, payload;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (i == 0 || e.group != events[i - 1].group) {
      if (i > 0) engine.end_group();
      group = Column(DataType::int64());
      group.append_int64(e.group);
      key.clear();
      append_group_key(group, 0, &key);
      engine.begin_group(key);
    }
    x = Column(DataType::int64());
    e.x ? x.append_int64(*e.x) : x.append_null();
    payload.clear();
    append_payload({&x}, 0, &payload);
    engine.add(e.time, payload);
  }
  if (!events.empty()) engine.end_group();
  engine.finish();
  return rows;
}

TEST(WindowEngine, MatchesAPlainEnumerationOfWindows) {
  struct Shape {
    int64_t window, step, origin, horizon;
  };
  const Shape shapes[] = {{5, 1, 0, 0}, {5, 1, 0, 4},  {3, 3, 0, 0}, {3, 3, 1, 7},  {2, 5, 0, 0},
                          {2, 5, 3, 6}, {7, 2, 1, 20}, {1, 1, 0, 1}, {10, 3, 2, 3}, {4, 6, 5, 100}};
  for (uint32_t seed : {1u, 2u, 3u}) {
    const std::vector<Event> events = random_events(seed);
    for (const Shape& s : shapes) {
      for (bool skip : {false, true}) {
        const WindowGeometry g{s.window, s.step, s.origin, s.horizon, skip};
        const bool label = s.horizon > 0;
        const auto want = naive(events, g, label);
        const auto got = run_engine(events, g, label);
        ASSERT_EQ(got.size(), want.size()) << "window " << s.window << " step " << s.step << " origin " << s.origin
                                           << " horizon " << s.horizon << " skip " << skip << " seed " << seed;
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(got[i], want[i]) << "row " << i << ", window " << s.window << " step " << s.step << " origin "
                                     << s.origin << " horizon " << s.horizon << " skip " << skip;
        }
      }
    }
  }
}

TEST(WindowEngine, MemoryFollowsTheWindowNotTheGroup) {
  // One group of 200,000 events, one per time unit, windows of 100: at most about 100 held.
  std::vector<Event> events;
  for (int64_t t = 0; t < 200000; ++t) events.push_back({1, t, t % 13});
  const auto rows = run_engine(events, {100, 10, 0, 50, false}, true);
  EXPECT_EQ(rows.size(), 200000u / 10 + 9);
  const FeatureSpec count = parse_features("count(*)")[0];
  std::vector<std::unique_ptr<SlidingAggregate>> features;
  features.push_back(make_sliding_aggregate(count, 0, DataType::int64()));
  uint64_t windows = 0;
  WindowEngine engine({100, 10, 0, 0, false}, {ValueKind::kInt}, std::move(features), nullptr,
                      Schema{{{"g", DataType::int64()},
                              {"window_start", DataType::timestamp()},
                              {"window_end", DataType::timestamp()},
                              {"count", DataType::int64()}},
                             {}},
                      [&](RecordBatch&& b) { windows += static_cast<uint64_t>(b.num_rows()); });
  Column group(DataType::int64()), x(DataType::int64());
  group.append_int64(1);
  x.append_int64(1);
  std::string key, payload;
  append_group_key(group, 0, &key);
  append_payload({&x}, 0, &payload);
  engine.begin_group(key);
  for (int64_t t = 0; t < 200000; ++t) engine.add(t, payload);
  engine.end_group();
  engine.finish();
  EXPECT_EQ(windows, 200000u / 10 + 9);
  EXPECT_LE(engine.peak_events(), 101u);
}

TEST(WindowEngine, SkippingEmptyWindowsJumpsOverLongSilences) {
  // Two events a lifetime apart with one-second windows: only their windows are visited.
  std::vector<Event> events{{1, 0, 1}, {1, int64_t{1} << 50, 2}};
  const auto rows = run_engine(events, {1, 1, 0, 0, true}, false);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].start, int64_t{1} << 50);
}

}  // namespace
}  // namespace salvo::windows
