#include "text/pre_tokenizers.h"

#include <algorithm>

#include "text/bert_pre_tokenizer.h"
#include "text/unicode.h"

namespace salvo {

namespace {

// Appends to `out` the matches of a one-character predicate in `text`, as tokenizers' Pattern for
// Fn(char) -> bool gives them: every matching character is its own match.
template <typename Predicate>
void find_char_matches(std::u32string_view text, Predicate matches_char,
                       std::vector<PatternMatch>* out) {
  uint32_t size = static_cast<uint32_t>(text.size());
  if (size == 0) {
    out->push_back({0, 0, false});
    return;
  }
  uint32_t last = 0;
  for (uint32_t i = 0; i < size; ++i) {
    if (!matches_char(text[i])) continue;
    if (last < i) out->push_back({last, i, false});
    out->push_back({i, i + 1, true});
    last = i + 1;
  }
  if (size > last) out->push_back({last, size, false});
}

// Splits every span of `words` by the matches `find` reports for its text.
template <typename Find>
void split_all(PreTokenizedText* words, PreTokenizedText* scratch, SplitBehavior behavior,
               bool invert, Find find) {
  thread_local std::vector<PatternMatch> matches;
  scratch->spans.clear();
  std::u32string_view text(words->text);
  for (const TextSpan& span : words->spans) {
    matches.clear();
    find(text.substr(span.begin, span.end - span.begin), &matches);
    split_span(span, matches, behavior, invert, &scratch->spans);
  }
  words->spans.swap(scratch->spans);
}

}  // namespace

void split_span(const TextSpan& span, const std::vector<PatternMatch>& matches,
                SplitBehavior behavior, bool invert, std::vector<TextSpan>* out) {
  // (begin, end, remove) per the behavior, as NormalizedString::split computes them.
  struct Piece {
    uint32_t begin;
    uint32_t end;
    bool remove;
  };
  thread_local std::vector<Piece> pieces;
  pieces.clear();
  auto is_match = [invert](const PatternMatch& m) { return m.is_match != invert; };
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const PatternMatch& m : matches) pieces.push_back({m.begin, m.end, false});
      break;
    case SplitBehavior::kRemoved:
      for (const PatternMatch& m : matches) pieces.push_back({m.begin, m.end, is_match(m)});
      break;
    case SplitBehavior::kContiguous: {
      bool previous = false;
      for (const PatternMatch& m : matches) {
        bool match = is_match(m);
        if (match == previous && !pieces.empty()) {
          pieces.back().end = m.end;
        } else {
          pieces.push_back({m.begin, m.end, false});
        }
        previous = match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool previous = false;
      for (const PatternMatch& m : matches) {
        bool match = is_match(m);
        if (match && !previous && !pieces.empty()) {
          pieces.back().end = m.end;
        } else {
          pieces.push_back({m.begin, m.end, false});
        }
        previous = match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous = false;
      for (size_t k = matches.size(); k-- > 0;) {
        const PatternMatch& m = matches[k];
        bool match = is_match(m);
        if (match && !previous && !pieces.empty()) {
          pieces.back().begin = m.begin;
        } else {
          pieces.push_back({m.begin, m.end, false});
        }
        previous = match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
  }
  for (const Piece& p : pieces) {
    if (p.remove || p.begin >= p.end) continue;
    out->push_back({span.begin + p.begin, span.begin + p.end, span.at_origin && p.begin == 0});
  }
}

void BertPreTokenizer::pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const {
  thread_local std::vector<WordSpan> found;
  scratch->spans.clear();
  std::u32string_view text(words->text);
  for (const TextSpan& span : words->spans) {
    found.clear();
    bert_pre_tokenize(text.substr(span.begin, span.end - span.begin), &found);
    for (const WordSpan& w : found) {
      scratch->spans.push_back({span.begin + w.begin, span.begin + w.end,
                                span.at_origin && w.begin == 0});
    }
  }
  words->spans.swap(scratch->spans);
}

void WhitespacePreTokenizer::pre_tokenize(PreTokenizedText* words,
                                          PreTokenizedText* scratch) const {
  scratch->spans.clear();
  const std::u32string& text = words->text;
  for (const TextSpan& span : words->spans) {
    uint32_t i = span.begin;
    while (i < span.end) {
      uint16_t flags = char_flags(text[i]);
      if (flags & kCharWord) {
        uint32_t j = i + 1;
        while (j < span.end && (char_flags(text[j]) & kCharWord)) ++j;
        scratch->spans.push_back({i, j, span.at_origin && i == span.begin});
        i = j;
      } else if (flags & kCharWhitespace) {
        ++i;
      } else {
        uint32_t j = i + 1;
        while (j < span.end && !(char_flags(text[j]) & (kCharWord | kCharWhitespace))) ++j;
        scratch->spans.push_back({i, j, span.at_origin && i == span.begin});
        i = j;
      }
    }
  }
  words->spans.swap(scratch->spans);
}

void WhitespaceSplitPreTokenizer::pre_tokenize(PreTokenizedText* words,
                                               PreTokenizedText* scratch) const {
  scratch->spans.clear();
  const std::u32string& text = words->text;
  for (const TextSpan& span : words->spans) {
    uint32_t i = span.begin;
    while (i < span.end) {
      if (char_flags(text[i]) & kCharWhitespace) {
        ++i;
        continue;
      }
      uint32_t j = i + 1;
      while (j < span.end && !(char_flags(text[j]) & kCharWhitespace)) ++j;
      scratch->spans.push_back({i, j, span.at_origin && i == span.begin});
      i = j;
    }
  }
  words->spans.swap(scratch->spans);
}

void PunctuationPreTokenizer::pre_tokenize(PreTokenizedText* words,
                                           PreTokenizedText* scratch) const {
  split_all(words, scratch, behavior_, false,
            [](std::u32string_view text, std::vector<PatternMatch>* out) {
              find_char_matches(text, [](char32_t c) { return (char_flags(c) & kCharPunct) != 0; },
                                out);
            });
}

void DigitsPreTokenizer::pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const {
  split_all(words, scratch, individual_ ? SplitBehavior::kIsolated : SplitBehavior::kContiguous,
            false, [](std::u32string_view text, std::vector<PatternMatch>* out) {
              find_char_matches(
                  text, [](char32_t c) { return (char_flags(c) & kCharNumeric) != 0; }, out);
            });
}

void CharDelimiterPreTokenizer::pre_tokenize(PreTokenizedText* words,
                                             PreTokenizedText* scratch) const {
  char32_t delimiter = delimiter_;
  split_all(words, scratch, SplitBehavior::kRemoved, false,
            [delimiter](std::u32string_view text, std::vector<PatternMatch>* out) {
              find_char_matches(text, [delimiter](char32_t c) { return c == delimiter; }, out);
            });
}

void SplitPreTokenizer::pre_tokenize(PreTokenizedText* words, PreTokenizedText* scratch) const {
  split_all(words, scratch, behavior_, invert_,
            [this](std::u32string_view text, std::vector<PatternMatch>* out) {
              pattern_.find_matches(text, out);
            });
}

void MetaspacePreTokenizer::pre_tokenize(PreTokenizedText* words,
                                         PreTokenizedText* scratch) const {
  scratch->text.clear();
  scratch->spans.clear();
  const std::u32string& text = words->text;
  for (const TextSpan& span : words->spans) {
    uint32_t base = static_cast<uint32_t>(scratch->text.size());
    // The library replaces ' ' first, then looks at the first character.
    bool starts_with_replacement = text[span.begin] == U' ' || text[span.begin] == replacement_;
    bool prepend = !starts_with_replacement &&
                   (scheme_ == PrependScheme::kAlways ||
                    (scheme_ == PrependScheme::kFirst && span.at_origin));
    if (prepend) scratch->text.push_back(replacement_);
    for (uint32_t i = span.begin; i < span.end; ++i) {
      scratch->text.push_back(text[i] == U' ' ? replacement_ : text[i]);
    }
    uint32_t end = static_cast<uint32_t>(scratch->text.size());
    if (!split_) {
      scratch->spans.push_back({base, end, span.at_origin});
      continue;
    }
    // Every replacement character starts a new word (MergedWithNext).
    uint32_t start = base;
    for (uint32_t i = base; i < end; ++i) {
      if (scratch->text[i] == replacement_ && i > start) {
        scratch->spans.push_back({start, i, span.at_origin && start == base});
        start = i;
      }
    }
    scratch->spans.push_back({start, end, span.at_origin && start == base});
  }
  words->text.swap(scratch->text);
  words->spans.swap(scratch->spans);
}

void SequencePreTokenizer::pre_tokenize(PreTokenizedText* words,
                                        PreTokenizedText* scratch) const {
  for (const auto& step : steps_) step->pre_tokenize(words, scratch);
}

}  // namespace salvo
