// JSON rows shared by every JSON carrier: JSONL files and Kafka messages, in and out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json_text.h"
#include "io/record.h"
#include "io/row_source.h"
#include "salvo/table.h"

namespace salvo {

// Parses one JSON object into `row` (id, passthrough, text, text pair). Anything wrong (not UTF-8,
// invalid JSON, nested deeper than kMaxJsonDepth, not an object, missing or non-string text) sets
// row->error. Never throws.
void parse_json_row(std::string_view bytes, const FieldNames& fields, InputRow* row);

// Appends a float in its shortest round-trip form; NaN and infinities as null (JSON has neither).
void append_json_float(std::string* out, double value, bool single_precision);

// Appends row `row` of `column` as a JSON value (lists as arrays, strings escaped, binary values as
// strings with invalid UTF-8 replaced, timestamps as microseconds).
void append_json_value(const Column& column, int64_t row, std::string* out);

// Appends row `row` of `batch` as one compact JSON object: every column that is not null in this
// row, under its name, in schema order. Nulls are left out (a missing key reads as null).
void append_json_row(const RecordBatch& batch, int64_t row, std::string* out);

}  // namespace salvo
