#include "io/json_rows.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/utf8.h"

namespace salvo {
namespace {

void append_json(std::string* out, const nlohmann::json& value) {
  out->append(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void append_json_string(std::string* out, const std::string& s) { append_json(out, nlohmann::json(s)); }

}  // namespace

void append_json_float(std::string* out, float value) {
  if (!std::isfinite(value)) {
    out->append("null");
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, end);
}

std::vector<size_t> labels_by_score(const std::vector<float>& probs) {
  std::vector<size_t> order(probs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return probs[a] > probs[b]; });
  return order;
}

void parse_json_row(std::string_view bytes, const FieldNames& fields, const char* what, InputRow* row) {
  size_t bad = 0;
  if (!is_valid_utf8(bytes, &bad)) {
    row->error = std::string(what) + " is not valid UTF-8 (byte " + std::to_string(bad) + ")";
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
    row->error = std::string(what) + " is a JSON " + doc.type_name() + ", not an object";
    return;
  }
  if (auto id = doc.find(fields.id); id != doc.end()) row->id = *id;
  // Copied, not moved: a passthrough field may also be the text or the id field.
  row->passthrough.resize(fields.passthrough.size());
  for (size_t i = 0; i < fields.passthrough.size(); ++i) {
    if (auto value = doc.find(fields.passthrough[i]); value != doc.end()) row->passthrough[i] = *value;
  }
  auto text = doc.find(fields.text);
  if (text == doc.end()) {
    row->error = "missing text field \"" + fields.text + "\"";
  } else if (!text->is_string()) {
    row->error = "text field \"" + fields.text + "\" is a " + text->type_name() + ", not a string";
  } else {
    row->text = text->get<std::string>();
  }
}

void JsonRowFormatter::append(const OutputRow& row, std::string* out) const {
  out->push_back('{');
  if (!row.id.is_null()) {
    out->append("\"id\":");
    append_json(out, row.id);
    out->push_back(',');
  }
  for (size_t i = 0; i < row.passthrough.size() && i < schema_.carried.passthrough.size(); ++i) {
    append_json_string(out, schema_.carried.passthrough[i].name);
    out->push_back(':');
    append_json(out, row.passthrough[i]);
    out->push_back(',');
  }
  if (!row.error.empty()) {
    out->append("\"line\":");
    out->append(std::to_string(row.line));
    out->append(",\"error\":");
    append_json_string(out, row.error);
  } else {
    switch (schema_.task) {
      case Task::kEmbed:
        out->append("\"embedding\":");
        append_json_array(out, row.values);
        break;
      case Task::kTokenize:
        out->append("\"input_ids\":");
        append_json_array(out, row.ids);
        out->append(",\"token_type_ids\":");
        append_json_array(out, row.type_ids);
        break;
      case Task::kClassify:
        append_classification(row.values, out);
        break;
    }
  }
  out->push_back('}');
}

void JsonRowFormatter::append_classification(const std::vector<float>& probs, std::string* out) const {
  const auto order = labels_by_score(probs);
  out->append("\"label\":");
  append_json_string(out, schema_.labels[order[0]]);
  out->append(",\"score\":");
  append_json_float(out, probs[order[0]]);
  if (schema_.top_k > 0) {
    out->append(",\"top_k\":[");
    for (size_t i = 0; i < std::min(schema_.top_k, order.size()); ++i) {
      if (i) out->push_back(',');
      out->append("{\"label\":");
      append_json_string(out, schema_.labels[order[i]]);
      out->append(",\"score\":");
      append_json_float(out, probs[order[i]]);
      out->push_back('}');
    }
    out->push_back(']');
  }
  if (schema_.all_scores) {
    out->append(",\"scores\":{");
    for (size_t i = 0; i < probs.size(); ++i) {
      if (i) out->push_back(',');
      append_json_string(out, schema_.labels[i]);
      out->push_back(':');
      append_json_float(out, probs[i]);
    }
    out->push_back('}');
  }
}

}  // namespace salvo
