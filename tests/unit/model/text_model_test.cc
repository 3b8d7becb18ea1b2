// load_text_model: what ModelInfo says about each architecture and head, the tasks it serves, the
// replica's score task, and the length limit.
#include "model/text_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <omp.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "core/error.h"
#include "model/test_checkpoint.h"
#include "model/transformer_encoder.h"
#include "salvo/model.h"

namespace salvo {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using testing::write_text;

constexpr int64_t kVocab = 8000;  // tests/data/tokenizers/vocab-uncased
constexpr int64_t kHidden = 16;

void add(std::map<std::string, testing::RawTensor>& tensors, const std::string& name, std::vector<int64_t> shape,
         std::mt19937& rng) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  tensors[name] = {"F32", shape, testing::f32_bytes(v)};
}

// A one-layer BERT-style checkpoint (BERT or RoBERTa names) with `labels` outputs (0: no head),
// and the test vocabulary as its tokenizer.
void write_model(const std::filesystem::path& dir, const std::string& model_type, int64_t labels,
                 int64_t positions, nlohmann::json extra = nlohmann::json::object()) {
  std::mt19937 rng(7);
  std::map<std::string, testing::RawTensor> t;
  const std::string p = model_type == "bert" ? "bert." : "roberta.";
  add(t, p + "embeddings.word_embeddings.weight", {kVocab, kHidden}, rng);
  add(t, p + "embeddings.position_embeddings.weight", {positions, kHidden}, rng);
  add(t, p + "embeddings.token_type_embeddings.weight", {2, kHidden}, rng);
  for (const char* norm : {"embeddings.LayerNorm", "encoder.layer.0.attention.output.LayerNorm",
                           "encoder.layer.0.output.LayerNorm"}) {
    add(t, p + norm + ".weight", {kHidden}, rng);
    add(t, p + norm + ".bias", {kHidden}, rng);
  }
  for (const char* square : {"attention.self.query", "attention.self.key", "attention.self.value",
                             "attention.output.dense"}) {
    add(t, p + "encoder.layer.0." + square + ".weight", {kHidden, kHidden}, rng);
    add(t, p + "encoder.layer.0." + square + ".bias", {kHidden}, rng);
  }
  add(t, p + "encoder.layer.0.intermediate.dense.weight", {32, kHidden}, rng);
  add(t, p + "encoder.layer.0.intermediate.dense.bias", {32}, rng);
  add(t, p + "encoder.layer.0.output.dense.weight", {kHidden, 32}, rng);
  add(t, p + "encoder.layer.0.output.dense.bias", {kHidden}, rng);
  if (labels > 0) {
    const std::string dense = model_type == "bert" ? p + "pooler.dense" : "classifier.dense";
    const std::string out = model_type == "bert" ? "classifier" : "classifier.out_proj";
    add(t, dense + ".weight", {kHidden, kHidden}, rng);
    add(t, dense + ".bias", {kHidden}, rng);
    add(t, out + ".weight", {labels, kHidden}, rng);
    add(t, out + ".bias", {labels}, rng);
  }
  write_text(dir / "model.safetensors", testing::safetensors_bytes(t));
  nlohmann::json config = {{"model_type", model_type},
                           {"vocab_size", kVocab},
                           {"hidden_size", kHidden},
                           {"num_hidden_layers", 1},
                           {"num_attention_heads", 2},
                           {"intermediate_size", 32},
                           {"max_position_embeddings", positions},
                           {"pad_token_id", model_type == "bert" ? 0 : 1}};
  config.update(extra);
  write_text(dir / "config.json", config.dump());
  std::filesystem::copy_file(std::filesystem::path(SALVO_TEST_DATA_DIR) / "tokenizers" / "vocab-uncased" / "vocab.txt",
                             dir / "vocab.txt", std::filesystem::copy_options::overwrite_existing);
}

bool serves(const ModelInfo& info, Task task) { return info.serves(task); }

TEST(TextModelTest, ClassifierInfoAndTasks) {
  TempDir dir;
  write_model(dir.path(), "bert", 3, 64, {{"id2label", {{"0", "a"}, {"1", "b"}, {"2", "c"}}}});
  const auto model = load_text_model(dir.path(), {});
  const ModelInfo& info = model->info();
  EXPECT_EQ(info.architecture, "bert");
  EXPECT_TRUE(serves(info, Task::kEmbed));
  EXPECT_TRUE(serves(info, Task::kClassify));
  EXPECT_FALSE(serves(info, Task::kScore));
  EXPECT_EQ(info.labels, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(info.head, "pooler.dense + tanh + classifier on the first token: classify = softmax over 3 labels");
  EXPECT_EQ(info.pooling, "mean pooling + L2 normalisation (default)");
  EXPECT_EQ(model->output_width(Task::kClassify), 3u);
  EXPECT_EQ(model->output_width(Task::kScore), 0u);
}

TEST(TextModelTest, OneOutputHeadIsScored) {
  TempDir dir;
  write_model(dir.path(), "roberta", 1, 66, {{"sbert_ce_default_activation_function", "torch.nn.modules.linear.Identity"}});
  const auto model = load_text_model(dir.path(), {});
  const ModelInfo& info = model->info();
  EXPECT_EQ(info.architecture, "roberta");
  EXPECT_TRUE(serves(info, Task::kScore));
  EXPECT_FALSE(serves(info, Task::kClassify));
  EXPECT_THAT(info.head, HasSubstr("classifier.dense + tanh + classifier.out_proj on the first token: "
                                   "score = identity(logit) ("));
  EXPECT_THAT(info.head, HasSubstr("config.json sbert_ce_default_activation_function)"));
  ASSERT_EQ(model->output_width(Task::kScore), 1u);
  // RoBERTa's positions start after the padding id: 66 rows hold 64 tokens.
  EXPECT_EQ(info.max_length, 64u);

  // The replica's score is the encoder's: the raw logit here.
  PackedBatch batch{{0, 7, 9, 2, 0, 2}, {0, 0, 1, 1, 0, 0}, {0, 4, 6}};
  std::vector<float> scores(2), logits(2);
  model->create_replica()->run(Task::kScore, batch, scores.data());
  const auto encoder = TransformerEncoder::load(dir.path());
  EncoderScratch scratch;
  encoder->logits(batch, &scratch, logits.data());
  EXPECT_FLOAT_EQ(scores[0], logits[0]);
  EXPECT_FLOAT_EQ(scores[1], logits[1]);
}

TEST(TextModelTest, MultiLabelSaysSigmoid) {
  TempDir dir;
  write_model(dir.path(), "bert", 2, 64, {{"problem_type", "multi_label_classification"}});
  const auto model = load_text_model(dir.path(), {});  // the info lives as long as the model
  const ModelInfo& info = model->info();
  EXPECT_TRUE(serves(info, Task::kClassify));
  EXPECT_THAT(info.head, HasSubstr("classify = a sigmoid per label over 2 labels (problem_type "
                                   "multi_label_classification)"));
}

TEST(TextModelTest, LengthFromSentenceBertConfig) {
  TempDir dir;
  write_model(dir.path(), "bert", 0, 64);
  EXPECT_EQ(load_text_model(dir.path(), {})->info().max_length, 64u);
  write_text(dir.path() / "sentence_bert_config.json", R"({"max_seq_length": 40})");
  EXPECT_EQ(load_text_model(dir.path(), {})->info().max_length, 40u);
  ModelOptions tokenizer_only;
  tokenizer_only.tokenizer_only = true;
  EXPECT_EQ(load_text_model(dir.path(), tokenizer_only)->info().max_length, 40u);
  ModelOptions explicit_length;
  explicit_length.max_length = 50;
  EXPECT_EQ(load_text_model(dir.path(), explicit_length)->info().max_length, 50u);
  // Never past the positions.
  write_text(dir.path() / "sentence_bert_config.json", R"({"max_seq_length": 4096})");
  EXPECT_EQ(load_text_model(dir.path(), {})->info().max_length, 64u);
}

TEST(TextModelTest, UnsupportedModelTypeIsNamed) {
  TempDir dir;
  write_model(dir.path(), "bert", 0, 64, {{"model_type", "deberta-v2"}});
  try {
    load_model(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_THAT(e.what(), HasSubstr("model_type 'deberta-v2' is not supported"));
  }
}

size_t process_threads() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// Loading packs weights in OpenMP loops. Their team must end with the load: libgomp keeps a team on
// the thread that ran it, and a team on the caller's thread next to a session's replica team would
// make libgomp put the replica's threads to sleep between every two parallel regions.
TEST(LoadModelTest, LeavesNoOpenMPTeamOnTheCallersThread) {
  TempDir dir;
  write_model(dir.path(), "bert", 0, 64);
  size_t before = 0, after = 0;
  std::thread caller([&] {  // a thread of its own: no earlier test's team on it
    omp_set_num_threads(2);
    before = process_threads();
    const auto model = load_model(dir.path());
    // The loader's OpenMP threads leave once it ends, shortly after the load returns. (An earlier
    // test's may still be leaving too: fewer threads than before is fine, more is the bug.)
    for (int i = 0; i < 500 && process_threads() > before; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    after = process_threads();
  });
  caller.join();
  EXPECT_LE(after, before);
}

TEST(TextModelTest, ProbeTextsCoverTheCorpusLanguages) {
  std::string all;
  size_t longest = 0;
  for (const std::string& t : precision_probe_texts()) {
    all += t;
    longest = std::max(longest, t.size());
  }
  for (const char* sample : {"Bibliothek", "Bibliothèque", "línea", "Утилита", "画像", "图像"}) {
    EXPECT_THAT(all, HasSubstr(sample));
  }
  EXPECT_GT(longest, 800u);  // a few hundred tokens
}

}  // namespace
}  // namespace salvo
