#include "text/normalizers.h"

#include "text/byte_level.h"

namespace salvo {

namespace {

bool is_whitespace(char32_t cp) { return (char_flags(cp) & kCharWhitespace) != 0; }

}  // namespace

bool LowercaseNormalizer::normalize(std::u32string_view text, std::u32string* out) const {
  out->clear();
  out->reserve(text.size());
  for (char32_t cp : text) append_lowercase(cp, out);
  return true;
}

bool StripNormalizer::normalize(std::u32string_view text, std::u32string* out) const {
  size_t begin = 0;
  size_t end = text.size();
  if (left_) {
    while (begin < end && is_whitespace(text[begin])) ++begin;
  }
  if (right_) {
    while (end > begin && is_whitespace(text[end - 1])) --end;
  }
  out->assign(text.substr(begin, end - begin));
  return begin == 0;
}

bool StripAccentsNormalizer::normalize(std::u32string_view text, std::u32string* out) const {
  out->clear();
  out->reserve(text.size());
  for (char32_t cp : text) {
    if (!(char_flags(cp) & kCharMark)) out->push_back(cp);
  }
  return text.empty() || !(char_flags(text[0]) & kCharMark);
}

bool UnicodeNormalizer::normalize(std::u32string_view text, std::u32string* out) const {
  normalize_unicode(form_, text, out);
  return true;
}

bool NmtNormalizer::normalize(std::u32string_view text, std::u32string* out) const {
  auto removed = [](char32_t c) {
    return (c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
           c == 0x8F || c == 0x9F;
  };
  out->clear();
  out->reserve(text.size());
  for (char32_t c : text) {
    if (removed(c)) continue;
    bool space = c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x1680 ||
                 (c >= 0x200B && c <= 0x200F) || c == 0x2028 || c == 0x2029 || c == 0x2581 ||
                 c == 0xFEFF || c == 0xFFFD;
    out->push_back(space ? U' ' : c);
  }
  return text.empty() || !removed(text[0]);
}

PrependNormalizer::PrependNormalizer(std::string_view prefix) { decode_utf8(prefix, &prefix_); }

bool PrependNormalizer::normalize(std::u32string_view text, std::u32string* out) const {
  out->clear();
  if (!text.empty()) out->append(prefix_);
  out->append(text);
  return true;
}

ReplaceNormalizer::ReplaceNormalizer(TextPattern pattern, std::string_view content)
    : pattern_(std::move(pattern)) {
  decode_utf8(content, &content_);
}

bool ReplaceNormalizer::normalize(std::u32string_view text, std::u32string* out) const {
  thread_local std::vector<PatternMatch> matches;
  matches.clear();
  pattern_.find_matches(text, &matches);
  out->clear();
  out->reserve(text.size());
  bool first_kept = true;
  for (const PatternMatch& m : matches) {
    if (m.is_match) {
      if (m.begin == 0 && m.end > 0 && content_.empty()) first_kept = false;
      out->append(content_);
    } else {
      out->append(text.substr(m.begin, m.end - m.begin));
    }
  }
  return first_kept;
}

bool ByteLevelNormalizer::normalize(std::u32string_view text, std::u32string* out) const {
  out->clear();
  out->reserve(text.size());
  append_byte_level(text, out);
  return true;
}

bool SequenceNormalizer::normalize(std::u32string_view text, std::u32string* out) const {
  if (steps_.empty()) {
    out->assign(text);
    return true;
  }
  bool first_kept = true;
  std::u32string a;
  std::u32string b;
  std::u32string_view current = text;
  for (size_t i = 0; i < steps_.size(); ++i) {
    std::u32string* target = i + 1 == steps_.size() ? out : (i % 2 == 0 ? &a : &b);
    first_kept &= steps_[i]->normalize(current, target);
    current = *target;
  }
  return first_kept;
}

}  // namespace salvo
