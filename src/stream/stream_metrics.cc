#include "stream/stream_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace salvo {
namespace {

const double kLogGrowth = std::log(1.05);

}  // namespace

void LatencyHistogram::record(double seconds) {
  const double us = std::max(1.0, seconds * 1e6);
  const size_t bucket = std::min(kBuckets - 1, static_cast<size_t>(std::log(us) / kLogGrowth));
  ++buckets_[bucket];
  ++count_;
}

double LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  uint64_t seen = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    seen += buckets_[b];
    // The bucket's geometric middle: within 2.5% of any value in it.
    if (seen >= rank) return std::exp((b + 0.5) * kLogGrowth) * 1e-6;
  }
  return 0;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t b = 0; b < kBuckets; ++b) buckets_[b] += other.buckets_[b];
  count_ += other.count_;
}

void LatencyHistogram::clear() {
  buckets_.fill(0);
  count_ = 0;
}

void StreamMetrics::record_latency(double seconds) {
  std::lock_guard lock(mutex_);
  interval_.record(seconds);
}

std::string StreamMetrics::report(int64_t lag, bool final, bool json) {
  double p50, p99;
  {
    std::lock_guard lock(mutex_);
    total_.merge(interval_);
    const LatencyHistogram& h = final ? total_ : interval_;
    p50 = h.quantile(0.5) * 1e3;
    p99 = h.quantile(0.99) * 1e3;
    interval_.clear();
  }
  if (json) {
    nlohmann::json j = {{"event", final ? "exit" : "stats"},
                        {"requests", requests.load()},
                        {"responses", responses.load()},
                        {"errors", errors.load()},
                        {"batches", batches.load()},
                        {"retries", retries.load()},
                        {"abandoned", abandoned.load()},
                        {"aborted_transactions", aborted.load()},
                        {"p50_ms", p50},
                        {"p99_ms", p99},
                        {"lag", lag}};
    return j.dump();
  }
  char line[512];
  std::snprintf(line, sizeof(line),
                "salvo stream%s: %llu requests, %llu responses, %llu errors, %llu batches, "
                "p50 %.1f ms, p99 %.1f ms, lag %lld, %llu retries, %llu abandoned, %llu aborted",
                final ? " (exit)" : "", static_cast<unsigned long long>(requests.load()),
                static_cast<unsigned long long>(responses.load()), static_cast<unsigned long long>(errors.load()),
                static_cast<unsigned long long>(batches.load()), p50, p99, static_cast<long long>(lag),
                static_cast<unsigned long long>(retries.load()), static_cast<unsigned long long>(abandoned.load()),
                static_cast<unsigned long long>(aborted.load()));
  return line;
}

}  // namespace salvo
