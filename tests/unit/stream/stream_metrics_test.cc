#include "stream/stream_metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

namespace salvo {
namespace {

// The histogram's quantiles against the exact order statistics of the same samples.
TEST(LatencyHistogramTest, QuantilesWithinFivePercentOfExact) {
  std::mt19937 rng(7);
  std::lognormal_distribution<double> dist(-4.0, 1.0);  // around 18 ms, long tail
  std::vector<double> samples(20000);
  LatencyHistogram h;
  for (auto& s : samples) {
    s = dist(rng);
    h.record(s);
  }
  std::sort(samples.begin(), samples.end());
  for (double q : {0.5, 0.9, 0.99}) {
    const double exact = samples[static_cast<size_t>(q * samples.size()) - 1];
    EXPECT_NEAR(h.quantile(q), exact, 0.05 * exact) << q;
  }
  EXPECT_EQ(h.count(), samples.size());
  h.clear();
  EXPECT_EQ(h.quantile(0.5), 0);
}

TEST(StreamMetricsTest, JsonReportHasCountersAndIntervalLatency) {
  StreamMetrics m;
  m.requests = 4;
  m.responses = 3;
  m.errors = 1;
  m.batches = 2;
  m.record_latency(0.010);
  m.record_latency(0.020);
  auto j = nlohmann::json::parse(m.report(17, false, true));
  EXPECT_EQ(j["requests"], 4);
  EXPECT_EQ(j["responses"], 3);
  EXPECT_EQ(j["errors"], 1);
  EXPECT_EQ(j["lag"], 17);
  EXPECT_NEAR(j["p99_ms"].get<double>(), 20.0, 1.0);
  // A new interval starts empty; the exit report covers the whole run.
  EXPECT_EQ(nlohmann::json::parse(m.report(0, false, true))["p50_ms"], 0.0);
  auto final = nlohmann::json::parse(m.report(0, true, true));
  EXPECT_EQ(final["event"], "exit");
  EXPECT_NEAR(final["p99_ms"].get<double>(), 20.0, 1.0);
  EXPECT_NE(m.report(0, true, false).find("3 responses"), std::string::npos);
}

}  // namespace
}  // namespace salvo
