#include "text/tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Tokens = std::vector<std::string>;

const fs::path kDataDir = fs::path(SALVO_TEST_DATA_DIR) / "tokenizers";

// A temporary folder removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("salvo_text_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
    return path_ / name;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

const std::vector<std::string> kVocab = {"[PAD]", "[UNK]",  "[CLS]", "[SEP]", "[MASK]", "un",
                                         "##aff", "##able", "hello", "world", "!",      "cafe",
                                         "café",  "中",     "文",    "i",     "a",      "##a"};

// A bert-base-uncased style tokenizer.json over kVocab, adjustable before writing.
json base_json() {
  json vocab = json::object();
  for (size_t i = 0; i < kVocab.size(); ++i) vocab[kVocab[i]] = i;
  json added = json::array();
  for (int id = 0; id < 5; ++id) {
    added.push_back({{"id", id},
                     {"content", kVocab[id]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "BertNormalizer"},
        {"clean_text", true},
        {"handle_chinese_chars", true},
        {"strip_accents", nullptr},
        {"lowercase", true}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}}}},
        {"pair",
         {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "B"}, {"type_id", 1}}}},
          {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 1}}}}}},
        {"special_tokens",
         {{"[CLS]", {{"id", "[CLS]"}, {"ids", {2}}, {"tokens", {"[CLS]"}}}},
          {"[SEP]", {{"id", "[SEP]"}, {"ids", {3}}, {"tokens", {"[SEP]"}}}}}}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
      {"model",
       {{"type", "WordPiece"},
        {"unk_token", "[UNK]"},
        {"continuing_subword_prefix", "##"},
        {"max_input_chars_per_word", 100},
        {"vocab", vocab}}},
  };
}

Tokenizer load(const TempDir& dir, const json& doc) {
  return Tokenizer::from_tokenizer_json(dir.write("tokenizer.json", doc.dump(2)));
}

Tokens tokens_of(const Tokenizer& t, std::string_view text) {
  Encoding e;
  t.encode(text, &e);
  Tokens out;
  for (int32_t id : e.ids) out.emplace_back(t.id_to_token(id));
  return out;
}

TEST(TokenizerTest, EncodesWithSpecialTokens) {
  TempDir dir;
  Tokenizer t = load(dir, base_json());
  EXPECT_EQ(tokens_of(t, "UnAffable HELLO, world!"),
            (Tokens{"[CLS]", "un", "##aff", "##able", "hello", "[UNK]", "world", "!", "[SEP]"}));
  EXPECT_EQ(tokens_of(t, "Café 中文"), (Tokens{"[CLS]", "cafe", "中", "文", "[SEP]"}));
  EXPECT_EQ(tokens_of(t, ""), (Tokens{"[CLS]", "[SEP]"}));
  Encoding e;
  t.encode("hello", &e);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 8, 3}));
  EXPECT_EQ(e.type_ids, (std::vector<int32_t>{0, 0, 0}));
  EXPECT_EQ(t.vocab_size(), kVocab.size());
  EXPECT_EQ(t.pad_id(), 0);
  EXPECT_EQ(t.max_length(), 0u);
  EXPECT_EQ(t.num_special_tokens(), 2u);
  EXPECT_EQ(t.id_to_token(12), "café");
  EXPECT_EQ(t.id_to_token(999), "");
}

TEST(TokenizerTest, SpecialTokensInTheTextAreMatchedBeforeNormalizing) {
  TempDir dir;
  Tokenizer t = load(dir, base_json());
  // "[mask]" is not the token: it becomes the words "[", "mask", "]", none in the vocabulary.
  EXPECT_EQ(tokens_of(t, "hello[MASK] [SEP]world [mask] cafe[CLS]"),
            (Tokens{"[CLS]", "hello", "[MASK]", "[SEP]", "world", "[UNK]", "[UNK]", "[UNK]", "cafe",
                    "[CLS]", "[SEP]"}));
}

TEST(TokenizerTest, CasedKeepsAccents) {
  TempDir dir;
  json doc = base_json();
  doc["normalizer"]["lowercase"] = false;
  Tokenizer t = load(dir, doc);
  EXPECT_EQ(tokens_of(t, "café Café"), (Tokens{"[CLS]", "café", "[UNK]", "[SEP]"}));
}

TEST(TokenizerTest, TruncatesWordPiecesBeforeAddingSpecialTokens) {
  TempDir dir;
  Tokenizer t = load(dir, base_json());
  t.set_max_length(5);
  EXPECT_EQ(tokens_of(t, "hello world ! hello"), (Tokens{"[CLS]", "hello", "world", "!", "[SEP]"}));
  // Truncation can cut a word between its pieces.
  EXPECT_EQ(tokens_of(t, "hello unaffable"), (Tokens{"[CLS]", "hello", "un", "##aff", "[SEP]"}));
  EXPECT_EQ(tokens_of(t, "hello"), (Tokens{"[CLS]", "hello", "[SEP]"}));
  t.set_max_length(2);
  EXPECT_EQ(tokens_of(t, "hello world"), (Tokens{"[CLS]", "[SEP]"}));
  t.set_max_length(0);
  EXPECT_EQ(tokens_of(t, "hello world ! hello").size(), 6u);
}

TEST(TokenizerTest, TruncationFromTheFileAndLeftDirection) {
  TempDir dir;
  json doc = base_json();
  doc["truncation"] = {
      {"direction", "Left"}, {"max_length", 4}, {"strategy", "LongestFirst"}, {"stride", 0}};
  Tokenizer t = load(dir, doc);
  EXPECT_EQ(t.max_length(), 4u);
  EXPECT_EQ(tokens_of(t, "hello world !"), (Tokens{"[CLS]", "world", "!", "[SEP]"}));
}

TEST(TokenizerTest, TemplateTypeIdsAndMultiIdSpecialTokens) {
  TempDir dir;
  json doc = base_json();
  doc["post_processor"]["single"] = {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}},
                                     {{"Sequence", {{"id", "A"}, {"type_id", 1}}}},
                                     {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 2}}}}};
  doc["post_processor"]["special_tokens"]["[SEP]"]["ids"] = {3, 4};
  Tokenizer t = load(dir, doc);
  Encoding e;
  t.set_max_length(5);
  t.encode("hello world !", &e);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 8, 9, 3, 4}));
  EXPECT_EQ(e.type_ids, (std::vector<int32_t>{0, 1, 1, 2, 2}));
  EXPECT_EQ(t.num_special_tokens(), 3u);
}

TEST(TokenizerTest, BertProcessingAndNoPostProcessor) {
  TempDir dir;
  json doc = base_json();
  doc["post_processor"] = {
      {"type", "BertProcessing"}, {"sep", {"[SEP]", 3}}, {"cls", {"[CLS]", 2}}};
  EXPECT_EQ(tokens_of(load(dir, doc), "hello"), (Tokens{"[CLS]", "hello", "[SEP]"}));
  doc["post_processor"] = nullptr;
  EXPECT_EQ(tokens_of(load(dir, doc), "hello"), (Tokens{"hello"}));
}

TEST(TokenizerTest, PadIdFromPaddingElsePadToken) {
  TempDir dir;
  json doc = base_json();
  doc["padding"] = {{"pad_id", 4}, {"pad_token", "[MASK]"}};
  EXPECT_EQ(load(dir, doc).pad_id(), 4);
}

// Loads `doc` and expects a kModel error whose message contains `needle` and the file name.
void expect_model_error(const json& doc, const std::string& needle) {
  TempDir dir;
  try {
    load(dir, doc);
    ADD_FAILURE() << "no error for " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    std::string message = e.what();
    EXPECT_NE(message.find(needle), std::string::npos) << message;
    EXPECT_NE(message.find("tokenizer.json"), std::string::npos) << message;
  }
}

TEST(TokenizerTest, MalformedOrUnsupportedFilesAreModelErrors) {
  json doc = base_json();
  doc["model"] = {{"type", "WordLevel"}, {"vocab", json::object()}, {"unk_token", "[UNK]"}};
  expect_model_error(doc, "WordLevel");
  doc["model"] = {{"type", "Unigram"}, {"vocab", json::array()}};
  expect_model_error(doc, "Unigram vocabulary is empty");
  doc = base_json();
  doc["model"].erase("vocab");
  expect_model_error(doc, "model.vocab");
  doc = base_json();
  doc["model"]["vocab"]["hello"] = "eight";
  expect_model_error(doc, "hello");
  doc = base_json();
  doc["model"]["unk_token"] = "<unk>";
  expect_model_error(doc, "<unk>");
  doc = base_json();
  doc["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "Unidecode"}}}}};
  expect_model_error(doc, "normalizer.normalizers[0] type 'Unidecode'");
  doc = base_json();
  doc["pre_tokenizer"] = {{"type", "UnicodeScripts"}};
  expect_model_error(doc, "pre_tokenizer type 'UnicodeScripts'");
  doc = base_json();
  doc["post_processor"]["single"][0]["SpecialToken"]["id"] = "[BOS]";
  expect_model_error(doc, "[BOS]");
  doc = base_json();
  doc["normalizer"]["lowercase"] = "yes";
  expect_model_error(doc, "normalizer.lowercase");
  doc = base_json();
  doc["truncation"] = {{"direction", "Right"}};
  expect_model_error(doc, "truncation.max_length");
  doc = base_json();
  doc["truncation"] = {{"max_length", 8}, {"stride", 2}};
  expect_model_error(doc, "truncation.stride '2'");
  doc = base_json();
  doc["truncation"] = {{"max_length", 8}, {"strategy", "Sideways"}};
  expect_model_error(doc, "truncation.strategy 'Sideways'");
  doc = base_json();
  doc["version"] = "2.0";
  expect_model_error(doc, "version");
  doc = base_json();
  doc["model"] = {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", json::array()},
                  {"dropout", 0.1}};
  expect_model_error(doc, "model.dropout '0.1'");
  doc = base_json();
  doc["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}},
                          {"behavior", "Isolated"}, {"invert", false}};
  expect_model_error(doc, "invalid regular expression '(unclosed'");
  doc = base_json();
  doc["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "_"}, {"prepend_scheme", "sometimes"}};
  expect_model_error(doc, "prepend_scheme 'sometimes'");
}

// Regressions of a hostile-input probe: each must fail at load with a clear kModel error.
TEST(TokenizerTest, PostProcessorIdOutsideTheVocabularyFailsAtLoad) {
  json doc = base_json();
  doc["post_processor"]["special_tokens"]["[SEP]"]["ids"] = {1000000};
  expect_model_error(doc, "special token id 1000000 is outside the vocabulary");
  doc = base_json();
  doc["post_processor"] = {{"type", "RobertaProcessing"}, {"sep", {"</s>", 99}}, {"cls", {"<s>", 0}},
                           {"trim_offsets", true}, {"add_prefix_space", true}};
  expect_model_error(doc, "special token id 99");
}

TEST(TokenizerTest, FilesThatAreNotRegularOrTooLargeFailFast) {
  TempDir dir;
  fs::create_symlink("/dev/zero", dir.path() / "tokenizer.json");
  try {
    Tokenizer::from_model_dir(dir.path());
    ADD_FAILURE() << "no error for /dev/zero";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  fs::path big = dir.path() / "big.json";
  {
    std::ofstream out(big, std::ios::binary);
    out << "{\"model\": \"";
  }
  fs::resize_file(big, (256u << 20) + 1);
  try {
    Tokenizer::from_tokenizer_json(big);
    ADD_FAILURE() << "no error for a file over 256 MiB";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than the 256 MiB allowed"), std::string::npos)
        << e.what();
  }
}

TEST(TokenizerTest, AbsurdVocabulariesAndBadIdsAreRefused) {
  json doc = base_json();
  doc["model"]["vocab"]["huge"] = 2000000000;
  expect_model_error(doc, "far beyond the");
  doc = base_json();
  doc["model"]["vocab"]["negative"] = -3;
  expect_model_error(doc, "invalid id -3");
  doc = base_json();
  doc["model"]["vocab"]["twin"] = 8;  // "hello" has 8
  expect_model_error(doc, "id 8 is given to more than one token");
  doc = base_json();
  doc["model"] = {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}},
                  {"merges", {"a c"}}};
  expect_model_error(doc, "'c' is not in the vocabulary");
  doc["model"]["merges"] = {"b a"};
  expect_model_error(doc, "the result 'ba' is not in the vocabulary");
  doc["model"]["merges"] = {"a b c"};
  expect_model_error(doc, "is not two tokens separated by one space");
  doc = base_json();
  doc["model"] = {{"type", "Unigram"}, {"vocab", json::array({json::array({"<unk>", 0.0}), json::array({"a", -1.0})})},
                  {"unk_id", 5}};
  expect_model_error(doc, "unk_id 5 is outside the vocabulary");
  // A vocabulary of millions of entries is refused while parsing, before it takes gigabytes.
  TempDir dir;
  std::string many = "{\"model\": {\"type\": \"Unigram\", \"vocab\": [";
  for (int i = 0; i < 3000000; ++i) many += "[\"\",0],";
  many += "[\"x\",0]]}}";
  try {
    Tokenizer::from_tokenizer_json(dir.write("tokenizer.json", many));
    ADD_FAILURE() << "no error for 3 million pieces";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find("the vocabulary is too large"), std::string::npos)
        << e.what();
  }
}

TEST(TokenizerTest, ModelDirWithoutTokenizerJsonNamesWhatIsNeeded) {
  TempDir dir;
  dir.write("sentencepiece.bpe.model", "x");
  try {
    Tokenizer::from_model_dir(dir.path());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs tokenizer.json"), std::string::npos) << e.what();
  }
  TempDir bpe;
  bpe.write("vocab.json", "{}");
  bpe.write("merges.txt", "");
  try {
    Tokenizer::from_model_dir(bpe.path());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs tokenizer.json"), std::string::npos) << e.what();
  }
}

TEST(TokenizerTest, PairsUseThePairTemplateAndTruncateLongestFirst) {
  TempDir dir;
  Tokenizer t = load(dir, base_json());
  Encoding e;
  t.encode_pair("hello world", "unaffable !", &e);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 8, 9, 3, 5, 6, 7, 10, 3}));
  EXPECT_EQ(e.type_ids, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1, 1}));
  EXPECT_EQ(t.num_special_tokens(true), 3u);
  t.set_max_length(6);  // 3 ids left: the longer second text gives up more
  t.encode_pair("hello world", "unaffable !", &e);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 8, 3, 5, 6, 3}));
  EXPECT_EQ(t.describe(), "WordPiece (BertNormalizer, BertPreTokenizer), TemplateProcessing");
}

TEST(TokenizerTest, OnlySecondOnASingleTextThatIsTooLongIsAnInputError) {
  TempDir dir;
  json doc = base_json();
  doc["truncation"] = {{"max_length", 4}, {"strategy", "OnlySecond"}};
  Tokenizer t = load(dir, doc);
  Encoding e;
  t.encode("hello", &e);
  EXPECT_EQ(e.ids.size(), 3u);
  try {
    t.encode("hello world !", &e);
    ADD_FAILURE();
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(TokenizerTest, UnreadableFilesAreModelErrors) {
  TempDir dir;
  fs::path bad = dir.write("tokenizer.json", "{\"version\": \"1.0\", \"model\": ");
  EXPECT_THROW(Tokenizer::from_tokenizer_json(bad), Error);
  EXPECT_THROW(Tokenizer::from_tokenizer_json(dir.path() / "missing.json"), Error);
  EXPECT_THROW(Tokenizer::from_model_dir(dir.path() / "nothing_here"), Error);
  dir.write("tokenizer.json", "[1, 2]");
  EXPECT_THROW(Tokenizer::from_model_dir(dir.path()), Error);
}

TEST(TokenizerTest, InvalidUtf8NeverCrashes) {
  TempDir dir;
  Tokenizer t = load(dir, base_json());
  // Invalid bytes are U+FFFD, which clean_text removes.
  EXPECT_EQ(tokens_of(t, "hel\xFFlo \xC3 world\xE4\xB8"),
            (Tokens{"[CLS]", "hello", "world", "[SEP]"}));
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> byte(0, 255);
  Encoding e;
  for (int round = 0; round < 3000; ++round) {
    std::string s(static_cast<size_t>(round % 64), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    t.encode(s, &e);
    ASSERT_GE(e.ids.size(), 2u);
    EXPECT_EQ(e.ids.front(), 2);
    EXPECT_EQ(e.ids.back(), 3);
    EXPECT_EQ(e.ids.size(), e.type_ids.size());
  }
}

std::vector<std::string> hard_cases() {
  std::ifstream in(kDataDir / "hard_cases.jsonl");
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) texts.push_back(json::parse(line)["text"].get<std::string>());
  return texts;
}

TEST(TokenizerTest, VocabTxtFallbackEqualsTokenizerJson) {
  std::vector<std::string> texts = hard_cases();
  ASSERT_GT(texts.size(), 40u);
  for (const char* variant : {"uncased", "cased"}) {
    Tokenizer from_json =
        Tokenizer::from_model_dir(kDataDir / (std::string("bert-") + variant));
    Tokenizer from_vocab =
        Tokenizer::from_model_dir(kDataDir / (std::string("vocab-") + variant));
    from_json.set_max_length(512);
    from_vocab.set_max_length(512);
    EXPECT_EQ(from_json.vocab_size(), from_vocab.vocab_size());
    EXPECT_EQ(from_json.pad_id(), from_vocab.pad_id());
    Encoding a, b;
    for (const std::string& text : texts) {
      from_json.encode(text, &a);
      from_vocab.encode(text, &b);
      EXPECT_EQ(a.ids, b.ids) << variant << ": " << text;
      EXPECT_EQ(a.type_ids, b.type_ids) << variant << ": " << text;
    }
  }
}

TEST(TokenizerTest, VocabTxtReadsDoLowerCase) {
  TempDir dir;
  std::string vocab;
  for (const std::string& t : kVocab) vocab += t + "\n";
  dir.write("vocab.txt", vocab);
  EXPECT_EQ(tokens_of(Tokenizer::from_model_dir(dir.path()), "Café"),
            (Tokens{"[CLS]", "cafe", "[SEP]"}));
  dir.write("tokenizer_config.json", R"({"do_lower_case": false})");
  EXPECT_EQ(tokens_of(Tokenizer::from_model_dir(dir.path()), "café Café"),
            (Tokens{"[CLS]", "café", "[UNK]", "[SEP]"}));
  EXPECT_EQ(
      tokens_of(Tokenizer::from_vocab_txt(dir.path() / "vocab.txt", true), "[MASK]A"),
      (Tokens{"[CLS]", "[MASK]", "a", "[SEP]"}));
}

class ConcurrentEncodeTest : public ::testing::TestWithParam<const char*> {};

// Every kind (WordPiece; BPE and Unigram with their per-thread caches; Oniguruma patterns) gives
// the same ids from several threads at once, and alternating two tokenizers on one thread.
TEST_P(ConcurrentEncodeTest, AgreesWithSequentialEncodes) {
  Tokenizer t = Tokenizer::from_model_dir(kDataDir / GetParam());
  Tokenizer other = Tokenizer::from_model_dir(kDataDir / "trained-unigram");
  std::vector<std::string> texts = hard_cases();
  std::vector<Encoding> expected(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) t.encode(texts[i], &expected[i]);
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      Encoding e;
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          t.encode(texts[(i + k * 7) % texts.size()], &e);
          if (e.ids != expected[(i + k * 7) % texts.size()].ids) ++failures[k];
          if (i % 5 == 0) other.encode(texts[i], &e);
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

INSTANTIATE_TEST_SUITE_P(Kinds, ConcurrentEncodeTest,
                         ::testing::Values("bert-uncased", "trained-bpe-bytelevel",
                                           "trained-bpe-bytefallback", "trained-unigram",
                                           "trained-wordpiece"));

// A long text truncated on the right is tokenized a piece at a time (cut just before whitespace)
// until its kept ids are known: the ids are exactly those of the whole text, truncated. Tokenizers
// whose words may span whitespace (byte-level BPE, Unigram's Metaspace) take the whole text.
TEST(TokenizerTest, LongTextsGiveTheSameIdsAsWholeTextsTruncated) {
  for (const std::string name : {"bert-uncased", "trained-wordpiece", "trained-bpe-bytelevel", "trained-unigram"}) {
    Tokenizer t = Tokenizer::from_model_dir(kDataDir / name);
    const char* words[] = {"hello", "world", "!", "unaffable", "Café", "中文", "[MASK]", "  ", "\n", "\t",
                           "cafe\xcc\x81", "a", "zzz", "x\x01y", "naïve", "ﬁ", "\xcc\x81"};
    std::mt19937 rng(7);
    std::string text;
    while (text.size() < 400000) {
      text += words[rng() % std::size(words)];
      const unsigned gap = rng() % 4;
      text += gap == 0 ? "" : gap == 1 ? "\n" : " ";
    }
    t.set_max_length(0);
    Encoding all;
    t.encode(text, &all);
    ASSERT_GT(all.ids.size(), 70000u) << name;
    const size_t special = t.num_special_tokens(false);
    for (size_t max : {3u, 128u, 5000u, 60000u}) {
      t.set_max_length(max);
      Encoding cut;
      t.encode(text, &cut);
      Encoding expected = all;
      // The whole text's ids, truncated as the library does: the specials kept around the first ids.
      std::vector<int32_t> body(all.ids.begin() + (special ? 1 : 0), all.ids.end() - (special > 1 ? 1 : 0));
      body.resize(max - special);
      std::vector<int32_t> want;
      if (special) want.push_back(all.ids.front());
      want.insert(want.end(), body.begin(), body.end());
      if (special > 1) want.push_back(all.ids.back());
      EXPECT_EQ(cut.ids, want) << name << ", max length " << max;
    }
  }
}

}  // namespace
}  // namespace salvo
