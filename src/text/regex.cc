#include "text/regex.h"

#include <oniguruma.h>

#include <mutex>

#include "core/error.h"
#include "text/unicode.h"

namespace salvo {

namespace {

void initialize_oniguruma() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF32_LE};
    onig_initialize(encodings, 1);
  });
}

// Code points as UTF-32LE bytes (the in-memory form of char32_t on little-endian machines).
static_assert(sizeof(char32_t) == 4);

const OnigUChar* bytes_of(std::u32string_view text, size_t offset) {
  return reinterpret_cast<const OnigUChar*>(text.data() + offset);
}

}  // namespace

Regex::Regex(std::string_view pattern) : pattern_(pattern) {
  initialize_oniguruma();
  std::u32string code_points;
  decode_utf8(pattern, &code_points);
  OnigRegex regex = nullptr;
  OnigErrorInfo info;
  int rc = onig_new(&regex, bytes_of(code_points, 0), bytes_of(code_points, code_points.size()),
                    ONIG_OPTION_NONE, ONIG_ENCODING_UTF32_LE, ONIG_SYNTAX_DEFAULT, &info);
  if (rc != ONIG_NORMAL) {
    OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(message, rc, &info);
    throw Error(ErrorCode::kModel, "invalid regular expression '" + pattern_ +
                                       "': " + reinterpret_cast<const char*>(message));
  }
  regex_ = regex;
}

Regex::~Regex() {
  if (regex_ != nullptr) onig_free(static_cast<OnigRegex>(regex_));
}

void Regex::find_matches(std::u32string_view text, std::vector<PatternMatch>* out) const {
  uint32_t size = static_cast<uint32_t>(text.size());
  if (size == 0) {
    out->push_back({0, 0, false});
    return;
  }
  OnigRegex regex = static_cast<OnigRegex>(regex_);
  OnigRegion* region = onig_region_new();
  const OnigUChar* begin = bytes_of(text, 0);
  const OnigUChar* end = bytes_of(text, size);
  uint32_t prev = 0;         // end of the last match or gap emitted
  uint32_t search_from = 0;  // where the next search starts
  bool have_last = false;
  uint32_t last_match_end = 0;
  while (search_from <= size) {
    onig_region_clear(region);
    int r = onig_search(regex, begin, end, bytes_of(text, search_from), end, region,
                        ONIG_OPTION_NONE);
    if (r < 0) break;  // ONIG_MISMATCH, or an error (treated as no further match)
    uint32_t s = static_cast<uint32_t>(region->beg[0] / 4);
    uint32_t e = static_cast<uint32_t>(region->end[0] / 4);
    if (s == e && have_last && last_match_end == e) {
      search_from += 1;  // the onig crate skips one character after an empty match
      continue;
    }
    search_from = e;
    have_last = true;
    last_match_end = e;
    if (prev != s) out->push_back({prev, s, false});
    out->push_back({s, e, true});
    prev = e;
  }
  onig_region_free(region, 1);
  if (prev != size) out->push_back({prev, size, false});
}

TextPattern TextPattern::literal(std::string_view text) {
  if (text.empty()) throw Error(ErrorCode::kModel, "an empty String pattern is not supported");
  TextPattern p;
  decode_utf8(text, &p.literal_);
  return p;
}

TextPattern TextPattern::regex(std::string_view pattern) {
  TextPattern p;
  p.regex_ = std::make_shared<const Regex>(pattern);
  return p;
}

void TextPattern::find_matches(std::u32string_view text, std::vector<PatternMatch>* out) const {
  if (regex_) {
    regex_->find_matches(text, out);
    return;
  }
  uint32_t size = static_cast<uint32_t>(text.size());
  if (size == 0) {
    out->push_back({0, 0, false});
    return;
  }
  uint32_t prev = 0;
  size_t pos = text.find(literal_);
  while (pos != std::u32string_view::npos) {
    uint32_t s = static_cast<uint32_t>(pos);
    uint32_t e = s + static_cast<uint32_t>(literal_.size());
    if (prev != s) out->push_back({prev, s, false});
    out->push_back({s, e, true});
    prev = e;
    pos = text.find(literal_, e);
  }
  if (prev != size) out->push_back({prev, size, false});
}

std::string escape_regex(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    switch (c) {
      case '\\': case '.': case '+': case '*': case '?': case '(': case ')': case '|':
      case '[': case ']': case '{': case '}': case '^': case '$': case '#': case '&':
      case '-': case '~':
        out.push_back('\\');
        break;
      default:
        break;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace salvo
