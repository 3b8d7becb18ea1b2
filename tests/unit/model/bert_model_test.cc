#include "model/bert_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "core/error.h"
#include "model/safetensors.h"
#include "test_checkpoint.h"

namespace salvo {
namespace {

// Scratch shared by the tests in this file, as one thread would reuse it.
thread_local BertScratch scratch_;

using ::testing::HasSubstr;
using testing::TempDir;
using testing::write_text;

constexpr int64_t kVocab = 40, kHidden = 16, kLayers = 2, kHeads = 4, kInter = 24, kMaxPos = 20;

struct Weight {
  std::vector<int64_t> shape;
  std::vector<float> values;
};
using Weights = std::map<std::string, Weight>;

// Random weights for a tiny BERT; larger than the usual 0.02 init so attention is not uniform
// and every term matters numerically.
Weights tiny_weights(uint32_t seed, int64_t num_labels) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Weights w;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float mean, float std) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(n);
    for (float& x : v) x = mean + std * normal(rng);
    w[name] = {shape, v};
  };
  add("embeddings.word_embeddings.weight", {kVocab, kHidden}, 0, 0.5f);
  add("embeddings.position_embeddings.weight", {kMaxPos, kHidden}, 0, 0.5f);
  add("embeddings.token_type_embeddings.weight", {2, kHidden}, 0, 0.5f);
  add("embeddings.LayerNorm.weight", {kHidden}, 1, 0.2f);
  add("embeddings.LayerNorm.bias", {kHidden}, 0, 0.2f);
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* part : {"query", "key", "value"}) {
      add(p + "attention.self." + part + ".weight", {kHidden, kHidden}, 0, 0.4f);
      add(p + "attention.self." + part + ".bias", {kHidden}, 0, 0.2f);
    }
    add(p + "attention.output.dense.weight", {kHidden, kHidden}, 0, 0.3f);
    add(p + "attention.output.dense.bias", {kHidden}, 0, 0.2f);
    add(p + "attention.output.LayerNorm.weight", {kHidden}, 1, 0.2f);
    add(p + "attention.output.LayerNorm.bias", {kHidden}, 0, 0.2f);
    add(p + "intermediate.dense.weight", {kInter, kHidden}, 0, 0.3f);
    add(p + "intermediate.dense.bias", {kInter}, 0, 0.2f);
    add(p + "output.dense.weight", {kHidden, kInter}, 0, 0.3f);
    add(p + "output.dense.bias", {kHidden}, 0, 0.2f);
    add(p + "output.LayerNorm.weight", {kHidden}, 1, 0.2f);
    add(p + "output.LayerNorm.bias", {kHidden}, 0, 0.2f);
  }
  add("pooler.dense.weight", {kHidden, kHidden}, 0, 0.3f);
  add("pooler.dense.bias", {kHidden}, 0, 0.2f);
  if (num_labels > 0) {
    add("classifier.weight", {num_labels, kHidden}, 0, 0.5f);
    add("classifier.bias", {num_labels}, 0, 0.2f);
  }
  return w;
}

nlohmann::json tiny_config(const std::string& act = "gelu") {
  return {{"model_type", "bert"},
          {"vocab_size", kVocab},
          {"hidden_size", kHidden},
          {"num_hidden_layers", kLayers},
          {"num_attention_heads", kHeads},
          {"intermediate_size", kInter},
          {"hidden_act", act},
          {"layer_norm_eps", 1e-12},
          {"max_position_embeddings", kMaxPos},
          {"type_vocab_size", 2}};
}

// Writes config.json and model.safetensors; names get "bert." unless they are the classifier's
// when `prefix` is set. With `bf16`, weights are stored as bfloat16 and `w` is updated to the
// rounded values the model will see.
void write_checkpoint(const std::filesystem::path& dir, Weights& w, const nlohmann::json& config,
                      bool prefix, bool bf16 = false) {
  std::map<std::string, testing::RawTensor> tensors;
  for (auto& [name, t] : w) {
    const std::string stored = prefix && name.rfind("classifier.", 0) != 0 ? "bert." + name : name;
    if (bf16) {
      std::string bytes;
      for (float& v : t.values) {
        const uint16_t bits = testing::to_bf16(v);
        v = bfloat16_to_float(bits);
        bytes.push_back(static_cast<char>(bits & 0xff));
        bytes.push_back(static_cast<char>(bits >> 8));
      }
      tensors[stored] = {"BF16", t.shape, bytes};
    } else {
      tensors[stored] = {"F32", t.shape, testing::f32_bytes(t.values)};
    }
  }
  write_text(dir / "model.safetensors", testing::safetensors_bytes(tensors));
  write_text(dir / "config.json", config.dump());
}

// ---- A plain double-precision reference encoder, one sequence at a time. ----

using Matrix = std::vector<std::vector<double>>;

Matrix linear(const Matrix& x, const Weights& w, const std::string& prefix) {
  const Weight& weight = w.at(prefix + ".weight");
  const Weight& bias = w.at(prefix + ".bias");
  const int64_t n = weight.shape[0], k = weight.shape[1];
  Matrix y(x.size(), std::vector<double>(n));
  for (size_t t = 0; t < x.size(); ++t) {
    for (int64_t o = 0; o < n; ++o) {
      double s = bias.values[o];
      for (int64_t i = 0; i < k; ++i) s += x[t][i] * weight.values[o * k + i];
      y[t][o] = s;
    }
  }
  return y;
}

void layer_norm_ref(Matrix& x, const Weights& w, const std::string& prefix) {
  for (auto& row : x) {
    double mean = 0, var = 0;
    for (double v : row) mean += v;
    mean /= row.size();
    for (double v : row) var += (v - mean) * (v - mean);
    var /= row.size();
    for (size_t i = 0; i < row.size(); ++i) {
      row[i] = (row[i] - mean) / std::sqrt(var + 1e-12) * w.at(prefix + ".weight").values[i] +
               w.at(prefix + ".bias").values[i];
    }
  }
}

Matrix reference_hidden(const Weights& w, const std::vector<int32_t>& ids,
                        const std::vector<int32_t>& types, bool tanh_gelu = false) {
  const size_t len = ids.size();
  Matrix x(len, std::vector<double>(kHidden));
  for (size_t t = 0; t < len; ++t) {
    for (int64_t i = 0; i < kHidden; ++i) {
      x[t][i] = w.at("embeddings.word_embeddings.weight").values[ids[t] * kHidden + i] +
                w.at("embeddings.position_embeddings.weight").values[t * kHidden + i] +
                w.at("embeddings.token_type_embeddings.weight").values[types[t] * kHidden + i];
    }
  }
  layer_norm_ref(x, w, "embeddings.LayerNorm");
  const int64_t d = kHidden / kHeads;
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    const Matrix q = linear(x, w, p + "attention.self.query");
    const Matrix k = linear(x, w, p + "attention.self.key");
    const Matrix v = linear(x, w, p + "attention.self.value");
    Matrix ctx(len, std::vector<double>(kHidden, 0.0));
    for (int64_t h = 0; h < kHeads; ++h) {
      for (size_t i = 0; i < len; ++i) {
        std::vector<double> s(len);
        double max = -1e300, sum = 0;
        for (size_t j = 0; j < len; ++j) {
          s[j] = 0;
          for (int64_t c = 0; c < d; ++c) s[j] += q[i][h * d + c] * k[j][h * d + c];
          s[j] /= std::sqrt(static_cast<double>(d));
          max = std::max(max, s[j]);
        }
        for (double& e : s) sum += e = std::exp(e - max);
        for (size_t j = 0; j < len; ++j) {
          for (int64_t c = 0; c < d; ++c) ctx[i][h * d + c] += s[j] / sum * v[j][h * d + c];
        }
      }
    }
    Matrix a = linear(ctx, w, p + "attention.output.dense");
    for (size_t t = 0; t < len; ++t) {
      for (int64_t i = 0; i < kHidden; ++i) a[t][i] += x[t][i];
    }
    layer_norm_ref(a, w, p + "attention.output.LayerNorm");
    Matrix f = linear(a, w, p + "intermediate.dense");
    for (auto& row : f) {
      for (double& e : row) {
        e = tanh_gelu ? 0.5 * e * (1 + std::tanh(std::sqrt(2 / M_PI) * (e + 0.044715 * e * e * e)))
                      : 0.5 * e * (1 + std::erf(e / std::sqrt(2.0)));
      }
    }
    x = linear(f, w, p + "output.dense");
    for (size_t t = 0; t < len; ++t) {
      for (int64_t i = 0; i < kHidden; ++i) x[t][i] += a[t][i];
    }
    layer_norm_ref(x, w, p + "output.LayerNorm");
  }
  return x;
}

// ---- Batches ----

struct Sequences {
  std::vector<std::vector<int32_t>> ids, types;
};

Sequences mixed_sequences() {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> id(0, kVocab - 1);
  Sequences s;
  for (int32_t len :
       {int32_t{1}, int32_t{3}, int32_t{kMaxPos}, int32_t{7}, int32_t{2}, int32_t{kMaxPos - 1}}) {
    std::vector<int32_t> ids(len), types(len);
    for (int32_t t = 0; t < len; ++t) {
      ids[t] = id(rng);
      types[t] = t >= len / 2 ? 1 : 0;
    }
    s.ids.push_back(ids);
    s.types.push_back(types);
  }
  return s;
}

PackedBatch pack(const Sequences& s) {
  PackedBatch b;
  b.offsets.push_back(0);
  for (size_t r = 0; r < s.ids.size(); ++r) {
    b.ids.insert(b.ids.end(), s.ids[r].begin(), s.ids[r].end());
    b.type_ids.insert(b.type_ids.end(), s.types[r].begin(), s.types[r].end());
    b.offsets.push_back(static_cast<int32_t>(b.ids.size()));
  }
  return b;
}

std::string load_error(const std::filesystem::path& dir) {
  try {
    BertModel::load(dir);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    return e.what();
  }
  return "";
}

void expect_hidden_match(BertModel& model, const Weights& w, const Sequences& s, bool tanh_gelu,
                         double tol) {
  const PackedBatch batch = pack(s);
  std::vector<float> out(batch.tokens() * kHidden, std::nanf(""));
  model.hidden_states(batch, &scratch_, out.data());
  double worst = 0;
  for (size_t r = 0; r < batch.rows(); ++r) {
    const Matrix want = reference_hidden(w, s.ids[r], s.types[r], tanh_gelu);
    for (size_t t = 0; t < want.size(); ++t) {
      for (int64_t i = 0; i < kHidden; ++i) {
        worst = std::max(worst, std::abs(out[(batch.offsets[r] + t) * kHidden + i] - want[t][i]));
      }
    }
  }
  EXPECT_LT(worst, tol);
}

TEST(BertModelTest, HiddenStatesMatchReference) {
  TempDir dir;
  Weights w = tiny_weights(1, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  auto model = BertModel::load(dir.path());
  EXPECT_FALSE(model->has_classifier());
  EXPECT_EQ(model->config().hidden_size, kHidden);
  expect_hidden_match(*model, w, mixed_sequences(), false, 1e-4);
}

TEST(BertModelTest, PrefixedBf16TanhCheckpoint) {
  TempDir dir;
  Weights w = tiny_weights(2, 0);
  write_checkpoint(dir.path(), w, tiny_config("gelu_new"), true, true);
  auto model = BertModel::load(dir.path());
  expect_hidden_match(*model, w, mixed_sequences(), true, 1e-4);
}

TEST(BertModelTest, PackedBatchEqualsSequencesRunAlone) {
  TempDir dir;
  Weights w = tiny_weights(3, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  auto model = BertModel::load(dir.path());
  const Sequences s = mixed_sequences();
  const PackedBatch batch = pack(s);
  std::vector<float> all(batch.tokens() * kHidden);
  model->hidden_states(batch, &scratch_, all.data());
  for (size_t r = 0; r < s.ids.size(); ++r) {
    const PackedBatch one = pack({{s.ids[r]}, {s.types[r]}});
    std::vector<float> alone(one.tokens() * kHidden);
    model->hidden_states(one, &scratch_, alone.data());
    for (size_t i = 0; i < alone.size(); ++i) {
      ASSERT_NEAR(alone[i], all[batch.offsets[r] * kHidden + i], 1e-5) << r;
    }
  }
}

TEST(BertModelTest, EmbedWithEachPooling) {
  const Sequences s = mixed_sequences();
  const PackedBatch batch = pack(s);
  for (const char* mode : {"cls", "mean", "max"}) {
    for (bool normalize : {false, true}) {
      TempDir dir;
      Weights w = tiny_weights(4, 0);
      write_checkpoint(dir.path(), w, tiny_config(), false);
      nlohmann::json modules = nlohmann::json::array();
      modules.push_back({{"idx", 0},
                         {"name", "0"},
                         {"path", ""},
                         {"type", "sentence_transformers.models.Transformer"}});
      modules.push_back({{"idx", 1},
                         {"name", "1"},
                         {"path", "1_Pooling"},
                         {"type", "sentence_transformers.models.Pooling"}});
      if (normalize) {
        modules.push_back({{"idx", 2},
                           {"name", "2"},
                           {"path", "2_Normalize"},
                           {"type", "sentence_transformers.models.Normalize"}});
      }
      write_text(dir.path() / "modules.json", modules.dump());
      write_text(dir.path() / "1_Pooling" / "config.json",
                 nlohmann::json{{"word_embedding_dimension", kHidden},
                                {"pooling_mode_cls_token", std::string(mode) == "cls"},
                                {"pooling_mode_mean_tokens", std::string(mode) == "mean"},
                                {"pooling_mode_max_tokens", std::string(mode) == "max"},
                                {"pooling_mode_mean_sqrt_len_tokens", false}}
                     .dump());
      auto model = BertModel::load(dir.path());
      EXPECT_TRUE(model->from_sentence_transformers());
      EXPECT_EQ(model->pooling(), parse_pooling(mode));
      EXPECT_EQ(model->normalize(), normalize);
      std::vector<float> out(batch.rows() * kHidden);
      model->embed(batch, &scratch_, out.data());
      for (size_t r = 0; r < batch.rows(); ++r) {
        const Matrix h = reference_hidden(w, s.ids[r], s.types[r]);
        std::vector<double> want(kHidden, std::string(mode) == "max" ? -1e300 : 0.0);
        for (size_t t = 0; t < h.size(); ++t) {
          for (int64_t i = 0; i < kHidden; ++i) {
            if (std::string(mode) == "cls" && t == 0) want[i] = h[t][i];
            if (std::string(mode) == "mean") want[i] += h[t][i] / h.size();
            if (std::string(mode) == "max") want[i] = std::max(want[i], h[t][i]);
          }
        }
        double norm = 0;
        for (double v : want) norm += v * v;
        for (int64_t i = 0; i < kHidden; ++i) {
          const double expected = normalize ? want[i] / std::sqrt(norm) : want[i];
          ASSERT_NEAR(out[r * kHidden + i], expected, 1e-4) << mode << " row " << r;
        }
      }
    }
  }
}

TEST(BertModelTest, DefaultsWithoutSentenceTransformersFiles) {
  TempDir dir;
  Weights w = tiny_weights(5, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  auto model = BertModel::load(dir.path());
  EXPECT_FALSE(model->from_sentence_transformers());
  EXPECT_EQ(model->pooling(), Pooling::kMean);
  EXPECT_TRUE(model->normalize());
  const PackedBatch batch = pack(mixed_sequences());
  std::vector<float> out(batch.rows() * kHidden);
  model->embed(batch, &scratch_, out.data());
  for (size_t r = 0; r < batch.rows(); ++r) {
    double norm = 0;
    for (int64_t i = 0; i < kHidden; ++i) norm += out[r * kHidden + i] * out[r * kHidden + i];
    EXPECT_NEAR(norm, 1.0, 1e-5);
  }
}

TEST(BertModelTest, ClassifierProbabilitiesMatchReference) {
  TempDir dir;
  Weights w = tiny_weights(6, 3);
  nlohmann::json config = tiny_config();
  config["id2label"] = {{"0", "neg"}, {"1", "neu"}, {"2", "pos"}};
  write_checkpoint(dir.path(), w, config, true);
  auto model = BertModel::load(dir.path());
  ASSERT_TRUE(model->has_classifier());
  EXPECT_EQ(model->labels(), (std::vector<std::string>{"neg", "neu", "pos"}));
  const Sequences s = mixed_sequences();
  const PackedBatch batch = pack(s);
  std::vector<float> probs(batch.rows() * 3);
  model->classify(batch, &scratch_, probs.data());
  for (size_t r = 0; r < batch.rows(); ++r) {
    const Matrix h = reference_hidden(w, s.ids[r], s.types[r]);
    Matrix pooled = linear({h[0]}, w, "pooler.dense");
    for (double& v : pooled[0]) v = std::tanh(v);
    const Matrix logits = linear(pooled, w, "classifier");
    double max = -1e300, sum = 0;
    for (double v : logits[0]) max = std::max(max, v);
    for (double v : logits[0]) sum += std::exp(v - max);
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(probs[r * 3 + c], std::exp(logits[0][c] - max) / sum, 1e-5) << r;
    }
  }
}

TEST(BertModelTest, ClassifierLabelsDefaultAndMismatch) {
  TempDir dir;
  Weights w = tiny_weights(7, 2);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  EXPECT_EQ(BertModel::load(dir.path())->labels(),
            (std::vector<std::string>{"LABEL_0", "LABEL_1"}));
  nlohmann::json config = tiny_config();
  config["id2label"] = {{"0", "a"}, {"1", "b"}, {"2", "c"}};
  write_text(dir.path() / "config.json", config.dump());
  EXPECT_THAT(load_error(dir.path()),
              HasSubstr("id2label has 3 labels but classifier.weight has 2"));
}

TEST(BertModelTest, ClassifyWithoutHeadThrows) {
  TempDir dir;
  Weights w = tiny_weights(8, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  auto model = BertModel::load(dir.path());
  const PackedBatch batch = pack(mixed_sequences());
  std::vector<float> out(batch.rows() * 2);
  try {
    model->classify(batch, &scratch_, out.data());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
  }
}

TEST(BertModelTest, LoadErrorsNameFileAndReason) {
  TempDir dir;
  EXPECT_THAT(load_error(dir.path() / "absent"), HasSubstr("absent: model folder does not exist"));
  EXPECT_THAT(load_error(dir.path()), HasSubstr("config.json: cannot open"));

  Weights w = tiny_weights(9, 0);
  nlohmann::json config = tiny_config();
  config["model_type"] = "gpt2";
  write_checkpoint(dir.path(), w, config, false);
  EXPECT_THAT(load_error(dir.path()), HasSubstr("model_type 'gpt2' is not supported"));

  std::filesystem::remove(dir.path() / "model.safetensors");
  write_text(dir.path() / "config.json", tiny_config().dump());
  write_text(dir.path() / "pytorch_model.bin", "x");
  EXPECT_THAT(load_error(dir.path()), HasSubstr("pytorch_model.bin: is not a PyTorch checkpoint"));

  Weights missing = w;
  missing.erase("encoder.layer.1.output.dense.bias");
  write_checkpoint(dir.path(), missing, tiny_config(), false);
  EXPECT_THAT(load_error(dir.path()),
              HasSubstr("model.safetensors: tensor 'encoder.layer.1.output.dense.bias' (or "
                        "'bert.encoder.layer.1.output.dense.bias') is missing"));

  nlohmann::json wider = tiny_config();
  wider["intermediate_size"] = kInter + 1;
  write_checkpoint(dir.path(), w, wider, false);
  EXPECT_THAT(load_error(dir.path()),
              HasSubstr("'encoder.layer.0.intermediate.dense.weight' has shape [24, 16], expected "
                        "[25, 16]"));

  write_checkpoint(dir.path(), w, tiny_config(), false);
  write_text(dir.path() / "modules.json",
             R"([{"path": "2_Dense", "type": "sentence_transformers.models.Dense"}])");
  EXPECT_THAT(load_error(dir.path()),
              HasSubstr("module type 'sentence_transformers.models.Dense' is not supported"));
}

TEST(BertModelTest, RefusesBadBatches) {
  TempDir dir;
  Weights w = tiny_weights(10, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  auto model = BertModel::load(dir.path());
  std::vector<float> out((kMaxPos + 1) * kHidden);
  auto error_of = [&](const PackedBatch& b) -> std::string {
    try {
      model->hidden_states(b, &scratch_, out.data());
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      return e.what();
    }
    return "";
  };
  PackedBatch too_long;
  too_long.ids.assign(kMaxPos + 1, 1);
  too_long.offsets = {0, kMaxPos + 1};
  EXPECT_THAT(error_of(too_long), HasSubstr("more than max_position_embeddings 20"));
  PackedBatch bad_id{{1, kVocab}, {}, {0, 2}};
  EXPECT_THAT(error_of(bad_id), HasSubstr("token id 40 is outside the vocabulary"));
  PackedBatch bad_type{{1, 2}, {0, 2}, {0, 2}};
  EXPECT_THAT(error_of(bad_type), HasSubstr("token type id 2"));
  PackedBatch bad_offsets{{1, 2}, {}, {0, 1}};
  EXPECT_THAT(error_of(bad_offsets), HasSubstr("offsets"));
  PackedBatch empty_row{{1, 2}, {}, {0, 0, 2}};
  EXPECT_THAT(error_of(empty_row), HasSubstr("sequence 0 is empty"));
  PackedBatch nothing;
  EXPECT_EQ(error_of(nothing), "");
}

}  // namespace
}  // namespace salvo
