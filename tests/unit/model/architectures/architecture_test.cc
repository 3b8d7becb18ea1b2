// config.json of each architecture into the encoder's neutral options, the registry's refusals,
// and the tensor names each layout maps to.
#include "model/architectures/architecture.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/test_checkpoint.h"

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

EncoderConfig parse(const nlohmann::json& json) { return parse_encoder_config(ConfigJson(json, "cfg/config.json")); }

std::string error_of(const nlohmann::json& json) {
  try {
    parse(json);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    return e.what();
  }
  return "";
}

TEST(ArchitectureTest, ParsesMiniLm) {
  const EncoderConfig c = parse(minilm());
  EXPECT_EQ(c.model_type, "bert");
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.hidden_size, 384);
  EXPECT_EQ(c.embedding_size, 384);
  EXPECT_EQ(c.num_layers, 6);
  EXPECT_EQ(c.num_heads, 12);
  EXPECT_EQ(c.head_dim(), 32);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.hidden_act, Activation::kGeluErf);
  EXPECT_FLOAT_EQ(c.layer_norm_eps, 1e-12f);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.max_tokens(), 512);
  EXPECT_EQ(c.position_ids, PositionIds::kFromZero);
  EXPECT_EQ(c.token_types, TokenTypes::kFromBatch);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_EQ(c.relative_attention_buckets, 0);
  EXPECT_TRUE(c.id2label.empty());
  EXPECT_EQ(c.classifier_output, ClassifierOutput::kSoftmax);
}

TEST(ArchitectureTest, ActivationNames) {
  nlohmann::json j = minilm();
  j["hidden_act"] = "gelu_new";
  EXPECT_EQ(parse(j).hidden_act, Activation::kGeluTanh);
  j["hidden_act"] = "gelu_pytorch_tanh";
  EXPECT_EQ(parse(j).hidden_act, Activation::kGeluTanh);
  j["hidden_act"] = "relu";
  EXPECT_EQ(parse(j).hidden_act, Activation::kRelu);
  j["hidden_act"] = "swish";
  EXPECT_THAT(error_of(j), HasSubstr("hidden_act 'swish' is not supported"));
}

TEST(ArchitectureTest, RefusesOtherModelTypesByName) {
  nlohmann::json j = minilm();
  j["model_type"] = "gpt2";
  EXPECT_THAT(error_of(j), HasSubstr("cfg/config.json: model_type 'gpt2' is not supported (salvo runs bert, "
                                     "roberta, xlm-roberta, distilbert, electra, mpnet)"));
  j["model_type"] = "deberta-v2";
  EXPECT_THAT(error_of(j), HasSubstr("model_type 'deberta-v2'"));
  j.erase("model_type");
  EXPECT_THAT(error_of(j), HasSubstr("missing string field 'model_type'"));
}

TEST(ArchitectureTest, ValidatesSizes) {
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
  j = minilm();
  j["problem_type"] = "ranking";
  EXPECT_THAT(error_of(j), HasSubstr("problem_type 'ranking' is not known"));
}

TEST(ArchitectureTest, Id2LabelInIdOrderAndProblemType) {
  nlohmann::json j = minilm();
  j["id2label"] = {{"2", "neutral"}, {"0", "negative"}, {"1", "positive"}};
  EXPECT_EQ(parse(j).id2label, (std::vector<std::string>{"negative", "positive", "neutral"}));
  j["problem_type"] = "multi_label_classification";
  EXPECT_EQ(parse(j).classifier_output, ClassifierOutput::kSigmoid);
  j["problem_type"] = "single_label_classification";
  EXPECT_EQ(parse(j).classifier_output, ClassifierOutput::kSoftmax);
  j["id2label"] = {{"0", "a"}, {"2", "c"}};
  EXPECT_THAT(error_of(j), HasSubstr("id2label key '2'"));
  j["id2label"] = {{"zero", "a"}};
  EXPECT_THAT(error_of(j), HasSubstr("id2label key 'zero'"));
}

TEST(ArchitectureTest, MissingFieldsTakeTheConfigClassDefaults) {
  const EncoderConfig bert = parse({{"model_type", "bert"}});
  EXPECT_EQ(bert.hidden_size, 768);
  EXPECT_EQ(bert.num_layers, 12);
  EXPECT_EQ(bert.hidden_act, Activation::kGeluErf);
  EXPECT_EQ(parse({{"model_type", "roberta"}}).vocab_size, 50265);
  EXPECT_EQ(parse({{"model_type", "xlm-roberta"}}).vocab_size, 30522);
  const EncoderConfig electra = parse({{"model_type", "electra"}});
  EXPECT_EQ(electra.hidden_size, 256);
  EXPECT_EQ(electra.embedding_size, 128);
  EXPECT_EQ(electra.num_heads, 4);
  const EncoderConfig distilbert = parse({{"model_type", "distilbert"}});
  EXPECT_EQ(distilbert.num_layers, 6);
  EXPECT_EQ(distilbert.hidden_size, 768);
  EXPECT_EQ(parse({{"model_type", "mpnet"}}).vocab_size, 30527);
}

TEST(ArchitectureTest, RobertaCountsPositionsAfterPadding) {
  const EncoderConfig c = parse({{"model_type", "xlm-roberta"},
                                 {"vocab_size", 250002},
                                 {"max_position_embeddings", 514},
                                 {"type_vocab_size", 1},
                                 {"pad_token_id", 1}});
  EXPECT_EQ(c.position_ids, PositionIds::kAfterPadding);
  EXPECT_EQ(c.padding_idx, 1);
  EXPECT_EQ(c.max_tokens(), 512);
  EXPECT_EQ(c.token_types, TokenTypes::kZero);
  EXPECT_EQ(c.type_vocab_size, 1);
  EXPECT_THAT(error_of({{"model_type", "roberta"}, {"max_position_embeddings", 2}, {"pad_token_id", 1}}),
              HasSubstr("max_position_embeddings 2 leaves no position"));
}

TEST(ArchitectureTest, DistilBertReadsItsOwnNames) {
  const EncoderConfig c = parse({{"model_type", "distilbert"},
                                 {"dim", 64},
                                 {"n_layers", 3},
                                 {"n_heads", 4},
                                 {"hidden_dim", 100},
                                 {"activation", "relu"},
                                 {"hidden_size", 999},  // not DistilBERT's name: ignored
                                 {"max_position_embeddings", 128}});
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_layers, 3);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.intermediate_size, 100);
  EXPECT_EQ(c.hidden_act, Activation::kRelu);
  EXPECT_EQ(c.token_types, TokenTypes::kAbsent);
  EXPECT_EQ(c.position_ids, PositionIds::kFromZero);
  EXPECT_THAT(error_of({{"model_type", "distilbert"}, {"activation", "tanh"}}),
              HasSubstr("activation 'tanh' is not supported"));
}

TEST(ArchitectureTest, ElectraProjectsOnlyWhenSizesDiffer) {
  const Architecture& electra = find_architecture("electra", "c");
  EncoderConfig c = parse({{"model_type", "electra"}, {"embedding_size", 128}, {"hidden_size", 256}});
  EXPECT_EQ(electra.layout(c).embedding_projection, "embeddings_project");
  c = parse({{"model_type", "electra"}, {"embedding_size", 256}, {"hidden_size", 256}});
  EXPECT_EQ(electra.layout(c).embedding_projection, "");
  EXPECT_EQ(electra.layout(c).classifier.activation, HeadActivation::kGelu);
  EXPECT_EQ(electra.layout(c).prefixes, std::vector<std::string>{"electra."});
}

TEST(ArchitectureTest, MpnetHasItsFixedPaddingAndRelativeBias) {
  const EncoderConfig c = parse({{"model_type", "mpnet"}, {"pad_token_id", 0}, {"max_position_embeddings", 514}});
  EXPECT_EQ(c.padding_idx, 1);  // MPNetEmbeddings fixes it, whatever pad_token_id says
  EXPECT_EQ(c.max_tokens(), 512);
  EXPECT_EQ(c.relative_attention_buckets, 32);
  EXPECT_EQ(c.token_types, TokenTypes::kAbsent);
  EXPECT_THAT(error_of({{"model_type", "mpnet"}, {"relative_attention_num_buckets", 16}}),
              HasSubstr("relative_attention_num_buckets' must be an integer >= 32"));
}

TEST(ArchitectureTest, LayoutsNameEachArchitecturesTensors) {
  const EncoderConfig bert = parse(minilm());
  const CheckpointLayout b = find_architecture("bert", "c").layout(bert);
  EXPECT_EQ(b.layer(3).attention_norm, "encoder.layer.3.attention.output.LayerNorm");
  EXPECT_EQ(b.classifier.dense, "pooler.dense");
  EXPECT_EQ(b.classifier.out, "classifier");
  const CheckpointLayout r = find_architecture("roberta", "c").layout(bert);
  EXPECT_EQ(r.classifier.out, "classifier.out_proj");
  EXPECT_EQ(r.prefixes, std::vector<std::string>{"roberta."});
  const CheckpointLayout d = find_architecture("distilbert", "c").layout(bert);
  EXPECT_EQ(d.layer(1).query, "transformer.layer.1.attention.q_lin");
  EXPECT_EQ(d.layer(1).attention_norm, "transformer.layer.1.sa_layer_norm");
  EXPECT_EQ(d.layer(1).intermediate, "transformer.layer.1.ffn.lin1");
  EXPECT_EQ(d.layer(1).output_norm, "transformer.layer.1.output_layer_norm");
  EXPECT_EQ(d.token_type_embeddings, "");
  EXPECT_EQ(d.classifier.activation, HeadActivation::kRelu);
  const CheckpointLayout m = find_architecture("mpnet", "c").layout(bert);
  EXPECT_EQ(m.layer(0).attention_output, "encoder.layer.0.attention.attn.o");
  EXPECT_EQ(m.relative_attention_bias, "encoder.relative_attention_bias");
}

TEST(ArchitectureTest, ConfigFileErrorsNameTheFile) {
  testing::TempDir dir;
  testing::write_text(dir.path() / "config.json", minilm().dump());
  EXPECT_EQ(parse_encoder_config(ConfigJson::from_file(dir.path() / "config.json")).hidden_size, 384);
  testing::write_text(dir.path() / "bad.json", "{\"model_type\": ");
  try {
    ConfigJson::from_file(dir.path() / "bad.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("bad.json: not valid JSON"));
  }
  try {
    ConfigJson::from_file(dir.path() / "absent.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("absent.json"));
  }
}

}  // namespace
}  // namespace salvo
