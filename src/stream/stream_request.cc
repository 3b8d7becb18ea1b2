#include "stream/stream_request.h"

#include "core/utf8.h"
#include "io/json_rows.h"

namespace salvo {

std::string bounded_error(std::string error) {
  if (error.size() <= kMaxErrorBytes) return error;
  error.resize(utf8_prefix(error, kMaxErrorBytes - 3).size());
  return error + "...";
}

std::string read_stream_message(std::optional<std::string_view> value, const MessageFormat& format,
                                StreamRequest* request) {
  std::string text;
  if (!value) {
    request->error = "message has no value";
  } else if (value->size() > format.max_request_bytes) {
    request->error = "message is " + std::to_string(value->size()) + " bytes, over the limit of " +
                     std::to_string(format.max_request_bytes) + " (--max-record-bytes)";
  } else if (format.raw_text) {
    size_t bad = 0;
    if (!is_valid_utf8(*value, &bad)) {
      request->error = "not valid UTF-8 (byte " + std::to_string(bad) + ")";
    } else {
      text.assign(*value);
    }
  } else {
    InputRow row;
    parse_json_row(*value, format.fields, &row);
    request->id = std::move(row.id);
    request->error = std::move(row.error);
    text = std::move(row.text);
  }
  if (!request->error.empty()) {
    request->error = bounded_error(std::move(request->error));
    text.clear();
    if (value) request->value.assign(value->substr(0, format.max_dead_letter_bytes));
    request->value_bytes = value ? value->size() : 0;
    request->null_value = !value;
  }
  return text;
}

}  // namespace salvo
