#include "model/transformer_encoder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>

#include <omp.h>

#include "core/error.h"
#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/layer_norm.h"
#include "kernels/quantize.h"
#include "kernels/softmax.h"
#include "model/weight_store.h"

namespace salvo {
namespace fs = std::filesystem;
namespace {

// A linear layer y = x w^T + b; with `peaks` (the largest |x| per input channel of a calibration
// run) its input channels are smoothed with SmoothQuant's factors at `strength`.
PackedLinear make_linear(const std::vector<float>& w, const std::vector<float>& b, int64_t n, int64_t k,
                         GemmBackend gemm, Precision precision, LinearEpilogue epilogue,
                         const std::vector<float>* peaks, float strength) {
  if (peaks == nullptr) return PackedLinear(w.data(), b.data(), n, k, gemm, precision, epilogue);
  const std::vector<float> factors = smoothing_factors(peaks->data(), w.data(), n, k, strength);
  return PackedLinear(w.data(), b.data(), n, k, gemm, precision, epilogue, factors.data());
}

// Looks tensors up under the names a CheckpointLayout gives, bare or behind one of its prefixes.
class LayoutReader {
 public:
  LayoutReader(const WeightStore& weights, const CheckpointLayout& layout) : weights_(weights), layout_(layout) {}

  std::optional<std::string> find(const std::string& name) const {
    if (weights_.contains(name)) return name;
    for (const std::string& prefix : layout_.prefixes) {
      if (weights_.contains(prefix + name)) return prefix + name;
    }
    return std::nullopt;
  }

  bool has(const std::string& name) const { return find(name).has_value(); }

  std::string resolve(const std::string& name) const {
    if (auto found = find(name)) return *found;
    std::string alternatives;
    for (const std::string& prefix : layout_.prefixes) {
      alternatives += std::string(alternatives.empty() ? " (or '" : "', '") + prefix + name;
    }
    if (!alternatives.empty()) alternatives += "')";
    throw Error(ErrorCode::kModel, weights_.describe() + ": tensor '" + name + "'" + alternatives + " is missing");
  }

  // The tensor as f32; a NaN or infinite weight fails the load, naming the tensor.
  std::vector<float> get(const std::string& name, std::vector<int64_t> shape) const {
    const std::string stored = resolve(name);
    std::vector<float> values = weights_.to_float(stored, shape);
    require_finite(values, weights_.describe(), stored);
    return values;
  }

  // The first dimension of a 2-D tensor whose second is `columns`.
  int64_t rows_of(const std::string& name, int64_t columns) const {
    const std::string stored = resolve(name);
    const WeightInfo info = weights_.info(stored);
    if (info.shape.size() != 2 || info.shape[0] < 1 || info.shape[1] != columns) {
      throw Error(ErrorCode::kModel, weights_.describe() + ": tensor '" + stored + "' must be [rows, " +
                                         std::to_string(columns) + "]");
    }
    return info.shape[0];
  }

  // With `peaks` the product's input channels are smoothed (SmoothQuant at `strength`).
  PackedLinear linear(const std::string& module, int64_t n, int64_t k, GemmBackend gemm, Precision precision,
                      LinearEpilogue epilogue = {}, const std::vector<float>* peaks = nullptr,
                      float strength = 0.0f) const {
    const std::vector<float> w = get(module + ".weight", {n, k});
    const std::vector<float> b = get(module + ".bias", {n});
    return make_linear(w, b, n, k, gemm, precision, epilogue, peaks, strength);
  }

  // The query, key and value products stacked into one [3 h, h].
  PackedLinear qkv(const EncoderLayerNames& names, int64_t h, GemmBackend gemm, Precision precision,
                   const std::vector<float>* peaks, float strength) const {
    std::vector<float> w;
    std::vector<float> b;
    w.reserve(3 * h * h);
    b.reserve(3 * h);
    for (const std::string& part : {names.query, names.key, names.value}) {
      const std::vector<float> part_w = get(part + ".weight", {h, h});
      const std::vector<float> part_b = get(part + ".bias", {h});
      w.insert(w.end(), part_w.begin(), part_w.end());
      b.insert(b.end(), part_b.begin(), part_b.end());
    }
    return make_linear(w, b, 3 * h, h, gemm, precision, {}, peaks, strength);
  }

 private:
  const WeightStore& weights_;
  const CheckpointLayout& layout_;
};

void apply_head_activation(HeadActivation activation, float* x, int64_t n) {
  switch (activation) {
    case HeadActivation::kTanh: tanh_inplace(x, n); return;
    case HeadActivation::kRelu: relu(x, n); return;
    case HeadActivation::kGelu: gelu_erf(x, n); return;
  }
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// peaks[p] = max(peaks[p], max_t |x[t, p]|) over x [rows, columns], sizing peaks to columns.
void raise_channel_peaks(const float* x, int64_t rows, int64_t columns, std::vector<float>* peaks) {
  peaks->resize(columns, 0.0f);
  float* peak = peaks->data();
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t p = 0; p < columns; ++p) peak[p] = std::max(peak[p], std::fabs(x[t * columns + p]));
  }
}

// SmoothQuant's migration strengths for int8's products: the feed-forward output product (whose
// input is the GELU output) and the two that read a layer norm's output (qkv, intermediate). The
// worst row's cosine to f32 on 1,400 rows of multilingual text at each strength is in
// docs/benchmarks.md, "Number formats on real checkpoints"; these have the best worst case over
// all-MiniLM-L6-v2 and all-mpnet-base-v2.
constexpr float kFeedForwardSmoothing = 0.35f;
constexpr float kLayerNormSmoothing = 0.5f;

// Runs `step` and, when timings are asked for, adds its duration to them.
template <typename Step>
void timed(EncoderTimings* timings, EncoderStep which, Step&& step) {
  if (timings == nullptr) {
    step();
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  step();
  timings->seconds[static_cast<size_t>(which)] +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

const char* encoder_step_name(EncoderStep step) {
  switch (step) {
    case EncoderStep::kEmbeddings: return "embeddings";
    case EncoderStep::kQkv: return "qkv";
    case EncoderStep::kAttention: return "attention";
    case EncoderStep::kAttentionOutput: return "attention_output";
    case EncoderStep::kAttentionNorm: return "attention_norm";
    case EncoderStep::kIntermediate: return "intermediate";
    case EncoderStep::kOutput: return "output";
    case EncoderStep::kOutputNorm: return "output_norm";
    case EncoderStep::kCount: break;
  }
  return "unknown";
}

LayerPrecision layer_precision(Precision precision, int64_t, int64_t) {
  LayerPrecision p{precision, precision, precision, precision, {}};
  if (precision == Precision::kBF16 && attention_bf16_available()) p.attention = {Precision::kBF16, Precision::kBF16};
  // bf16 scores cost int8 more than its bound allows on all-mpnet-base-v2 (0.997 -> 0.988 minimum
  // cosine on real text), so int8 keeps them in float32. Its value product runs in bf16: that
  // moved the worst row from 0.9961 to 0.9956 (all-MiniLM-L6-v2: 0.9967 to 0.9969) for 3-4% less
  // time on MiniLM's shape.
  if (precision == Precision::kInt8 && attention_bf16_available()) p.attention = {Precision::kF32, Precision::kBF16};
  // The GELU output has a few channels tens of times larger than the rest in real checkpoints,
  // and the layer norms' outputs a few too; one uint8 scale per row would leave the other channels
  // a handful of levels (all-mpnet-base-v2's worst row with the feed-forward output product in
  // plain int8: 0.986 cosine, bound 0.99).
  p.smooth_int8 = precision == Precision::kInt8;
  return p;
}

int64_t relative_position_bucket(int64_t relative_position) {
  // transformers: n = -(key - query); keys after the query take the upper half of the buckets;
  // below 8 the offset is its own bucket, above it 8 + floor(8 * log(n / 8) / log(128 / 8)),
  // that is 8 + floor(log2(n^2 / 64)), capped at 15. Integer arithmetic gives the same buckets as
  // transformers' float32 logs for every offset (checked against it in the parity test).
  constexpr int64_t kHalf = 16;
  constexpr int64_t kExact = 8;
  int64_t bucket = relative_position > 0 ? kHalf : 0;
  const int64_t n = relative_position < 0 ? -relative_position : relative_position;
  if (n < kExact) return bucket + n;
  int64_t k = 0;
  while (k < kHalf - kExact - 1 && (int64_t{64} << (k + 1)) <= n * n) ++k;
  return bucket + kExact + k;
}

EncoderConfig read_encoder_config(const fs::path& dir) {
  const SentenceTransformersConfig sentence = read_sentence_transformers_config(dir);
  return parse_encoder_config(ConfigJson::from_file(sentence.transformer_dir / "config.json"));
}

TransformerEncoder::~TransformerEncoder() = default;

std::unique_ptr<TransformerEncoder> TransformerEncoder::load(const fs::path& dir, const EncoderOptions& options) {
  if (!fs::is_directory(dir)) throw Error(ErrorCode::kModel, dir.string() + ": model folder does not exist");
  SentenceTransformersConfig sentence = read_sentence_transformers_config(dir);
  const ConfigJson json = ConfigJson::from_file(sentence.transformer_dir / "config.json");
  const Architecture& architecture = find_architecture(json.model_type(), json.source());
  EncoderConfig config = architecture.read_config(json);
  json.finish(&config);
  const std::unique_ptr<WeightStore> store = open_weight_store(sentence.transformer_dir);
  return build(*store, architecture, std::move(config), std::move(sentence), options);
}

std::unique_ptr<TransformerEncoder> TransformerEncoder::build(const WeightStore& weights,
                                                              const Architecture& architecture, EncoderConfig config,
                                                              SentenceTransformersConfig sentence,
                                                              const EncoderOptions& options) {
  std::unique_ptr<TransformerEncoder> model(new TransformerEncoder());
  model->config_ = std::move(config);
  model->sentence_ = std::move(sentence);
  model->precision_ = options.precision;
  const EncoderConfig& c = model->config_;
  const CheckpointLayout layout = architecture.layout(c);
  const LayoutReader reader(weights, layout);
  const int64_t h = c.hidden_size;
  const int64_t e = c.embedding_size;
  const int64_t inter = c.intermediate_size;

  model->word_embeddings_ = reader.get(layout.word_embeddings + ".weight", {c.vocab_size, e});
  model->position_embeddings_ = reader.get(layout.position_embeddings + ".weight", {c.max_position_embeddings, e});
  if (c.token_types != TokenTypes::kAbsent) {
    model->type_embeddings_ = reader.get(layout.token_type_embeddings + ".weight", {c.type_vocab_size, e});
  }
  model->embedding_norm_weight_ = reader.get(layout.embedding_norm + ".weight", {e});
  model->embedding_norm_bias_ = reader.get(layout.embedding_norm + ".bias", {e});
  if (!layout.embedding_projection.empty()) {
    model->embedding_projection_.emplace(reader.linear(layout.embedding_projection, h, e, options.gemm, Precision::kF32));
  } else if (e != h) {
    throw Error(ErrorCode::kModel, weights.describe() + ": embedding_size " + std::to_string(e) +
                                       " differs from hidden_size " + std::to_string(h) +
                                       " but the architecture has no embedding projection");
  }
  if (c.relative_attention_buckets > 0) {
    model->relative_attention_bias_ =
        reader.get(layout.relative_attention_bias + ".weight", {c.relative_attention_buckets, c.num_heads});
  }

  // The feed-forward activation and both residual adds run inside the linear layers' output
  // stage (see hidden_states), saving a pass over memory each.
  const LinearEpilogue activated{.activation = c.hidden_act};
  const LinearEpilogue residual{.activation = std::nullopt, .accumulate = true};
  // The config's layer count must be the checkpoint's: checked before anything is allocated for
  // it (a hostile num_hidden_layers of 10^9 must be an error, not an allocation failure).
  if (!reader.has(layout.layer(c.num_layers - 1).query + ".weight") ||
      reader.has(layout.layer(c.num_layers).query + ".weight")) {
    int64_t held = 0;
    while (held < (int64_t{1} << 16) && reader.has(layout.layer(held).query + ".weight")) ++held;
    throw Error(ErrorCode::kModel, weights.describe() + ": config.json says num_hidden_layers " +
                                       std::to_string(c.num_layers) + ", the checkpoint holds " +
                                       std::to_string(held) + " layers");
  }
  const bool calibrate = options.calibration != nullptr && options.calibration->tokens() > 0;
  const Precision unsmoothed = precision_unavailable_reason(Precision::kBF16).empty() ? Precision::kBF16 : Precision::kF32;
  // Layer i's products in `precision`; with `peaks`, those that smooth_int8 covers and that run in
  // int8 are smoothed from them. Without, those products run in bf16 for the calibration run (its
  // activations then are float32's within bf16's rounding); with no calibration to come, only the
  // feed-forward output product does, and the other two run in plain int8.
  auto make_layer = [&](int64_t i, LayerPrecision precision, const LayerInputPeaks* peaks) {
    const EncoderLayerNames names = layout.layer(i);
    auto smoothed = [&](Precision product, std::vector<float> LayerInputPeaks::*input) -> const std::vector<float>* {
      return peaks != nullptr && precision.smooth_int8 && product == Precision::kInt8 ? &(peaks->*input) : nullptr;
    };
    if (peaks == nullptr && precision.smooth_int8) {
      for (Precision* product : {&precision.qkv, &precision.intermediate, &precision.output}) {
        if (*product == Precision::kInt8 && (calibrate || product == &precision.output)) *product = unsmoothed;
      }
    }
    return Layer{
        reader.qkv(names, h, options.gemm, precision.qkv, smoothed(precision.qkv, &LayerInputPeaks::qkv), kLayerNormSmoothing),
        reader.linear(names.attention_output, h, h, options.gemm, precision.attention_output, residual),
        reader.get(names.attention_norm + ".weight", {h}),
        reader.get(names.attention_norm + ".bias", {h}),
        reader.linear(names.intermediate, inter, h, options.gemm, precision.intermediate, activated,
                      smoothed(precision.intermediate, &LayerInputPeaks::intermediate), kLayerNormSmoothing),
        reader.linear(names.output, h, inter, options.gemm, precision.output, residual,
                      smoothed(precision.output, &LayerInputPeaks::output), kFeedForwardSmoothing),
        reader.get(names.output_norm + ".weight", {h}),
        reader.get(names.output_norm + ".bias", {h}),
        precision.attention,
    };
  };
  std::vector<LayerPrecision> precisions;
  model->layers_.reserve(c.num_layers);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    precisions.push_back(options.layer_precisions ? options.layer_precisions(i, c.num_layers)
                                                  : layer_precision(options.precision, i, c.num_layers));
    model->layers_.push_back(make_layer(i, precisions[i], nullptr));
  }
  // Smoothing: the model as built runs the calibration batch, then each smoothed layer is rebuilt
  // from the peaks it recorded.
  const bool smooth = std::any_of(precisions.begin(), precisions.end(), [](const LayerPrecision& p) { return p.smooth_int8; });
  if (smooth && calibrate) {
    std::vector<LayerInputPeaks> peaks;
    EncoderScratch scratch;
    scratch.input_peaks = &peaks;
    std::vector<float> hidden(options.calibration->tokens() * h);
    model->hidden_states(*options.calibration, &scratch, hidden.data());
    for (int64_t i = 0; i < c.num_layers; ++i) {
      if (precisions[i].smooth_int8) model->layers_[i] = make_layer(i, precisions[i], &peaks[i]);
    }
  }

  const ClassifierHeadNames& head = layout.classifier;
  if (reader.has(head.out + ".weight")) {
    const int64_t num_labels = reader.rows_of(head.out + ".weight", h);
    // A handful of rows per batch: float32 costs nothing here and keeps the scores exact.
    model->classifier_dense_.emplace(reader.linear(head.dense, h, h, options.gemm, Precision::kF32));
    model->classifier_out_.emplace(reader.linear(head.out, num_labels, h, options.gemm, Precision::kF32));
    model->classifier_activation_ = head.activation;
    model->classifier_description_ = layout.classifier_description;
    if (c.id2label.empty()) {
      for (int64_t i = 0; i < num_labels; ++i) model->labels_.push_back("LABEL_" + std::to_string(i));
    } else if (static_cast<int64_t>(c.id2label.size()) != num_labels) {
      throw Error(ErrorCode::kModel, (model->sentence_.transformer_dir / "config.json").string() + ": id2label has " +
                                         std::to_string(c.id2label.size()) + " labels but " + head.out +
                                         ".weight has " + std::to_string(num_labels) + " rows");
    } else {
      model->labels_ = c.id2label;
    }
  } else {
    model->labels_ = c.id2label;
  }
  model->score_activation_ = model->sentence_.score_activation.value_or(ScoreActivation::kSigmoid);
  return model;
}

void TransformerEncoder::check_batch(const PackedBatch& batch) const {
  auto fail = [](const std::string& why) { throw Error(ErrorCode::kInvalidArgument, "bad token batch: " + why); };
  const size_t tokens = batch.tokens();
  if (batch.offsets.empty()) {
    if (tokens != 0) fail("ids without offsets");
    return;
  }
  if (batch.offsets.front() != 0 || static_cast<size_t>(batch.offsets.back()) != tokens) {
    fail("offsets must run from 0 to the token count " + std::to_string(tokens));
  }
  if (!batch.type_ids.empty() && batch.type_ids.size() != tokens) {
    fail("type_ids has " + std::to_string(batch.type_ids.size()) + " entries for " + std::to_string(tokens) + " ids");
  }
  const int64_t max_tokens = config_.max_tokens();
  for (size_t r = 0; r < batch.rows(); ++r) {
    const int64_t len = int64_t{batch.offsets[r + 1]} - batch.offsets[r];
    if (len <= 0) fail("sequence " + std::to_string(r) + " is empty or offsets decrease");
    if (len > max_tokens) {
      fail("sequence " + std::to_string(r) + " has " + std::to_string(len) + " tokens, more than the " +
           std::to_string(max_tokens) + " positions of the model (max_position_embeddings " +
           std::to_string(config_.max_position_embeddings) + ")");
    }
  }
  for (size_t t = 0; t < tokens; ++t) {
    if (batch.ids[t] < 0 || batch.ids[t] >= config_.vocab_size) {
      fail("token id " + std::to_string(batch.ids[t]) + " is outside the vocabulary of " +
           std::to_string(config_.vocab_size));
    }
  }
  if (config_.token_types == TokenTypes::kFromBatch) {
    for (int32_t type : batch.type_ids) {
      if (type < 0 || type >= config_.type_vocab_size) {
        fail("token type id " + std::to_string(type) + " is outside 0.." + std::to_string(config_.type_vocab_size - 1));
      }
    }
  }
}

void TransformerEncoder::embed_tokens(const PackedBatch& batch, EncoderScratch* scratch, float* out) const {
  const int64_t tokens = static_cast<int64_t>(batch.tokens());
  const int64_t rows = static_cast<int64_t>(batch.rows());
  const int64_t e = config_.embedding_size;
  // With a projection the embeddings are built at embedding_size in scratch, then projected.
  float* x = embedding_projection_ ? scratch->embeddings.grow(tokens * e) : out;
  const bool batch_types = config_.token_types == TokenTypes::kFromBatch && !batch.type_ids.empty();
  const bool any_types = config_.token_types != TokenTypes::kAbsent;
  const bool after_padding = config_.position_ids == PositionIds::kAfterPadding;
  const int64_t padding_idx = config_.padding_idx;

#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t counted = padding_idx;  // kAfterPadding: the last position given to a non-padding token
    for (int64_t t = batch.offsets[r]; t < batch.offsets[r + 1]; ++t) {
      int64_t position = t - batch.offsets[r];
      if (after_padding) position = batch.ids[t] == padding_idx ? padding_idx : ++counted;
      const float* word = word_embeddings_.data() + int64_t{batch.ids[t]} * e;
      const float* pos = position_embeddings_.data() + position * e;
      float* y = x + t * e;
      if (any_types) {
        const float* type = type_embeddings_.data() + (batch_types ? batch.type_ids[t] : 0) * e;
        for (int64_t i = 0; i < e; ++i) y[i] = word[i] + type[i] + pos[i];
      } else {
        for (int64_t i = 0; i < e; ++i) y[i] = word[i] + pos[i];
      }
    }
  }
  layer_norm(x, embedding_norm_weight_.data(), embedding_norm_bias_.data(), tokens, e, config_.layer_norm_eps, x);
  if (embedding_projection_) embedding_projection_->forward(x, tokens, out);
}

const float* TransformerEncoder::relative_position_bias(const PackedBatch& batch, EncoderScratch* scratch,
                                                        int64_t* max_offset) const {
  int64_t longest = 1;
  for (size_t r = 0; r < batch.rows(); ++r) {
    longest = std::max<int64_t>(longest, int64_t{batch.offsets[r + 1]} - batch.offsets[r]);
  }
  const int64_t heads = config_.num_heads;
  const int64_t span = 2 * (longest - 1) + 1;
  float* table = scratch->position_bias.grow(heads * span);
  for (int64_t d = -(longest - 1); d <= longest - 1; ++d) {
    const float* row = relative_attention_bias_.data() + relative_position_bucket(d) * heads;
    for (int64_t head = 0; head < heads; ++head) table[head * span + (longest - 1) + d] = row[head];
  }
  *max_offset = longest - 1;
  return table;
}

void TransformerEncoder::hidden_states(const PackedBatch& batch, EncoderScratch* scratch, float* out) const {
  check_batch(batch);
  const int64_t tokens = static_cast<int64_t>(batch.tokens());
  const int64_t rows = static_cast<int64_t>(batch.rows());
  if (tokens == 0) return;
  const int64_t h = config_.hidden_size;
  const int64_t inter = config_.intermediate_size;

  EncoderTimings* timings = scratch->timings;
  timed(timings, EncoderStep::kEmbeddings, [&] { embed_tokens(batch, scratch, out); });

  std::optional<RelativePositionBias> bias;
  if (!relative_attention_bias_.empty()) {
    int64_t max_offset = 0;
    const float* values = relative_position_bias(batch, scratch, &max_offset);
    bias = RelativePositionBias{values, max_offset};
  }

  const LayerBuffers buffers{
      .qkv = scratch->qkv.grow(tokens * 3 * h),
      .context = scratch->context.grow(tokens * h),
      .intermediate = scratch->intermediate.grow(tokens * inter),
      .out = out,
      .bias = bias ? &*bias : nullptr,
  };
  std::vector<LayerInputPeaks>* peaks = scratch->input_peaks;
  if (peaks != nullptr) peaks->resize(layers_.size());
  // Calibration raises shared peaks between the steps, so it takes the whole batch at once.
  const std::vector<int64_t> chunks = peaks != nullptr ? std::vector<int64_t>{} : sequence_chunks(batch);
  if (!chunks.empty()) {
    run_layers_in_chunks(batch, chunks, buffers, timings);
    return;
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    run_layer(layers_[i], batch, 0, rows, buffers, timings, peaks != nullptr ? &(*peaks)[i] : nullptr);
  }
}

std::vector<int64_t> TransformerEncoder::sequence_chunks(const PackedBatch& batch) const {
  // Layer by layer over the whole batch, every step streams activations of several MiB through
  // memory (the qkv output alone is tokens x 3 hidden floats), and int8's quantising and scaling
  // passes read and write them once more around each product. A chunk of whole sequences of about
  // 256 tokens, carried through every layer by one thread, keeps its activations in that core's
  // caches; only the weights are shared. In encoder_bench, 32 x 128 tokens, 2 threads, the whole
  // batch against chunks: MiniLM int8 90-94 -> 74-76 ms, bf16 127-129 -> 115 ms, f32 208-218 ->
  // 204-208 ms; BERT-base int8 565 -> 485 ms, bf16 880-885 -> 855-857 ms, f32 1,589-1,604 ->
  // 1,561-1,572 ms. Chunks of 128 and 512 tokens measured no better. A batch gets chunks when it
  // makes at least two per thread, so that the last ones balance. One thread (a replica of
  // --replicas 2 on 2 cores, a Spark task with one core) runs its chunks one after the other.
  constexpr int64_t kChunkTokens = 256;
  std::vector<int64_t> bounds;
  if (omp_in_parallel()) return bounds;
  if (static_cast<int64_t>(batch.tokens()) < 2 * omp_get_max_threads() * kChunkTokens) return bounds;
  bounds.push_back(0);
  for (size_t r = 1; r <= batch.rows(); ++r) {
    if (r == batch.rows() || batch.offsets[r] - batch.offsets[bounds.back()] >= kChunkTokens) {
      bounds.push_back(static_cast<int64_t>(r));
    }
  }
  return bounds;
}

void TransformerEncoder::run_layer(const Layer& layer, const PackedBatch& batch, int64_t first_row, int64_t end_row,
                                   const LayerBuffers& buffers, EncoderTimings* timings, LayerInputPeaks* peaks) const {
  const int64_t h = config_.hidden_size;
  const int64_t inter = config_.intermediate_size;
  const float eps = config_.layer_norm_eps;
  const int64_t begin = batch.offsets[first_row];
  const int64_t count = batch.offsets[end_row] - begin;
  float* out = buffers.out + begin * h;
  float* intermediate = buffers.intermediate + begin * inter;
  // `out` holds the residual stream: the attention-output and output linears add their product
  // to it (LinearEpilogue::accumulate) and it is normalised in place; the intermediate linear
  // applies the activation itself.
  if (peaks != nullptr) raise_channel_peaks(out, count, h, &peaks->qkv);
  timed(timings, EncoderStep::kQkv, [&] { layer.qkv.forward(out, count, buffers.qkv + begin * 3 * h); });
  timed(timings, EncoderStep::kAttention, [&] {
    // The offsets are the batch's own, so the rows' tokens stay where qkv and context hold them.
    packed_attention(buffers.qkv, batch.offsets.data() + first_row, end_row - first_row, config_.num_heads,
                     config_.head_dim(), buffers.context, buffers.bias, layer.attention);
  });
  timed(timings, EncoderStep::kAttentionOutput,
        [&] { layer.attention_output.forward(buffers.context + begin * h, count, out); });
  timed(timings, EncoderStep::kAttentionNorm, [&] {
    layer_norm(out, layer.attention_norm_weight.data(), layer.attention_norm_bias.data(), count, h, eps, out);
  });
  if (peaks != nullptr) raise_channel_peaks(out, count, h, &peaks->intermediate);
  timed(timings, EncoderStep::kIntermediate, [&] { layer.intermediate.forward(out, count, intermediate); });
  if (peaks != nullptr) raise_channel_peaks(intermediate, count, inter, &peaks->output);
  timed(timings, EncoderStep::kOutput, [&] { layer.output.forward(intermediate, count, out); });
  timed(timings, EncoderStep::kOutputNorm, [&] {
    layer_norm(out, layer.output_norm_weight.data(), layer.output_norm_bias.data(), count, h, eps, out);
  });
}

void TransformerEncoder::run_layers_in_chunks(const PackedBatch& batch, const std::vector<int64_t>& chunks,
                                              const LayerBuffers& buffers, EncoderTimings* timings) const {
  const int64_t n_chunks = static_cast<int64_t>(chunks.size()) - 1;
  std::exception_ptr error;
#pragma omp parallel
  {
    // Each thread times its own chunks; their sum over the team, divided by its size, is the
    // step's share of the wall time.
    EncoderTimings own;
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < n_chunks; ++c) {
      try {
        for (const Layer& layer : layers_) {
          run_layer(layer, batch, chunks[c], chunks[c + 1], buffers, timings != nullptr ? &own : nullptr, nullptr);
        }
      } catch (...) {
#pragma omp critical(salvo_encoder_chunk_error)
        if (!error) error = std::current_exception();
      }
    }
    if (timings != nullptr) {
      const double team = omp_get_num_threads();
#pragma omp critical(salvo_encoder_chunk_timings)
      for (size_t s = 0; s < own.seconds.size(); ++s) timings->seconds[s] += own.seconds[s] / team;
    }
  }
  if (error) std::rethrow_exception(error);
}

void TransformerEncoder::embed(const PackedBatch& batch, EncoderScratch* scratch, float* out) const {
  const int64_t h = config_.hidden_size;
  float* hidden = scratch->hidden.grow(batch.tokens() * h);
  hidden_states(batch, scratch, hidden);
  const int64_t rows = static_cast<int64_t>(batch.rows());
  const Pooling pooling = sentence_.pooling;
  const bool normalize = sentence_.normalize;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t begin = batch.offsets[r];
    const int64_t end = batch.offsets[r + 1];
    float* y = out + r * h;
    const float* first = hidden + begin * h;
    std::copy(first, first + h, y);
    for (int64_t t = begin + 1; t < end && pooling != Pooling::kCls; ++t) {
      const float* x = hidden + t * h;
      if (pooling == Pooling::kMean) {
        for (int64_t i = 0; i < h; ++i) y[i] += x[i];
      } else {
        for (int64_t i = 0; i < h; ++i) y[i] = std::max(y[i], x[i]);
      }
    }
    if (pooling == Pooling::kMean) {
      const float inv = 1.0f / static_cast<float>(end - begin);
      for (int64_t i = 0; i < h; ++i) y[i] *= inv;
    }
    if (normalize) {
      double sq = 0.0;
      for (int64_t i = 0; i < h; ++i) sq += double{y[i]} * y[i];
      // Same floor as torch.nn.functional.normalize, so a zero vector stays zero.
      const float inv = 1.0f / std::max(static_cast<float>(std::sqrt(sq)), 1e-12f);
      for (int64_t i = 0; i < h; ++i) y[i] *= inv;
    }
  }
}

void TransformerEncoder::logits(const PackedBatch& batch, EncoderScratch* scratch, float* out) const {
  if (!classifier_out_) {
    throw Error(ErrorCode::kModel, "this model has no sequence-classification head (" +
                                       (classifier_description_.empty() ? std::string("classifier weights")
                                                                        : classifier_description_) +
                                       "); use embed instead");
  }
  const int64_t h = config_.hidden_size;
  float* hidden = scratch->hidden.grow(batch.tokens() * h);
  hidden_states(batch, scratch, hidden);
  const int64_t rows = static_cast<int64_t>(batch.rows());
  float* first = scratch->first.grow(rows * h);
  for (int64_t r = 0; r < rows; ++r) std::copy_n(hidden + int64_t{batch.offsets[r]} * h, h, first + r * h);
  float* dense = scratch->head.grow(rows * h);
  classifier_dense_->forward(first, rows, dense);
  apply_head_activation(classifier_activation_, dense, rows * h);
  classifier_out_->forward(dense, rows, out);
}

void TransformerEncoder::classify(const PackedBatch& batch, EncoderScratch* scratch, float* out) const {
  logits(batch, scratch, out);
  const int64_t rows = static_cast<int64_t>(batch.rows());
  const int64_t labels = classifier_out_->out_features();
  if (config_.classifier_output == ClassifierOutput::kSigmoid) {
    for (int64_t i = 0; i < rows * labels; ++i) out[i] = sigmoid(out[i]);
  } else {
    softmax_rows(out, rows, labels, labels);
  }
}

void TransformerEncoder::score(const PackedBatch& batch, EncoderScratch* scratch, float* out) const {
  if (!has_score()) {
    throw Error(ErrorCode::kModel, "this model has no one-output classification head (a cross-encoder's); it " +
                                       std::string(has_classifier() ? "has " + std::to_string(labels_.size()) +
                                                                          " labels: use classify"
                                                                    : "has no classification head"));
  }
  logits(batch, scratch, out);
  const int64_t rows = static_cast<int64_t>(batch.rows());
  for (int64_t r = 0; r < rows; ++r) {
    switch (score_activation_) {
      case ScoreActivation::kSigmoid: out[r] = sigmoid(out[r]); break;
      case ScoreActivation::kIdentity: break;
      case ScoreActivation::kTanh: out[r] = std::tanh(out[r]); break;
    }
  }
}

}  // namespace salvo
