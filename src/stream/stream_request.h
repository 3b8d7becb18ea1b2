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

// By default dead letters keep at most this much of the original value, so that they fit the
// producer's default message.max.bytes (1 MB) whatever the request's size; the service sets
// MessageFormat::max_dead_letter_bytes from its producer's setting.
constexpr size_t kMaxDeadLetterBytes = 900000;

// Error texts (in responses and the salvo.error header) are cut to this many bytes: a reason that
// quotes the message must not make its answer too large to produce.
constexpr size_t kMaxErrorBytes = 1000;

// `error` cut to kMaxErrorBytes (at a UTF-8 boundary, "..." marking the cut).
std::string bounded_error(std::string error);

// How message values are read.
struct MessageFormat {
  FieldNames fields;               // JSON requests: the text and id fields
  bool raw_text = false;           // the value is the text itself
  size_t max_request_bytes = 16u << 20;
  size_t max_dead_letter_bytes = kMaxDeadLetterBytes;  // of the original value kept for a dead letter
};

// Reads a message's value (nullopt: the message has none) into `request`: its id, or its error and
// (for the dead-letter topic) the start of the original value. Returns the text to tokenize, empty
// for a bad message. Never throws for any value.
std::string read_stream_message(std::optional<std::string_view> value, const MessageFormat& format,
                                StreamRequest* request);

}  // namespace salvo
