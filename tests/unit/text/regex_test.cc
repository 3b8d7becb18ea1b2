#include "text/regex.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "text/unicode.h"

namespace salvo {
namespace {

std::vector<std::tuple<uint32_t, uint32_t, bool>> matches(const Regex& r, std::string_view text) {
  std::u32string t;
  decode_utf8(text, &t);
  std::vector<PatternMatch> out;
  r.find_matches(t, &out);
  std::vector<std::tuple<uint32_t, uint32_t, bool>> result;
  for (const auto& m : out) result.emplace_back(m.begin, m.end, m.is_match);
  return result;
}

TEST(RegexTest, MatchesAndGapsCoverTheText) {
  Regex r("\\s+");
  using M = std::vector<std::tuple<uint32_t, uint32_t, bool>>;
  EXPECT_EQ(matches(r, "a  bé c"), (M{{0, 1, false}, {1, 3, true}, {3, 5, false},
                                       {5, 6, true}, {6, 7, false}}));
  EXPECT_EQ(matches(r, ""), (M{{0, 0, false}}));
  Regex letters("\\p{L}+");
  EXPECT_EQ(matches(letters, "日本 go"), (M{{0, 2, true}, {2, 3, false}, {3, 5, true}}));
}

TEST(RegexTest, EmptyMatchesAdvance) {
  Regex r("x*");
  using M = std::vector<std::tuple<uint32_t, uint32_t, bool>>;
  // The onig crate's iterator: an empty match right after a match is skipped.
  EXPECT_EQ(matches(r, "axb"), (M{{0, 0, true}, {0, 1, false}, {1, 2, true}, {2, 3, false},
                                   {3, 3, true}}));
}

TEST(RegexTest, InvalidPatternsAreModelErrors) {
  EXPECT_THROW(Regex("(unclosed"), Error);
  EXPECT_EQ(escape_regex("a.b-c"), "a\\.b\\-c");
}

}  // namespace
}  // namespace salvo
