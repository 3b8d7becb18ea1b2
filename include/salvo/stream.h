// The Kafka service behind `salvo stream`: a consumer-group worker that micro-batches requests from one topic through
// the model and produces one response per request, committing a request's offset only after its
// response is acknowledged (or, with exactly-once, in the same transaction).
#pragma once

#include "salvo/export.h"

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "salvo/session.h"
#include "salvo/types.h"

namespace salvo {

// What `salvo stream` serves, and its limits.
struct StreamOptions {
  std::string brokers;
  std::string input_topic;
  std::string output_topic;
  std::string group;
  std::string dead_letter_topic;  // empty: bad messages get an error response on output_topic
  Task task = Task::kEmbed;       // kEmbed or kClassify
  TaskOptions task_options;       // classify: top_k, all_scores
  std::string text_field = "text";  // JSON request fields
  std::string id_field = "id";
  bool raw_text = false;          // the message value is the text itself
  bool exactly_once = false;      // Kafka transactions instead of commit-after-delivery
  size_t max_request_bytes = 16u << 20;  // a longer message is a bad message
  BatchingOptions batching;               // max_batch_tokens and max_batch_rows close a micro-batch
  int max_wait_ms = 20;                   // ...and so does this wait after its first request
  size_t max_in_flight = 10000;           // consumed but uncommitted requests before pausing
  int stats_interval_ms = 5000;           // 0: only at exit
  bool stats_json = false;                // statistics as JSON lines instead of text
  int connect_timeout_ms = 30000;         // start: how long to wait for a broker to answer
  int drain_timeout_ms = 30000;           // shutdown: time to answer and deliver what is in flight
  int rebalance_timeout_ms = 10000;       // revocation: time to deliver the partitions' work
  std::vector<std::pair<std::string, std::string>> kafka_config;  // -X key=value, both clients
  LogCallback log;  // statistics lines and Kafka's complaints, as whole lines ("salvo stream: ...")
};

// Runs the service until `stop` becomes true (the CLI sets it on SIGTERM / SIGINT), then drains,
// commits, leaves the group and returns. Throws salvo::Error for bad settings (kInvalidArgument)
// and for failures it cannot retry (kIo: no broker answering at start, fatal client errors, a fenced
// transactional producer).
// The session runs the model; its threads are the service's compute threads.
SALVO_API void run_stream(Session& session, const StreamOptions& options, const std::atomic<bool>& stop);

}  // namespace salvo
