// The shape and options of a post-LN transformer encoder, in words that do not depend on the
// architecture a checkpoint comes from. Each architecture file (model/architectures/) reads its
// config.json into one of these.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/activations.h"

namespace salvo {

// How token positions are numbered inside one sequence.
enum class PositionIds {
  kFromZero,       // 0, 1, 2, ...: BERT, DistilBERT, ELECTRA
  kAfterPadding,   // fairseq's numbering: padding_idx + 1, padding_idx + 2, ... counting only
                   // tokens that are not padding_idx; a padding_idx token gets padding_idx
                   // (RoBERTa, XLM-RoBERTa, MPNet)
};

// What the model does with a batch's token type (segment) ids.
enum class TokenTypes {
  kFromBatch,  // adds token_type_embeddings[type id] (BERT, ELECTRA)
  kZero,       // has the table but its tokenizer never sends types: row 0 for every token
               // (RoBERTa, XLM-RoBERTa)
  kAbsent,     // no token type embeddings at all (DistilBERT, MPNet)
};

// How a sequence-classification head turns its logits into what `classify` reports.
enum class ClassifierOutput {
  kSoftmax,  // one label per row: softmax over the labels (single_label_classification)
  kSigmoid,  // independent labels: a sigmoid per label (problem_type multi_label_classification)
};

struct EncoderConfig {
  std::string model_type;  // config.json's, for messages and ModelInfo
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  // Width of the token embeddings: hidden_size, or smaller when an embedding projection maps
  // them up to hidden_size (ELECTRA's embeddings_project).
  int64_t embedding_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t intermediate_size = 0;
  Activation hidden_act = Activation::kGeluErf;
  std::string hidden_act_name = "gelu";
  float layer_norm_eps = 1e-12f;
  int64_t max_position_embeddings = 0;

  PositionIds position_ids = PositionIds::kFromZero;
  int64_t padding_idx = 0;  // with kAfterPadding: the padding token id and position offset

  TokenTypes token_types = TokenTypes::kFromBatch;
  int64_t type_vocab_size = 0;  // rows of token_type_embeddings (unused with kAbsent)

  // MPNet: a [buckets, heads] table of attention-score biases indexed by relative position
  // bucket, shared by all layers; 0 when the model has none.
  int64_t relative_attention_buckets = 0;

  std::vector<std::string> id2label;  // ordered by id; empty when the config has none
  ClassifierOutput classifier_output = ClassifierOutput::kSoftmax;

  // Size of one attention head.
  int64_t head_dim() const { return hidden_size / num_heads; }
  // The longest sequence the position table allows, special tokens included.
  int64_t max_tokens() const {
    return position_ids == PositionIds::kAfterPadding ? max_position_embeddings - padding_idx - 1
                                                      : max_position_embeddings;
  }
};

}  // namespace salvo
