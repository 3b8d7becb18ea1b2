#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "core/utf8.h"
#include "io/json_rows.h"
#include "model/model_impl.h"
#include "salvo/error.h"
#include "salvo/stream.h"
#include "stream/micro_batcher.h"
#include "stream/offset_tracker.h"
#include "stream/stream_metrics.h"
#include "stream/stream_request.h"
#include "text/tokenizer.h"

namespace salvo {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// What a produced message answers; the producer hands it back in the delivery report.
struct Delivery {
  int32_t partition = 0;
  int64_t offset = 0;
  uint64_t generation = 0;
  Clock::time_point consumed;
  bool bad = false;  // a dead letter or error response
  int attempts = 0;  // deliveries that failed so far
};

// A response whose delivery failed after librdkafka's own retries, to be produced again.
struct Redelivery {
  std::string topic;
  std::string key;
  bool has_key = false;
  std::string value;
  rd_kafka_headers_t* headers = nullptr;
  Delivery* delivery = nullptr;
  Clock::time_point not_before;  // backoff: produced again from then on
};

// The error response that stands in for a response too large to produce: the request's id (unless
// it is itself large) and why.
std::string error_response(const nlohmann::json& id, const std::string& error) {
  nlohmann::json response = nlohmann::json::object();
  if (!id.is_null() && id.dump().size() <= kMaxErrorBytes) response["id"] = id;
  response["error"] = error;
  return response.dump();
}

// Owns a librdkafka object and frees it with its destroy function.
template <typename T, void (*Destroy)(T*)>
struct Owned {
  void operator()(T* p) const {
    if (p) Destroy(p);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t,
                                      Owned<rd_kafka_topic_partition_list_t, rd_kafka_topic_partition_list_destroy>>;
using KafkaError = std::unique_ptr<rd_kafka_error_t, Owned<rd_kafka_error_t, rd_kafka_error_destroy>>;

std::string unique_instance_id() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::random_device rd;
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "%d-%08x", static_cast<int>(getpid()), rd());
  return std::string(host) + "-" + suffix;
}

// librdkafka before 2.3.0 (Debian 12 has 2.0.2) aborts in rd_kafka_destroy when a cooperative-sticky
// consumer has joined its group but never completed a SyncGroup: the assignor's state is still NULL
// and its destructor asserts (confluentinc/librdkafka#4312, fixed by #4381). A member stopped in its
// first rebalance hits it. Such a consumer, already closed, is kept here for the process's exit
// instead; the pointers stay reachable, so leak checkers do not report it.
bool destroy_aborts(rd_kafka_t* consumer, bool ever_assigned) {
  if (ever_assigned || rd_kafka_version() >= 0x020300ff) return false;
  char strategy[256];
  size_t size = sizeof(strategy);
  if (rd_kafka_conf_get(rd_kafka_conf(consumer), "partition.assignment.strategy", strategy, &size) !=
      RD_KAFKA_CONF_OK) {
    return true;  // cannot tell: keep it, the safe choice
  }
  return std::strstr(strategy, "cooperative-sticky") != nullptr;
}

void destroy_consumer(rd_kafka_t* consumer, bool closed, bool ever_assigned) {
  if (!destroy_aborts(consumer, ever_assigned)) {
    rd_kafka_destroy(consumer);
    return;
  }
  if (!closed) rd_kafka_consumer_close(consumer);  // leave the group now; only the handle stays
  static std::mutex mutex;
  static auto* kept = new std::vector<rd_kafka_t*>();
  std::lock_guard lock(mutex);
  kept->push_back(consumer);
}

// The services alive in the process. librdkafka calls the log callback on its own threads, and a
// consumer kept past its service (destroy_consumer) may still log: the callback logs only for a
// service in this set, holding its mutex, which the service's destructor takes to leave it. Both
// are never destroyed: a kept consumer's threads may log while the process exits.
std::mutex& live_services_mutex = *new std::mutex();
std::set<const void*>& live_services = *new std::set<const void*>();

class StreamService {
 public:
  StreamService(Session& session, const StreamOptions& options, const std::atomic<bool>& stop)
      : options_(options),
        session_(session),
        tokenizer_(model_impl(session.model()).tokenizer()),
        stop_(stop),
        batcher_(options.batching.max_batch_rows, options.batching.max_batch_tokens, milliseconds(options.max_wait_ms)) {
    format_.fields.text = options.text_field;
    format_.fields.id = options.id_field;
    format_.raw_text = options.raw_text;
    format_.max_request_bytes = options.max_request_bytes;
    std::lock_guard lock(live_services_mutex);
    live_services.insert(this);
  }

  ~StreamService() {
    {
      std::lock_guard lock(live_services_mutex);
      live_services.erase(this);
    }
    if (consumer_) destroy_consumer(consumer_, consumer_closed_, ever_assigned_);
    if (producer_) rd_kafka_destroy(producer_);
    for (auto& r : redeliveries_) {
      if (r.headers) rd_kafka_headers_destroy(r.headers);
      delete r.delivery;
    }
  }

  void run() {
    create_consumer();
    if (!check_brokers()) return;  // stopped while waiting for them
    create_producer(topic_limits());
    {
      PartitionList topics(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(topics.get(), options_.input_topic.c_str(), RD_KAFKA_PARTITION_UA);
      if (auto err = rd_kafka_subscribe(consumer_, topics.get())) {
        throw Error(ErrorCode::kIo, "cannot subscribe to " + options_.input_topic + ": " + rd_kafka_err2str(err));
      }
    }
    std::thread delivery_thread(&StreamService::delivery_loop, this);
    std::thread inference_thread(&StreamService::guarded_inference_loop, this);

    auto last_commit = Clock::now();
    auto last_report = Clock::now();
    while (!stop_.load() && !failed()) {
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 50)) {
        handle_message(m);
        rd_kafka_message_destroy(m);
      }
      apply_backpressure();
      if (options_.exactly_once) {
        if (rewind_requested_.load()) rewind();
      } else if (Clock::now() - last_commit >= milliseconds(100)) {
        commit(tracker_.take_commits(), true);
        last_commit = Clock::now();
      }
      if (options_.stats_interval_ms > 0 && Clock::now() - last_report >= milliseconds(options_.stats_interval_ms)) {
        log(metrics_.report(lag(), false, options_.stats_json));
        last_report = Clock::now();
      }
    }

    // Shutdown: no new requests; answer what is queued, wait for its deliveries, commit, leave.
    const auto deadline = Clock::now() + milliseconds(options_.drain_timeout_ms);
    drain_deadline_ = deadline;  // before closing_: the inference thread reads it once that is set
    closing_ = true;
    batcher_.close();
    rewind_done_.notify_all();
    inference_thread.join();
    while (!failed() && tracker_.in_flight() > 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    rd_kafka_flush(producer_, 1000);
    if (!options_.exactly_once) commit(tracker_.take_commits(), false);
    rd_kafka_consumer_close(consumer_);  // revokes: what is still in flight is counted abandoned
    consumer_closed_ = true;
    delivery_stop_ = true;
    delivery_thread.join();
    log(metrics_.report(lag(), true, options_.stats_json));
    std::lock_guard lock(error_mutex_);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // --- setup ---

  void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw Error(ErrorCode::kInvalidArgument, "Kafka setting " + key + "=" + value + ": " + errstr);
    }
  }

  rd_kafka_conf_t* base_conf() {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", options_.brokers);
    set(conf, "client.id", "salvo-stream");
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_error_cb(conf, &StreamService::on_error);
    rd_kafka_conf_set_log_cb(conf, &StreamService::on_log);
    return conf;
  }

  void apply_user_config(rd_kafka_conf_t* conf) {
    for (const auto& [key, value] : options_.kafka_config) set(conf, key, value);
  }

  void create_consumer() {
    char errstr[512];
    rd_kafka_conf_t* conf = base_conf();
    set(conf, "group.id", options_.group);
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.auto.offset.store", "false");
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "isolation.level", "read_committed");
    apply_user_config(conf);
    rd_kafka_conf_set_rebalance_cb(conf, &StreamService::on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, &StreamService::on_commit);
    consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!consumer_) {
      rd_kafka_conf_destroy(conf);
      throw Error(ErrorCode::kInvalidArgument, std::string("cannot create the Kafka consumer: ") + errstr);
    }
    rd_kafka_poll_set_consumer(consumer_);
  }

  // topic_limits: the max.message.bytes of the topics it produces to, where known. Kafka applies
  // that limit to each record batch, and librdkafka fills batches up to its batch.size (1 MB by
  // default) whatever the topic takes: one batch too large fails every response in it. So batches
  // are kept under the smallest limit, and each message is fitted to its topic's (produce()).
  void create_producer(const std::map<std::string, size_t>& topic_limits) {
    char errstr[512];
    rd_kafka_conf_t* conf = base_conf();
    set(conf, "linger.ms", "2");
    if (options_.exactly_once) {
      set(conf, "transactional.id", options_.group + "-" + unique_instance_id());
    }
    apply_user_config(conf);
    const auto setting = [&](const char* key) -> size_t {
      char text[32];
      size_t size = sizeof(text);
      return rd_kafka_conf_get(conf, key, text, &size) == RD_KAFKA_CONF_OK ? std::strtoull(text, nullptr, 10) : 0;
    };
    const size_t producer_limit = setting("message.max.bytes");
    const auto limit = [&](const std::string& topic) {
      const auto it = topic_limits.find(topic);
      return it == topic_limits.end() ? producer_limit : std::min(producer_limit, it->second);
    };
    output_max_bytes_ = limit(options_.output_topic);
    dead_letter_max_bytes_ = options_.dead_letter_topic.empty() ? output_max_bytes_ : limit(options_.dead_letter_topic);
    const size_t smallest = std::min(output_max_bytes_, dead_letter_max_bytes_);
    const size_t batch_limit = smallest - std::min<size_t>(1024, smallest / 2);
    if (const size_t batch_size = setting("batch.size"); batch_size > batch_limit) {
      set(conf, "batch.size", std::to_string(batch_limit));
      const bool asked = std::any_of(options_.kafka_config.begin(), options_.kafka_config.end(),
                                     [](const auto& kv) { return kv.first == "batch.size"; });
      if (asked) {  // librdkafka's default is lowered too, and that needs no word
        log("salvo stream: -X batch.size=" + std::to_string(batch_size) + " lowered to " +
            std::to_string(batch_limit) + ", under the smallest max.message.bytes of the topics it produces to (" +
            std::to_string(smallest) + "): a larger record batch would be refused whole");
      }
    }
    // Room for the key, the headers and the record's framing besides the original value.
    format_.max_dead_letter_bytes = dead_letter_max_bytes_ - std::min<size_t>(64u << 10, dead_letter_max_bytes_ / 4);
    rd_kafka_conf_set_dr_msg_cb(conf, &StreamService::on_delivery);
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!producer_) {
      rd_kafka_conf_destroy(conf);
      throw Error(ErrorCode::kInvalidArgument, std::string("cannot create the Kafka producer: ") + errstr);
    }
    if (options_.exactly_once) {
      // Retriable failures (coordinator not yet available) are retried until the connect timeout.
      const auto deadline = Clock::now() + milliseconds(options_.connect_timeout_ms);
      for (;;) {
        KafkaError e(rd_kafka_init_transactions(producer_, 10000));
        if (!e) break;
        if (!rd_kafka_error_is_retriable(e.get()) || Clock::now() > deadline || stop_.load()) {
          throw Error(ErrorCode::kIo, std::string("cannot start Kafka transactions: ") + rd_kafka_error_string(e.get()));
        }
      }
    }
  }

  // The max.message.bytes of the output and dead-letter topics, as the brokers describe them; none
  // (and a log line) for those they do not: no permission to describe topics, a topic not yet
  // created, a broker without the API.
  std::map<std::string, size_t> topic_limits() {
    std::vector<std::string> topics = {options_.output_topic};
    if (!options_.dead_letter_topic.empty()) topics.push_back(options_.dead_letter_topic);
    std::vector<rd_kafka_ConfigResource_t*> resources;
    for (const auto& t : topics) resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t.c_str()));
    rd_kafka_queue_t* queue = rd_kafka_queue_new(consumer_);
    rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(consumer_, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    char errstr[256];
    // Brokers answer at once; one without the API (librdkafka's mock cluster) is waited for 2 s.
    rd_kafka_AdminOptions_set_request_timeout(admin, 2000, errstr, sizeof(errstr));
    rd_kafka_DescribeConfigs(consumer_, resources.data(), resources.size(), admin, queue);
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 5000);
    std::map<std::string, size_t> limits;
    std::string problem;
    if (!event) {
      problem = "no answer within 5 s";
    } else if (rd_kafka_event_error(event)) {
      problem = rd_kafka_event_error_string(event);
    } else {
      size_t n = 0;
      const rd_kafka_ConfigResource_t** described =
          rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &n);
      for (size_t i = 0; i < n; ++i) {
        const std::string name = rd_kafka_ConfigResource_name(described[i]);
        if (rd_kafka_ConfigResource_error(described[i])) {
          problem += (problem.empty() ? "" : "; ") + name + ": " + rd_kafka_ConfigResource_error_string(described[i]);
          continue;
        }
        size_t m = 0;
        const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(described[i], &m);
        for (size_t j = 0; j < m; ++j) {
          const char* value = rd_kafka_ConfigEntry_value(entries[j]);
          if (std::strcmp(rd_kafka_ConfigEntry_name(entries[j]), "max.message.bytes") != 0 || !value) continue;
          const size_t bytes = std::strtoull(value, nullptr, 10);
          if (bytes > 0) limits[name] = bytes;
        }
      }
    }
    if (event) rd_kafka_event_destroy(event);
    rd_kafka_AdminOptions_destroy(admin);
    rd_kafka_queue_destroy(queue);
    rd_kafka_ConfigResource_destroy_array(resources.data(), resources.size());
    if (!problem.empty()) {
      log("salvo stream: cannot read the max.message.bytes of the topics it produces to (" + problem +
          "): what it produces is fitted to the producer's message.max.bytes only");
    }
    return limits;
  }

  // Waits up to connect_timeout_ms for a broker to answer, and fails (kIo) when none does: a wrong
  // --brokers or a cluster that is down is said at once, not retried in silence for ever (once
  // running, outages are retried). Topics that do not exist are warned about. False when stopped
  // meanwhile.
  bool check_brokers() {
    const auto deadline = Clock::now() + milliseconds(options_.connect_timeout_ms);
    for (;;) {
      const rd_kafka_metadata_t* metadata = nullptr;
      const rd_kafka_resp_err_t err = rd_kafka_metadata(consumer_, 0, nullptr, &metadata, 1000);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_metadata_destroy(metadata);
        break;
      }
      if (stop_.load()) return false;
      if (Clock::now() >= deadline) {
        char seconds[32];
        std::snprintf(seconds, sizeof(seconds), "%g", options_.connect_timeout_ms / 1000.0);
        throw Error(ErrorCode::kIo, "no Kafka broker at " + options_.brokers + " answered within " + seconds +
                                        " s (" + rd_kafka_err2str(err) + "): check --brokers and that the cluster "
                                        "is up (--connect-timeout-ms waits longer)");
      }
    }
    for (const std::string* topic : {&options_.input_topic, &options_.output_topic, &options_.dead_letter_topic}) {
      if (topic->empty()) continue;
      rd_kafka_topic_t* handle = rd_kafka_topic_new(consumer_, topic->c_str(), nullptr);
      const rd_kafka_metadata_t* metadata = nullptr;
      if (rd_kafka_metadata(consumer_, 0, handle, &metadata, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
          log("salvo stream: topic " + *topic + " does not exist (yet)" +
              (topic == &options_.input_topic ? "; waiting for it"
                                              : "; producing to it fails unless the brokers create topics"));
        }
        rd_kafka_metadata_destroy(metadata);
      }
      rd_kafka_topic_destroy(handle);
    }
    return true;
  }

  // --- callbacks (librdkafka calls them from the thread that polls) ---

  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<StreamService*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal[512];
      rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
      self->fail(std::make_exception_ptr(Error(ErrorCode::kIo, std::string("fatal Kafka error: ") + fatal)));
      return;
    }
    // Everything else (brokers down, timeouts) is transient: librdkafka retries and so do we.
    self->log(std::string("salvo stream: kafka: ") + reason);
  }

  // librdkafka's own log lines (any thread), through the service's log. Dropped: the warning that a
  // -X setting applies to the other client (every -X goes to both), and connection failures, which
  // on_error reports already.
  static void on_log(const rd_kafka_t* rk, int level, const char* facility, const char* line) {
    const std::string_view fac(facility);
    if (fac == "CONFWARN" && std::strstr(line, "will be ignored by this") != nullptr) return;
    if (fac == "FAIL" && level <= 3) return;
    auto* self = static_cast<const StreamService*>(rd_kafka_opaque(rk));
    std::lock_guard lock(live_services_mutex);
    if (live_services.count(self) == 0) return;  // a consumer outliving its service
    self->log("salvo stream: kafka %" + std::to_string(level) + "|" + facility + "| " + line);
  }

  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
    static_cast<StreamService*>(opaque)->delivered(m);
  }

  void delivered(const rd_kafka_message_t* m) {
    auto* d = static_cast<Delivery*>(m->_private);
    if (!d) return;
    if (options_.exactly_once) {
      // The transaction's commit reports a failed delivery and the batch is redone.
      delete d;
      return;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (tracker_.live(d->partition, d->generation)) {
        (d->bad ? metrics_.errors : metrics_.responses)++;
        metrics_.record_latency(std::chrono::duration<double>(Clock::now() - d->consumed).count());
      }
      tracker_.done(d->partition, d->generation, d->offset);
      delete d;
      return;
    }
    if (!tracker_.live(d->partition, d->generation)) {
      delete d;  // revoked meanwhile: the partition's new owner answers it
      return;
    }
    // librdkafka gave up (message.timeout.ms, e.g. a long outage): produce it again, after a
    // backoff that grows with each failure of this message (0.1 s doubling, up to 10 s).
    Redelivery r;
    r.topic = rd_kafka_topic_name(m->rkt);
    if (m->key) {
      r.has_key = true;
      r.key.assign(static_cast<const char*>(m->key), m->key_len);
    }
    if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      r.headers = rd_kafka_headers_copy(headers);
    }
    std::string what = "producing it again";
    if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && !r.value.empty()) {
      // The topic takes less than it did at start (its max.message.bytes, read then), or than the
      // producer may send if that could not be read: retrying cannot help. A dead letter goes
      // without its value (salvo.truncated: its size), a response as an error response.
      if (!r.headers) r.headers = rd_kafka_headers_new(1);
      if (r.topic == options_.output_topic) {
        nlohmann::json id;
        try {
          const nlohmann::json response = nlohmann::json::parse(r.value);
          if (response.is_object() && response.contains("id")) id = response["id"];
        } catch (const nlohmann::json::exception&) {
          // raw responses carry no id
        }
        const std::string error = "the response is " + std::to_string(r.value.size()) + " bytes, more than topic " +
                                  r.topic + " takes (its max.message.bytes)";
        r.value = error_response(id, error);
        rd_kafka_header_remove(r.headers, "salvo.error");
        rd_kafka_header_add(r.headers, "salvo.error", -1, error.data(), error.size());
      } else {
        const void* original_size = nullptr;
        size_t length = 0;
        if (rd_kafka_header_get_last(r.headers, "salvo.truncated", &original_size, &length) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
          rd_kafka_header_add(r.headers, "salvo.truncated", -1, std::to_string(r.value.size()).c_str(), -1);
        }  // else it was cut before, and the header already gives its original size
        r.value.clear();
      }
      d->bad = true;
      what = "producing it again without its value";
    }
    const int backoff_ms = 100 << std::min(d->attempts, 7);
    r.not_before = Clock::now() + milliseconds(std::min(backoff_ms, 10000));
    ++d->attempts;
    r.delivery = d;
    ++metrics_.retries;
    log("salvo stream: delivery to " + r.topic + " failed (" + rd_kafka_err2str(m->err) + "); " + what);
    std::lock_guard lock(redelivery_mutex_);
    redeliveries_.push_back(std::move(r));
  }

  static void on_commit(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                        void* opaque) {
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET || !offsets) return;
    auto* self = static_cast<StreamService*>(opaque);
    std::vector<PartitionCommit> failed;
    for (int i = 0; i < offsets->cnt; ++i) failed.push_back({offsets->elems[i].partition, offsets->elems[i].offset});
    self->tracker_.commit_failed(failed);
    self->log(std::string("salvo stream: offset commit failed (") + rd_kafka_err2str(err) + "); will commit again");
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque) {
    auto* self = static_cast<StreamService*>(opaque);
    try {
      self->rebalance(err, partitions);
    } catch (...) {
      self->fail(std::current_exception());
    }
  }

  void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
    // NULL when the group cannot answer (e.g. while closing): keep the protocol seen before.
    if (const char* protocol = rd_kafka_rebalance_protocol(consumer_)) {
      cooperative_ = std::strcmp(protocol, "COOPERATIVE") == 0;
    }
    const bool cooperative = cooperative_;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      ever_assigned_ = true;  // a SyncGroup completed (cooperative: even with no partitions)
      for (int i = 0; i < partitions->cnt; ++i) {
        const int32_t p = partitions->elems[i].partition;
        generations_[p] = tracker_.assign(p);
      }
      if (cooperative) {
        KafkaError e(rd_kafka_incremental_assign(consumer_, partitions));
      } else {
        rd_kafka_assign(consumer_, partitions);
      }
      if (paused_) rd_kafka_pause_partitions(consumer_, partitions);
      return;
    }
    // Revocation (or loss): finish and commit the partitions' work within the timeout, or abandon
    // it uncommitted; either way nothing of theirs is committed after this returns.
    std::vector<int32_t> ids;
    for (int i = 0; i < partitions->cnt; ++i) ids.push_back(partitions->elems[i].partition);
    const bool lost = err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(consumer_);
    if (options_.exactly_once) {
      std::lock_guard lock(transaction_mutex_);  // the running transaction ends first
      metrics_.abandoned += tracker_.in_flight(ids);
      for (int32_t p : ids) tracker_.revoke(p);
    } else {
      if (!lost) tracker_.wait_drained(ids, milliseconds(options_.rebalance_timeout_ms));
      if (!lost) commit(tracker_.take_commits(ids), false);
      metrics_.abandoned += tracker_.in_flight(ids);
      for (int32_t p : ids) tracker_.revoke(p);
    }
    batcher_.discard_if([&](const StreamRequest& r) { return !tracker_.live(r.partition, r.generation); });
    for (int32_t p : ids) generations_.erase(p);
    if (cooperative) {
      KafkaError e(rd_kafka_incremental_unassign(consumer_, partitions));
    } else {
      rd_kafka_assign(consumer_, nullptr);
    }
  }

  void fail(std::exception_ptr error) {
    std::lock_guard lock(error_mutex_);
    if (!error_) error_ = error;
    failed_ = true;
  }
  bool failed() const { return failed_.load(); }

  // --- consumer thread ---

  void handle_message(rd_kafka_message_t* m) {
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
      log(std::string("salvo stream: kafka: ") + rd_kafka_message_errstr(m));
      return;
    }
    auto gen = generations_.find(m->partition);
    if (gen == generations_.end()) return;
    StreamRequest r;
    r.partition = m->partition;
    r.offset = m->offset;
    r.generation = gen->second;
    r.consumed = Clock::now();
    if (m->key) {
      r.has_key = true;
      r.key.assign(static_cast<const char*>(m->key), m->key_len);
    }
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* data = nullptr;
      size_t size = 0;
      for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &data, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
        if (std::string_view(name).starts_with("salvo.")) continue;  // the response's own are set anew
        r.headers.emplace_back(name, data ? std::optional<std::string>(std::string(static_cast<const char*>(data), size))
                                          : std::nullopt);
      }
    }
    std::optional<std::string_view> value;
    if (m->payload) value = std::string_view(static_cast<const char*>(m->payload), m->len);
    try {
      const std::string text = read_stream_message(value, format_, &r);
      if (r.error.empty()) {
        try {
          tokenizer_.encode(text, &r.encoding);
        } catch (const Error& e) {  // a text the tokenizer fails on (its truncation strategy)
          r.error = bounded_error(e.what());
          r.encoding = Encoding{};
          r.value.assign(value->substr(0, format_.max_dead_letter_bytes));
          r.value_bytes = value->size();
        }
      }
    } catch (const std::exception& e) {
      // A failure on one message (say, memory for a huge one) makes it a bad message like any
      // other, answered and committed: it never stops the service and so never blocks its partition.
      r.error = bounded_error(std::string("cannot read this message: ") + e.what());
      r.encoding = Encoding();
      r.value.assign(value ? value->substr(0, format_.max_dead_letter_bytes) : std::string_view());
      r.value_bytes = value ? value->size() : 0;
      r.null_value = !value;
    }
    if (!tracker_.add(r.partition, r.generation, r.offset)) return;
    ++metrics_.requests;
    batcher_.push(std::move(r));
  }

  // Pauses the assigned partitions while too many requests are in flight; resumes at half.
  void apply_backpressure() {
    const size_t in_flight = tracker_.in_flight();
    const bool pause = !paused_ && in_flight >= options_.max_in_flight;
    const bool resume = paused_ && in_flight <= options_.max_in_flight / 2;
    if (!pause && !resume) return;
    rd_kafka_topic_partition_list_t* assignment = nullptr;
    if (rd_kafka_assignment(consumer_, &assignment) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    PartitionList owned(assignment);
    if (pause) {
      rd_kafka_pause_partitions(consumer_, assignment);
    } else {
      rd_kafka_resume_partitions(consumer_, assignment);
    }
    paused_ = pause;
  }

  void commit(const std::vector<PartitionCommit>& commits, bool async) {
    if (commits.empty()) return;
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(commits.size())));
    for (const auto& c : commits) {
      rd_kafka_topic_partition_list_add(list.get(), options_.input_topic.c_str(), c.partition)->offset = c.offset;
    }
    const rd_kafka_resp_err_t err = rd_kafka_commit(consumer_, list.get(), async ? 1 : 0);
    if (!async && err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      tracker_.commit_failed(commits);
      log(std::string("salvo stream: offset commit failed: ") + rd_kafka_err2str(err));
    }
  }

  // Exactly-once after an aborted transaction: go back to the committed offsets and redo.
  void rewind() {
    rd_kafka_topic_partition_list_t* assignment = nullptr;
    if (rd_kafka_assignment(consumer_, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      PartitionList owned(assignment);
      if (assignment->cnt > 0) {  // none left (e.g. the assignment was lost): nothing to rewind
        // Without the committed offsets (the group coordinator is moving, a transaction is still
        // pending) there is nothing to rewind to: try again on the next turn of the poll loop
        // rather than take the unread offsets for "none committed" and start the partitions over.
        rd_kafka_resp_err_t err = rd_kafka_committed(consumer_, assignment, 10000);
        for (int i = 0; i < assignment->cnt && !err; ++i) err = assignment->elems[i].err;
        if (err) {
          log(std::string("salvo stream: reading committed offsets: ") + rd_kafka_err2str(err) + "; retrying");
          return;
        }
        for (int i = 0; i < assignment->cnt; ++i) {
          auto& e = assignment->elems[i];
          if (e.offset < 0) e.offset = RD_KAFKA_OFFSET_BEGINNING;
          generations_[e.partition] = tracker_.assign(e.partition);
        }
        batcher_.discard_if([&](const StreamRequest& r) { return !tracker_.live(r.partition, r.generation); });
        KafkaError e(rd_kafka_seek_partitions(consumer_, assignment, 10000));
        if (e) log(std::string("salvo stream: rewinding: ") + rd_kafka_error_string(e.get()));
      }
    }
    std::lock_guard lock(rewind_mutex_);
    rewind_requested_ = false;
    rewind_done_.notify_all();
  }

  int64_t lag() {
    int64_t total = 0;
    for (const auto& [p, generation] : generations_) {
      int64_t low = -1, high = -1;
      if (rd_kafka_get_watermark_offsets(consumer_, options_.input_topic.c_str(), p, &low, &high) ||
          high < 0) {
        continue;
      }
      int64_t base = tracker_.committable(p);
      if (base < 0) {
        PartitionList list(rd_kafka_topic_partition_list_new(1));
        rd_kafka_topic_partition_list_add(list.get(), options_.input_topic.c_str(), p);
        rd_kafka_position(consumer_, list.get());
        base = list->elems[0].offset >= 0 ? list->elems[0].offset : high;
      }
      total += std::max<int64_t>(0, high - base);
    }
    return total;
  }

  // --- delivery thread: serves delivery reports and produces failed deliveries again ---

  void delivery_loop() {
    while (!delivery_stop_.load()) {
      rd_kafka_poll(producer_, 50);
      std::vector<Redelivery> batch;
      {
        std::lock_guard lock(redelivery_mutex_);
        batch.swap(redeliveries_);
      }
      const auto now = Clock::now();
      for (auto& r : batch) {
        if (r.not_before > now) {
          std::lock_guard lock(redelivery_mutex_);
          redeliveries_.push_back(std::move(r));
          continue;
        }
        const rd_kafka_resp_err_t err = rd_kafka_producev(
            producer_, RD_KAFKA_V_TOPIC(r.topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(r.has_key ? r.key.data() : nullptr, r.has_key ? r.key.size() : 0),
            RD_KAFKA_V_VALUE(r.value.data(), r.value.size()), RD_KAFKA_V_HEADERS(r.headers),
            RD_KAFKA_V_OPAQUE(r.delivery), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;  // the headers belong to librdkafka now
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          log("salvo stream: producing again to " + r.topic + " failed: " + rd_kafka_err2str(err));
        }
        std::lock_guard lock(redelivery_mutex_);
        redeliveries_.push_back(std::move(r));
      }
    }
    rd_kafka_poll(producer_, 0);
  }

  // --- inference thread ---

  void guarded_inference_loop() {
    try {
      inference_loop();
    } catch (...) {
      fail(std::current_exception());
    }
  }

  void inference_loop() {
    std::vector<StreamRequest> batch;
    while (batcher_.next(&batch)) {
      if (failed()) return;
      // Past the drain timeout, what is still queued is left in flight: uncommitted, counted
      // abandoned when the consumer closes, answered by the partitions' next owner.
      if (closing_.load() && Clock::now() >= drain_deadline_) continue;
      std::unique_lock<std::mutex> transaction;
      if (options_.exactly_once) transaction = std::unique_lock(transaction_mutex_);
      std::erase_if(batch, [&](const StreamRequest& r) { return !tracker_.live(r.partition, r.generation); });
      if (batch.empty()) continue;
      const std::vector<std::string> values = compute(batch);
      if (!options_.exactly_once) {
        for (size_t i = 0; i < batch.size(); ++i) produce(batch[i], values[i]);
        continue;
      }
      if (!run_transaction(batch, values)) {
        transaction.unlock();
        wait_for_rewind();
        // Shutting down before the rewind: what is queued lies past the aborted offsets, so
        // committing it would skip them; leave it all for the next owner.
        if (closing_.load()) return;
      }
    }
  }

  // The response value of each request: the formatted result, or the error row of a bad one.
  std::vector<std::string> compute(std::vector<StreamRequest>& batch) {
    Request request;
    request.task = options_.task;
    request.options = options_.task_options;
    Column ids(DataType::json());
    for (auto& r : batch) {
      request.inputs.encodings.push_back(std::move(r.encoding));
      request.inputs.errors.push_back(r.error);
      ids.append_json(r.id);
    }
    Result result = session_.run(std::move(request));
    if (result.stats.batches > 0) metrics_.batches += result.stats.batches;
    RecordBatch responses;
    responses.add_column({"id", DataType::json()}, std::move(ids));
    responses.append_columns(std::move(result.columns));
    std::vector<std::string> values(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!batch[i].error.empty() && !options_.dead_letter_topic.empty()) continue;  // a dead letter: original value
      append_json_row(responses, static_cast<int64_t>(i), &values[i]);
    }
    return values;
  }

  // Produces the response (or dead letter) of one request; waits while the producer's queue is full.
  // Whatever the request held, what is produced fits its topic (the producer's message.max.bytes,
  // or the topic's max.message.bytes if smaller): a dead letter is cut (header salvo.truncated: the
  // original size), a response too large is replaced by an error response. The request's own
  // headers come first, then salvo.topic, .partition, .offset (and .error for a bad one).
  void produce(const StreamRequest& r, const std::string& response) {
    const bool dead_letter = !r.error.empty() && !options_.dead_letter_topic.empty();
    const std::string& topic = dead_letter ? options_.dead_letter_topic : options_.output_topic;
    const size_t max_bytes = dead_letter ? dead_letter_max_bytes_ : output_max_bytes_;
    std::string_view value = dead_letter ? std::string_view(r.value) : std::string_view(response);
    std::string error = r.error;
    std::string replacement;
    size_t truncated_from = dead_letter && r.value.size() < r.value_bytes ? r.value_bytes : 0;
    size_t passed_on = 0;  // bytes of the request's headers
    for (const auto& [name, v] : r.headers) passed_on += name.size() + (v ? v->size() : 0) + 16;
    const bool pass_headers = r.key.size() + passed_on <= max_bytes / 4;
    // The key, headers and the record's framing besides the value, with room to spare.
    const size_t overhead = 1024 + r.key.size() + (pass_headers ? passed_on : 0) + error.size() + topic.size();
    const size_t room = max_bytes > overhead ? max_bytes - overhead : 0;
    if (value.size() > room) {
      if (dead_letter) {
        truncated_from = r.value_bytes;
        value = value.substr(0, room);
      } else {
        error = "the response is " + std::to_string(value.size()) + " bytes, over the " +
                std::to_string(max_bytes) + " a message may have (the smaller of the producer's "
                "message.max.bytes and the output topic's max.message.bytes: raise both, with -X "
                "message.max.bytes=N for the producer)";
        replacement = error_response(r.id, error);
        value = replacement;
      }
    }
    const bool bad = !error.empty();
    rd_kafka_headers_t* headers = rd_kafka_headers_new(r.headers.size() + 5);
    if (pass_headers) {
      for (const auto& [name, v] : r.headers) {
        rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), v ? v->data() : nullptr,
                            v ? static_cast<ssize_t>(v->size()) : 0);
      }
    }
    const std::string partition = std::to_string(r.partition);
    const std::string offset = std::to_string(r.offset);
    rd_kafka_header_add(headers, "salvo.topic", -1, options_.input_topic.data(), options_.input_topic.size());
    rd_kafka_header_add(headers, "salvo.partition", -1, partition.data(), partition.size());
    rd_kafka_header_add(headers, "salvo.offset", -1, offset.data(), offset.size());
    if (bad) rd_kafka_header_add(headers, "salvo.error", -1, error.data(), error.size());
    if (truncated_from > 0) {
      const std::string size = std::to_string(truncated_from);
      rd_kafka_header_add(headers, "salvo.truncated", -1, size.data(), size.size());
    }
    auto* d = new Delivery{r.partition, r.offset, r.generation, r.consumed, bad};
    const bool null_value = dead_letter && r.null_value;  // a dead letter keeps a missing value missing
    for (;;) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(r.has_key ? r.key.data() : nullptr, r.has_key ? r.key.size() : 0),
          RD_KAFKA_V_VALUE(null_value ? nullptr : const_cast<char*>(value.data()), null_value ? 0 : value.size()),
          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !failed()) {
        std::this_thread::sleep_for(milliseconds(5));  // the delivery thread polls and frees space
        continue;
      }
      rd_kafka_headers_destroy(headers);
      delete d;
      throw Error(ErrorCode::kIo, "cannot produce the answer to " + options_.input_topic + " partition " + partition +
                                      " offset " + offset + " to " + topic + ": " + rd_kafka_err2str(err));
    }
  }

  // One micro-batch as one transaction: its responses and its offsets. False when aborted.
  bool run_transaction(const std::vector<StreamRequest>& batch, const std::vector<std::string>& values) {
    check_transaction(KafkaError(rd_kafka_begin_transaction(producer_)).get(), "begin");
    for (size_t i = 0; i < batch.size(); ++i) produce(batch[i], values[i]);
    std::map<int32_t, int64_t> next;
    for (const auto& r : batch) next[r.partition] = std::max(next[r.partition], r.offset + 1);
    PartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(next.size())));
    for (const auto& [p, o] : next) {
      rd_kafka_topic_partition_list_add(offsets.get(), options_.input_topic.c_str(), p)->offset = o;
    }
    // A retriable error (the transaction coordinator moved or is down) is retried; a retry after an
    // abortable error returns that error. Whatever it ends with, short of a fatal error, the
    // transaction is still open and can be aborted.
    KafkaError e = retry_retriable([&] {
      rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer_);
      rd_kafka_error_t* error = rd_kafka_send_offsets_to_transaction(producer_, offsets.get(), group, 30000);
      rd_kafka_consumer_group_metadata_destroy(group);
      return error;
    });
    const bool offsets_failed = e != nullptr;
    for (int attempt = 0; !e; ++attempt) {
      e.reset(rd_kafka_commit_transaction(producer_, 60000));
      if (!e) break;
      if (!rd_kafka_error_is_retriable(e.get()) || attempt >= 10) break;
      e.reset();
    }
    if (e) {
      if (rd_kafka_error_is_fatal(e.get()) || (!offsets_failed && !rd_kafka_error_txn_requires_abort(e.get()))) {
        check_transaction(e.get(), "commit");
      }
      log(std::string("salvo stream: transaction aborted (") + rd_kafka_error_string(e.get()) +
          "); redoing from the committed offsets");
      check_transaction(retry_retriable([&] { return rd_kafka_abort_transaction(producer_, 30000); }).get(), "abort");
      ++metrics_.aborted;
      return false;
    }
    const auto now = Clock::now();
    for (const auto& r : batch) {
      if (!tracker_.live(r.partition, r.generation)) continue;
      (r.error.empty() ? metrics_.responses : metrics_.errors)++;
      metrics_.record_latency(std::chrono::duration<double>(now - r.consumed).count());
      tracker_.done(r.partition, r.generation, r.offset);
    }
    return true;
  }

  // Calls a transactional API again while it fails with a retriable error (its coordinator is down or
  // moving: a failover takes the broker's session timeout and an election), for up to a minute.
  template <typename Call>
  KafkaError retry_retriable(Call call) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    for (;;) {
      KafkaError e(call());
      if (!e || !rd_kafka_error_is_retriable(e.get()) || Clock::now() >= deadline) return e;
      std::this_thread::sleep_for(milliseconds(200));
    }
  }

  // Fencing and other fatal transaction errors end the service.
  void check_transaction(rd_kafka_error_t* e, const char* step) {
    if (!e) return;
    throw Error(ErrorCode::kIo, std::string("Kafka transaction ") + step + " failed" +
                                    (rd_kafka_error_is_fatal(e) ? " (fatal; fenced by a newer instance?)" : "") +
                                    ": " + rd_kafka_error_string(e));
  }

  void wait_for_rewind() {
    std::unique_lock lock(rewind_mutex_);
    rewind_requested_ = true;
    rewind_done_.wait(lock, [&] { return !rewind_requested_.load() || closing_.load(); });
  }

  void log(const std::string& line) const {
    if (options_.log) options_.log(LogLevel::kInfo, line);
  }

  const StreamOptions& options_;
  Session& session_;
  const Tokenizer& tokenizer_;
  const std::atomic<bool>& stop_;
  MessageFormat format_;
  MicroBatcher batcher_;
  OffsetTracker tracker_;
  StreamMetrics metrics_;
  rd_kafka_t* consumer_ = nullptr;
  rd_kafka_t* producer_ = nullptr;
  // What a message to each topic may hold: the producer's message.max.bytes, or the topic's
  // max.message.bytes if smaller.
  size_t output_max_bytes_ = 1000000;
  size_t dead_letter_max_bytes_ = 1000000;

  std::map<int32_t, uint64_t> generations_;  // consumer thread only: assigned partitions
  bool paused_ = false;                       // consumer thread only
  bool cooperative_ = false;                  // consumer thread only: the group's rebalance protocol
  bool ever_assigned_ = false;                // consumer thread only: see destroy_consumer
  bool consumer_closed_ = false;

  std::mutex transaction_mutex_;  // held by a running transaction; a revocation waits for it
  std::mutex rewind_mutex_;
  std::condition_variable rewind_done_;
  std::atomic<bool> rewind_requested_{false};
  std::atomic<bool> closing_{false};
  Clock::time_point drain_deadline_;  // set once, before closing_

  std::mutex redelivery_mutex_;
  std::vector<Redelivery> redeliveries_;
  std::atomic<bool> delivery_stop_{false};

  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};
};

}  // namespace

void run_stream(Session& session, const StreamOptions& options, const std::atomic<bool>& stop) {
  if (options.task != Task::kEmbed && options.task != Task::kClassify) {
    throw Error(ErrorCode::kInvalidArgument, "stream runs embed or classify");
  }
  session.output_schema(options.task, options.task_options);  // throws when the model lacks the task
  for (const auto* name : {&options.input_topic, &options.output_topic}) {
    if (name->empty()) throw Error(ErrorCode::kInvalidArgument, "topic names must not be empty");
  }
  if (options.input_topic == options.output_topic || options.input_topic == options.dead_letter_topic) {
    throw Error(ErrorCode::kInvalidArgument, "--input-topic must differ from the output and dead-letter topics");
  }
  if (options.group.empty()) throw Error(ErrorCode::kInvalidArgument, "the consumer group (--group) must not be empty");
  if (options.raw_text && (options.text_field != "text" || options.id_field != "id")) {
    throw Error(ErrorCode::kInvalidArgument,
                "--raw-text reads the whole value as the text: --text-field and --id-field do not apply");
  }
  // Settings the service makes itself: a -X would silently change what its flags say, or break
  // its delivery guarantee.
  const std::map<std::string, std::string> own = {{"bootstrap.servers", "use --brokers"},
                                                  {"metadata.broker.list", "use --brokers"},
                                                  {"group.id", "use --group"},
                                                  {"enable.auto.commit", "salvo commits after delivery"},
                                                  {"enable.auto.offset.store", "salvo commits after delivery"}};
  for (const auto& [key, value] : options.kafka_config) {
    if (auto it = own.find(key); it != own.end()) {
      throw Error(ErrorCode::kInvalidArgument, "-X " + key + " is set by salvo stream itself: " + it->second);
    }
  }
  StreamService service(session, options, stop);
  service.run();
}

}  // namespace salvo
