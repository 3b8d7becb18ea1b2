// How one consumed Kafka message becomes a request: its id and text, or why it is bad. Kept apart
// from the service so that hostile payloads can be tested and fuzzed without a broker.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "io/row_source.h"
#include "stream/micro_batcher.h"

namespace salvo {

// Dead letters keep at most this much of the original value, so that they fit the producer's
// default message.max.bytes (1 MB) whatever the request's size.
constexpr size_t kMaxDeadLetterBytes = 900000;

// How message values are read.
struct MessageFormat {
  FieldNames fields;               // JSON requests: the text and id fields
  bool raw_text = false;           // the value is the text itself
  size_t max_request_bytes = 16u << 20;
};

// Reads a message's value (nullopt: the message has none) into `request`: its id, or its error and
// (for the dead-letter topic) the start of the original value. Returns the text to tokenize, empty
// for a bad message. Never throws for any value.
std::string read_stream_message(std::optional<std::string_view> value, const MessageFormat& format,
                                StreamRequest* request);

}  // namespace salvo
