#include "core/utf8.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace salvo {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii text that is longer than eight bytes"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80"));  // é, 中文, 😀
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));                                   // U+10FFFF
}

TEST(Utf8Test, RejectsMalformedSequencesWithOffset) {
  struct Case {
    std::string text;
    size_t offset;
  };
  const Case cases[] = {
      {"abc\xFF", 3},                   // invalid lead byte
      {"ab\xC3", 2},                    // truncated sequence
      {"\xC3\x28", 0},                  // bad continuation
      {"x\xC0\xAF", 1},                 // overlong '/'
      {"12345678\xED\xA0\x80", 8},      // UTF-16 surrogate, after the ASCII fast path
      {"\xF4\x90\x80\x80", 0},          // above U+10FFFF
      {"ok \xE2\x82", 3},               // truncated at the end
  };
  for (const auto& c : cases) {
    size_t offset = 999;
    EXPECT_FALSE(is_valid_utf8(c.text, &offset)) << c.text;
    EXPECT_EQ(offset, c.offset) << c.text;
  }
}

// The AVX2 check must agree with the byte loop on every input: every 1-, 2-, 3- and 4-byte
// sequence family at every position around the 32-byte block edges, and random mutations of
// real multilingual text.
TEST(Utf8Test, Avx2CheckAgreesWithTheByteLoop) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
  size_t checked = 0;
  auto agree = [&](const std::string& text) {
    ++checked;
    ASSERT_EQ(is_valid_utf8_avx2(text), is_valid_utf8_scalar(text)) << "length " << text.size();
    size_t a = 0, b = 0;
    ASSERT_EQ(is_valid_utf8(text, &a), is_valid_utf8_scalar(text, &b));
    ASSERT_EQ(a, b);
  };
  // Byte values that matter: ASCII, every continuation class, every lead class and its limits.
  const std::vector<uint8_t> interesting = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                            0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5,
                                            0xF7, 0xF8, 0xFE, 0xFF};
  for (size_t before = 26; before <= 34; ++before) {
    for (size_t after : {0, 1, 2, 5, 40}) {
      for (uint8_t b0 : interesting) {
        for (uint8_t b1 : interesting) {
          std::string text(before, 'a');
          text.push_back(static_cast<char>(b0));
          text.push_back(static_cast<char>(b1));
          text.append(after, 'b');
          agree(text);
          for (uint8_t b2 : {0x41, 0x80, 0xBF, 0xC3}) {
            std::string three = text;
            three.insert(before + 2, 1, static_cast<char>(b2));
            agree(three);
            for (uint8_t b3 : {0x41, 0x80, 0xBF}) {
              std::string four = three;
              four.insert(before + 3, 1, static_cast<char>(b3));
              agree(four);
            }
          }
        }
      }
    }
  }
  const std::string real =
      "caf\xC3\xA9 cr\xC3\xA8" "me br\xC3\xBBl\xC3\xA9" "e, \xE4\xB8\xAD\xE6\x96\x87\xE6\x96\x87\xE6\x9C\xAC, "
      "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xF0\x9F\x98\x80\xF0\x9F\x8E\x89 and plain ASCII words";
  uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const size_t copies = 1 + next() % 6;
    for (size_t c = 0; c < copies; ++c) text += real.substr(next() % real.size());
    const int flips = static_cast<int>(next() % 3);
    for (int f = 0; f < flips && !text.empty(); ++f) text[next() % text.size()] = static_cast<char>(next());
    if (next() % 4 == 0 && !text.empty()) text.resize(next() % text.size());
    agree(text);
  }
  EXPECT_GT(checked, 100000u);
}

}  // namespace
}  // namespace salvo

namespace salvo {
namespace {

TEST(Utf8Test, PrefixNeverEndsInsideASequence) {
  const std::string text = "ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";  // a b é € 😀 z
  EXPECT_EQ(utf8_prefix(text, 100), text);
  EXPECT_EQ(utf8_prefix(text, 2), "ab");
  EXPECT_EQ(utf8_prefix(text, 3), "ab");  // would cut é
  EXPECT_EQ(utf8_prefix(text, 4), "ab\xc3\xa9");
  EXPECT_EQ(utf8_prefix(text, 6), "ab\xc3\xa9");  // would cut €
  EXPECT_EQ(utf8_prefix(text, 10), "ab\xc3\xa9\xe2\x82\xac");  // would cut 😀
  EXPECT_EQ(utf8_prefix(text, 11), "ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  EXPECT_EQ(utf8_prefix(text, 0), "");
}

}  // namespace
}  // namespace salvo
