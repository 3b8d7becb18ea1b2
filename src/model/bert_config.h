// The architecture of a BERT-family encoder, read from a Hugging Face config.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "kernels/activations.h"

namespace salvo {

// The fields of a Hugging Face BertConfig that the native encoder needs. Fields missing from the
// JSON take Hugging Face's BertConfig defaults.
struct BertConfig {
  std::string model_type = "bert";
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act_name = "gelu";
  Activation hidden_act = Activation::kGeluErf;
  float layer_norm_eps = 1e-12f;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  int64_t pad_token_id = 0;
  std::vector<std::string> id2label;  // ordered by id; empty when the config has none

  // Size of one attention head.
  int64_t head_dim() const { return hidden_size / num_attention_heads; }

  // Parses and validates a config; `source` names it in error messages (a path). Throws
  // salvo::Error(kModel) for unsupported model types or activations and inconsistent sizes.
  static BertConfig from_json(const nlohmann::json& json, const std::string& source);
  // Reads and parses a config.json file.
  static BertConfig from_json_file(const std::filesystem::path& path);
};

}  // namespace salvo
