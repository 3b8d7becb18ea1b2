// UTF-8 validation of input text, so that a bad row is reported instead of tokenized.
#pragma once

#include <cstddef>
#include <string_view>

namespace salvo {

// Returns true when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points
// above U+10FFFF). Otherwise sets *bad_offset (when not null) to the byte offset of the first
// invalid sequence.
bool is_valid_utf8(std::string_view text, size_t* bad_offset = nullptr);

}  // namespace salvo
