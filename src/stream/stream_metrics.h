// Counters and consume-to-delivery latency of the stream service, reported as one line (or one
// JSON object) every few seconds and at exit.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace salvo {

// Latency distribution in logarithmic buckets (each 5% wider than the last), so memory is fixed
// and a percentile is exact to within 5%.
class LatencyHistogram {
 public:
  // Adds one sample.
  void record(double seconds);
  // The q-quantile (0 < q <= 1) in seconds; 0 when empty.
  double quantile(double q) const;
  // Samples recorded.
  uint64_t count() const { return count_; }
  // Adds another histogram's samples to this one.
  void merge(const LatencyHistogram& other);
  // Forgets every sample.
  void clear();

 private:
  static constexpr size_t kBuckets = 512;  // 1 us * 1.05^511 is about 70 000 s
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
};

// What the service did; counters are updated from several threads.
class StreamMetrics {
 public:
  std::atomic<uint64_t> requests{0};    // messages consumed
  std::atomic<uint64_t> responses{0};   // responses acknowledged by the broker
  std::atomic<uint64_t> errors{0};      // bad messages answered (dead letter or error response)
  std::atomic<uint64_t> batches{0};     // micro-batches computed
  std::atomic<uint64_t> retries{0};     // deliveries that failed and were produced again
  std::atomic<uint64_t> abandoned{0};   // requests left uncommitted for another member to redo
  std::atomic<uint64_t> aborted{0};     // transactions aborted (--exactly-once)

  // Records one request's consume-to-delivery latency.
  void record_latency(double seconds);

  // The report: counters, p50/p99 latency over the last interval (or the whole run when `final`)
  // and consumer lag. Starts a new interval.
  std::string report(int64_t lag, bool final, bool json);

 private:
  std::mutex mutex_;
  LatencyHistogram interval_;
  LatencyHistogram total_;
};

}  // namespace salvo
