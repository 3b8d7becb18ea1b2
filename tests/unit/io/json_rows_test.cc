#include "io/json_rows.h"

#include <gtest/gtest.h>

namespace salvo {
namespace {

InputRow parse(const std::string& line, FieldNames fields = {}) {
  InputRow row;
  parse_json_row(line, fields, &row);
  return row;
}

std::string nest(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonRowsTest, DeepValuesAreErrorRowsAtAnyDepth) {
  FieldNames fields;
  fields.passthrough = {"k"};
  EXPECT_EQ(parse("{\"text\":\"ok\",\"id\":" + nest(100000) + "}").error, "JSON nested deeper than 256 levels");
  EXPECT_EQ(parse("{\"text\":\"ok\",\"k\":" + nest(257) + "}", fields).error, "JSON nested deeper than 256 levels");
  EXPECT_EQ(parse(std::string(100000, '[')).error, "JSON nested deeper than 256 levels");  // and unterminated
  // 256 levels, the object included, is within the limit, and prints back unchanged.
  const InputRow row = parse("{\"text\":\"ok\",\"k\":" + nest(255) + "}", fields);
  EXPECT_EQ(row.error, "");
  EXPECT_EQ(json_text(row.passthrough[0]), nest(255));
}

TEST(JsonRowsTest, HugeNumbersLongStringsAndRepeatedKeys) {
  const std::string long_text(5000000, 't');
  InputRow row = parse("{\"id\":123456789012345678901234567890,\"text\":\"" + long_text + "\"}");
  EXPECT_EQ(row.error, "");
  EXPECT_TRUE(row.id.is_number_float());
  EXPECT_EQ(row.text, long_text);
  // No double holds 1e400: an error row, as in nlohmann's own parser.
  row = parse("{\"id\":1e400,\"text\":\"x\"}");
  EXPECT_NE(row.error.find("number overflow"), std::string::npos) << row.error;
  row = parse("{\"id\":-1e-400,\"text\":\"x\"}");
  EXPECT_EQ(row.error, "");
  EXPECT_EQ(row.id.get<double>(), 0.0);
  row = parse("{\"text\":\"first\",\"text\":\"last\",\"id\":18446744073709551615}");
  EXPECT_EQ(row.text, "last");
  EXPECT_EQ(row.id.get<uint64_t>(), 18446744073709551615u);
}

TEST(JsonRowsTest, TheTextMayAlsoBeTheIdThePairOrAKeptColumn) {
  FieldNames fields;
  fields.id = "text";
  fields.passthrough = {"text"};
  fields.text_pair = "text";
  const InputRow row = parse("{\"text\":\"same\"}", fields);
  EXPECT_EQ(row.error, "");
  EXPECT_EQ(row.text, "same");
  EXPECT_EQ(row.text_pair, "same");
  EXPECT_EQ(row.id, "same");
  EXPECT_EQ(row.passthrough[0], "same");
}

TEST(JsonRowsTest, InvalidJsonNamesThePlace) {
  const std::string error = parse("{\"text\": tru}").error;
  EXPECT_EQ(error.rfind("invalid JSON: parse error at line 1, column ", 0), 0u) << error;
  EXPECT_NE(error.find("invalid literal"), std::string::npos) << error;
  EXPECT_EQ(parse("").error.rfind("invalid JSON: ", 0), 0u);
  EXPECT_EQ(parse("[1]").error, "a JSON array, not an object");
}

}  // namespace
}  // namespace salvo
