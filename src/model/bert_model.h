// The native CPU BERT encoder: loads a Hugging Face folder and runs it on packed (unpadded)
// batches of token ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "model/bert_config.h"
#include "model/packed_batch.h"
#include "model/sentence_transformers.h"

namespace salvo {


// Load-time choices.
struct BertModelOptions {
  GemmBackend gemm = default_gemm_backend();
  // Number format of the encoder's linear layers (the pooler and classifier head stay float32).
  Precision precision = Precision::kF32;
};

// Working memory of one thread running a BertModel, grown to the largest batch it has seen.
struct BertScratch {
  std::vector<float> qkv, context, intermediate, hidden, cls, pooled;
};

// A loaded BERT encoder with optional sequence-classification head. Immutable once loaded: any
// number of threads may run it at once, each with its own BertScratch.
class BertModel {
 public:
  // Loads config.json + model.safetensors (+ sentence-transformers modules.json,
  // 1_Pooling/config.json, 2_Normalize) from a Hugging Face folder. Weight names with or without
  // the "bert." prefix; classifier head ("classifier.weight/bias" + pooler) when present. Throws
  // salvo::Error(kModel) with file and reason.
  static std::unique_ptr<BertModel> load(const std::filesystem::path& dir,
                                         const BertModelOptions& options = {});
  ~BertModel();

  const BertConfig& config() const { return config_; }
  // The number format the encoder's linear layers run in.
  Precision precision() const { return precision_; }
  bool has_classifier() const { return classifier_.has_value(); }
  // id2label in id order (LABEL_i when absent).
  const std::vector<std::string>& labels() const { return labels_; }
  // modules.json pooling, else kMean.
  Pooling pooling() const { return pooling_; }
  // 2_Normalize present, else true (our documented default).
  bool normalize() const { return normalize_; }
  // Whether pooling came from modules.json.
  bool from_sentence_transformers() const { return from_sentence_transformers_; }

  // Last hidden states, tokens() x hidden_size floats, row-major. Throws
  // salvo::Error(kInvalidArgument) for malformed batches, ids outside the vocabulary and
  // sequences longer than max_position_embeddings.
  void hidden_states(const PackedBatch& batch, BertScratch* scratch, float* out) const;
  // Pooled (and, if normalize(), L2-normalised) embeddings, rows() x hidden_size.
  void embed(const PackedBatch& batch, BertScratch* scratch, float* out) const;
  // Softmax class probabilities, rows() x labels().size(). Throws kModel if !has_classifier().
  void classify(const PackedBatch& batch, BertScratch* scratch, float* out) const;

 private:
  struct Layer {
    PackedLinear qkv;  // query, key and value stacked: [3 hidden, hidden]
    PackedLinear attention_output;
    std::vector<float> attention_norm_weight, attention_norm_bias;
    PackedLinear intermediate;
    PackedLinear output;
    std::vector<float> output_norm_weight, output_norm_bias;
  };

  BertModel() = default;
  void check_batch(const PackedBatch& batch) const;

  BertConfig config_;
  Precision precision_ = Precision::kF32;
  std::vector<float> word_embeddings_, position_embeddings_, type_embeddings_;
  std::vector<float> embedding_norm_weight_, embedding_norm_bias_;
  std::vector<Layer> layers_;
  std::optional<PackedLinear> pooler_;  // loaded only with a classifier
  std::optional<PackedLinear> classifier_;
  std::vector<std::string> labels_;
  Pooling pooling_ = Pooling::kMean;
  bool normalize_ = true;
  bool from_sentence_transformers_ = false;
};

}  // namespace salvo
