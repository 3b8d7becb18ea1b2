#include "model/bert_config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_text.h"

namespace salvo {
namespace {

// Model types whose checkpoints use BertModel's architecture and parameter names unchanged.
// RoBERTa, DistilBERT, ELECTRA and friends differ (position offsets, names, projections) and are
// refused rather than run wrongly.
constexpr const char* kBertLayoutTypes[] = {"bert"};

int64_t read_int(const nlohmann::json& json, const char* key, int64_t fallback, int64_t min,
                 const std::string& source) {
  if (!json.contains(key) || json[key].is_null()) return fallback;
  const auto& v = json[key];
  if (!v.is_number_integer() || v.get<int64_t>() < min) {
    throw Error(ErrorCode::kModel, source + ": field '" + key + "' must be an integer >= " +
                                       std::to_string(min) + ", got " + v.dump());
  }
  return v.get<int64_t>();
}

}  // namespace

BertConfig BertConfig::from_json(const nlohmann::json& json, const std::string& source) {
  auto fail = [&](const std::string& why) { throw Error(ErrorCode::kModel, source + ": " + why); };
  if (!json.is_object()) fail("config is not a JSON object");

  BertConfig c;
  if (!json.contains("model_type") || !json["model_type"].is_string()) {
    fail("missing string field 'model_type' (salvo runs BERT-family encoders)");
  }
  c.model_type = json["model_type"].get<std::string>();
  bool known = false;
  for (const char* t : kBertLayoutTypes) known = known || c.model_type == t;
  if (!known) {
    fail("model_type '" + c.model_type + "' is not supported (salvo runs BERT-family encoders)");
  }

  c.vocab_size = read_int(json, "vocab_size", c.vocab_size, 1, source);
  c.hidden_size = read_int(json, "hidden_size", c.hidden_size, 1, source);
  c.num_hidden_layers = read_int(json, "num_hidden_layers", c.num_hidden_layers, 1, source);
  c.num_attention_heads = read_int(json, "num_attention_heads", c.num_attention_heads, 1, source);
  c.intermediate_size = read_int(json, "intermediate_size", c.intermediate_size, 1, source);
  c.max_position_embeddings =
      read_int(json, "max_position_embeddings", c.max_position_embeddings, 1, source);
  c.type_vocab_size = read_int(json, "type_vocab_size", c.type_vocab_size, 1, source);
  c.pad_token_id = read_int(json, "pad_token_id", c.pad_token_id, 0, source);

  if (json.contains("layer_norm_eps")) {
    const auto& v = json["layer_norm_eps"];
    if (!v.is_number() || v.get<double>() <= 0.0) {
      fail("field 'layer_norm_eps' must be a positive number, got " + v.dump());
    }
    c.layer_norm_eps = static_cast<float>(v.get<double>());
  }

  if (json.contains("hidden_act")) {
    if (!json["hidden_act"].is_string()) {
      fail("field 'hidden_act' must be a string, got " + json["hidden_act"].dump());
    }
    c.hidden_act_name = json["hidden_act"].get<std::string>();
  }
  if (c.hidden_act_name == "gelu") {
    c.hidden_act = Activation::kGeluErf;
  } else if (c.hidden_act_name == "gelu_new" || c.hidden_act_name == "gelu_pytorch_tanh") {
    c.hidden_act = Activation::kGeluTanh;
  } else if (c.hidden_act_name == "relu") {
    c.hidden_act = Activation::kRelu;
  } else {
    fail("hidden_act '" + c.hidden_act_name +
         "' is not supported (expected gelu, gelu_new, gelu_pytorch_tanh or relu)");
  }

  if (json.contains("position_embedding_type") && json["position_embedding_type"].is_string() &&
      json["position_embedding_type"].get<std::string>() != "absolute") {
    fail("position_embedding_type '" + json["position_embedding_type"].get<std::string>() +
         "' is not supported (only 'absolute')");
  }

  if (c.hidden_size % c.num_attention_heads != 0) {
    fail("hidden_size " + std::to_string(c.hidden_size) +
         " is not divisible by num_attention_heads " + std::to_string(c.num_attention_heads));
  }
  if (c.pad_token_id >= c.vocab_size) {
    fail("pad_token_id " + std::to_string(c.pad_token_id) + " is outside the vocabulary of " +
         std::to_string(c.vocab_size));
  }

  if (json.contains("id2label") && !json["id2label"].is_null()) {
    const auto& labels = json["id2label"];
    if (!labels.is_object()) fail("field 'id2label' must be an object of id -> label");
    c.id2label.assign(labels.size(), std::string());
    std::vector<bool> seen(labels.size(), false);
    for (const auto& [key, value] : labels.items()) {
      size_t id = 0;
      size_t used = 0;
      try {
        id = std::stoul(key, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != key.size() || key.empty() || id >= labels.size() || seen[id]) {
        fail("id2label key '" + key + "' is not an id in 0.." + std::to_string(labels.size() - 1));
      }
      if (!value.is_string()) fail("id2label['" + key + "'] must be a string, got " + value.dump());
      seen[id] = true;
      c.id2label[id] = value.get<std::string>();
    }
  }
  return c;
}

BertConfig BertConfig::from_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::kModel, path.string() + ": cannot open model config");
  nlohmann::json json;
  try {
    json = parse_json_document(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kModel, path.string() + ": not valid JSON: " + e.what());
  }
  return from_json(json, path.string());
}

}  // namespace salvo
