#include "text/precompiled_normalizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "core/error.h"

namespace salvo {
namespace {

// SentencePiece's nmt_nfkc rules, from the trained test tokenizer.
std::string charsmap() {
  std::ifstream in(std::string(SALVO_TEST_DATA_DIR) + "/tokenizers/trained-unigram/tokenizer.json");
  nlohmann::json doc = nlohmann::json::parse(in);
  auto bytes = decode_base64(
      doc["normalizer"]["normalizers"][0]["precompiled_charsmap"].get<std::string>());
  return *bytes;
}

std::string run(const PrecompiledNormalizer& n, std::string_view text) {
  std::u32string in;
  decode_utf8(text, &in);
  std::u32string out;
  n.normalize(in, &out);
  return to_utf8(out);
}

TEST(PrecompiledNormalizerTest, NmtNfkcRules) {
  PrecompiledNormalizer n(charsmap());
  EXPECT_EQ(run(n, "\uff21\uff42c"), "Abc");      // fullwidth letters
  EXPECT_EQ(run(n, "\ufb01x"), "fix");             // ligature
  EXPECT_EQ(run(n, "plain text"), "plain text");
  EXPECT_EQ(n.transform("\uff21"), std::optional<std::string_view>("A"));
  EXPECT_EQ(n.transform("a"), std::nullopt);
}

TEST(PrecompiledNormalizerTest, TruncatedOrHostileDataNeverCrashes) {
  std::string good = charsmap();
  EXPECT_THROW(PrecompiledNormalizer(good.substr(0, 3)), Error);
  EXPECT_THROW(PrecompiledNormalizer(good.substr(0, 100)), Error);
  std::string bad = good;
  bad[4] = '\xff';  // a corrupt first unit: lookups must stay in bounds
  bad[5] = '\xff';
  bad[6] = '\xff';
  PrecompiledNormalizer n(bad);
  run(n, "\uff21 anything \u00e9");
  std::string strings = good;
  strings.back() = '\xff';  // replacement strings that are not UTF-8
  EXPECT_THROW(PrecompiledNormalizer{strings}, Error);
}

TEST(PrecompiledNormalizerTest, Base64) {
  EXPECT_EQ(decode_base64("aGk="), std::optional<std::string>("hi"));
  EXPECT_EQ(decode_base64("aGVsbG8="), std::optional<std::string>("hello"));
  EXPECT_EQ(decode_base64("a"), std::nullopt);
  EXPECT_EQ(decode_base64("a$==" ), std::nullopt);
}

}  // namespace
}  // namespace salvo
