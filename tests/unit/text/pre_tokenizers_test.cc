#include "text/pre_tokenizers.h"

#include <gtest/gtest.h>

#include "text/byte_level.h"
#include "text/unicode.h"

namespace salvo {
namespace {

using Words = std::vector<std::string>;

Words run(const PreTokenizer& p, std::string_view text, bool at_origin = true,
          std::vector<bool>* origins = nullptr) {
  PreTokenizedText words;
  PreTokenizedText scratch;
  decode_utf8(text, &words.text);
  words.spans = {{0, static_cast<uint32_t>(words.text.size()), at_origin}};
  p.pre_tokenize(&words, &scratch);
  Words out;
  for (const TextSpan& s : words.spans) {
    out.push_back(to_utf8(std::u32string_view(words.text).substr(s.begin, s.end - s.begin)));
    if (origins) origins->push_back(s.at_origin);
  }
  return out;
}

Words split(std::string_view text, SplitBehavior behavior, bool invert = false) {
  return run(SplitPreTokenizer(TextPattern::literal("-"), behavior, invert), text);
}

TEST(PreTokenizersTest, SplitBehaviorsAsTheLibrary) {
  EXPECT_EQ(split("a-b--c", SplitBehavior::kRemoved), (Words{"a", "b", "c"}));
  EXPECT_EQ(split("a-b--c", SplitBehavior::kIsolated), (Words{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(split("a-b--c", SplitBehavior::kMergedWithPrevious), (Words{"a-", "b-", "-", "c"}));
  EXPECT_EQ(split("a-b--c", SplitBehavior::kMergedWithNext), (Words{"a", "-b", "-", "-c"}));
  EXPECT_EQ(split("a-b--c", SplitBehavior::kContiguous), (Words{"a", "-", "b", "--", "c"}));
  EXPECT_EQ(split("a-b--c", SplitBehavior::kRemoved, true), (Words{"-", "-", "-"}));
  EXPECT_EQ(split("a-b--c", SplitBehavior::kContiguous, true), (Words{"a", "-", "b", "--", "c"}));
}

TEST(PreTokenizersTest, WhitespaceAndWhitespaceSplit) {
  EXPECT_EQ(run(WhitespacePreTokenizer(), "Hello, wörld!! 3.5"),
            (Words{"Hello", ",", "wörld", "!!", "3", ".", "5"}));
  EXPECT_EQ(run(WhitespaceSplitPreTokenizer(), " a  b,\tc "), (Words{"a", "b,", "c"}));
}

TEST(PreTokenizersTest, PunctuationDigitsAndDelimiter) {
  EXPECT_EQ(run(PunctuationPreTokenizer(SplitBehavior::kIsolated), "a,b!"),
            (Words{"a", ",", "b", "!"}));
  EXPECT_EQ(run(DigitsPreTokenizer(true), "a12b"), (Words{"a", "1", "2", "b"}));
  EXPECT_EQ(run(DigitsPreTokenizer(false), "a12b\u0663"), (Words{"a", "12", "b", "\u0663"}));
  EXPECT_EQ(run(CharDelimiterPreTokenizer(U'/'), "a/b//c"), (Words{"a", "b", "c"}));
}

TEST(PreTokenizersTest, MetaspaceSchemes) {
  MetaspacePreTokenizer always(U'\u2581', PrependScheme::kAlways, true);
  EXPECT_EQ(run(always, "hello  world"), (Words{"\u2581hello", "\u2581", "\u2581world"}));
  MetaspacePreTokenizer first(U'\u2581', PrependScheme::kFirst, true);
  EXPECT_EQ(run(first, "hi you", true), (Words{"\u2581hi", "\u2581you"}));
  EXPECT_EQ(run(first, "hi you", false), (Words{"hi", "\u2581you"}));
  MetaspacePreTokenizer never(U'\u2581', PrependScheme::kNever, false);
  EXPECT_EQ(run(never, "hi you"), (Words{"hi\u2581you"}));
}

TEST(PreTokenizersTest, ByteLevelWithGpt2Split) {
  EXPECT_EQ(run(ByteLevelPreTokenizer(true, true), "Hello world"),
            (Words{"\u0120Hello", "\u0120world"}));
  EXPECT_EQ(run(ByteLevelPreTokenizer(false, true), "I'm  fine\n"),
            (Words{"I", "'m", "\u0120", "\u0120fine", "\u010a"}));
  EXPECT_EQ(run(ByteLevelPreTokenizer(false, false), "a b"), (Words{"a\u0120b"}));
  EXPECT_EQ(run(Gpt2SplitPreTokenizer(), "x 12ab?! 's"), (Words{"x", " 12", "ab", "?!", " '", "s"}));
}

TEST(PreTokenizersTest, OnlyTheFirstWordOfAPieceAtTheOriginStaysThere) {
  std::vector<bool> origins;
  run(WhitespaceSplitPreTokenizer(), "a b", true, &origins);
  EXPECT_EQ(origins, (std::vector<bool>{true, false}));
  origins.clear();
  run(WhitespaceSplitPreTokenizer(), " a b", true, &origins);
  EXPECT_EQ(origins, (std::vector<bool>{false, false}));
}

TEST(PreTokenizersTest, ByteLevelCharacters) {
  EXPECT_EQ(byte_level_char(' '), U'\u0120');
  EXPECT_EQ(byte_level_char('a'), U'a');
  EXPECT_EQ(byte_level_char(0xAD), U'\u0143');
  for (int b = 0; b < 256; ++b) EXPECT_EQ(byte_of_byte_level_char(byte_level_char(b)), b);
}

}  // namespace
}  // namespace salvo
