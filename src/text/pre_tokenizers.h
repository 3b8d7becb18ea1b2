// Pre-tokenizers of tokenizer.json: each cuts a piece of normalized text into words (and may
// rewrite them), as the tokenizers library's pre-tokenizer of the same name does. ByteLevel is in
// byte_level.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "text/regex.h"

namespace salvo {

// A word: code point offsets [begin, end) into its PreTokenizedText's text. at_origin: the word
// starts where the original text starts (the library's offsets_original().0 == 0).
struct TextSpan {
  uint32_t begin;
  uint32_t end;
  bool at_origin;
};

// Text and the words cut from it so far.
struct PreTokenizedText {
  std::u32string text;
  std::vector<TextSpan> spans;
};

// One pre-tokenization step.
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits (and may rewrite) every span of `words`, leaving the result in `words`; `scratch` is
  // spare storage. Never produces an empty span.
  virtual void pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const = 0;
  // Whether every ASCII whitespace character ends a word and belongs to none (is dropped), so that
  // a text cut just before whitespace yields the same words piece by piece as whole.
  virtual bool splits_at_whitespace() const { return false; }
};

// What a split does with the delimiters it finds (tokenizers' SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Cuts `span` by `matches` (offsets relative to span.begin, covering the span, as
// TextPattern::find_matches gives them) the way NormalizedString::split does, appending the
// non-empty pieces to `out`. `invert` swaps matches and gaps first.
void split_span(const TextSpan& span, const std::vector<PatternMatch>& matches,
                SplitBehavior behavior, bool invert, std::vector<TextSpan>* out);

// BertPreTokenizer: splits on whitespace (removed) and isolates punctuation.
class BertPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const override;
  bool splits_at_whitespace() const override { return true; }
};

// Whitespace: keeps the matches of \w+|[^\w\s]+ (Rust regex classes).
class WhitespacePreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const override;
  bool splits_at_whitespace() const override { return true; }
};

// WhitespaceSplit: splits on char::is_whitespace, removing it.
class WhitespaceSplitPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const override;
  bool splits_at_whitespace() const override { return true; }
};

// Punctuation: splits on ASCII or Unicode punctuation with the given behavior.
class PunctuationPreTokenizer : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(SplitBehavior behavior) : behavior_(behavior) {}
  void pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const override;

 private:
  SplitBehavior behavior_;
};

// Digits: isolates each numeric character, or each run of them.
class DigitsPreTokenizer : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual_digits) : individual_(individual_digits) {}
  void pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const override;

 private:
  bool individual_;
};

// CharDelimiterSplit: splits on one character, removing it.
class CharDelimiterPreTokenizer : public PreTokenizer {
 public:
  explicit CharDelimiterPreTokenizer(char32_t delimiter) : delimiter_(delimiter) {}
  void pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const override;

 private:
  char32_t delimiter_;
};

// Split: splits on a pattern's matches.
class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(TextPattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const override;

 private:
  TextPattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

// When Metaspace puts its replacement character in front of a word.
enum class PrependScheme { kAlways, kFirst, kNever };

// Metaspace (SentencePiece style): ' ' becomes the replacement character (U+2581 by default),
// which is prepended per the scheme; with `split`, each replacement character starts a new word.
class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
      : replacement_(replacement), scheme_(scheme), split_(split) {}
  void pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const override;

 private:
  char32_t replacement_;
  PrependScheme scheme_;
  bool split_;
};

// Applies pre-tokenizers one after the other.
class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const override;

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace salvo
