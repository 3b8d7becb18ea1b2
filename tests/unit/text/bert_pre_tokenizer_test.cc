#include "text/bert_pre_tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "text/unicode.h"

namespace salvo {
namespace {

std::vector<std::string> words_of(std::string_view text) {
  std::u32string cps;
  decode_utf8(text, &cps);
  std::vector<WordSpan> spans;
  bert_pre_tokenize(cps, &spans);
  std::vector<std::string> words;
  for (const WordSpan& w : spans) {
    words.push_back(to_utf8(std::u32string_view(cps).substr(w.begin, w.end - w.begin)));
  }
  return words;
}

using Words = std::vector<std::string>;

TEST(BertPreTokenizerTest, SplitsOnWhitespaceAndIsolatesPunctuation) {
  // The example of tokenizers' own BertPreTokenizer test.
  EXPECT_EQ(words_of("Hey friend!     How are you?!?"),
            (Words{"Hey", "friend", "!", "How", "are", "you", "?", "!", "?"}));
}

TEST(BertPreTokenizerTest, AsciiSymbolsAndUnicodePunctuation) {
  EXPECT_EQ(words_of("a$b+c «d» ¿e?"),
            (Words{"a", "$", "b", "+", "c", "«", "d", "»", "¿", "e", "?"}));
  EXPECT_EQ(words_of("€5 ©x"), (Words{"€5", "©x"}));  // currency and other symbols stay in words
}

TEST(BertPreTokenizerTest, EveryKindOfWhitespaceSplits) {
  EXPECT_EQ(words_of("a\u00A0b\u2003c\u3000d\te\u0085f"), (Words{"a", "b", "c", "d", "e", "f"}));
  EXPECT_EQ(words_of("a\u200Bb"), (Words{"a\u200Bb"}));  // zero width space is not whitespace
}

TEST(BertPreTokenizerTest, EmptyAndBlankTextHaveNoWords) {
  EXPECT_TRUE(words_of("").empty());
  EXPECT_TRUE(words_of("  \t ").empty());
}

}  // namespace
}  // namespace salvo
