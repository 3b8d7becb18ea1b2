// Code points where Hugging Face tokenizers' Unicode tables disagree with utf8proc's.
//
// The data lives in unicode_overrides.cc, which tests/parity/tokenizer/unicode_sweep.js generates
// by comparing every code point; do not edit it by hand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace salvo {

// CharFlag bits to set and to clear on the code points first..last.
struct CharFlagOverride {
  char32_t first;
  char32_t last;
  uint16_t set;
  uint16_t clear;
};

// A lowercase mapping that utf8proc lacks (Rust's tables are newer), one code point to one.
struct LowercaseOverride {
  char32_t cp;
  char32_t lower;
};

// Sorted by `first`, non-overlapping.
std::span<const CharFlagOverride> char_flag_overrides();

// Sorted by `cp`.
std::span<const LowercaseOverride> lowercase_overrides();

}  // namespace salvo
