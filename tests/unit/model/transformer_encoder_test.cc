#include "model/transformer_encoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>

#include "core/error.h"
#include "model/safetensors.h"
#include "test_checkpoint.h"

namespace salvo {
namespace {

// Scratch shared by the tests in this file, as one thread would reuse it.
thread_local EncoderScratch scratch_;

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
// With `embedding_size` > 0 the embeddings are that wide and "embeddings_project" maps them to
// kHidden, as in ELECTRA.
Weights tiny_weights(uint32_t seed, int64_t num_labels, int64_t embedding_size = 0) {
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
  const int64_t e = embedding_size > 0 ? embedding_size : kHidden;
  add("embeddings.word_embeddings.weight", {kVocab, e}, 0, 0.5f);
  add("embeddings.position_embeddings.weight", {kMaxPos, e}, 0, 0.5f);
  add("embeddings.token_type_embeddings.weight", {2, e}, 0, 0.5f);
  add("embeddings.LayerNorm.weight", {e}, 1, 0.2f);
  add("embeddings.LayerNorm.bias", {e}, 0, 0.2f);
  if (embedding_size > 0) {
    add("embeddings_project.weight", {kHidden, e}, 0, 0.4f);
    add("embeddings_project.bias", {kHidden}, 0, 0.2f);
  }
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

// Writes config.json and model.safetensors with each tensor under rename(its BERT name) (a tensor
// renamed to "" is left out). With `bf16`, weights are stored as bfloat16 and `w` is updated to
// the rounded values the model will see.
void write_renamed_checkpoint(const std::filesystem::path& dir, Weights& w, const nlohmann::json& config,
                              const std::function<std::string(const std::string&)>& rename, bool bf16 = false) {
  std::map<std::string, testing::RawTensor> tensors;
  for (auto& [name, t] : w) {
    const std::string stored = rename(name);
    if (stored.empty()) continue;
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

// BERT's names, with "bert." in front of all but the classifier's when `prefix` is set.
void write_checkpoint(const std::filesystem::path& dir, Weights& w, const nlohmann::json& config, bool prefix,
                      bool bf16 = false) {
  write_renamed_checkpoint(
      dir, w, config,
      [&](const std::string& name) { return prefix && name.rfind("classifier.", 0) != 0 ? "bert." + name : name; },
      bf16);
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

// What differs from plain BERT in the reference.
struct Variant {
  std::vector<int64_t> positions;  // rows of the position table per token; empty: 0, 1, 2, ...
  bool no_types = false;           // no token type embeddings at all
  const std::vector<float>* relative_bias = nullptr;  // [32 buckets, kHeads], MPNet-style
};

// The largest |input| of each channel of each layer's qkv, intermediate and output products.
struct ReferencePeaks {
  Matrix qkv = Matrix(kLayers, std::vector<double>(kHidden, 0.0));
  Matrix intermediate = Matrix(kLayers, std::vector<double>(kHidden, 0.0));
  Matrix output = Matrix(kLayers, std::vector<double>(kInter, 0.0));
};

void raise_peaks(const Matrix& x, std::vector<double>& peaks) {
  for (const auto& row : x) {
    for (size_t i = 0; i < row.size(); ++i) peaks[i] = std::max(peaks[i], std::abs(row[i]));
  }
}

// With `peaks`, raises them to this sequence's.
Matrix reference_hidden(const Weights& w, const std::vector<int32_t>& ids, const std::vector<int32_t>& types,
                        bool tanh_gelu = false, const Variant& variant = {}, ReferencePeaks* peaks = nullptr) {
  const size_t len = ids.size();
  const int64_t e = w.at("embeddings.LayerNorm.weight").shape[0];
  Matrix x(len, std::vector<double>(e));
  for (size_t t = 0; t < len; ++t) {
    const int64_t position = variant.positions.empty() ? static_cast<int64_t>(t) : variant.positions[t];
    for (int64_t i = 0; i < e; ++i) {
      x[t][i] = w.at("embeddings.word_embeddings.weight").values[ids[t] * e + i] +
                w.at("embeddings.position_embeddings.weight").values[position * e + i];
      if (!variant.no_types) x[t][i] += w.at("embeddings.token_type_embeddings.weight").values[types[t] * e + i];
    }
  }
  layer_norm_ref(x, w, "embeddings.LayerNorm");
  if (w.count("embeddings_project.weight")) x = linear(x, w, "embeddings_project");
  const int64_t d = kHidden / kHeads;
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    if (peaks != nullptr) raise_peaks(x, peaks->qkv[l]);
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
          if (variant.relative_bias) {
            s[j] += (*variant.relative_bias)[relative_position_bucket(static_cast<int64_t>(j) - static_cast<int64_t>(i)) *
                                                 kHeads + h];
          }
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
    if (peaks != nullptr) raise_peaks(a, peaks->intermediate[l]);
    Matrix f = linear(a, w, p + "intermediate.dense");
    for (auto& row : f) {
      for (double& e : row) {
        e = tanh_gelu ? 0.5 * e * (1 + std::tanh(std::sqrt(2 / M_PI) * (e + 0.044715 * e * e * e)))
                      : 0.5 * e * (1 + std::erf(e / std::sqrt(2.0)));
      }
    }
    if (peaks != nullptr) raise_peaks(f, peaks->output[l]);
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
    TransformerEncoder::load(dir);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    return e.what();
  }
  return "";
}

// `variant_of(r)` gives the reference's variant for row r; `reference_types` replaces the batch's
// type ids in the reference when not empty (models that ignore them).
void expect_hidden_match(TransformerEncoder& model, const Weights& w, const Sequences& s, bool tanh_gelu,
                         double tol, const std::function<Variant(size_t)>& variant_of = {},
                         const Sequences* reference_types = nullptr) {
  const PackedBatch batch = pack(s);
  std::vector<float> out(batch.tokens() * kHidden, std::nanf(""));
  model.hidden_states(batch, &scratch_, out.data());
  double worst = 0;
  for (size_t r = 0; r < batch.rows(); ++r) {
    const Matrix want = reference_hidden(w, s.ids[r], reference_types ? reference_types->types[r] : s.types[r],
                                         tanh_gelu, variant_of ? variant_of(r) : Variant{});
    for (size_t t = 0; t < want.size(); ++t) {
      for (int64_t i = 0; i < kHidden; ++i) {
        worst = std::max(worst, std::abs(out[(batch.offsets[r] + t) * kHidden + i] - want[t][i]));
      }
    }
  }
  EXPECT_LT(worst, tol);
}

TEST(TransformerEncoderTest, HiddenStatesMatchReference) {
  TempDir dir;
  Weights w = tiny_weights(1, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  auto model = TransformerEncoder::load(dir.path());
  EXPECT_FALSE(model->has_classifier());
  EXPECT_EQ(model->config().hidden_size, kHidden);
  expect_hidden_match(*model, w, mixed_sequences(), false, 1e-4);
}

TEST(TransformerEncoderTest, InputPeaksAreEachChannelsLargestActivation) {
  TempDir dir;
  Weights w = tiny_weights(1, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  auto model = TransformerEncoder::load(dir.path());
  const Sequences s = mixed_sequences();
  const PackedBatch batch = pack(s);
  ReferencePeaks want;
  for (size_t r = 0; r < s.ids.size(); ++r) reference_hidden(w, s.ids[r], s.types[r], false, {}, &want);
  std::vector<LayerInputPeaks> peaks;
  EncoderScratch scratch;
  scratch.input_peaks = &peaks;
  std::vector<float> out(batch.tokens() * kHidden);
  model->hidden_states(batch, &scratch, out.data());
  ASSERT_EQ(peaks.size(), static_cast<size_t>(kLayers));
  auto expect_peaks = [](const std::vector<float>& got, const std::vector<double>& expected, const char* what) {
    ASSERT_EQ(got.size(), expected.size()) << what;
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-4 * (1 + expected[i])) << what << " " << i;
  };
  for (int64_t l = 0; l < kLayers; ++l) {
    SCOPED_TRACE(::testing::Message() << "layer " << l);
    expect_peaks(peaks[l].qkv, want.qkv[l], "qkv");
    expect_peaks(peaks[l].intermediate, want.intermediate[l], "intermediate");
    expect_peaks(peaks[l].output, want.output[l], "output");
  }
  // A second batch only raises them: the peaks of the first row alone are already at most these.
  const std::vector<LayerInputPeaks> first = peaks;
  model->hidden_states(pack({{s.ids[0]}, {s.types[0]}}), &scratch, out.data());
  for (int64_t l = 0; l < kLayers; ++l) {
    EXPECT_EQ(peaks[l].qkv, first[l].qkv);
    EXPECT_EQ(peaks[l].intermediate, first[l].intermediate);
    EXPECT_EQ(peaks[l].output, first[l].output);
  }
}

// int8 with a calibration batch rebuilds each layer's qkv, intermediate and output products in int8
// with smoothing (its result then differs from the uncalibrated model's, which runs output in bf16
// and the others unsmoothed), and stays close to the exact encoder.
TEST(TransformerEncoderTest, Int8CalibratedOnABatchStaysCloseToTheReference) {
  if (const std::string reason = precision_unavailable_reason(Precision::kInt8); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  TempDir dir;
  Weights w = tiny_weights(4, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  const Sequences s = mixed_sequences();
  const PackedBatch batch = pack(s);
  EncoderOptions options;
  options.precision = Precision::kInt8;
  auto uncalibrated = TransformerEncoder::load(dir.path(), options);
  options.calibration = &batch;
  auto calibrated = TransformerEncoder::load(dir.path(), options);
  std::vector<float> plain(batch.tokens() * kHidden), smoothed(batch.tokens() * kHidden);
  uncalibrated->hidden_states(batch, &scratch_, plain.data());
  calibrated->hidden_states(batch, &scratch_, smoothed.data());
  EXPECT_NE(plain, smoothed);
  for (size_t r = 0; r < batch.rows(); ++r) {
    const Matrix want = reference_hidden(w, s.ids[r], s.types[r]);
    for (size_t t = 0; t < want.size(); ++t) {
      const float* got = smoothed.data() + (batch.offsets[r] + t) * kHidden;
      double dot = 0, gg = 0, ww = 0;
      for (int64_t i = 0; i < kHidden; ++i) {
        dot += got[i] * want[t][i];
        gg += double{got[i]} * got[i];
        ww += want[t][i] * want[t][i];
      }
      EXPECT_GE(dot / std::sqrt(gg * ww), 0.99) << "row " << r << " token " << t;
    }
  }
}

// 100 sequences of 1 to kMaxPos tokens, 1,050 in all: two chunks or more for each of 2 threads.
Sequences long_batch() {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> id(0, kVocab - 1);
  Sequences s;
  for (int32_t r = 0; r < 100; ++r) {
    const int32_t len = 1 + r % kMaxPos;
    std::vector<int32_t> ids(len), types(len, 0);
    for (int32_t& t : ids) t = id(rng);
    s.ids.push_back(ids);
    s.types.push_back(types);
  }
  return s;
}

// A batch of two chunks or more per thread goes through the encoder in chunks of whole sequences
// of about 256 tokens, one chunk per OpenMP thread at a time (one thread runs them one after the
// other). Every step works token by token or sequence by sequence, and int8's sums are exact, so
// the result is each sequence's run alone (a batch too small for chunks), bit for bit.
TEST(TransformerEncoderTest, Int8ChunksOfSequencesEqualSequencesRunAlone) {
  if (const std::string reason = precision_unavailable_reason(Precision::kInt8); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  TempDir dir;
  Weights w = tiny_weights(5, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  const Sequences s = long_batch();
  const PackedBatch batch = pack(s);
  ASSERT_EQ(batch.tokens(), 1050u);
  EncoderOptions options;
  options.precision = Precision::kInt8;
  options.calibration = &batch;
  auto model = TransformerEncoder::load(dir.path(), options);
  std::vector<float> alone(batch.tokens() * kHidden);
  for (size_t r = 0; r < s.ids.size(); ++r) {
    model->hidden_states(pack({{s.ids[r]}, {s.types[r]}}), &scratch_, alone.data() + batch.offsets[r] * kHidden);
  }
  const int threads = omp_get_max_threads();
  for (int team : {1, 2}) {
    omp_set_num_threads(team);
    std::vector<float> chunked(batch.tokens() * kHidden);
    EncoderTimings timings;
    EncoderScratch timed;
    timed.timings = &timings;
    model->hidden_states(batch, &timed, chunked.data());
    EXPECT_EQ(alone, chunked) << team << " threads";
    for (size_t step = 0; step < timings.seconds.size(); ++step) {
      EXPECT_GT(timings.seconds[step], 0.0) << encoder_step_name(static_cast<EncoderStep>(step));
    }
  }
  omp_set_num_threads(threads);
}

TEST(TransformerEncoderTest, ChunksOfSequencesMatchTheReference) {
  TempDir dir;
  Weights w = tiny_weights(6, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  auto model = TransformerEncoder::load(dir.path());
  const int threads = omp_get_max_threads();
  for (int team : {1, 2}) {
    omp_set_num_threads(team);
    expect_hidden_match(*model, w, long_batch(), false, 1e-4);
  }
  omp_set_num_threads(threads);
}

TEST(TransformerEncoderTest, PrefixedBf16TanhCheckpoint) {
  TempDir dir;
  Weights w = tiny_weights(2, 0);
  write_checkpoint(dir.path(), w, tiny_config("gelu_new"), true, true);
  auto model = TransformerEncoder::load(dir.path());
  expect_hidden_match(*model, w, mixed_sequences(), true, 1e-4);
}

TEST(TransformerEncoderTest, PackedBatchEqualsSequencesRunAlone) {
  TempDir dir;
  Weights w = tiny_weights(3, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  auto model = TransformerEncoder::load(dir.path());
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

TEST(TransformerEncoderTest, EmbedWithEachPooling) {
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
      auto model = TransformerEncoder::load(dir.path());
      EXPECT_TRUE(model->sentence_transformers().has_pooling);
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

TEST(TransformerEncoderTest, DefaultsWithoutSentenceTransformersFiles) {
  TempDir dir;
  Weights w = tiny_weights(5, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  auto model = TransformerEncoder::load(dir.path());
  EXPECT_FALSE(model->sentence_transformers().has_pooling);
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

TEST(TransformerEncoderTest, ClassifierProbabilitiesMatchReference) {
  TempDir dir;
  Weights w = tiny_weights(6, 3);
  nlohmann::json config = tiny_config();
  config["id2label"] = {{"0", "neg"}, {"1", "neu"}, {"2", "pos"}};
  write_checkpoint(dir.path(), w, config, true);
  auto model = TransformerEncoder::load(dir.path());
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

TEST(TransformerEncoderTest, ClassifierLabelsDefaultAndMismatch) {
  TempDir dir;
  Weights w = tiny_weights(7, 2);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  EXPECT_EQ(TransformerEncoder::load(dir.path())->labels(),
            (std::vector<std::string>{"LABEL_0", "LABEL_1"}));
  nlohmann::json config = tiny_config();
  config["id2label"] = {{"0", "a"}, {"1", "b"}, {"2", "c"}};
  write_text(dir.path() / "config.json", config.dump());
  EXPECT_THAT(load_error(dir.path()),
              HasSubstr("id2label has 3 labels but classifier.weight has 2 rows"));
}

TEST(TransformerEncoderTest, ClassifyWithoutHeadThrows) {
  TempDir dir;
  Weights w = tiny_weights(8, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  auto model = TransformerEncoder::load(dir.path());
  const PackedBatch batch = pack(mixed_sequences());
  std::vector<float> out(batch.rows() * 2);
  try {
    model->classify(batch, &scratch_, out.data());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
  }
}

TEST(TransformerEncoderTest, LoadErrorsNameFileAndReason) {
  TempDir dir;
  EXPECT_THAT(load_error(dir.path() / "absent"), HasSubstr("absent: model folder does not exist"));
  EXPECT_THAT(load_error(dir.path()), HasSubstr("config.json: no such file"));

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

TEST(TransformerEncoderTest, RefusesBadBatches) {
  TempDir dir;
  Weights w = tiny_weights(10, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  auto model = TransformerEncoder::load(dir.path());
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
  EXPECT_THAT(error_of(too_long), HasSubstr("has 21 tokens, more than the 20 positions of the model"));
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


// ---- Architectures other than BERT: the same weights under their names and conventions. ----

// Ids from 2 up, so that none is RoBERTa's padding id 1 unless a test puts one there.
Sequences sequences_without_padding_id() {
  Sequences s = mixed_sequences();
  for (auto& row : s.ids) {
    for (int32_t& id : row) id = 2 + id % (kVocab - 2);
  }
  return s;
}

// fairseq's numbering: padding_idx + 1 onwards, skipping padding tokens, which get padding_idx.
std::vector<int64_t> fairseq_positions(const std::vector<int32_t>& ids, int64_t padding_idx) {
  std::vector<int64_t> positions;
  int64_t next = padding_idx + 1;
  for (int32_t id : ids) positions.push_back(id == padding_idx ? padding_idx : next++);
  return positions;
}

Sequences zero_types(Sequences s) {
  for (auto& row : s.types) std::fill(row.begin(), row.end(), 0);
  return s;
}

// A RoBERTa checkpoint: a position table two rows longer (rows 0 and 1 are never used by
// unpadded tokens), type ids ignored, "roberta." prefix and its own head.
TEST(TransformerEncoderTest, RobertaPositionsStartAfterPadding) {
  TempDir dir;
  Weights w = tiny_weights(11, 0);
  // Make the position table kMaxPos + 2 rows, as RoBERTa's 514 for 512 tokens.
  Weight& positions = w["embeddings.position_embeddings.weight"];
  positions.shape[0] = kMaxPos + 2;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  for (int i = 0; i < 2 * kHidden; ++i) positions.values.push_back(normal(rng));
  nlohmann::json config = tiny_config();
  config["model_type"] = "roberta";
  config["pad_token_id"] = 1;
  config["max_position_embeddings"] = kMaxPos + 2;
  write_renamed_checkpoint(dir.path(), w, config, [](const std::string& n) { return "roberta." + n; });
  auto model = TransformerEncoder::load(dir.path());
  EXPECT_EQ(model->config().max_tokens(), kMaxPos);

  Sequences s = sequences_without_padding_id();
  // Type ids the model must ignore (RoBERTa's tokenizers send none), and a padding id inside a row.
  for (auto& row : s.types) std::fill(row.begin(), row.end(), 1);
  s.ids[3][2] = 1;
  s.ids[3][4] = 1;
  const Sequences reference_types = zero_types(s);
  expect_hidden_match(
      *model, w, s, false, 1e-4, [&](size_t r) { return Variant{fairseq_positions(s.ids[r], 1)}; },
      &reference_types);
}

TEST(TransformerEncoderTest, DistilBertNamesAndNoTokenTypes) {
  TempDir dir;
  Weights w = tiny_weights(12, 0);
  nlohmann::json config = {{"model_type", "distilbert"}, {"vocab_size", kVocab},      {"dim", kHidden},
                           {"n_layers", kLayers},        {"n_heads", kHeads},         {"hidden_dim", kInter},
                           {"activation", "gelu"},       {"max_position_embeddings", kMaxPos}};
  const std::map<std::string, std::string> parts = {
      {"attention.self.query", "attention.q_lin"},     {"attention.self.key", "attention.k_lin"},
      {"attention.self.value", "attention.v_lin"},     {"attention.output.dense", "attention.out_lin"},
      {"attention.output.LayerNorm", "sa_layer_norm"}, {"intermediate.dense", "ffn.lin1"},
      {"output.dense", "ffn.lin2"},                    {"output.LayerNorm", "output_layer_norm"}};
  write_renamed_checkpoint(dir.path(), w, config, [&](const std::string& name) -> std::string {
    if (name.rfind("embeddings.token_type", 0) == 0 || name.rfind("pooler.", 0) == 0) return "";
    const std::string layer = "encoder.layer.";
    if (name.rfind(layer, 0) != 0) return "distilbert." + name;
    const size_t dot = name.find('.', layer.size());
    const std::string rest = name.substr(dot + 1);
    for (const auto& [bert, distil] : parts) {
      if (rest.rfind(bert + ".", 0) == 0) {
        return "distilbert.transformer.layer." + name.substr(layer.size(), dot - layer.size()) + "." + distil +
               rest.substr(bert.size());
      }
    }
    ADD_FAILURE() << "unmapped " << name;
    return "";
  });
  auto model = TransformerEncoder::load(dir.path());
  const Sequences s = mixed_sequences();
  expect_hidden_match(*model, w, s, false, 1e-4, [](size_t) {
    Variant v;
    v.no_types = true;
    return v;
  });
}

TEST(TransformerEncoderTest, ElectraProjectsItsEmbeddings) {
  TempDir dir;
  Weights w = tiny_weights(13, 0, 8);
  nlohmann::json config = tiny_config();
  config["model_type"] = "electra";
  config["embedding_size"] = 8;
  write_renamed_checkpoint(dir.path(), w, config, [](const std::string& n) {
    return n.rfind("pooler.", 0) == 0 ? std::string() : "electra." + n;
  });
  auto model = TransformerEncoder::load(dir.path());
  EXPECT_EQ(model->config().embedding_size, 8);
  expect_hidden_match(*model, w, mixed_sequences(), false, 1e-4);

  // embeddings_project is required when the sizes differ.
  write_renamed_checkpoint(dir.path(), w, config, [](const std::string& n) {
    return n.rfind("embeddings_project", 0) == 0 ? std::string() : n;
  });
  EXPECT_THAT(load_error(dir.path()), HasSubstr("tensor 'embeddings_project.weight' (or "
                                                "'electra.embeddings_project.weight') is missing"));
}

TEST(TransformerEncoderTest, RelativePositionBuckets) {
  // transformers' MPNetEncoder.relative_position_bucket for these key - query offsets.
  const std::map<int64_t, int64_t> want = {
      {0, 0},     {-1, 1},    {-7, 7},    {-8, 8},    {-15, 9},   {-16, 10},  {-31, 11},
      {-32, 12},  {-63, 13},  {-64, 14},  {-127, 15}, {-128, 15}, {-5000, 15}, {1, 17},
      {7, 23},    {8, 24},    {15, 25},   {16, 26},   {31, 27},   {32, 28},   {63, 29},
      {64, 30},   {127, 31},  {128, 31},  {5000, 31}};
  for (const auto& [offset, bucket] : want) EXPECT_EQ(relative_position_bucket(offset), bucket) << offset;
}

TEST(TransformerEncoderTest, MpnetRelativeBiasAndPositions) {
  TempDir dir;
  Weights w = tiny_weights(14, 0);
  Weight& positions = w["embeddings.position_embeddings.weight"];
  positions.shape[0] = kMaxPos + 2;
  positions.values.resize((kMaxPos + 2) * kHidden, 0.25f);
  std::vector<float> bias(32 * kHeads);
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : bias) v = normal(rng);
  w["encoder.relative_attention_bias.weight"] = {{32, kHeads}, bias};
  nlohmann::json config = tiny_config();
  config["model_type"] = "mpnet";
  config["max_position_embeddings"] = kMaxPos + 2;
  const std::map<std::string, std::string> parts = {
      {"attention.self.query", "attention.attn.q"},       {"attention.self.key", "attention.attn.k"},
      {"attention.self.value", "attention.attn.v"},       {"attention.output.dense", "attention.attn.o"},
      {"attention.output.LayerNorm", "attention.LayerNorm"}};
  write_renamed_checkpoint(dir.path(), w, config, [&](const std::string& name) -> std::string {
    if (name.rfind("embeddings.token_type", 0) == 0) return "";
    for (const auto& [bert, mpnet] : parts) {
      const size_t at = name.find(bert + ".");
      if (at != std::string::npos) return "mpnet." + name.substr(0, at) + mpnet + name.substr(at + bert.size());
    }
    return "mpnet." + name;
  });
  auto model = TransformerEncoder::load(dir.path());
  const Sequences s = sequences_without_padding_id();
  expect_hidden_match(*model, w, s, false, 1e-4, [&](size_t r) {
    Variant v{fairseq_positions(s.ids[r], 1)};
    v.no_types = true;
    v.relative_bias = &bias;
    return v;
  });
}

// ---- Heads ----

// out(activation(dense(first token))) in double precision.
std::vector<double> reference_logits(const Weights& w, const Sequences& s, size_t r, const std::string& dense,
                                     HeadActivation activation, const std::string& out) {
  const Matrix h = reference_hidden(w, s.ids[r], s.types[r]);
  Matrix x = linear({h[0]}, w, dense);
  for (double& v : x[0]) {
    if (activation == HeadActivation::kTanh) v = std::tanh(v);
    if (activation == HeadActivation::kRelu) v = std::max(v, 0.0);
    if (activation == HeadActivation::kGelu) v = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
  }
  return linear(x, w, out)[0];
}

// A BERT checkpoint whose head tensors are stored under another architecture's names.
struct HeadCase {
  std::string model_type, prefix, dense, out;
  HeadActivation activation;
};

TEST(TransformerEncoderTest, EachArchitecturesClassificationHead) {
  for (const HeadCase& c : {HeadCase{"roberta", "roberta.", "classifier.dense", "classifier.out_proj",
                                     HeadActivation::kTanh},
                            HeadCase{"electra", "electra.", "classifier.dense", "classifier.out_proj",
                                     HeadActivation::kGelu},
                            HeadCase{"bert", "bert.", "pooler.dense", "classifier", HeadActivation::kTanh}}) {
    TempDir dir;
    Weights w = tiny_weights(15, 3);
    w[c.dense + ".weight"] = w.at("pooler.dense.weight");
    w[c.dense + ".bias"] = w.at("pooler.dense.bias");
    w[c.out + ".weight"] = w.at("classifier.weight");
    w[c.out + ".bias"] = w.at("classifier.bias");
    nlohmann::json config = tiny_config();
    config["model_type"] = c.model_type;
    config["max_position_embeddings"] = kMaxPos;
    config["pad_token_id"] = 0;  // RoBERTa: padding 0, so positions are 1..kMaxPos - 1
    config["embedding_size"] = kHidden;  // ELECTRA: no projection (its default is 128)
    // The head's tensors keep their names; the encoder's get the prefix.
    write_renamed_checkpoint(dir.path(), w, config, [&](const std::string& n) -> std::string {
      if (n.rfind("classifier", 0) == 0) return c.model_type == "bert" && n.rfind("classifier.", 0) != 0 ? "" : n;
      if (n.rfind("pooler.", 0) == 0) return c.model_type == "bert" ? c.prefix + n : "";
      return c.prefix + n;
    });
    auto model = TransformerEncoder::load(dir.path());
    ASSERT_TRUE(model->has_classifier()) << c.model_type;
    Sequences s = mixed_sequences();
    for (auto& row : s.ids) {
      for (int32_t& id : row) id = 1 + id % (kVocab - 1);  // no padding id 0
    }
    s.ids.back().resize(std::min<size_t>(s.ids.back().size(), kMaxPos - 1));
    s.types.back().resize(s.ids.back().size());
    s.ids[2].resize(kMaxPos - 1);
    s.types[2].resize(kMaxPos - 1);
    const PackedBatch batch = pack(s);
    std::vector<float> logits(batch.rows() * 3);
    model->logits(batch, &scratch_, logits.data());
    // RoBERTa's reference: positions 1.. (padding 0) and type 0, which is what BERT's reference
    // computes with the position table shifted by one row.
    Weights ref = w;
    if (c.model_type == "roberta") {
      auto& table = ref["embeddings.position_embeddings.weight"].values;
      table.erase(table.begin(), table.begin() + kHidden);
      table.resize(kMaxPos * kHidden, 0.0f);
    }
    const Sequences ref_s = c.model_type == "roberta" ? zero_types(s) : s;
    for (size_t r = 0; r < batch.rows(); ++r) {
      const std::vector<double> want = reference_logits(ref, ref_s, r, c.dense, c.activation, c.out);
      for (int k = 0; k < 3; ++k) EXPECT_NEAR(logits[r * 3 + k], want[k], 1e-4) << c.model_type << " row " << r;
    }
  }
}

TEST(TransformerEncoderTest, MultiLabelHeadsUseSigmoid) {
  TempDir dir;
  Weights w = tiny_weights(16, 3);
  nlohmann::json config = tiny_config();
  config["problem_type"] = "multi_label_classification";
  write_checkpoint(dir.path(), w, config, true);
  auto model = TransformerEncoder::load(dir.path());
  EXPECT_EQ(model->classifier_output(), ClassifierOutput::kSigmoid);
  const PackedBatch batch = pack(mixed_sequences());
  std::vector<float> logits(batch.rows() * 3), probs(batch.rows() * 3);
  model->logits(batch, &scratch_, logits.data());
  model->classify(batch, &scratch_, probs.data());
  for (size_t i = 0; i < probs.size(); ++i) EXPECT_NEAR(probs[i], 1 / (1 + std::exp(-double{logits[i]})), 1e-6);
}

// A one-label head (a cross-encoder) and the activation its folder names.
std::unique_ptr<TransformerEncoder> cross_encoder(const std::filesystem::path& dir, Weights& w,
                                                  const nlohmann::json& config) {
  write_checkpoint(dir, w, config, true);
  return TransformerEncoder::load(dir);
}

TEST(TransformerEncoderTest, ScoreAppliesTheCrossEncodersActivation) {
  TempDir dir;
  Weights w = tiny_weights(17, 1);
  const Sequences s = mixed_sequences();
  const PackedBatch batch = pack(s);
  std::vector<double> want_logits;
  for (size_t r = 0; r < batch.rows(); ++r) {
    want_logits.push_back(reference_logits(w, s, r, "pooler.dense", HeadActivation::kTanh, "classifier")[0]);
  }
  auto check = [&](TransformerEncoder& model, ScoreActivation activation) {
    ASSERT_TRUE(model.has_score());
    EXPECT_EQ(model.score_activation(), activation);
    std::vector<float> scores(batch.rows());
    model.score(batch, &scratch_, scores.data());
    for (size_t r = 0; r < batch.rows(); ++r) {
      const double x = want_logits[r];
      const double want = activation == ScoreActivation::kSigmoid ? 1 / (1 + std::exp(-x))
                          : activation == ScoreActivation::kTanh  ? std::tanh(x)
                                                                  : x;
      EXPECT_NEAR(scores[r], want, 1e-4) << score_activation_name(activation) << " row " << r;
    }
  };

  // No activation named: sentence-transformers' CrossEncoder uses sigmoid for one label.
  check(*cross_encoder(dir.path(), w, tiny_config()), ScoreActivation::kSigmoid);

  // sentence-transformers 4 and 5 store it in config.json; before 4, under another key.
  nlohmann::json config = tiny_config();
  config["sentence_transformers"] = {{"activation_fn", "torch.nn.modules.linear.Identity"}, {"version", "4.0.1"}};
  config["sbert_ce_default_activation_function"] = "torch.nn.modules.activation.Tanh";
  check(*cross_encoder(dir.path(), w, config), ScoreActivation::kIdentity);
  config.erase("sentence_transformers");
  check(*cross_encoder(dir.path(), w, config), ScoreActivation::kTanh);

  // sentence-transformers 6: config_sentence_transformers.json comes first in a folder it saved as
  // a CrossEncoder (with modules.json); without modules.json it builds default modules and ignores
  // the file.
  write_text(dir.path() / "config_sentence_transformers.json",
             R"({"model_type": "CrossEncoder", "activation_fn": "torch.nn.modules.activation.Sigmoid"})");
  check(*cross_encoder(dir.path(), w, config), ScoreActivation::kTanh);
  write_text(dir.path() / "modules.json",
             R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"}])");
  auto model = cross_encoder(dir.path(), w, config);
  check(*model, ScoreActivation::kSigmoid);
  EXPECT_THAT(model->sentence_transformers().score_activation_source,
              HasSubstr("config_sentence_transformers.json activation_fn"));

  // Code outside torch is not run by sentence-transformers without trust_remote_code: it falls
  // back, and so does salvo.
  write_text(dir.path() / "config_sentence_transformers.json",
             R"({"model_type": "CrossEncoder", "activation_fn": "mypackage.Scaled"})");
  check(*cross_encoder(dir.path(), w, tiny_config()), ScoreActivation::kSigmoid);
  write_text(dir.path() / "config_sentence_transformers.json",
             R"({"model_type": "CrossEncoder", "activation_fn": "torch.nn.ReLU"})");
  EXPECT_THAT(load_error(dir.path()), HasSubstr("activation_fn 'torch.nn.ReLU' is not supported"));
}

TEST(TransformerEncoderTest, ScoreNeedsAOneOutputHead) {
  TempDir dir;
  Weights w = tiny_weights(18, 2);
  write_checkpoint(dir.path(), w, tiny_config(), true);
  auto model = TransformerEncoder::load(dir.path());
  EXPECT_FALSE(model->has_score());
  const PackedBatch batch = pack(mixed_sequences());
  std::vector<float> out(batch.rows() * 2);
  try {
    model->score(batch, &scratch_, out.data());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_THAT(e.what(), HasSubstr("has 2 labels: use classify"));
  }
}

TEST(TransformerEncoderTest, SentenceTransformersSixModuleNames) {
  TempDir dir;
  Weights w = tiny_weights(19, 0);
  write_checkpoint(dir.path(), w, tiny_config(), false);
  write_text(dir.path() / "modules.json", R"([
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.base.modules.normalize.Normalize"}])");
  write_text(dir.path() / "1_Pooling" / "config.json",
             R"({"embedding_dimension": 16, "pooling_mode": "max", "include_prompt": true})");
  write_text(dir.path() / "sentence_bert_config.json", R"({"max_seq_length": 7, "do_lower_case": false})");
  auto model = TransformerEncoder::load(dir.path());
  EXPECT_EQ(model->pooling(), Pooling::kMax);
  EXPECT_TRUE(model->normalize());
  EXPECT_EQ(model->sentence_transformers().max_seq_length, 7u);

  // Legacy flags with none set mean mean pooling; modes salvo lacks are refused by name.
  write_text(dir.path() / "1_Pooling" / "config.json", R"({"pooling_mode_cls_token": false})");
  EXPECT_EQ(TransformerEncoder::load(dir.path())->pooling(), Pooling::kMean);
  write_text(dir.path() / "1_Pooling" / "config.json", R"({"pooling_mode": "lasttoken"})");
  EXPECT_THAT(load_error(dir.path()), HasSubstr("pooling mode 'lasttoken' is not supported"));
  write_text(dir.path() / "1_Pooling" / "config.json", R"({"pooling_mode": ["cls", "mean"]})");
  EXPECT_THAT(load_error(dir.path()), HasSubstr("pooling modes cls, mean are combined"));
}

TEST(TransformerEncoderTest, TypesOutsideTheTableAreIgnoredWhenTheModelTakesNone) {
  TempDir dir;
  Weights w = tiny_weights(20, 0);
  w["embeddings.token_type_embeddings.weight"].shape[0] = 1;
  w["embeddings.token_type_embeddings.weight"].values.resize(kHidden);
  nlohmann::json config = tiny_config();
  config["model_type"] = "xlm-roberta";
  config["type_vocab_size"] = 1;
  config["pad_token_id"] = 1;
  config["max_position_embeddings"] = kMaxPos + 2;
  Weight& positions = w["embeddings.position_embeddings.weight"];
  positions.shape[0] = kMaxPos + 2;
  positions.values.resize((kMaxPos + 2) * kHidden, 0.1f);
  write_checkpoint(dir.path(), w, config, false);
  auto model = TransformerEncoder::load(dir.path());
  const PackedBatch batch{{3, 4, 5}, {0, 1, 1}, {0, 3}};  // a pair's type ids from the tokenizer
  std::vector<float> out(3 * kHidden);
  EXPECT_NO_THROW(model->hidden_states(batch, &scratch_, out.data()));
}

}  // namespace
}  // namespace salvo
