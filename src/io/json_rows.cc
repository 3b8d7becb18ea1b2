#include "io/json_rows.h"

#include <charconv>
#include <cmath>

#include "core/utf8.h"

namespace salvo {
namespace {

void append_json(std::string* out, const nlohmann::json& value) {
  out->append(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void append_json_string(std::string* out, const std::string& s) { append_json(out, nlohmann::json(s)); }

}  // namespace

void append_json_float(std::string* out, double value, bool single_precision) {
  if (!std::isfinite(value)) {
    out->append("null");
    return;
  }
  char buf[32];
  auto [end, ec] = single_precision ? std::to_chars(buf, buf + sizeof(buf), static_cast<float>(value))
                                    : std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, end);
}

void append_json_value(const Column& column, int64_t row, std::string* out) {
  if (column.is_null(row)) {
    out->append("null");
    return;
  }
  char buf[24];
  switch (column.type().id()) {
    case TypeId::kBool: out->append(column.bool_at(row) ? "true" : "false"); return;
    case TypeId::kInt32: {
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), column.int32_at(row));
      out->append(buf, end);
      return;
    }
    case TypeId::kInt64:
    case TypeId::kTimestamp: {
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), column.int64_at(row));
      out->append(buf, end);
      return;
    }
    case TypeId::kFloat32: append_json_float(out, column.float32_at(row), true); return;
    case TypeId::kFloat64: append_json_float(out, column.float64_at(row), false); return;
    case TypeId::kString:
    case TypeId::kBinary: append_json_string(out, std::string(column.string_at(row))); return;
    case TypeId::kJson: append_json(out, column.json_at(row)); return;
    case TypeId::kList: {
      out->push_back('[');
      const Column& child = column.child();
      const TypeId element = child.type().id();
      for (int64_t i = column.list_begin(row); i < column.list_end(row); ++i) {
        if (i > column.list_begin(row)) out->push_back(',');
        if (element == TypeId::kFloat32 && !child.is_null(i)) {
          append_json_float(out, child.float32_at(i), true);  // the hot path: embeddings
        } else {
          append_json_value(child, i, out);
        }
      }
      out->push_back(']');
      return;
    }
  }
}

void append_json_row(const RecordBatch& batch, int64_t row, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (size_t c = 0; c < batch.num_columns(); ++c) {
    const Column& column = batch.column(c);
    if (column.is_null(row)) continue;
    if (!first) out->push_back(',');
    first = false;
    append_json_string(out, batch.schema().fields[c].name);
    out->push_back(':');
    append_json_value(column, row, out);
  }
  out->push_back('}');
}

namespace {

// Whether the JSON text nests arrays and objects deeper than `limit` (strings are skipped, so
// brackets inside them do not count). The text need not be valid JSON.
bool nested_deeper_than(std::string_view bytes, size_t limit) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

std::string text_field_error(const nlohmann::json::const_iterator& it, const nlohmann::json& doc,
                             const std::string& name, std::string* out) {
  if (it == doc.end()) return "missing text field \"" + name + "\"";
  if (!it->is_string()) return "text field \"" + name + "\" is a " + it->type_name() + ", not a string";
  *out = it->get<std::string>();
  return "";
}

}  // namespace

void parse_json_row(std::string_view bytes, const FieldNames& fields, InputRow* row) {
  size_t bad = 0;
  if (!is_valid_utf8(bytes, &bad)) {
    row->error = "not valid UTF-8 (byte " + std::to_string(bad) + ")";
    return;
  }
  if (nested_deeper_than(bytes, kMaxJsonDepth)) {
    row->error = "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return;
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::parse_error& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix: users need the position and reason.
    std::string message = e.what();
    if (auto end = message.find("] "); message.rfind("[json.exception", 0) == 0 && end != std::string::npos) {
      message.erase(0, end + 2);
    }
    row->error = "invalid JSON: " + message;
    return;
  }
  if (!doc.is_object()) {
    row->error = std::string("a JSON ") + doc.type_name() + ", not an object";
    return;
  }
  if (auto id = doc.find(fields.id); id != doc.end()) row->id = *id;
  // Copied, not moved: a passthrough field may also be the text or the id field.
  row->passthrough.resize(fields.passthrough.size());
  for (size_t i = 0; i < fields.passthrough.size(); ++i) {
    if (auto value = doc.find(fields.passthrough[i]); value != doc.end()) row->passthrough[i] = *value;
  }
  if (!fields.text.empty()) row->error = text_field_error(doc.find(fields.text), doc, fields.text, &row->text);
  if (row->error.empty() && !fields.text_pair.empty()) {
    row->error = text_field_error(doc.find(fields.text_pair), doc, fields.text_pair, &row->text_pair);
  }
}

}  // namespace salvo
