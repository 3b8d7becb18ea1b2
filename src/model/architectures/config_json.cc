#include "model/architectures/config_json.h"

#include <fstream>
#include <vector>

#include "core/error.h"
#include "core/json_text.h"

namespace salvo {

ConfigJson::ConfigJson(nlohmann::json json, std::string source) : json_(std::move(json)), source_(std::move(source)) {
  if (!json_.is_object()) fail("config is not a JSON object");
}

ConfigJson ConfigJson::from_file(const std::filesystem::path& path) {
  return ConfigJson(read_model_json_file(path), path.string());
}

void ConfigJson::fail(const std::string& why) const { throw Error(ErrorCode::kModel, source_ + ": " + why); }

bool ConfigJson::has(const char* key) const { return json_.contains(key) && !json_[key].is_null(); }

std::string ConfigJson::model_type() const {
  if (!json_.contains("model_type") || !json_["model_type"].is_string()) {
    fail("missing string field 'model_type' (salvo runs BERT-family encoders)");
  }
  return json_["model_type"].get<std::string>();
}

int64_t ConfigJson::integer(const char* key, int64_t fallback, int64_t min) const {
  if (!has(key)) return fallback;
  const auto& v = json_[key];
  if (!v.is_number_integer() || v.get<int64_t>() < min) {
    fail(std::string("field '") + key + "' must be an integer >= " + std::to_string(min) + ", got " + json_text(v));
  }
  return v.get<int64_t>();
}

float ConfigJson::positive_number(const char* key, float fallback) const {
  if (!has(key)) return fallback;
  const auto& v = json_[key];
  if (!v.is_number() || v.get<double>() <= 0.0) {
    fail(std::string("field '") + key + "' must be a positive number, got " + json_text(v));
  }
  return static_cast<float>(v.get<double>());
}

std::string ConfigJson::string(const char* key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  if (!json_[key].is_string()) fail(std::string("field '") + key + "' must be a string, got " + json_text(json_[key]));
  return json_[key].get<std::string>();
}

Activation ConfigJson::activation(const char* key, const std::string& fallback, std::string* name) const {
  *name = string(key, fallback);
  if (*name == "gelu") return Activation::kGeluErf;
  if (*name == "gelu_new" || *name == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  if (*name == "relu") return Activation::kRelu;
  fail(std::string(key) + " '" + *name + "' is not supported (expected gelu, gelu_new, gelu_pytorch_tanh or relu)");
}

void ConfigJson::finish(EncoderConfig* c) const {
  if (c->embedding_size == 0) c->embedding_size = c->hidden_size;
  if (c->hidden_size % c->num_heads != 0) {
    fail("hidden_size " + std::to_string(c->hidden_size) + " is not divisible by num_attention_heads " +
         std::to_string(c->num_heads));
  }
  if (c->padding_idx >= c->vocab_size) {
    fail("pad_token_id " + std::to_string(c->padding_idx) + " is outside the vocabulary of " +
         std::to_string(c->vocab_size));
  }
  if (c->max_tokens() < 1) {
    fail("max_position_embeddings " + std::to_string(c->max_position_embeddings) +
         " leaves no position after the padding offset " + std::to_string(c->padding_idx + 1));
  }

  const std::string problem = string("problem_type", "");
  if (problem == "multi_label_classification") {
    c->classifier_output = ClassifierOutput::kSigmoid;
  } else if (!problem.empty() && problem != "single_label_classification" && problem != "regression") {
    fail("problem_type '" + problem +
         "' is not known (single_label_classification, multi_label_classification or regression)");
  }

  if (has("id2label")) {
    const auto& labels = json_["id2label"];
    if (!labels.is_object()) fail("field 'id2label' must be an object of id -> label");
    c->id2label.assign(labels.size(), std::string());
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
      if (!value.is_string()) fail("id2label['" + key + "'] must be a string, got " + json_text(value));
      seen[id] = true;
      c->id2label[id] = value.get<std::string>();
    }
  }
}

}  // namespace salvo
