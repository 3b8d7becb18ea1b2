// The native CPU encoder: one post-LN transformer that every supported architecture runs on
// (BERT, RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA, MPNet), on packed (unpadded) batches of token
// ids, with its heads: sentence pooling for embed, a sequence-classification head for classify
// and score.
//
// Per token: embeddings (word + position [+ token type]) -> layer norm [-> projection]; then per
// layer: x = LN(x + Wo attention(Wqkv x [+ relative position bias])),
//            x = LN(x + W2 act(W1 x)).
// What differs between architectures (names, position numbering, token types, the embedding
// projection, the relative bias, the head) is data: an EncoderConfig and a CheckpointLayout from
// model/architectures/.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/large_buffer.h"
#include "model/architectures/architecture.h"
#include "model/encoder_config.h"
#include "model/packed_batch.h"
#include "model/sentence_transformers.h"

namespace salvo {

class WeightStore;

// The number formats of one layer's four linear products, and of its two attention products
// (f32 or bf16; see packed_attention).
struct LayerPrecision {
  Precision qkv = Precision::kF32;
  Precision attention_output = Precision::kF32;
  Precision intermediate = Precision::kF32;
  Precision output = Precision::kF32;
  AttentionPrecision attention;  // the formats of attention's two products
  // Smooth the input channels (PackedLinear's input_smoothing) of those of the qkv, intermediate
  // and output products that run in int8, with factors from the activations
  // EncoderOptions::calibration gives. Without a calibration batch, qkv and intermediate run in
  // plain int8 and output in bf16 (f32 on a CPU without bf16).
  bool smooth_int8 = false;
};

// The largest |value| of each input channel of one layer's qkv, intermediate and output products
// (the previous layer norm's output, the attention layer norm's output, and the feed-forward
// activation's output), over the tokens of a calibration run.
struct LayerInputPeaks {
  std::vector<float> qkv, intermediate, output;
};

// Load-time choices.
struct EncoderOptions {
  GemmBackend gemm = default_gemm_backend();
  // Number format of the encoder's linear layers (the embedding projection and the heads stay
  // float32).
  Precision precision = Precision::kF32;
  // When set, the format of each layer's products instead of layer_precision(precision, ...): for
  // tools that measure which products a format hurts.
  std::function<LayerPrecision(int64_t layer, int64_t num_layers)> layer_precisions;
  // Token rows whose activations set the smoothing of the products LayerPrecision::smooth_int8
  // marks: the encoder is built with those products in bf16, run once on this batch, and each
  // smoothed product rebuilt in int8 from the largest |activation| of each input channel.
  // Real text in the scripts and lengths the model will see (text_model.cc's probe batch). Only
  // read during the load.
  const PackedBatch* calibration = nullptr;
};

// The format each linear product of `layer` runs in when the encoder is asked for `precision`:
// `precision` everywhere, except that int8 smooths the inputs of its qkv, intermediate and output
// products (the layer norms' and the GELU's outputs, which carry the outlier channels real
// checkpoints have; see LayerPrecision::smooth_int8), and attention's two products run in bf16 for
// bf16 (int8 keeps them in f32). Measured on
// all-MiniLM-L6-v2 and all-mpnet-base-v2 over multilingual text: see docs/benchmarks.md, "Number
// formats on real checkpoints", and tools/bench/precision_study.py.
LayerPrecision layer_precision(Precision precision, int64_t layer, int64_t num_layers);

// The steps of hidden_states that EncoderTimings tells apart.
enum class EncoderStep {
  kEmbeddings,       // lookups, their layer norm [and projection]
  kQkv,              // the query/key/value product
  kAttention,        // scores, softmax and the value product
  kAttentionOutput,  // the attention output product with its residual add
  kAttentionNorm,    // the layer norm after it
  kIntermediate,     // the first feed-forward product with its activation
  kOutput,           // the second feed-forward product with its residual add
  kOutputNorm,       // the layer norm after it
  kCount,
};
const char* encoder_step_name(EncoderStep step);

// Seconds each step of hidden_states took, summed over the calls that were given it (for
// tools/bench/encoder_bench; a step fused into another counts as part of it).
struct EncoderTimings {
  std::array<double, static_cast<size_t>(EncoderStep::kCount)> seconds{};
};

// Working memory of one thread running a TransformerEncoder, grown to the largest batch it has
// seen.
struct EncoderScratch {
  ScratchBuffer embeddings, qkv, context, intermediate, hidden, first, head, position_bias;
  // When set, hidden_states adds the time of each step here.
  EncoderTimings* timings = nullptr;
  // When set, hidden_states raises each layer's peaks to the largest |value| of each input channel
  // of its products, sizing it to num_layers: the calibration behind smooth_int8.
  std::vector<LayerInputPeaks>* input_peaks = nullptr;
};

// A loaded encoder with its heads. Immutable once loaded: any number of threads may run it at
// once, each with its own EncoderScratch.
class TransformerEncoder {
 public:
  // Loads a Hugging Face folder: sentence-transformers files (modules.json, 1_Pooling/,
  // 2_Normalize, sentence_bert_config.json, the cross-encoder activation), config.json through the
  // architecture its model_type names, and the weights through open_weight_store. The
  // classification head loads when the checkpoint has its output tensor. Throws
  // salvo::Error(kModel) with file and reason, naming an unsupported model_type.
  static std::unique_ptr<TransformerEncoder> load(const std::filesystem::path& dir,
                                                  const EncoderOptions& options = {});
  // Builds an encoder from tensors already opened; `architecture` and `config` come from
  // config.json.
  static std::unique_ptr<TransformerEncoder> build(const WeightStore& weights, const Architecture& architecture,
                                                   EncoderConfig config, SentenceTransformersConfig sentence,
                                                   const EncoderOptions& options);
  ~TransformerEncoder();

  const EncoderConfig& config() const { return config_; }
  // The number format the encoder's linear layers were asked to run in.
  Precision precision() const { return precision_; }

  bool has_classifier() const { return classifier_out_.has_value(); }
  // id2label in id order (LABEL_i when absent); empty without a classifier unless the config
  // names labels.
  const std::vector<std::string>& labels() const { return labels_; }
  // Softmax or sigmoid (config.json problem_type).
  ClassifierOutput classifier_output() const { return config_.classifier_output; }
  // Which tensors the head is made of ("pooler.dense + tanh + classifier").
  const std::string& classifier_description() const { return classifier_description_; }
  // A one-output classification head: a cross-encoder, whose logit `score` reports.
  bool has_score() const { return has_classifier() && labels_.size() == 1; }
  // The activation `score` applies: the one sentence-transformers' CrossEncoder would.
  ScoreActivation score_activation() const { return score_activation_; }

  const SentenceTransformersConfig& sentence_transformers() const { return sentence_; }
  Pooling pooling() const { return sentence_.pooling; }
  bool normalize() const { return sentence_.normalize; }

  // Last hidden states, tokens() x hidden_size floats, row-major. Throws
  // salvo::Error(kInvalidArgument) for malformed batches, ids outside the vocabulary, token types
  // outside the table (when the model uses them) and sequences longer than config().max_tokens().
  void hidden_states(const PackedBatch& batch, EncoderScratch* scratch, float* out) const;
  // Pooled (and, if normalize(), L2-normalised) embeddings, rows() x hidden_size.
  void embed(const PackedBatch& batch, EncoderScratch* scratch, float* out) const;
  // The classification head's raw logits, rows() x labels().size(). Throws kModel without a head.
  void logits(const PackedBatch& batch, EncoderScratch* scratch, float* out) const;
  // Class probabilities, rows() x labels().size(): softmax, or a sigmoid per label for
  // multi-label heads. Throws kModel without a head.
  void classify(const PackedBatch& batch, EncoderScratch* scratch, float* out) const;
  // One score per row: the one logit through score_activation(). Throws kModel unless
  // has_score().
  void score(const PackedBatch& batch, EncoderScratch* scratch, float* out) const;

 private:
  struct Layer {
    PackedLinear qkv;  // query, key and value stacked: [3 hidden, hidden]
    PackedLinear attention_output;
    std::vector<float> attention_norm_weight, attention_norm_bias;
    PackedLinear intermediate;
    PackedLinear output;
    std::vector<float> output_norm_weight, output_norm_bias;
    AttentionPrecision attention;  // the formats of the two attention products
  };

  // The activations hidden_states works in: the qkv product's output, attention's context, the
  // feed-forward product's activations and the residual stream, each tokens() rows; and the
  // batch's relative position bias, if the model has one.
  struct LayerBuffers {
    float* qkv;
    float* context;
    float* intermediate;
    float* out;
    const RelativePositionBias* bias;
  };

  TransformerEncoder() = default;
  // Row indices that cut the batch into chunks for run_layers_in_chunks (first 0, last rows()), or
  // none to run each layer on the whole batch.
  std::vector<int64_t> sequence_chunks(const PackedBatch& batch) const;
  // One layer on the rows [first_row, end_row) of the batch, raising the peaks given (calibration).
  void run_layer(const Layer& layer, const PackedBatch& batch, int64_t first_row, int64_t end_row,
                 const LayerBuffers& buffers, EncoderTimings* timings, LayerInputPeaks* peaks) const;
  // Every layer on each chunk, one chunk per OpenMP thread at a time: the chunks hold whole
  // sequences, so each goes through the encoder on its own.
  void run_layers_in_chunks(const PackedBatch& batch, const std::vector<int64_t>& chunks,
                            const LayerBuffers& buffers, EncoderTimings* timings) const;
  void check_batch(const PackedBatch& batch) const;
  void embed_tokens(const PackedBatch& batch, EncoderScratch* scratch, float* out) const;
  const float* relative_position_bias(const PackedBatch& batch, EncoderScratch* scratch,
                                      int64_t* max_offset) const;

  EncoderConfig config_;
  SentenceTransformersConfig sentence_;
  Precision precision_ = Precision::kF32;
  std::vector<float> word_embeddings_, position_embeddings_, type_embeddings_;
  std::vector<float> embedding_norm_weight_, embedding_norm_bias_;
  std::optional<PackedLinear> embedding_projection_;
  std::vector<float> relative_attention_bias_;  // [buckets, heads]
  std::vector<Layer> layers_;
  std::optional<PackedLinear> classifier_dense_;
  HeadActivation classifier_activation_ = HeadActivation::kTanh;
  std::optional<PackedLinear> classifier_out_;
  std::string classifier_description_;
  std::vector<std::string> labels_;
  ScoreActivation score_activation_ = ScoreActivation::kSigmoid;
};

// The sentence-transformers files and config.json of a model folder, read by the architecture its
// model_type names, without the weights. Throws like TransformerEncoder::load.
EncoderConfig read_encoder_config(const std::filesystem::path& dir);

// MPNet's relative position bucket of a key `relative_position` = key - query tokens away, as
// transformers computes it (32 buckets, max distance 128): the first 16 buckets for keys before the
// query and at it, the next 16 for keys after it; exact offsets below 8, then log-spaced buckets
// up to offset 128, where the last bucket of each half takes every farther key.
int64_t relative_position_bucket(int64_t relative_position);

}  // namespace salvo
