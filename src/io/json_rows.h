// JSON rows shared by every JSON carrier: JSONL files and Kafka messages.
#pragma once

#include <charconv>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "io/record.h"
#include "io/row_sink.h"
#include "io/row_source.h"

namespace salvo {

// Parses one JSON object into `row` (id, passthrough, text). Anything wrong (not UTF-8, invalid
// JSON, not an object, missing or non-string text) sets row->error; `what` names the carrier in
// messages ("line", "message"). Never throws.
void parse_json_row(std::string_view bytes, const FieldNames& fields, const char* what, InputRow* row);

// Appends a float in its shortest round-trip form; NaN and infinities as null (JSON has neither).
void append_json_float(std::string* out, float value);

// Appends a JSON array of floats or integers.
template <typename T>
void append_json_array(std::string* out, const std::vector<T>& values) {
  out->push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out->push_back(',');
    if constexpr (std::is_floating_point_v<T>) {
      append_json_float(out, values[i]);
    } else {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), values[i]);
      out->append(buf, end);
    }
  }
  out->push_back(']');
}

// Label indices by descending probability (ties keep label order).
std::vector<size_t> labels_by_score(const std::vector<float>& probs);

// Formats output rows as compact JSON objects: id, passthrough fields, then the task's results
// (or "line" and "error" for an error row).
class JsonRowFormatter {
 public:
  explicit JsonRowFormatter(OutputSchema schema) : schema_(std::move(schema)) {}

  // Appends the row's JSON object (no newline) to `out`.
  void append(const OutputRow& row, std::string* out) const;

  const OutputSchema& schema() const { return schema_; }

 private:
  void append_classification(const std::vector<float>& probs, std::string* out) const;

  OutputSchema schema_;
};

}  // namespace salvo
