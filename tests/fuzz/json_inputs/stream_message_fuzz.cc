// libFuzzer target: a Kafka message's value as `salvo stream` reads it (read_stream_message), and
// the response it gets. The first byte sets the mode (JSON or raw text, a value or none, a small or
// large size limit); the rest is the value. Any value ends in a request or an error, never a
// crash; a good request's text is valid UTF-8; every response prints as valid JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "core/utf8.h"
#include "io/json_rows.h"
#include "stream/stream_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  salvo::MessageFormat format;
  format.raw_text = data[0] & 1;
  format.max_request_bytes = (data[0] & 4) ? 128 : 1 << 20;
  std::optional<std::string_view> value;
  if (!(data[0] & 2)) value = std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1);
  salvo::StreamRequest request;
  const std::string text = salvo::read_stream_message(value, format, &request);
  if (request.error.empty() && !salvo::is_valid_utf8(text)) std::abort();
  if (!request.error.empty() && (!text.empty() || request.value.size() > salvo::kMaxDeadLetterBytes)) std::abort();
  salvo::Schema schema;
  schema.fields = {{"id", salvo::DataType::json()}, {"error", salvo::DataType::string()}};
  salvo::RecordBatch response(schema);
  response.mutable_column(0).append_json(request.id);
  if (request.error.empty()) {
    response.mutable_column(1).append_null();
  } else {
    response.mutable_column(1).append_string(request.error);
  }
  std::string line;
  salvo::append_json_row(response, 0, &line);
  if (!nlohmann::json::accept(line)) std::abort();
  return 0;
}
