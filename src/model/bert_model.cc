#include "model/bert_model.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_text.h"
#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/layer_norm.h"
#include "kernels/softmax.h"
#include "model/weight_store.h"

namespace salvo {
namespace fs = std::filesystem;
namespace {

float* grow(std::vector<float>& buffer, size_t n) {
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

}  // namespace

BertModel::~BertModel() = default;

std::unique_ptr<BertModel> BertModel::load(const fs::path& dir, const BertModelOptions& options) {
  if (!fs::is_directory(dir)) {
    throw Error(ErrorCode::kModel, dir.string() + ": model folder does not exist");
  }
  std::unique_ptr<BertModel> model(new BertModel());
  fs::path transformer_dir = dir;

  const fs::path modules_path = dir / "modules.json";
  if (fs::exists(modules_path)) {
    const SentenceTransformersModules modules = parse_modules_json(read_model_json(modules_path), modules_path.string());
    model->normalize_ = modules.normalize;
    if (!modules.transformer.empty() && fs::exists(dir / modules.transformer / "config.json")) {
      transformer_dir = dir / modules.transformer;
    }
    if (modules.pooling) {
      const fs::path pooling_path = dir / *modules.pooling / "config.json";
      model->pooling_ = parse_pooling_config(read_model_json(pooling_path), pooling_path.string());
      model->from_sentence_transformers_ = true;
    }
  }

  model->config_ = BertConfig::from_json_file(transformer_dir / "config.json");
  model->precision_ = options.precision;
  const BertConfig& c = model->config_;

  const std::unique_ptr<WeightStore> store = open_weight_store(transformer_dir);
  const WeightStore& weights = *store;
  const std::string weights_path = weights.describe();

  // Base-model checkpoints name tensors "embeddings..."; task checkpoints prefix them "bert.".
  auto resolve = [&](const std::string& name) {
    if (weights.contains(name)) return name;
    if (weights.contains("bert." + name)) return "bert." + name;
    throw Error(ErrorCode::kModel, weights_path + ": tensor '" + name + "' (or 'bert." +
                                       name + "') is missing");
  };
  auto get = [&](const std::string& name, std::vector<int64_t> shape) {
    const std::string resolved = resolve(name);
    std::vector<float> values = weights.to_float(resolved, shape);
    require_finite(values, weights_path, resolved);
    return values;
  };
  const int64_t h = c.hidden_size;
  const int64_t inter = c.intermediate_size;
  auto linear = [&](const std::string& prefix, int64_t n, int64_t k, Precision precision,
                    LinearEpilogue epilogue = {}) {
    const std::vector<float> w = get(prefix + ".weight", {n, k});
    const std::vector<float> b = get(prefix + ".bias", {n});
    return PackedLinear(w.data(), b.data(), n, k, options.gemm, precision, epilogue);
  };
  // The feed-forward activation and both residual adds run inside the linear layers' output
  // stage (see hidden_states), saving a pass over memory each.
  const LinearEpilogue activated{.activation = c.hidden_act};
  const LinearEpilogue residual{.activation = std::nullopt, .accumulate = true};
  const Precision encoder = options.precision;

  model->word_embeddings_ = get("embeddings.word_embeddings.weight", {c.vocab_size, h});
  model->position_embeddings_ =
      get("embeddings.position_embeddings.weight", {c.max_position_embeddings, h});
  model->type_embeddings_ = get("embeddings.token_type_embeddings.weight", {c.type_vocab_size, h});
  model->embedding_norm_weight_ = get("embeddings.LayerNorm.weight", {h});
  model->embedding_norm_bias_ = get("embeddings.LayerNorm.bias", {h});

  model->layers_.reserve(c.num_hidden_layers);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    std::vector<float> qkv_w;
    std::vector<float> qkv_b;
    qkv_w.reserve(3 * h * h);
    qkv_b.reserve(3 * h);
    for (const char* part : {"query", "key", "value"}) {
      const std::vector<float> w = get(p + "attention.self." + part + ".weight", {h, h});
      const std::vector<float> b = get(p + "attention.self." + part + ".bias", {h});
      qkv_w.insert(qkv_w.end(), w.begin(), w.end());
      qkv_b.insert(qkv_b.end(), b.begin(), b.end());
    }
    model->layers_.push_back(Layer{
        PackedLinear(qkv_w.data(), qkv_b.data(), 3 * h, h, options.gemm, encoder),
        linear(p + "attention.output.dense", h, h, encoder, residual),
        get(p + "attention.output.LayerNorm.weight", {h}),
        get(p + "attention.output.LayerNorm.bias", {h}),
        linear(p + "intermediate.dense", inter, h, encoder, activated),
        linear(p + "output.dense", h, inter, encoder, residual),
        get(p + "output.LayerNorm.weight", {h}),
        get(p + "output.LayerNorm.bias", {h}),
    });
  }

  if (weights.contains("classifier.weight")) {
    const WeightInfo t = weights.info("classifier.weight");
    if (t.shape.size() != 2 || t.shape[0] < 1 || t.shape[1] != h) {
      throw Error(ErrorCode::kModel, weights_path +
                                         ": tensor 'classifier.weight' must be [num_labels, " +
                                         std::to_string(h) + "]");
    }
    const int64_t num_labels = t.shape[0];
    // A handful of rows per batch: float32 costs nothing here and keeps the scores exact.
    model->pooler_.emplace(linear("pooler.dense", h, h, Precision::kF32));
    model->classifier_.emplace(linear("classifier", num_labels, h, Precision::kF32));
    if (c.id2label.empty()) {
      for (int64_t i = 0; i < num_labels; ++i) {
        model->labels_.push_back("LABEL_" + std::to_string(i));
      }
    } else if (static_cast<int64_t>(c.id2label.size()) != num_labels) {
      throw Error(ErrorCode::kModel, (transformer_dir / "config.json").string() +
                                         ": id2label has " + std::to_string(c.id2label.size()) +
                                         " labels but classifier.weight has " +
                                         std::to_string(num_labels) + " rows");
    } else {
      model->labels_ = c.id2label;
    }
  } else {
    model->labels_ = c.id2label;
  }
  return model;
}

void BertModel::check_batch(const PackedBatch& batch) const {
  auto fail = [](const std::string& why) {
    throw Error(ErrorCode::kInvalidArgument, "bad token batch: " + why);
  };
  const size_t tokens = batch.tokens();
  if (batch.offsets.empty()) {
    if (tokens != 0) fail("ids without offsets");
    return;
  }
  if (batch.offsets.front() != 0 || static_cast<size_t>(batch.offsets.back()) != tokens) {
    fail("offsets must run from 0 to the token count " + std::to_string(tokens));
  }
  if (!batch.type_ids.empty() && batch.type_ids.size() != tokens) {
    fail("type_ids has " + std::to_string(batch.type_ids.size()) + " entries for " +
         std::to_string(tokens) + " ids");
  }
  for (size_t r = 0; r < batch.rows(); ++r) {
    const int64_t len = int64_t{batch.offsets[r + 1]} - batch.offsets[r];
    if (len <= 0) fail("sequence " + std::to_string(r) + " is empty or offsets decrease");
    if (len > config_.max_position_embeddings) {
      fail("sequence " + std::to_string(r) + " has " + std::to_string(len) +
           " tokens, more than max_position_embeddings " +
           std::to_string(config_.max_position_embeddings));
    }
  }
  for (size_t t = 0; t < tokens; ++t) {
    if (batch.ids[t] < 0 || batch.ids[t] >= config_.vocab_size) {
      fail("token id " + std::to_string(batch.ids[t]) + " is outside the vocabulary of " +
           std::to_string(config_.vocab_size));
    }
  }
  for (int32_t type : batch.type_ids) {
    if (type < 0 || type >= config_.type_vocab_size) {
      fail("token type id " + std::to_string(type) + " is outside 0.." +
           std::to_string(config_.type_vocab_size - 1));
    }
  }
}

void BertModel::hidden_states(const PackedBatch& batch, BertScratch* scratch, float* out) const {
  check_batch(batch);
  const int64_t tokens = static_cast<int64_t>(batch.tokens());
  const int64_t rows = static_cast<int64_t>(batch.rows());
  if (tokens == 0) return;
  const int64_t h = config_.hidden_size;
  const int64_t inter = config_.intermediate_size;
  const float eps = config_.layer_norm_eps;
  const bool has_types = !batch.type_ids.empty();

#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t t = batch.offsets[r]; t < batch.offsets[r + 1]; ++t) {
      const float* word = word_embeddings_.data() + int64_t{batch.ids[t]} * h;
      const float* pos = position_embeddings_.data() + (t - batch.offsets[r]) * h;
      const float* type = type_embeddings_.data() + (has_types ? batch.type_ids[t] : 0) * h;
      float* x = out + t * h;
      for (int64_t i = 0; i < h; ++i) x[i] = word[i] + pos[i] + type[i];
    }
  }
  layer_norm(out, embedding_norm_weight_.data(), embedding_norm_bias_.data(), tokens, h, eps, out);

  float* qkv = grow(scratch->qkv, tokens * 3 * h);
  float* context = grow(scratch->context, tokens * h);
  float* intermediate = grow(scratch->intermediate, tokens * inter);
  // `out` holds the residual stream: the attention-output and output linears add their product
  // to it (LinearEpilogue::accumulate) and it is normalised in place; the intermediate linear
  // applies the activation itself.
  for (const Layer& layer : layers_) {
    layer.qkv.forward(out, tokens, qkv);
    packed_attention(qkv, batch.offsets.data(), rows, config_.num_attention_heads,
                     config_.head_dim(), context);
    layer.attention_output.forward(context, tokens, out);
    layer_norm(out, layer.attention_norm_weight.data(), layer.attention_norm_bias.data(), tokens,
               h, eps, out);
    layer.intermediate.forward(out, tokens, intermediate);
    layer.output.forward(intermediate, tokens, out);
    layer_norm(out, layer.output_norm_weight.data(), layer.output_norm_bias.data(), tokens, h, eps,
               out);
  }
}

void BertModel::embed(const PackedBatch& batch, BertScratch* scratch, float* out) const {
  const int64_t h = config_.hidden_size;
  float* hidden = grow(scratch->hidden, batch.tokens() * h);
  hidden_states(batch, scratch, hidden);
  const int64_t rows = static_cast<int64_t>(batch.rows());
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t begin = batch.offsets[r];
    const int64_t end = batch.offsets[r + 1];
    float* y = out + r * h;
    const float* first = hidden + begin * h;
    std::copy(first, first + h, y);
    for (int64_t t = begin + 1; t < end && pooling_ != Pooling::kCls; ++t) {
      const float* x = hidden + t * h;
      if (pooling_ == Pooling::kMean) {
        for (int64_t i = 0; i < h; ++i) y[i] += x[i];
      } else {
        for (int64_t i = 0; i < h; ++i) y[i] = std::max(y[i], x[i]);
      }
    }
    if (pooling_ == Pooling::kMean) {
      const float inv = 1.0f / static_cast<float>(end - begin);
      for (int64_t i = 0; i < h; ++i) y[i] *= inv;
    }
    if (normalize_) {
      double sq = 0.0;
      for (int64_t i = 0; i < h; ++i) sq += double{y[i]} * y[i];
      // Same floor as torch.nn.functional.normalize, so a zero vector stays zero.
      const float inv = 1.0f / std::max(static_cast<float>(std::sqrt(sq)), 1e-12f);
      for (int64_t i = 0; i < h; ++i) y[i] *= inv;
    }
  }
}

void BertModel::classify(const PackedBatch& batch, BertScratch* scratch, float* out) const {
  if (!classifier_) {
    throw Error(ErrorCode::kModel,
                "this model has no classification head (classifier.weight); use embed instead");
  }
  const int64_t h = config_.hidden_size;
  float* hidden = grow(scratch->hidden, batch.tokens() * h);
  hidden_states(batch, scratch, hidden);
  const int64_t rows = static_cast<int64_t>(batch.rows());
  float* cls = grow(scratch->cls, rows * h);
  for (int64_t r = 0; r < rows; ++r) {
    std::copy_n(hidden + int64_t{batch.offsets[r]} * h, h, cls + r * h);
  }
  float* pooled = grow(scratch->pooled, rows * h);
  pooler_->forward(cls, rows, pooled);
  tanh_inplace(pooled, rows * h);
  const int64_t labels = classifier_->out_features();
  classifier_->forward(pooled, rows, out);
  softmax_rows(out, rows, labels, labels);
}

}  // namespace salvo
