// GPT-2's byte-level representation: every UTF-8 byte becomes one printable character, and the
// ByteLevel pre-tokenizer that splits text with GPT-2's pattern before mapping it.
#pragma once

#include <string>
#include <string_view>

#include "text/pre_tokenizers.h"

namespace salvo {

// The character GPT-2 uses for `byte` (printable bytes map to themselves, the others to U+0100..).
char32_t byte_level_char(uint8_t byte);

// The byte a byte-level character stands for, or -1 if it is not one.
int byte_of_byte_level_char(char32_t c);

// Appends the byte-level characters of the UTF-8 encoding of `text` to `out`.
void append_byte_level(std::u32string_view text, std::u32string* out);

// The end of the match of GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// that starts at text[start] (start < size): the pattern matches every character, so the text is
// cut into consecutive matches.
size_t gpt2_match_end(std::u32string_view text, size_t start);

// The GPT-2 pattern as tokenizer.json writes it (a Split with this regex uses the same matcher).
extern const char kGpt2Pattern[];

// ByteLevel: optionally a space in front of each piece, GPT-2's split, then the byte mapping.
class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
  void pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const override;

 private:
  bool add_prefix_space_;
  bool use_regex_;
};

// Split with GPT-2's pattern, Isolated, not inverted, without the regex engine.
class Gpt2SplitPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const override;
};

}  // namespace salvo
