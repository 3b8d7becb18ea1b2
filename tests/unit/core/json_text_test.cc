#include "core/json_text.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace salvo {
namespace {

using json = nlohmann::json;

std::string brackets(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// A value `depth` arrays deep, built without recursion (nlohmann destroys values iteratively).
json deep_value(size_t depth) {
  json root = json::array();
  json* cur = &root;
  for (size_t i = 1; i < depth; ++i) {
    cur->push_back(json::array());
    cur = &cur->back();
  }
  return root;
}

TEST(JsonTextTest, DocumentsDeeperThanTheLimitAreParseErrors) {
  EXPECT_NO_THROW(parse_json_document(brackets(kMaxJsonDepth)));
  for (const std::string text : {brackets(kMaxJsonDepth + 1), brackets(100000), std::string(100000, '{')}) {
    try {
      parse_json_document(text);
      FAIL() << "accepted " << text.size() << " bytes of nesting";
    } catch (const json::parse_error& e) {
      EXPECT_NE(std::string(e.what()).find("nested deeper than 256 levels"), std::string::npos) << e.what();
    }
  }
  // Brackets inside strings are text, not nesting.
  EXPECT_EQ(parse_json_document("{\"a\":\"" + std::string(1000, '[') + "\"}")["a"].get<std::string>().size(), 1000u);
  std::istringstream stream("{\"x\": " + brackets(300) + "}");
  EXPECT_THROW(parse_json_document(stream), json::parse_error);
}

TEST(JsonTextTest, PrintsLikeDumpWithoutRecursion) {
  const json values[] = {
      json::parse(R"({"b":[1,-2,3.5,1e300,true,null,"x\"y\\z\n"],"a":{"c":[],"d":{}},"e":18446744073709551615})"),
      json("caf\xc3 \xff"),  // invalid UTF-8: replaced, as dump(replace) does
      json::array(),
      json(0.1),
      json::binary({1, 2, 3}),
      deep_value(200),
  };
  for (const json& v : values) {
    EXPECT_EQ(json_text(v), v.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  // 100,000 levels: dump() would overflow the stack; json_text does not.
  const std::string text = json_text(deep_value(100000));
  EXPECT_EQ(text, brackets(100000));
}

}  // namespace
}  // namespace salvo

namespace salvo {
namespace {

TEST(JsonTextTest, ModelJsonFileErrorsNameTheFileAndTheReason) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "salvo-json-file-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "config.json");  // a folder where the file belongs
  auto reason = [](const std::filesystem::path& path) {
    try {
      read_model_json_file(path);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModel);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(reason(dir / "config.json"), (dir / "config.json").string() + ": not a regular file");
  EXPECT_EQ(reason(dir / "missing.json"), (dir / "missing.json").string() + ": no such file");
  std::ofstream(dir / "bad.json") << "{\"a\": ";
  EXPECT_NE(reason(dir / "bad.json").find("bad.json: not valid JSON"), std::string::npos);
  std::ofstream(dir / "good.json") << "{\"a\": [1, 2]}";
  EXPECT_EQ(read_model_json_file(dir / "good.json")["a"][1], 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace salvo
