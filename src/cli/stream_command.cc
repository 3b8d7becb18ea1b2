// stream: the Kafka consumer-group inference service.
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "compute_flags.h"
#include "signals.h"
#include "salvo/error.h"
#include "salvo/stream.h"

namespace salvo::cli {
namespace {

struct StreamFlags {
  std::string task = "embed";
  ComputeFlags compute;
  std::vector<std::string> kafka_config;
  bool quiet = false;
  StreamOptions options;
};

void run_stream_command(StreamFlags& flags) {
  StreamOptions& options = flags.options;
  options.task = flags.task == "classify" ? Task::kClassify : Task::kEmbed;
  options.batching = flags.compute.session_options.batching;
  options.log = stderr_log();
  for (const auto& setting : flags.kafka_config) {
    const auto eq = setting.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Error(ErrorCode::kInvalidArgument, "-X " + setting + ": expected key=value");
    }
    options.kafka_config.emplace_back(setting.substr(0, eq), setting.substr(eq + 1));
  }
  // SIGTERM / SIGINT start a clean shutdown; a second one ends the process at once. A signal
  // during the model load still ends in a clean, empty run.
  const std::atomic<bool>& stop = install_stop_handlers();
  std::unique_ptr<Session> session = open_session(flags.compute, false);
  session->output_schema(options.task, options.task_options);  // a task the model lacks fails here, in one line
  if (!flags.quiet) {
    std::fprintf(stderr, "salvo stream: %s %s -> %s, group %s, %s, %s, %s\n", flags.task.c_str(),
                 options.input_topic.c_str(), options.output_topic.c_str(), options.group.c_str(),
                 options.exactly_once ? "exactly-once (transactions)" : "at-least-once",
                 options.dead_letter_topic.empty() ? "bad messages answered with an error"
                                                   : ("dead letters to " + options.dead_letter_topic).c_str(),
                 describe_session(*session, options.task).c_str());
  }
  run_stream(*session, options, stop);
}

}  // namespace

void add_stream_command(CLI::App& app, Runner* selected) {
  auto flags = std::make_shared<StreamFlags>();
  StreamOptions& o = flags->options;
  CLI::App* cmd = app.add_subcommand(
      "stream",
      "Serve requests from a Kafka topic as a consumer-group member: one response per request on the output "
      "topic, offsets committed only after the response is acknowledged (or in one transaction with it).");
  cmd->add_option("--brokers", o.brokers, "Bootstrap brokers, HOST:PORT[,...]")->required();
  cmd->add_option("--input-topic", o.input_topic, "Topic of the requests")->required();
  cmd->add_option("--output-topic", o.output_topic, "Topic of the responses")->required();
  cmd->add_option("--group", o.group, "Consumer group; processes with the same group share the partitions")
      ->required();
  cmd->add_option("--task", flags->task, "embed or classify")
      ->capture_default_str()
      ->check(CLI::IsMember({"embed", "classify"}));
  cmd->add_option("--dead-letter-topic", o.dead_letter_topic,
                  "Topic for bad messages (original value, reason in the salvo.error header); without it they "
                  "get an error response");
  cmd->add_flag("--exactly-once", o.exactly_once,
                "Kafka transactions: responses and consumed offsets commit together (readers use "
                "isolation.level=read_committed)");
  cmd->add_option("-X", flags->kafka_config, "librdkafka setting key=value for both clients (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--raw-text", o.raw_text, "The message value is the text itself, not JSON");
  cmd->add_option("--text-field", o.text_field, "JSON field holding the text")->capture_default_str();
  cmd->add_option("--id-field", o.id_field, "JSON field copied to the response as \"id\"")->capture_default_str();
  add_compute_flags(cmd, "micro-batch", "requests", ModelKind::kTextEncoder, &flags->compute);
  cmd->add_option("--max-wait-ms", o.max_wait_ms, "Longest a request waits for its micro-batch to fill")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-in-flight", o.max_in_flight,
                  "Requests consumed but not yet answered before consumption pauses (bounds memory)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-record-bytes", o.max_request_bytes, "A longer message is a bad message")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--top-k", o.task_options.top_k,
                  "classify: also write the K most likely labels (top_labels) and their scores (top_scores)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_flag("--all-scores", o.task_options.all_scores, "classify: also write every label's score (scores)");
  cmd->add_option("--stats-interval-ms", o.stats_interval_ms, "Statistics line every this often (0: only at exit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--stats-json", o.stats_json, "Statistics as JSON lines");
  cmd->add_option("--connect-timeout-ms", o.connect_timeout_ms,
                  "At start, how long to wait for a broker to answer before exiting (code 3)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_option("--drain-timeout-ms", o.drain_timeout_ms,
                  "On shutdown, time to answer and deliver what is in flight; the rest is left uncommitted "
                  "for the group's other members")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_option("--rebalance-timeout-ms", o.rebalance_timeout_ms,
                  "On revocation, time to deliver the revoked partitions' work before abandoning it")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 30));
  cmd->add_flag("--quiet,-q", flags->quiet, "No start line");
  cmd->callback([flags, selected] { *selected = [flags] { run_stream_command(*flags); }; });
}

}  // namespace salvo::cli
