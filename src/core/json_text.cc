#include "core/json_text.h"

#include <fstream>
#include <iterator>
#include <vector>

#include "core/error.h"

namespace salvo {

bool json_nested_deeper_than(std::string_view text, size_t limit, size_t* offset) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) {
        if (offset) *offset = i;
        return true;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

nlohmann::json parse_json_document(std::string_view text) {
  size_t offset = 0;
  if (json_nested_deeper_than(text, kMaxJsonDepth, &offset)) {
    throw nlohmann::json::parse_error::create(
        101, offset + 1, "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels", nullptr);
  }
  return nlohmann::json::parse(text);
}

nlohmann::json parse_json_document(std::istream& in) {
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return parse_json_document(text);
}

nlohmann::json read_model_json_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(ErrorCode::kModel, path.string() + ": " +
                                       (std::filesystem::exists(path, ec) ? "not a regular file" : "no such file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kModel, path.string() + ": cannot open");
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw Error(ErrorCode::kModel, path.string() + ": cannot read");
  try {
    return parse_json_document(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kModel, path.string() + ": not valid JSON: " + e.what());
  }
}

void append_json_text(std::string* out, const nlohmann::json& value) {
  using json = nlohmann::json;
  // One frame per open array or object: where its iteration stands.
  struct Frame {
    const json* container;
    json::const_iterator next;
  };
  std::vector<Frame> stack;
  const json* v = &value;
  for (;;) {
    if (v->is_object() || v->is_array()) {
      out->push_back(v->is_object() ? '{' : '[');
      stack.push_back({v, v->cbegin()});
    } else {
      out->append(v->dump(-1, ' ', false, json::error_handler_t::replace));
    }
    // Find the next value to print, closing every container that is done.
    v = nullptr;
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (top.next == top.container->cend()) {
        out->push_back(top.container->is_object() ? '}' : ']');
        stack.pop_back();
        continue;
      }
      if (top.next != top.container->cbegin()) out->push_back(',');
      if (top.container->is_object()) {
        out->append(json(top.next.key()).dump(-1, ' ', false, json::error_handler_t::replace));
        out->push_back(':');
      }
      v = &*top.next;
      ++top.next;
      break;
    }
    if (!v) return;
  }
}

std::string json_text(const nlohmann::json& value) {
  std::string out;
  append_json_text(&out, value);
  return out;
}

}  // namespace salvo
