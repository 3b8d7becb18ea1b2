// Added tokens ([CLS], [MASK], user tokens): found in the text before the model sees it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace salvo {

// One entry of tokenizer.json's "added_tokens".
struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool single_word = false;  // match only where no word character touches it
  bool lstrip = false;       // the match takes the whitespace on its left
  bool rstrip = false;       // the match takes the whitespace on its right
  bool normalized = false;   // match against the normalized text instead of the raw text
  bool special = false;
};

// A piece of a text: code point offsets [begin, end) and the id of the added token it is, or -1
// for ordinary text.
struct TextPiece {
  uint32_t begin;
  uint32_t end;
  int32_t added_id;
};

// Finds added tokens in a text like tokenizers' AddedVocabulary: leftmost-longest matches (its
// Aho-Corasick MatchKind::LeftmostLongest), scanning on after each match, with single_word, lstrip
// and rstrip applied to each match.
class AddedTokenMatcher {
 public:
  // A pattern to look for: the token's content (normalized for normalized tokens).
  struct Pattern {
    std::u32string text;
    AddedToken token;
  };

  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<Pattern> patterns);

  bool empty() const { return patterns_.empty(); }

  // Appends the pieces of text[begin, end) to `pieces`; they cover the range, in order. Offsets
  // are relative to `text`.
  void split(std::u32string_view text, uint32_t begin, uint32_t end,
             std::vector<TextPiece>* pieces) const;

 private:
  bool may_start(char32_t cp) const;

  std::vector<Pattern> patterns_;
  std::vector<char32_t> first_chars_;  // sorted
  uint64_t ascii_first_[2] = {0, 0};
};

}  // namespace salvo
