// A librdkafka mock cluster in its own process, so that several salvo processes and kcat can talk
// to it over localhost. Prints "bootstrap HOST:PORT,..." once ready, then reads commands on stdin:
//   topic <name> <partitions>           create a topic
//   errors <api key> <count> <error>    the next <count> requests of that API fail with <error>
//   down <broker id> / up <broker id>   take a broker's listener down or bring it back
//   quit                                (or end of input) stop
// Each command is answered with "ok" or "error <why>" on stdout.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  int brokers = 3;
  std::vector<std::pair<std::string, int>> topics;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--brokers" && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
    } else if (arg == "--topic" && i + 1 < argc) {
      const std::string spec = argv[++i];
      const auto colon = spec.find(':');
      topics.emplace_back(spec.substr(0, colon), colon == std::string::npos ? 1 : std::atoi(spec.c_str() + colon + 1));
    } else {
      std::fprintf(stderr, "usage: %s [--brokers N] [--topic NAME:PARTITIONS]...\n", argv[0]);
      return 2;
    }
  }
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    std::fprintf(stderr, "mock_cluster: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!cluster) {
    std::fprintf(stderr, "mock_cluster: cannot create the cluster\n");
    return 1;
  }
  for (const auto& [name, partitions] : topics) {
    if (auto err = rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, 1)) {
      std::fprintf(stderr, "mock_cluster: topic %s: %s\n", name.c_str(), rd_kafka_err2str(err));
      return 1;
    }
  }
  std::printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string command;
    in >> command;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (command == "quit") {
      break;
    } else if (command == "topic") {
      std::string name;
      int partitions = 1;
      in >> name >> partitions;
      err = rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, 1);
    } else if (command == "errors") {
      int api = 0, count = 0, code = 0;
      in >> api >> count >> code;
      std::vector<rd_kafka_resp_err_t> errors(count, static_cast<rd_kafka_resp_err_t>(code));
      rd_kafka_mock_push_request_errors_array(cluster, static_cast<int16_t>(api), errors.size(), errors.data());
    } else if (command == "down" || command == "up") {
      int broker = 0;
      in >> broker;
      err = command == "down" ? rd_kafka_mock_broker_set_down(cluster, broker)
                              : rd_kafka_mock_broker_set_up(cluster, broker);
    } else if (!command.empty()) {
      std::printf("error unknown command %s\n", command.c_str());
      std::fflush(stdout);
      continue;
    } else {
      continue;
    }
    if (err) {
      std::printf("error %s\n", rd_kafka_err2str(err));
    } else {
      std::printf("ok\n");
    }
    std::fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
