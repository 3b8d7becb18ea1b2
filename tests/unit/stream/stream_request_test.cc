#include "stream/stream_request.h"

#include <gtest/gtest.h>

namespace salvo {
namespace {

StreamRequest read(std::optional<std::string_view> value, MessageFormat format, std::string* text) {
  StreamRequest r;
  *text = read_stream_message(value, format, &r);
  return r;
}

// The poison pill that crashed `salvo stream` (and every restart, as its offset was never
// committed) is a bad request like any other, and so are huge numbers and long strings.
TEST(StreamRequestTest, HostileJsonIsABadRequestNotACrash) {
  MessageFormat format;
  std::string text;
  const std::string deep = "{\"text\":\"ok\",\"id\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  StreamRequest r = read(deep, format, &text);
  EXPECT_EQ(r.error, "JSON nested deeper than 256 levels");
  EXPECT_EQ(text, "");
  EXPECT_EQ(r.value, deep) << "the dead letter carries the original value";

  r = read(std::string_view("{\"id\":1e400,\"text\":\"out of range\"}"), format, &text);
  EXPECT_NE(r.error.find("number overflow"), std::string::npos) << r.error;
  r = read(std::string_view("{\"id\":123456789012345678901234567890,\"text\":\"huge number\"}"), format, &text);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(text, "huge number");
  EXPECT_EQ(r.id.get<double>(), 1.2345678901234568e29);
  EXPECT_TRUE(r.value.empty()) << "good requests keep no copy";

  const std::string long_id(2000000, 'i');
  r = read("{\"id\":\"" + long_id + "\",\"text\":\"long id\"}", format, &text);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.id, long_id);
}

TEST(StreamRequestTest, NoValueOversizeRawTextAndDeadLetterSize) {
  MessageFormat format;
  format.max_request_bytes = 2000000;
  std::string text;
  EXPECT_EQ(read(std::nullopt, format, &text).error, "message has no value");
  const std::string big = "{\"text\":\"" + std::string(1500000, 'x') + "\"";  // invalid JSON, 1.5 MB
  StreamRequest r = read(big, format, &text);
  EXPECT_EQ(r.error.rfind("invalid JSON", 0), 0u);
  EXPECT_EQ(r.value.size(), kMaxDeadLetterBytes) << "dead letters fit a default Kafka message";
  // Regression: the reason quoted the whole unterminated string (1.5 MB), so the error response
  // (and the salvo.error header) could not be produced and the service died on every restart.
  const std::string unterminated = "{\"text\":\"" + std::string(1500000, 'x');
  const std::string error = read(unterminated, format, &text).error;
  EXPECT_LT(error.size(), 300u) << error.substr(0, 300);
  EXPECT_NE(error.find("missing closing quote; last read: '\"xxxxxxxx"), std::string::npos) << error.substr(0, 300);
  EXPECT_NE(error.find("xxxx...' (1500001 bytes)"), std::string::npos) << error.substr(0, 300);
  format.max_dead_letter_bytes = 1000;
  EXPECT_EQ(read(big, format, &text).value.size(), 1000u);
  format.max_dead_letter_bytes = kMaxDeadLetterBytes;
  format.max_request_bytes = 100;
  EXPECT_EQ(read(big, format, &text).error, "message is 1500010 bytes, over the limit of 100 (--max-record-bytes)");
  format.raw_text = true;
  format.max_request_bytes = 100;
  r = read(std::string_view("caf\xc3"), format, &text);
  EXPECT_EQ(r.error, "not valid UTF-8 (byte 3)");
  r = read(std::string_view("raw text"), format, &text);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(text, "raw text");
}

TEST(StreamRequestTest, BoundedErrorCutsAtACharacter) {
  EXPECT_EQ(bounded_error("short"), "short");
  std::string euros;
  for (size_t i = 0; i < kMaxErrorBytes; ++i) euros += "\xe2\x82\xac";  // U+20AC, 3 bytes
  const std::string cut = bounded_error("a" + euros);
  EXPECT_LE(cut.size(), kMaxErrorBytes);
  EXPECT_TRUE(cut.ends_with("..."));
  EXPECT_EQ((cut.size() - 4) % 3, 0u) << "no character is cut in half";
}

}  // namespace
}  // namespace salvo
