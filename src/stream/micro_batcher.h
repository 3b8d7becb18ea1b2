// Groups stream requests into micro-batches: a batch closes at a row cap, a token budget or a
// maximum wait after its first request was consumed, whichever comes first.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "text/tokenizer.h"

namespace salvo {

// One consumed message on its way to a response: where it came from, and either its tokens or why
// it is bad.
struct StreamRequest {
  int32_t partition = 0;
  int64_t offset = 0;
  uint64_t generation = 0;  // the partition's assignment (OffsetTracker) when consumed
  std::chrono::steady_clock::time_point consumed;
  bool has_key = false;
  std::string key;
  nlohmann::json id;   // the request's id field, null when absent (or in raw-text mode)
  std::string error;   // non-empty: a bad message, answered with this reason and not computed
  std::string value;   // the original value, kept only for bad messages (dead-letter payload)
  bool null_value = false;  // the message had no value at all (a dead letter has none either)
  size_t value_bytes = 0;   // the size of the original value, of which `value` may hold a prefix
  // The request's own headers, passed on to its response or dead letter (a value-less header: nullopt).
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  Encoding encoding;   // tokens of a good message

  // Tokens this request adds to a batch (0 for a bad message).
  size_t tokens() const { return encoding.ids.size(); }
};

// Thread-safe. push() never blocks (the consumer bounds what is queued by pausing partitions);
// next() blocks until a batch closes.
class MicroBatcher {
 public:
  MicroBatcher(size_t max_rows, size_t max_tokens, std::chrono::milliseconds max_wait);

  // Queues a request. Returns false (dropping it) once closed.
  bool push(StreamRequest request);
  // Waits for the next batch and moves it into `batch` (cleared first). A batch closes when it has
  // max_rows requests, when the next request would take it over max_tokens (a longer request gets a
  // batch of its own), or max_wait after its first request was consumed. After close() it drains
  // what is queued without waiting; returns false when closed and empty.
  bool next(std::vector<StreamRequest>* batch);
  // Stops accepting requests and wakes next().
  void close();
  // Removes queued requests for which `stale` returns true; returns how many were removed.
  template <typename Predicate>
  size_t discard_if(Predicate stale) {
    std::lock_guard lock(mutex_);
    const size_t before = queue_.size();
    std::erase_if(queue_, stale);
    return before - queue_.size();
  }
  // Requests queued and not yet handed out.
  size_t size() const;

 private:
  const size_t max_rows_;
  const size_t max_tokens_;
  const std::chrono::milliseconds max_wait_;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<StreamRequest> queue_;
  bool closed_ = false;
};

}  // namespace salvo
