#include "text/bert_normalizer.h"

#include "text/unicode.h"

namespace salvo {

bool BertNormalizer::normalize(std::u32string_view text, std::u32string* out) const {
  out->clear();
  // Whether the first character survives (clean_text drops it, or accent stripping removes all of
  // it).
  bool first_kept = true;
  if (!text.empty()) {
    uint16_t f = char_flags(text[0]);
    if (options_.clean_text && (f & kCharDrop)) {
      first_kept = false;
    } else if (options_.strip_accents && !(options_.handle_chinese_chars && (f & kCharChinese))) {
      std::u32string d;
      append_nfd(text[0], &d);
      bool all_marks = true;
      for (char32_t c : d) all_marks &= (char_flags(c) & kCharNonspacingMark) != 0;
      first_kept = !all_marks;
    }
  }
  // Steps 1-3 (clean, Chinese, NFD) go char by char into `out`; each output char only depends on
  // one input char, so fusing them gives the same result as the library's separate passes.
  bool any_combining = false;
  bool any_mark = false;
  for (char32_t cp : text) {
    uint16_t flags = char_flags(cp);
    if (options_.clean_text) {
      if (flags & kCharDrop) continue;
      if (flags & kCharCleanSpace) {
        out->push_back(U' ');
        continue;
      }
    }
    bool chinese = options_.handle_chinese_chars && (flags & kCharChinese);
    if (chinese) out->push_back(U' ');
    if (options_.strip_accents && (flags & kCharDecomposes)) {
      size_t start = out->size();
      append_nfd(cp, out);
      for (size_t i = start; i < out->size(); ++i) {
        uint16_t f = char_flags((*out)[i]);
        any_combining |= (f & kCharCombining) != 0;
        any_mark |= (f & kCharNonspacingMark) != 0;
      }
    } else {
      out->push_back(cp);
      any_combining |= (flags & kCharCombining) != 0;
      any_mark |= (flags & kCharNonspacingMark) != 0;
    }
    if (chinese) out->push_back(U' ');
  }
  if (options_.strip_accents) {
    // NFD's canonical ordering must see the marks before they are removed: a removed mark with
    // class 0 separates runs of the marks that stay.
    if (any_combining) canonical_reorder(out);
    if (any_mark) {
      size_t kept = 0;
      for (char32_t cp : *out) {
        if (!(char_flags(cp) & kCharNonspacingMark)) (*out)[kept++] = cp;
      }
      out->resize(kept);
    }
  }
  if (options_.lowercase) {
    // Every mapping is one code point to one except U+0130's, so lowercase in place and only
    // rebuild the string when that one occurs.
    bool expands = false;
    std::u32string one;
    for (char32_t& cp : *out) {
      if (!(char_flags(cp) & kCharLowercaseChanges)) continue;
      if (cp == 0x130) {
        expands = true;
        continue;
      }
      one.clear();
      append_lowercase(cp, &one);
      cp = one[0];
    }
    if (expands) {
      std::u32string lowered;
      lowered.reserve(out->size() + 8);
      for (char32_t cp : *out) append_lowercase(cp, &lowered);
      out->swap(lowered);
    }
  }
  return first_kept;
}

}  // namespace salvo
