// Prints how salvo's text code treats every code point, one line per code point that any step
// changes, in the format of unicode_sweep.js's dump of the Hugging Face library:
//   <cp hex> <clean> <chinese> <strip accents> <lowercase> <pre-tokenizer>
// clean: D dropped, S becomes a space, - kept; chinese: H gets spaces around it; strip accents and
// lowercase: the resulting code points (E for none) or - if unchanged; pre-tokenizer: W splits
// as whitespace, P isolated as punctuation, - part of a word.
// With --utf8proc it prints utf8proc's view instead, without the tokenizers corrections.
#include <utf8proc.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "text/unicode.h"

namespace {

std::string hex_list(const std::u32string& cps) {
  if (cps.empty()) return "E";
  std::string out;
  char buf[16];
  for (size_t i = 0; i < cps.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%x", i ? "." : "", static_cast<unsigned>(cps[i]));
    out += buf;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool raw = argc > 1 && std::strcmp(argv[1], "--utf8proc") == 0;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    uint16_t flags = raw ? salvo::utf8proc_char_flags(cp) : salvo::char_flags(cp);
    const char* clean = (flags & salvo::kCharDrop)                      ? "D"
                        : (flags & salvo::kCharCleanSpace) && cp != ' ' ? "S"
                                                                        : "-";
    const char* chinese = (flags & salvo::kCharChinese) ? "H" : "-";
    std::u32string decomposed;
    if (raw) {
      utf8proc_int32_t buf[32];
      int bound = 0;
      utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 32,
                                                   UTF8PROC_DECOMPOSE, &bound);
      for (utf8proc_ssize_t i = 0; i < n; ++i) decomposed.push_back(buf[i]);
    } else {
      salvo::append_nfd(cp, &decomposed);
    }
    std::u32string stripped;
    for (char32_t c : decomposed) {
      uint16_t f = raw ? salvo::utf8proc_char_flags(c) : salvo::char_flags(c);
      if (!(f & salvo::kCharNonspacingMark)) stripped.push_back(c);
    }
    std::string strip = stripped == std::u32string(1, cp) ? "-" : hex_list(stripped);
    std::u32string lowered;
    if (raw) {
      if (cp == 0x130) {
        lowered = U"i\u0307";
      } else {
        lowered.push_back(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
      }
    } else {
      salvo::append_lowercase(cp, &lowered);
    }
    std::string lower = lowered == std::u32string(1, cp) ? "-" : hex_list(lowered);
    const char* pre = (flags & salvo::kCharWhitespace) ? "W"
                      : (flags & salvo::kCharPunct)    ? "P"
                                                       : "-";
    if (std::strcmp(clean, "-") == 0 && std::strcmp(chinese, "-") == 0 && strip == "-" &&
        lower == "-" && std::strcmp(pre, "-") == 0) {
      continue;
    }
    std::printf("%x %s %s %s %s %s\n", static_cast<unsigned>(cp), clean, chinese, strip.c_str(),
                lower.c_str(), pre);
  }
  return 0;
}
