#include "log.h"

#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <deque>
#include <mutex>
#include <string>
#include <utility>

namespace nb = nanobind;

namespace salvo::python {
namespace {

constexpr size_t kMaxQueued = 10000;  // beyond this, the oldest messages are dropped

struct LogQueue {
  std::mutex mutex;
  std::deque<std::pair<LogLevel, std::string>> messages;
  size_t dropped = 0;
};

LogQueue& queue() {
  static auto* q = new LogQueue;  // never destroyed: library threads may log during shutdown
  return *q;
}

int python_level(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return 10;
    case LogLevel::kInfo: return 20;
    case LogLevel::kWarning: return 30;
    case LogLevel::kError: return 40;
  }
  return 30;
}

}  // namespace

LogCallback queue_log_callback() {
  return [](LogLevel level, const std::string& message) {
    LogQueue& q = queue();
    std::lock_guard<std::mutex> lock(q.mutex);
    if (q.messages.size() >= kMaxQueued) {
      q.messages.pop_front();
      ++q.dropped;
    }
    q.messages.emplace_back(level, message);
  };
}

void flush_log() {
  std::deque<std::pair<LogLevel, std::string>> messages;
  size_t dropped = 0;
  {
    LogQueue& q = queue();
    std::lock_guard<std::mutex> lock(q.mutex);
    messages.swap(q.messages);
    std::swap(dropped, q.dropped);
  }
  if (messages.empty() && dropped == 0) return;
  nb::object logger = nb::module_::import_("logging").attr("getLogger")("salvo");
  if (dropped) logger.attr("warning")(std::to_string(dropped) + " salvo log messages were dropped");
  for (const auto& [level, message] : messages) logger.attr("log")(python_level(level), message);
}

}  // namespace salvo::python
