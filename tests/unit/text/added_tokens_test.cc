#include "text/added_tokens.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "text/unicode.h"

namespace salvo {
namespace {

AddedTokenMatcher::Pattern pattern(const std::string& content, int32_t id) {
  AddedToken token;
  token.content = content;
  token.id = id;
  std::u32string text;
  decode_utf8(content, &text);
  return {text, token};
}

// "text|id" per piece, for readable comparisons.
std::vector<std::string> split(const AddedTokenMatcher& matcher, std::string_view text) {
  std::u32string cps;
  decode_utf8(text, &cps);
  std::vector<TextPiece> pieces;
  matcher.split(cps, 0, static_cast<uint32_t>(cps.size()), &pieces);
  std::vector<std::string> out;
  for (const TextPiece& p : pieces) {
    out.push_back(to_utf8(std::u32string_view(cps).substr(p.begin, p.end - p.begin)) + "|" +
                  std::to_string(p.added_id));
  }
  return out;
}

using Pieces = std::vector<std::string>;

TEST(AddedTokenMatcherTest, SplitsAroundEveryMatch) {
  AddedTokenMatcher m({pattern("[SEP]", 3), pattern("[CLS]", 2)});
  EXPECT_EQ(split(m, "a [SEP]b[CLS]"), (Pieces{"a |-1", "[SEP]|3", "b|-1", "[CLS]|2"}));
  EXPECT_EQ(split(m, "[SEP][SEP]"), (Pieces{"[SEP]|3", "[SEP]|3"}));
  EXPECT_EQ(split(m, "[SEP"), (Pieces{"[SEP|-1"}));
  EXPECT_EQ(split(m, "[sep]"), (Pieces{"[sep]|-1"}));
}

TEST(AddedTokenMatcherTest, LeftmostLongestWins) {
  AddedTokenMatcher m({pattern("ab", 1), pattern("abcd", 2), pattern("bcde", 3)});
  EXPECT_EQ(split(m, "xabcde"), (Pieces{"x|-1", "abcd|2", "e|-1"}));
  EXPECT_EQ(split(m, "xabce"), (Pieces{"x|-1", "ab|1", "ce|-1"}));
}

TEST(AddedTokenMatcherTest, SingleWordSkipsMatchesInsideWords) {
  auto p = pattern("ok", 7);
  p.token.single_word = true;
  AddedTokenMatcher m({p});
  EXPECT_EQ(split(m, "ok book ok."), (Pieces{"ok|7", " book |-1", "ok|7", ".|-1"}));
}

TEST(AddedTokenMatcherTest, LstripAndRstripTakeTheWhitespace) {
  auto p = pattern("<mask>", 4);
  p.token.lstrip = true;
  p.token.rstrip = true;
  AddedTokenMatcher m({p});
  EXPECT_EQ(split(m, "a  <mask> \tb"), (Pieces{"a|-1", "  <mask> \t|4", "b|-1"}));
}

TEST(AddedTokenMatcherTest, NoPatternsMeansOnePiece) {
  AddedTokenMatcher m;
  EXPECT_TRUE(m.empty());
  AddedTokenMatcher only_empty({pattern("", 1)});
  EXPECT_TRUE(only_empty.empty());
}

}  // namespace
}  // namespace salvo
