// UTF-8 validation of input text, so that a bad row is reported instead of tokenized.
#pragma once

#include <cstddef>
#include <string_view>

namespace salvo {

// Returns true when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points
// above U+10FFFF). Otherwise sets *bad_offset (when not null) to the byte offset of the first
// invalid sequence.
// Checks 32 bytes at a time with AVX2 where the CPU has it (Keiser and Lemire's lookup method,
// "Validating UTF-8 In Less Than One Instruction Per Byte", 2021), then finds the offset of an
// invalid sequence with the byte loop.
bool is_valid_utf8(std::string_view text, size_t* bad_offset = nullptr);

// The two checks behind is_valid_utf8(), exposed for tests: the byte-by-byte reference, and the
// AVX2 one (call it only when cpu_has_avx2(); it does not report an offset).
bool is_valid_utf8_scalar(std::string_view text, size_t* bad_offset = nullptr);
bool is_valid_utf8_avx2(std::string_view text);
bool cpu_has_avx2();

// The longest prefix of `text` of at most `max_bytes` bytes that does not end inside a UTF-8
// sequence (for cutting valid UTF-8 short, as error messages are).
std::string_view utf8_prefix(std::string_view text, size_t max_bytes);

}  // namespace salvo
