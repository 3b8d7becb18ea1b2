#include "model/bert_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "test_checkpoint.h"

namespace salvo {
namespace {

using ::testing::HasSubstr;

nlohmann::json minilm() {
  return nlohmann::json::parse(R"({
    "architectures": ["BertModel"], "model_type": "bert", "vocab_size": 30522,
    "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
    "intermediate_size": 1536, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512, "type_vocab_size": 2, "pad_token_id": 0,
    "position_embedding_type": "absolute"})");
}

std::string error_of(const nlohmann::json& json) {
  try {
    BertConfig::from_json(json, "cfg/config.json");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    return e.what();
  }
  return "";
}

TEST(BertConfigTest, ParsesMiniLm) {
  const BertConfig c = BertConfig::from_json(minilm(), "config.json");
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.hidden_size, 384);
  EXPECT_EQ(c.num_hidden_layers, 6);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.head_dim(), 32);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.hidden_act, Activation::kGeluErf);
  EXPECT_FLOAT_EQ(c.layer_norm_eps, 1e-12f);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_TRUE(c.id2label.empty());
}

TEST(BertConfigTest, ActivationNames) {
  nlohmann::json j = minilm();
  j["hidden_act"] = "gelu_new";
  EXPECT_EQ(BertConfig::from_json(j, "c").hidden_act, Activation::kGeluTanh);
  j["hidden_act"] = "gelu_pytorch_tanh";
  EXPECT_EQ(BertConfig::from_json(j, "c").hidden_act, Activation::kGeluTanh);
  j["hidden_act"] = "relu";
  EXPECT_EQ(BertConfig::from_json(j, "c").hidden_act, Activation::kRelu);
  j["hidden_act"] = "swish";
  EXPECT_THAT(error_of(j), HasSubstr("hidden_act 'swish' is not supported"));
}

TEST(BertConfigTest, RefusesOtherModelTypes) {
  nlohmann::json j = minilm();
  j["model_type"] = "gpt2";
  EXPECT_THAT(error_of(j), HasSubstr("cfg/config.json: model_type 'gpt2' is not supported "
                                     "(salvo runs BERT-family encoders)"));
  j["model_type"] = "roberta";
  EXPECT_THAT(error_of(j), HasSubstr("model_type 'roberta'"));
  j.erase("model_type");
  EXPECT_THAT(error_of(j), HasSubstr("missing string field 'model_type'"));
}

TEST(BertConfigTest, ValidatesSizes) {
  nlohmann::json j = minilm();
  j["num_attention_heads"] = 7;
  EXPECT_THAT(error_of(j), HasSubstr("hidden_size 384 is not divisible by num_attention_heads 7"));
  j = minilm();
  j["hidden_size"] = "big";
  EXPECT_THAT(error_of(j), HasSubstr("field 'hidden_size' must be an integer"));
  j = minilm();
  j["num_hidden_layers"] = 0;
  EXPECT_THAT(error_of(j), HasSubstr("num_hidden_layers"));
  j = minilm();
  j["layer_norm_eps"] = -1;
  EXPECT_THAT(error_of(j), HasSubstr("layer_norm_eps"));
  j = minilm();
  j["pad_token_id"] = 40000;
  EXPECT_THAT(error_of(j), HasSubstr("pad_token_id 40000"));
  j = minilm();
  j["position_embedding_type"] = "relative_key";
  EXPECT_THAT(error_of(j), HasSubstr("position_embedding_type 'relative_key'"));
}

TEST(BertConfigTest, Id2LabelInIdOrder) {
  nlohmann::json j = minilm();
  j["id2label"] = {{"2", "neutral"}, {"0", "negative"}, {"1", "positive"}};
  EXPECT_EQ(BertConfig::from_json(j, "c").id2label,
            (std::vector<std::string>{"negative", "positive", "neutral"}));
  j["id2label"] = {{"0", "a"}, {"2", "c"}};
  EXPECT_THAT(error_of(j), HasSubstr("id2label key '2'"));
  j["id2label"] = {{"zero", "a"}};
  EXPECT_THAT(error_of(j), HasSubstr("id2label key 'zero'"));
}

TEST(BertConfigTest, MissingFieldsTakeHuggingFaceDefaults) {
  const BertConfig c = BertConfig::from_json({{"model_type", "bert"}}, "c");
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.hidden_act, Activation::kGeluErf);
}

TEST(BertConfigTest, LoadsFileAndReportsBadJson) {
  testing::TempDir dir;
  testing::write_text(dir.path() / "config.json", minilm().dump());
  EXPECT_EQ(BertConfig::from_json_file(dir.path() / "config.json").hidden_size, 384);
  testing::write_text(dir.path() / "bad.json", "{\"model_type\": ");
  try {
    BertConfig::from_json_file(dir.path() / "bad.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("bad.json: not valid JSON"));
  }
  try {
    BertConfig::from_json_file(dir.path() / "absent.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("absent.json"));
  }
}

}  // namespace
}  // namespace salvo
