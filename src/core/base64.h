#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace salvo {

// Standard base64 (RFC 4648, alphabet A-Z a-z 0-9 + /, with '=' padding): how binary values are
// written in JSON Lines and CSV, as Spark's JSON writer writes BinaryType.
std::string encode_base64(std::string_view bytes);
void append_base64(std::string_view bytes, std::string* out);

// Decodes standard base64 (with padding) as Rust's base64 STANDARD engine does; nullopt if it is
// not valid base64 (bad characters or length, misplaced or non-canonical padding).
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace salvo
