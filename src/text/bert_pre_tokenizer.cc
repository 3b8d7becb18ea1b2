#include "text/bert_pre_tokenizer.h"

#include "text/unicode.h"

namespace salvo {

void bert_pre_tokenize(std::u32string_view text, std::vector<WordSpan>* words) {
  uint32_t n = static_cast<uint32_t>(text.size());
  uint32_t start = 0;
  for (uint32_t i = 0; i < n; ++i) {
    char32_t cp = text[i];
    uint16_t flags;
    if (cp < 0x80) {
      // ASCII fast path; the flag table gives the same answer.
      bool alnum = (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
      if (alnum) continue;
      flags = char_flags(cp);
    } else {
      flags = char_flags(cp);
    }
    if (flags & kCharWhitespace) {
      if (start < i) words->push_back({start, i});
      start = i + 1;
    } else if (flags & kCharPunct) {
      if (start < i) words->push_back({start, i});
      words->push_back({i, i + 1});
      start = i + 1;
    }
  }
  if (start < n) words->push_back({start, n});
}

}  // namespace salvo
