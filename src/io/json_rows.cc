#include "io/json_rows.h"

#include <charconv>
#include <cmath>
#include <vector>

#include "core/base64.h"
#include "core/utf8.h"

namespace salvo {
namespace {

void append_json(std::string* out, const nlohmann::json& value) { append_json_text(out, value); }

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
    case TypeId::kString: append_json_string(out, std::string(column.string_at(row))); return;
    case TypeId::kBinary:  // base64, as Spark writes BinaryType: bytes are not text
      out->push_back('"');
      append_base64(column.string_at(row), out);
      out->push_back('"');
      return;
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

using json = nlohmann::json;

// Builds a document as nlohmann's own DOM parser does, with two differences that matter for
// hostile rows: strings are moved out of the lexer instead of copied (a 200 MB text costs one
// buffer, not two), and an array or object nested deeper than kMaxJsonDepth stops the parse.
class RowDocumentBuilder {
 public:
  explicit RowDocumentBuilder(json* root) : root_(root) {}

  bool null() { return add(json(nullptr)); }
  bool boolean(bool v) { return add(json(v)); }
  bool number_integer(json::number_integer_t v) { return add(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return add(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) { return add(json(v)); }
  bool string(json::string_t& v) { return add(json(std::move(v))); }
  bool binary(json::binary_t& v) { return add(json(std::move(v))); }
  bool start_object(std::size_t) { return open(json::value_t::object); }
  bool key(json::string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(json::value_t::array); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix: users need the position and reason.
    error_ = e.what();
    if (auto end = error_.find("] "); error_.rfind("[json.exception", 0) == 0 && end != std::string::npos) {
      error_.erase(0, end + 2);
    }
    // nlohmann quotes the whole token it stopped in ("last read: '...'"): a string missing its
    // closing quote is the rest of the row, megabytes maybe. Keep its start.
    constexpr size_t kShownToken = 64;
    const std::string marker = "last read: '";
    if (const size_t at = error_.find(marker); at != std::string::npos) {
      const size_t begin = at + marker.size();
      const size_t end = error_.rfind('\'');
      if (end != std::string::npos && end > begin && end - begin > kShownToken + 16) {
        const std::string shown(utf8_prefix(std::string_view(error_).substr(begin, end - begin), kShownToken));
        error_ = error_.substr(0, begin) + shown + "...' (" + std::to_string(end - begin) + " bytes)" +
                 error_.substr(end + 1);
      }
    }
    error_ = "invalid JSON: " + error_;
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  bool open(json::value_t type) {
    if (stack_.size() >= kMaxJsonDepth) {
      error_ = "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return false;
    }
    json* value = place(json(type));
    stack_.push_back(value);
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }
  bool add(json&& value) {
    place(std::move(value));
    return true;
  }
  // Puts `value` where the document stands: the root, the next array element or the current key
  // (a repeated key keeps its last value, as nlohmann's parser does).
  json* place(json&& value) {
    if (stack_.empty()) {
      *root_ = std::move(value);
      return root_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      auto& array = parent.get_ref<json::array_t&>();
      array.push_back(std::move(value));
      return &array.back();
    }
    auto& object = parent.get_ref<json::object_t&>();
    return &object.insert_or_assign(std::move(key_), std::move(value)).first->second;
  }

  json* root_;
  std::vector<json*> stack_;  // the open arrays and objects, innermost last
  std::string key_;
  std::string error_;
};

// The text field's value (moved out of the document when `take`), or why the row has none.
std::string text_field_error(json& doc, const std::string& name, bool take, std::string* out) {
  auto it = doc.find(name);
  if (it == doc.end()) return "missing text field \"" + name + "\"";
  if (!it->is_string()) return "text field \"" + name + "\" is a " + it->type_name() + ", not a string";
  if (take) {
    *out = std::move(it->get_ref<std::string&>());
  } else {
    *out = it->get_ref<const std::string&>();
  }
  return "";
}

}  // namespace

void parse_json_row(std::string_view bytes, const FieldNames& fields, InputRow* row) {
  size_t bad = 0;
  if (!is_valid_utf8(bytes, &bad)) {
    row->error = "not valid UTF-8 (byte " + std::to_string(bad) + ")";
    return;
  }
  json doc;
  RowDocumentBuilder builder(&doc);
  if (!json::sax_parse(bytes, &builder)) {
    row->error = builder.error().empty() ? "invalid JSON" : builder.error();
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
  // The texts are the last use of the document: moved out, unless the pair reads the same field.
  const bool pair = !fields.text_pair.empty();
  if (!fields.text.empty()) {
    row->error = text_field_error(doc, fields.text, !pair || fields.text_pair != fields.text, &row->text);
  }
  if (row->error.empty() && pair) row->error = text_field_error(doc, fields.text_pair, true, &row->text_pair);
}

}  // namespace salvo
