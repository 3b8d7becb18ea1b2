#include "model/sentence_transformers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"

namespace salvo {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    return e.what();
  }
  return "";
}

TEST(SentenceTransformersTest, ModulesJson) {
  const auto m = parse_modules_json(json::parse(R"([
      {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
      {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
      {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])"),
                                    "modules.json");
  EXPECT_EQ(m.transformer, "");
  EXPECT_EQ(m.pooling, std::filesystem::path("1_Pooling"));
  EXPECT_TRUE(m.normalize);
  EXPECT_THAT(error_of([] { parse_modules_json(json::object(), "m.json"); }), HasSubstr("m.json: expected a JSON array"));
  EXPECT_THAT(error_of([] { parse_modules_json(json::parse(R"([{"type": 5}])"), "m.json"); }),
              HasSubstr("has no string 'type'"));
  EXPECT_THAT(error_of([] { parse_modules_json(json::parse(R"([{"type": "x.Dense"}])"), "m.json"); }),
              HasSubstr("module type 'x.Dense' is not supported"));
}

// A module's files are inside the model folder: a hostile modules.json cannot make salvo load
// weights or configs from elsewhere on the machine.
TEST(SentenceTransformersTest, ModulePathsStayInsideTheModelFolder) {
  for (const char* path : {"../other-model", "/etc", "a/../../b"}) {
    const json doc = json::array({{{"type", "sentence_transformers.models.Transformer"}, {"path", path}}});
    EXPECT_THAT(error_of([&] { parse_modules_json(doc, "m.json"); }), HasSubstr("leaves the model folder")) << path;
  }
}

TEST(SentenceTransformersTest, PoolingConfig) {
  EXPECT_EQ(parse_pooling_config(json::parse(R"({"pooling_mode_cls_token": true})"), "p"), Pooling::kCls);
  EXPECT_EQ(parse_pooling_config(json::parse(R"({"pooling_mode": "max"})"), "p"), Pooling::kMax);
  EXPECT_THAT(error_of([] { parse_pooling_config(json::parse(R"({"pooling_mode_cls_token": true,
      "pooling_mode_mean_tokens": true})"), "p"); }), HasSubstr("are combined; salvo runs one of cls, mean or max"));
  EXPECT_THAT(error_of([] { parse_pooling_config(json::parse(R"({"pooling_mode_lasttoken": true})"), "p"); }),
              HasSubstr("not supported"));
  EXPECT_THAT(error_of([] { parse_pooling_config(json::array(), "p"); }), HasSubstr("not a JSON object"));
}

}  // namespace
}  // namespace salvo
