// Regular expressions of tokenizer.json (Split and Replace patterns), run by Oniguruma as the
// tokenizers library runs them, on code point strings.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace salvo {

// One match or gap of a pattern in a text: code point offsets [begin, end).
struct PatternMatch {
  uint32_t begin;
  uint32_t end;
  bool is_match;
};

// A compiled Oniguruma pattern (Oniguruma syntax, no options: what tokenizers' SysRegex builds).
// Thread-safe: searches only read the compiled pattern.
class Regex {
 public:
  // Compiles `pattern` (UTF-8). Throws salvo::Error(kModel) with Oniguruma's message if it is not
  // a valid pattern.
  explicit Regex(std::string_view pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends the matches of the pattern in `text`, left to right, with the gaps between them, as
  // tokenizers' Pattern::find_matches does (an empty text gives one empty gap; an empty match
  // right after the previous match is skipped by one character).
  void find_matches(std::u32string_view text, std::vector<PatternMatch>* out) const;

  // The pattern as written in tokenizer.json.
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* regex_ = nullptr;  // OnigRegex
};

// A Split or Replace pattern: a literal string (tokenizer.json's {"String": ...}) or a regular
// expression ({"Regex": ...}). Literals are matched directly, with the same result as the
// library's escaped regular expression.
class TextPattern {
 public:
  // Throws salvo::Error(kModel) for an empty literal or an invalid expression.
  static TextPattern literal(std::string_view text);
  static TextPattern regex(std::string_view pattern);

  // As Regex::find_matches.
  void find_matches(std::u32string_view text, std::vector<PatternMatch>* out) const;

 private:
  std::u32string literal_;
  std::shared_ptr<const Regex> regex_;
};

// The pattern that matches `literal` exactly (Rust's regex::escape, as tokenizers escapes String
// patterns).
std::string escape_regex(std::string_view literal);

}  // namespace salvo
