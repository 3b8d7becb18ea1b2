// An architecture is what differs between BERT-family checkpoints: how config.json reads into an
// EncoderConfig and where each tensor of the generic encoder sits in the checkpoint. Adding one
// means one file in this folder that defines an Architecture, plus its line in registry.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/architectures/config_json.h"
#include "model/encoder_config.h"

namespace salvo {

// The activation between a classification head's dense layer and its output layer.
enum class HeadActivation {
  kTanh,  // BERT's pooler, RoBERTa / XLM-R / MPNet's classifier.dense
  kRelu,  // DistilBERT's pre_classifier
  kGelu,  // ELECTRA's classifier.dense (exact erf GELU)
};

// Module names of one encoder layer's tensors, without ".weight" / ".bias".
struct EncoderLayerNames {
  std::string query, key, value;      // [hidden, hidden] each
  std::string attention_output;       // [hidden, hidden]
  std::string attention_norm;         // layer norm after attention + residual
  std::string intermediate;           // [intermediate, hidden], followed by hidden_act
  std::string output;                 // [hidden, intermediate]
  std::string output_norm;            // layer norm after the feed-forward + residual
};

// A sequence-classification head over the first token's final state:
// logits = out(activation(dense(state))).
struct ClassifierHeadNames {
  std::string dense;  // [hidden, hidden]
  HeadActivation activation = HeadActivation::kTanh;
  std::string out;    // [num_labels, hidden]; the head exists when this tensor does
};

// Where an architecture keeps each tensor. Names are module names ("embeddings.LayerNorm");
// ".weight" and ".bias" are appended. A name is looked up as written, then with each of
// `prefixes` in front, so base-model and task checkpoints ("bert.embeddings...") both load.
struct CheckpointLayout {
  std::vector<std::string> prefixes;
  std::string word_embeddings;          // [vocab, embedding_size]
  std::string position_embeddings;      // [max_position_embeddings, embedding_size]
  std::string token_type_embeddings;    // [type_vocab_size, embedding_size]; empty: none
  std::string embedding_norm;           // over embedding_size
  std::string embedding_projection;     // [hidden, embedding_size]; empty: none
  std::string relative_attention_bias;  // [buckets, heads] shared by all layers; empty: none
  std::function<EncoderLayerNames(int64_t layer)> layer;
  ClassifierHeadNames classifier;
  std::string classifier_description;   // "pooler.dense + tanh + classifier", for ModelInfo
};

struct Architecture {
  std::vector<std::string> model_types;  // config.json model_type values it loads
  // Reads config.json (fields missing take the transformers config class's defaults). Throws
  // salvo::Error(kModel) naming the field.
  std::function<EncoderConfig(const ConfigJson& json)> read_config;
  std::function<CheckpointLayout(const EncoderConfig& config)> layout;
};

// The architecture that loads `model_type`; throws salvo::Error(kModel) naming the model type,
// `source` (a path) and the supported ones otherwise.
const Architecture& find_architecture(const std::string& model_type, const std::string& source);

// config.json read by the architecture its model_type names, then checked (ConfigJson::finish).
EncoderConfig parse_encoder_config(const ConfigJson& json);

// Every model_type salvo loads, in registry order ("bert, roberta, ...").
std::string supported_model_types();

// The architectures, one per file in this folder.
const Architecture& bert_architecture();
const Architecture& roberta_architecture();
const Architecture& distilbert_architecture();
const Architecture& electra_architecture();
const Architecture& mpnet_architecture();

// Reads the config.json fields BERT, RoBERTa, ELECTRA and MPNet share (vocab_size, hidden_size,
// num_hidden_layers, num_attention_heads, intermediate_size, hidden_act, layer_norm_eps,
// max_position_embeddings, type_vocab_size, pad_token_id), keeping `config`'s values for absent
// ones, and refuses a position_embedding_type other than "absolute".
void read_bert_fields(const ConfigJson& json, EncoderConfig* config);

// The layer names BERT, RoBERTa and ELECTRA share ("encoder.layer.N.attention.self.query", ...).
EncoderLayerNames bert_layer_names(int64_t layer);
// Their embeddings and layers, with `prefix` ("bert.") as the task checkpoints' prefix; no head.
CheckpointLayout bert_style_layout(const std::string& prefix);

}  // namespace salvo
