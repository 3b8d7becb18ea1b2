#include "windows/feature_spec.h"

#include <gtest/gtest.h>

#include "salvo/error.h"
#include "windows/time_spec.h"

namespace salvo::windows {
namespace {

TEST(ParseFeatures, NamesFollowTheAggregateAndColumn) {
  const auto f = parse_features("count(*),sum(amount), mean(duration) ,max(x),distinct(kind),last(plan), avg(y)");
  ASSERT_EQ(f.size(), 7u);
  EXPECT_EQ(f[0].kind, AggregateKind::kCount);
  EXPECT_EQ(f[0].column, "");
  EXPECT_EQ(f[0].name, "count");
  EXPECT_EQ(f[1].kind, AggregateKind::kSum);
  EXPECT_EQ(f[1].name, "sum_amount");
  EXPECT_EQ(f[2].name, "mean_duration");
  EXPECT_EQ(f[3].kind, AggregateKind::kMax);
  EXPECT_EQ(f[4].kind, AggregateKind::kDistinct);
  EXPECT_EQ(f[4].name, "distinct_kind");
  EXPECT_EQ(f[5].kind, AggregateKind::kLast);
  EXPECT_EQ(f[6].kind, AggregateKind::kMean);
  EXPECT_EQ(f[6].name, "avg_y");
}

TEST(ParseFeatures, AliasesQuotesAndCase) {
  const auto f = parse_features("SUM(amount) AS total, count(\"odd, name\"), stddev(`a``b`) as sd, any(*), count(x)");
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f[0].name, "total");
  EXPECT_EQ(f[0].function, "sum");
  EXPECT_EQ(f[1].column, "odd, name");
  EXPECT_EQ(f[1].name, "count_odd, name");
  EXPECT_EQ(f[2].column, "a`b");
  EXPECT_EQ(f[2].name, "sd");
  EXPECT_EQ(f[3].kind, AggregateKind::kAny);
  EXPECT_EQ(f[3].name, "any");
  EXPECT_EQ(f[4].name, "count_x");
}

TEST(ParseFeatures, RefusalsNameTheAggregate) {
  const std::pair<const char*, const char*> cases[] = {
      {"median(x)", "unknown aggregate \"median\""},
      {"sum(*)", "sum(*) is not an aggregate"},
      {"sum(x", "expected \")\""},
      {"sum x", "expected \"(\""},
      {"sum()", "expected a column name"},
      {"sum(x) extra", "unexpected"},
      {"sum(x) as", "expected a name"},
      {"count(*), count(*)", "two aggregates are named \"count\""},
      {"sum(x),,count(*)", "empty aggregate"},
      {"", "no aggregate"},
      {"max(x) over next 3d", "belongs in --label"},
      {"count(\"x)", "unclosed quote"},
  };
  for (const auto& [text, why] : cases) {
    try {
      parse_features(text);
      ADD_FAILURE() << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << text << ": " << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}

TEST(ParseLabel, AggregateAndHorizon) {
  const LabelSpec l = parse_label("max(churned) over next 30d");
  EXPECT_EQ(l.aggregate.kind, AggregateKind::kMax);
  EXPECT_EQ(l.aggregate.column, "churned");
  EXPECT_EQ(l.aggregate.name, "label");
  EXPECT_EQ(l.horizon, 30 * kMicrosPerDay);
  EXPECT_EQ(parse_label("  COUNT(*)  OVER  NEXT 180d ").horizon, 180 * kMicrosPerDay);
  for (const char* bad :
       {"max(churned)", "max(churned) over 30d", "max(churned) over next", "max(churned) over next 1mo"}) {
    EXPECT_THROW(parse_label(bad), Error) << bad;
  }
}

}  // namespace
}  // namespace salvo::windows
