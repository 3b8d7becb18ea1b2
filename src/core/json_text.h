// JSON text from outside (files, messages) and back: parsing with a nesting limit, printing
// without recursion. nlohmann's parser and destructor are iterative, but copying and dump()
// recurse once per nesting level, so a document 100,000 levels deep (200 KB of brackets) would
// overflow the stack. Every JSON input goes through parse_json_document() (or parse_json_row(),
// which uses the same limit), so every value in the process is at most kMaxJsonDepth deep.
#pragma once

#include <cstddef>
#include <filesystem>
#include <istream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace salvo {

// Deeper JSON input is refused. Real rows, configs and tokenizers nest a few levels.
constexpr size_t kMaxJsonDepth = 256;

// Whether `text` nests arrays and objects deeper than `limit` (brackets inside strings do not
// count). The text need not be valid JSON. When it does, *offset (if given) is the byte offset of
// the bracket that went too deep.
bool json_nested_deeper_than(std::string_view text, size_t limit, size_t* offset = nullptr);

// Parses a whole JSON document. Throws nlohmann::json::parse_error for invalid JSON and for
// nesting deeper than kMaxJsonDepth alike, so callers report both the same way.
nlohmann::json parse_json_document(std::string_view text);
nlohmann::json parse_json_document(std::istream& in);

// Reads and parses a JSON file of a model (a config, modules.json): throws salvo::Error(kModel)
// naming the file and why, for a path that is not a regular file (a folder, say), one that cannot
// be read, and invalid or too deeply nested JSON.
nlohmann::json read_model_json_file(const std::filesystem::path& path);

// Appends `value` as compact JSON text, the same text nlohmann's dump() gives (invalid UTF-8 in
// strings replaced by U+FFFD), with an explicit stack instead of recursion: safe at any depth.
void append_json_text(std::string* out, const nlohmann::json& value);
std::string json_text(const nlohmann::json& value);

}  // namespace salvo
