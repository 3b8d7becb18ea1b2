// Prints how salvo's text code treats every code point, one line per code point that any probe
// sees as special, in the format of unicode_sweep.py's view of the Hugging Face library:
//   <cp hex> <clean> <chinese> <strip> <lower> <bert> <word> <gpt2> <numeric> <mark> <nfd> <nfkd>
//   <ccc>
// clean: D dropped, S becomes a space, - kept; chinese: H gets spaces around it; strip
// (BertNormalizer's accent stripping), lower, nfd, nfkd: the resulting code points (E for none)
// or - if unchanged; bert: W splits as whitespace, P isolated as punctuation; word: W is Rust's
// \w, S whitespace; gpt2: the Oniguruma classes among L (\p{L}), N (\p{N}), S (\s) or -;
// numeric: Y for char::is_numeric; mark: Y if StripAccents removes it; ccc: Y if the canonical
// combining class is between 1 and 239 (? where the code point decomposes).
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

std::u32string raw_decompose(char32_t cp, bool compat) {
  utf8proc_int32_t buf[32];
  int bound = 0;
  int options = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
  utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 32,
                                               static_cast<utf8proc_option_t>(options), &bound);
  std::u32string out;
  for (utf8proc_ssize_t i = 0; i < n && n <= 32; ++i) out.push_back(buf[i]);
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
      decomposed = raw_decompose(cp, false);
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
    const char* word = (flags & salvo::kCharWord)         ? "W"
                       : (flags & salvo::kCharWhitespace) ? "S"
                                                          : "-";
    std::string gpt2;
    if (flags & salvo::kCharLetter) gpt2 += "L";
    if (flags & salvo::kCharNumber) gpt2 += "N";
    if (flags & salvo::kCharRegexSpace) gpt2 += "S";
    if (gpt2.empty()) gpt2 = "-";
    const char* numeric = (flags & salvo::kCharNumeric) ? "Y" : "-";
    const char* mark = (flags & salvo::kCharMark) ? "Y" : "-";
    std::u32string nfd_cps;
    std::u32string nfkd_cps;
    if (raw) {
      nfd_cps = raw_decompose(cp, false);
      nfkd_cps = raw_decompose(cp, true);
    } else {
      salvo::append_nfd(cp, &nfd_cps);
      salvo::append_nfkd(cp, &nfkd_cps);
    }
    std::string nfd = nfd_cps == std::u32string(1, cp) ? "-" : hex_list(nfd_cps);
    std::string nfkd = nfkd_cps == std::u32string(1, cp) ? "-" : hex_list(nfkd_cps);
    const char* ccc = nfd != "-" ? "?"
                      : ((flags & salvo::kCharCombining) && cp != 0x345) ? "Y"
                                                                         : "-";
    std::string fields[] = {clean, chinese, strip, lower, pre, word, gpt2, numeric, mark,
                            nfd,   nfkd,    ccc};
    bool any = false;
    for (const std::string& f : fields) any |= f != "-";
    if (!any) continue;
    std::printf("%x", static_cast<unsigned>(cp));
    for (const std::string& f : fields) std::printf(" %s", f.c_str());
    std::printf("\n");
  }
  return 0;
}
