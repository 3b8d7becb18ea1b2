#include "text/models/wordpiece.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "text/unicode.h"

namespace salvo {
namespace {

using Vocab = std::vector<std::pair<std::string, int32_t>>;

Vocab make_vocab(const std::vector<std::string>& tokens) {
  Vocab v;
  for (size_t i = 0; i < tokens.size(); ++i) v.emplace_back(tokens[i], static_cast<int32_t>(i));
  return v;
}

std::vector<std::string> pieces(const WordPieceModel& model, std::string_view word) {
  std::u32string cps;
  decode_utf8(word, &cps);
  std::vector<int32_t> ids;
  model.tokenize(cps, &ids);
  std::vector<std::string> out;
  for (int32_t id : ids) out.emplace_back(model.id_to_token(id));
  return out;
}

using Pieces = std::vector<std::string>;

const std::vector<std::string> kTokens = {"[UNK]", "un",   "##aff", "##able", "a",
                                          "##a",   "aa",   "##aa",  "é",      "##é",
                                          "中",    "want", "##ed",  "##e",    "##d"};

TEST(WordPieceModelTest, GreedyLongestMatchFirst) {
  WordPieceModel model(make_vocab(kTokens), WordPieceOptions{});
  EXPECT_EQ(pieces(model, "unaffable"), (Pieces{"un", "##aff", "##able"}));
  EXPECT_EQ(pieces(model, "aaaaa"), (Pieces{"aa", "##aa", "##a"}));
  EXPECT_EQ(pieces(model, "wanted"), (Pieces{"want", "##ed"}));
  EXPECT_EQ(pieces(model, "éé"), (Pieces{"é", "##é"}));
}

TEST(WordPieceModelTest, WholeWordIsUnknownWhenAnyPartFails) {
  WordPieceModel model(make_vocab(kTokens), WordPieceOptions{});
  EXPECT_EQ(pieces(model, "unaffablex"), (Pieces{"[UNK]"}));
  EXPECT_EQ(pieces(model, "x"), (Pieces{"[UNK]"}));
  EXPECT_EQ(pieces(model, "ab"), (Pieces{"[UNK]"}));
}

TEST(WordPieceModelTest, WordsOverTheCharacterLimitAreUnknown) {
  WordPieceOptions options;
  options.max_input_chars_per_word = 4;
  WordPieceModel model(make_vocab(kTokens), options);
  EXPECT_EQ(pieces(model, "aaaa"), (Pieces{"aa", "##aa"}));
  EXPECT_EQ(pieces(model, "aaaaa"), (Pieces{"[UNK]"}));
  EXPECT_EQ(pieces(model, "éééé"), (Pieces{"é", "##é", "##é", "##é"}));  // counts chars, not bytes
}

TEST(WordPieceModelTest, CustomAndEmptyContinuationPrefix) {
  WordPieceOptions options;
  options.continuing_subword_prefix = "@@";
  options.unk_token = "<unk>";
  WordPieceModel model(make_vocab({"<unk>", "ab", "@@c", "c"}), options);
  EXPECT_EQ(pieces(model, "abc"), (Pieces{"ab", "@@c"}));
  options.continuing_subword_prefix = "";
  WordPieceModel bare(make_vocab({"<unk>", "ab", "c"}), options);
  EXPECT_EQ(pieces(bare, "abc"), (Pieces{"ab", "c"}));
}

TEST(WordPieceModelTest, MissingUnkTokenIsAModelError) {
  try {
    WordPieceModel model(make_vocab({"a", "b"}), WordPieceOptions{});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find("[UNK]"), std::string::npos);
  }
}

TEST(TokenTrieTest, InsertFindReplaceAndLongestPrefix) {
  TokenTrie trie;
  EXPECT_EQ(trie.find(U"x"), -1);
  auto key = [](int i) {
    return std::u32string(static_cast<size_t>(i % 37 + 1), char32_t('a' + i % 26)) +
           char32_t(0x4E00 + i);
  };
  for (int i = 0; i < 1000; ++i) trie.insert(key(i), i);
  EXPECT_EQ(trie.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(trie.find(key(i)), i);
  EXPECT_EQ(trie.find(U"aa"), -1);  // an inner node, not a key
  trie.insert(U"aa", 5000);
  trie.insert(U"aa", 5001);
  EXPECT_EQ(trie.size(), 1001u);
  EXPECT_EQ(trie.find(U"aa"), 5001);
  size_t length = 9;
  EXPECT_EQ(trie.longest_prefix(U"aaab", &length), 5001);
  EXPECT_EQ(length, 2u);
  EXPECT_EQ(trie.longest_prefix(key(26) + U"zz", &length), 26);
  EXPECT_EQ(length, key(26).size());
  EXPECT_EQ(trie.longest_prefix(U"q", &length), -1);
  EXPECT_EQ(length, 0u);
}

// Reference: tokenizers' WordPiece::tokenize transcribed literally (UTF-8 strings, prefix
// concatenated for every candidate, shrinking one character at a time from the full length).
std::vector<int32_t> reference_tokenize(const std::unordered_map<std::string, int32_t>& vocab,
                                        const std::string& word, size_t max_chars) {
  std::u32string cps;
  decode_utf8(word, &cps);
  if (cps.size() > max_chars) return {vocab.at("[UNK]")};
  std::vector<int32_t> out;
  size_t start = 0;
  while (start < cps.size()) {
    size_t end = cps.size();
    int32_t found = -1;
    while (start < end) {
      std::string sub = to_utf8(std::u32string_view(cps).substr(start, end - start));
      if (start > 0) sub = "##" + sub;
      auto it = vocab.find(sub);
      if (it != vocab.end()) {
        found = it->second;
        break;
      }
      --end;
    }
    if (found < 0) return {vocab.at("[UNK]")};
    out.push_back(found);
    start = end;
  }
  return out;
}

TEST(WordPieceModelTest, MatchesLiteralReferenceOnRandomWords) {
  const std::u32string alphabet = U"abcé中";
  std::mt19937 rng(11);
  std::uniform_int_distribution<size_t> letter(0, alphabet.size() - 1);
  auto random_string = [&](size_t n) {
    std::u32string s;
    for (size_t i = 0; i < n; ++i) s.push_back(alphabet[letter(rng)]);
    return to_utf8(s);
  };
  std::unordered_map<std::string, int32_t> vocab{{"[UNK]", 0}};
  Vocab list{{"[UNK]", 0}};
  for (int i = 0; i < 200; ++i) {
    std::string t = (i % 2 ? "##" : "") + random_string(1 + static_cast<size_t>(i) % 5);
    if (vocab.emplace(t, static_cast<int32_t>(list.size())).second) {
      list.emplace_back(t, static_cast<int32_t>(list.size()));
    }
  }
  WordPieceOptions options;
  options.max_input_chars_per_word = 12;
  WordPieceModel model(list, options);
  for (int round = 0; round < 5000; ++round) {
    std::string word = random_string(1 + static_cast<size_t>(round) % 14);
    std::u32string cps;
    decode_utf8(word, &cps);
    std::vector<int32_t> ids;
    model.tokenize(cps, &ids);
    EXPECT_EQ(ids, reference_tokenize(vocab, word, 12)) << word;
  }
}

}  // namespace
}  // namespace salvo
