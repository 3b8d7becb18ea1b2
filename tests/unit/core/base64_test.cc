#include "core/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace salvo {
namespace {

TEST(Base64Test, EncodesTheRfc4648Vectors) {
  EXPECT_EQ(encode_base64(""), "");
  EXPECT_EQ(encode_base64("f"), "Zg==");
  EXPECT_EQ(encode_base64("fo"), "Zm8=");
  EXPECT_EQ(encode_base64("foo"), "Zm9v");
  EXPECT_EQ(encode_base64("foob"), "Zm9vYg==");
  EXPECT_EQ(encode_base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(encode_base64("foobar"), "Zm9vYmFy");
}

TEST(Base64Test, EveryByteSurvivesTheRoundTrip) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{255}, size_t{256}}) {
    const std::string part = bytes.substr(256 - n);
    const std::string text = encode_base64(part);
    EXPECT_EQ(text.size(), (n + 2) / 3 * 4);
    EXPECT_EQ(decode_base64(text), std::optional<std::string>(part)) << n;
  }
  EXPECT_EQ(encode_base64("\xff\xfe\xfd"), "//79");
}

TEST(Base64Test, AppendKeepsWhatIsThere) {
  std::string out = "x=";
  append_base64("hi", &out);
  EXPECT_EQ(out, "x=aGk=");
}

}  // namespace
}  // namespace salvo
