#include "text/models/bpe.h"

#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "text/unicode.h"

namespace salvo {
namespace {

using Ids = std::vector<int32_t>;
using Vocab = std::vector<std::pair<std::string, int32_t>>;
using Merges = std::vector<std::pair<std::string, std::string>>;

Ids run(const BpeModel& m, std::string_view word) {
  std::u32string w;
  decode_utf8(word, &w);
  Ids ids;
  m.tokenize(w, &ids);
  return ids;
}

const Vocab kVocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}, {"<unk>", 6}};

TEST(BpeModelTest, MergesLowestRankFirst) {
  BpeModel m(kVocab, Merges{{"a", "b"}, {"ab", "c"}, {"b", "c"}}, BpeOptions{});
  EXPECT_EQ(run(m, "abc"), (Ids{5}));
  EXPECT_EQ(run(m, "bca"), (Ids{4, 0}));
  BpeModel other(kVocab, Merges{{"b", "c"}, {"a", "b"}, {"ab", "c"}}, BpeOptions{});
  EXPECT_EQ(run(other, "abc"), (Ids{0, 4}));  // bc first, and a + bc is no merge
  EXPECT_EQ(run(other, "abab"), (Ids{3, 3}));
}

TEST(BpeModelTest, UnknownCharactersFuseOrNot) {
  BpeOptions options;
  options.unk_token = "<unk>";
  BpeModel plain(kVocab, {}, options);
  EXPECT_EQ(run(plain, "axyb"), (Ids{0, 6, 6, 1}));
  options.fuse_unk = true;
  BpeModel fused(kVocab, {}, options);
  EXPECT_EQ(run(fused, "axyb"), (Ids{0, 6, 1}));
  BpeModel dropped(kVocab, {}, BpeOptions{});  // no unk token: unknown characters vanish
  EXPECT_EQ(run(dropped, "axb"), (Ids{0, 1}));
}

TEST(BpeModelTest, ByteFallbackUsesByteTokens) {
  Vocab vocab = kVocab;
  vocab.emplace_back("<0xC3>", 7);
  vocab.emplace_back("<0xA9>", 8);
  BpeOptions options;
  options.unk_token = "<unk>";
  options.byte_fallback = true;
  BpeModel m(vocab, {}, options);
  EXPECT_EQ(run(m, "a\u00e9"), (Ids{0, 7, 8}));
  EXPECT_EQ(run(m, "\u00e8"), (Ids{6}));  // <0xA8> is missing: the unknown token
}

TEST(BpeModelTest, PrefixSuffixAndIgnoreMerges) {
  Vocab vocab = {{"a", 0}, {"##b", 1}, {"a##b", 2}, {"ab", 3}, {"b</w>", 4}, {"##b</w>", 5}};
  BpeOptions options;
  options.continuing_subword_prefix = "##";
  options.end_of_word_suffix = "</w>";
  BpeModel m(vocab, {}, options);
  EXPECT_EQ(run(m, "ab"), (Ids{0, 5}));
  BpeOptions prefix_only;
  prefix_only.continuing_subword_prefix = "##";
  BpeModel merged(vocab, Merges{{"a", "##b"}}, prefix_only);  // "a" + "b" is "ab"
  EXPECT_EQ(run(merged, "ab"), (Ids{3}));
  BpeOptions ignore;
  ignore.ignore_merges = true;
  BpeModel whole(kVocab, {}, ignore);
  EXPECT_EQ(run(whole, "abc"), (Ids{5}));
}

TEST(BpeModelTest, BadMergesAreModelErrors) {
  EXPECT_THROW(BpeModel(kVocab, Merges{{"a", "z"}}, BpeOptions{}), Error);
  EXPECT_THROW(BpeModel(kVocab, Merges{{"c", "a"}}, BpeOptions{}), Error);
  EXPECT_THROW(BpeModel(Vocab{{"a", 0}, {"b", 0}}, {}, BpeOptions{}), Error);
}

TEST(BpeModelTest, MissingUnknownTokenFailsOnlyWhenNeeded) {
  BpeOptions options;
  options.unk_token = "<nope>";
  BpeModel m(kVocab, {}, options);
  EXPECT_EQ(run(m, "ab"), (Ids{0, 1}));
  EXPECT_THROW(run(m, "x"), Error);
}

}  // namespace
}  // namespace salvo

namespace salvo {
namespace {

// A SentencePiece-style model merges a long word piece by piece before each U+2581; the result must
// equal merging the whole word, which the same model does once a token with a character right
// before U+2581 exists (here "z\u2581", which no merge produces).
TEST(BpeModelTest, MergingPieceByPieceBeforeMetaspaceEqualsTheWholeWord) {
  Vocab vocab = {{"\u2581", 0}, {"a", 1}, {"b", 2}, {"\u2581a", 3}, {"ab", 4}, {"\u2581ab", 5},
                 {"\u2581\u2581", 6}, {"ba", 7}, {"<unk>", 8}};
  Merges merges = {{"a", "b"}, {"\u2581", "a"}, {"\u2581a", "b"}, {"\u2581", "\u2581"}, {"b", "a"}};
  BpeOptions options;
  options.unk_token = "<unk>";
  options.fuse_unk = true;
  BpeModel pieces(vocab, merges, options);
  EXPECT_EQ(pieces.independent_start(), U'\u2581');
  Vocab blocked = vocab;
  blocked.emplace_back("z\u2581", 9);
  BpeModel whole(blocked, merges, options);
  EXPECT_EQ(whole.independent_start(), 0u);
  std::mt19937 rng(7);
  const char32_t alphabet[] = {U'\u2581', U'a', U'b', U'x'};
  for (int round = 0; round < 300; ++round) {
    std::u32string word;
    size_t length = 1 + rng() % 200;
    for (size_t i = 0; i < length; ++i) word.push_back(alphabet[rng() % 4]);
    Ids a;
    Ids b;
    pieces.tokenize(word, &a);
    pieces.tokenize(word, &a);  // again, from the piece cache
    whole.tokenize(word, &b);
    whole.tokenize(word, &b);
    ASSERT_EQ(a, b) << to_utf8(word);
  }
}

}  // namespace
}  // namespace salvo
