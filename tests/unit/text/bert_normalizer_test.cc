#include "text/bert_normalizer.h"

#include <gtest/gtest.h>

#include "text/unicode.h"

namespace salvo {
namespace {

std::string normalize(const BertNormalizerOptions& options, std::string_view text) {
  std::u32string in;
  decode_utf8(text, &in);
  std::u32string out;
  BertNormalizer(options).normalize(in, &out);
  return to_utf8(out);
}

BertNormalizerOptions only(bool clean, bool chinese, bool strip, bool lower) {
  return BertNormalizerOptions{clean, chinese, strip, lower};
}

TEST(BertNormalizerTest, CleanTextDropsControlsAndMapsWhitespace) {
  auto o = only(true, false, false, false);
  EXPECT_EQ(normalize(o, std::string("a\0b", 3)), "ab");
  EXPECT_EQ(normalize(o, "a\u0001b\u200Bc\uFFFDd\u00ADe"), "abcde");
  EXPECT_EQ(normalize(o, "a\tb\nc\rd\u00A0e\u3000f"), "a b c d e f");
  EXPECT_EQ(normalize(only(false, false, false, false), "a\tb\u0001"), "a\tb\u0001");
}

TEST(BertNormalizerTest, ChineseCharactersGetSpacesAround) {
  auto o = only(false, true, false, false);
  EXPECT_EQ(normalize(o, "ab中文c"), "ab 中  文 c");
  EXPECT_EQ(normalize(o, "ひらがな"), "ひらがな");
}

TEST(BertNormalizerTest, StripAccentsRemovesNonspacingMarksAfterNfd) {
  auto o = only(false, false, true, false);
  EXPECT_EQ(normalize(o, "Café naïve Ångström"), "Cafe naive Angstrom");
  EXPECT_EQ(normalize(o, "e\u0301"), "e");
  EXPECT_EQ(normalize(o, "ガ"), "カ");                  // the voiced mark U+3099 is Mn
  EXPECT_EQ(normalize(o, "Łódź"), "Łodz");              // Ł has no decomposition
  EXPECT_EQ(normalize(o, "한"), "\u1112\u1161\u11AB");  // Hangul decomposes to jamo
}

TEST(BertNormalizerTest, StripAccentsRunsBeforeLowercase) {
  // U+0130 decomposes to I + U+0307, the mark is stripped, then I lowercases.
  EXPECT_EQ(normalize(only(false, false, true, true), "\u0130"), "i");
  // Without stripping, Rust's lowercase of U+0130 keeps the dot as a combining mark.
  EXPECT_EQ(normalize(only(false, false, false, true), "\u0130"), "i\u0307");
}

TEST(BertNormalizerTest, LowercaseIsPerCharacter) {
  auto o = only(false, false, false, true);
  EXPECT_EQ(normalize(o, "ΣΊΣΥΦΟΣ"), "σίσυφοσ");
  EXPECT_EQ(normalize(o, "Straße ÀB"), "straße àb");
}

TEST(BertNormalizerTest, AllStepsTogether) {
  EXPECT_EQ(normalize(BertNormalizerOptions{}, std::string("Héllo\tWÖRLD 你好\0!", 22)),
            "hello world  你  好 !");
}

}  // namespace
}  // namespace salvo
