#include "text/normalizers.h"

#include <gtest/gtest.h>

#include <memory>

#include "core/error.h"

namespace salvo {
namespace {

std::u32string U(std::string_view s) {
  std::u32string out;
  decode_utf8(s, &out);
  return out;
}

std::string run(const Normalizer& n, std::string_view text, bool* first_kept = nullptr) {
  std::u32string out;
  bool kept = n.normalize(U(text), &out);
  if (first_kept) *first_kept = kept;
  return to_utf8(out);
}

TEST(NormalizersTest, Lowercase) {
  EXPECT_EQ(run(LowercaseNormalizer(), "ÀBc\u0130"), "àbci\u0307");
}

TEST(NormalizersTest, StripEachSide) {
  bool kept = true;
  EXPECT_EQ(run(StripNormalizer(true, true), " \t a b \n", &kept), "a b");
  EXPECT_FALSE(kept);
  EXPECT_EQ(run(StripNormalizer(false, true), "  a  ", &kept), "  a");
  EXPECT_TRUE(kept);
  EXPECT_EQ(run(StripNormalizer(true, false), "\u3000a ", &kept), "a ");
}

TEST(NormalizersTest, StripAccentsRemovesMarks) {
  bool kept = true;
  EXPECT_EQ(run(StripAccentsNormalizer(), "e\u0301a\u0903", &kept), "ea");
  EXPECT_TRUE(kept);
  run(StripAccentsNormalizer(), "\u0301a", &kept);
  EXPECT_FALSE(kept);
}

TEST(NormalizersTest, UnicodeForms) {
  EXPECT_EQ(run(UnicodeNormalizer(NormalForm::kNFC), "e\u0301"), "\u00e9");
  EXPECT_EQ(run(UnicodeNormalizer(NormalForm::kNFD), "\u00e9"), "e\u0301");
  EXPECT_EQ(run(UnicodeNormalizer(NormalForm::kNFKC), "\ufb01 \u2460"), "fi 1");
  EXPECT_EQ(run(UnicodeNormalizer(NormalForm::kNFKD), "\u1e69"), "s\u0323\u0307");
  // Canonical ordering: the dot below (class 220) goes before the dot above (230).
  EXPECT_EQ(run(UnicodeNormalizer(NormalForm::kNFD), "s\u0307\u0323"), "s\u0323\u0307");
  EXPECT_EQ(run(UnicodeNormalizer(NormalForm::kNFC), "s\u0307\u0323"), "\u1e69");
  // A composition exclusion stays decomposed.
  EXPECT_EQ(run(UnicodeNormalizer(NormalForm::kNFC), "\u0958"), "\u0915\u093c");
  EXPECT_EQ(run(UnicodeNormalizer(NormalForm::kNFC), "plain ascii"), "plain ascii");
}

TEST(NormalizersTest, NmtRemovesControlsAndSpacesOthers) {
  bool kept = true;
  EXPECT_EQ(run(NmtNormalizer(), "\x01" "a\tb\u200bc", &kept), "a b c");
  EXPECT_FALSE(kept);
}

TEST(NormalizersTest, PrependOnlyToNonEmptyText) {
  PrependNormalizer prepend("\u2581");
  EXPECT_EQ(run(prepend, "ab"), "\u2581ab");
  EXPECT_EQ(run(prepend, ""), "");
}

TEST(NormalizersTest, ReplaceLiteralAndRegex) {
  EXPECT_EQ(run(ReplaceNormalizer(TextPattern::literal("ab"), "x"), "abab a"), "xx a");
  EXPECT_EQ(run(ReplaceNormalizer(TextPattern::regex(" {2,}"), " "), "a   b  c d"), "a b c d");
  bool kept = true;
  EXPECT_EQ(run(ReplaceNormalizer(TextPattern::literal("-"), ""), "-a-b", &kept), "ab");
  EXPECT_FALSE(kept);
  EXPECT_THROW(TextPattern::literal(""), Error);
}

TEST(NormalizersTest, ByteLevelMapsUtf8Bytes) {
  EXPECT_EQ(run(ByteLevelNormalizer(), "a \u00e9"), "a\u0120\u00c3\u00a9");
}

TEST(NormalizersTest, SequenceAppliesInOrder) {
  std::vector<std::unique_ptr<Normalizer>> steps;
  steps.push_back(std::make_unique<StripNormalizer>(true, true));
  steps.push_back(std::make_unique<LowercaseNormalizer>());
  steps.push_back(std::make_unique<PrependNormalizer>("_"));
  SequenceNormalizer seq(std::move(steps));
  bool kept = true;
  EXPECT_EQ(run(seq, " AB ", &kept), "_ab");
  EXPECT_FALSE(kept);
  EXPECT_EQ(run(SequenceNormalizer({}), "Ab"), "Ab");
}

}  // namespace
}  // namespace salvo
