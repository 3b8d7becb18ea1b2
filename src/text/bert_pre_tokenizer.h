// Hugging Face's BertPreTokenizer: splits on whitespace and isolates each punctuation character.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace salvo {

// A word of a pre-tokenized text: code point offsets [begin, end).
struct WordSpan {
  uint32_t begin;
  uint32_t end;
};

// Appends the words of `text` to `words`: whitespace (Rust's char::is_whitespace) separates words
// and is dropped; each punctuation character is a word of its own.
void bert_pre_tokenize(std::u32string_view text, std::vector<WordSpan>* words);

}  // namespace salvo
