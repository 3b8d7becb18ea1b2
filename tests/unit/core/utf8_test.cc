#include "core/utf8.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace salvo
