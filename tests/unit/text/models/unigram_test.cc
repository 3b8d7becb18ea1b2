#include "text/models/unigram.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "text/unicode.h"

namespace salvo {
namespace {

using Ids = std::vector<int32_t>;
using Pieces = std::vector<std::pair<std::string, double>>;

Ids run(const UnigramModel& m, std::string_view word) {
  std::u32string w;
  decode_utf8(word, &w);
  Ids ids;
  m.tokenize(w, &ids);
  return ids;
}

TEST(UnigramModelTest, BestTotalScoreWins) {
  UnigramModel m(Pieces{{"<unk>", 0}, {"a", -1}, {"b", -2}, {"ab", -2.5}}, 0, false);
  EXPECT_EQ(run(m, "ab"), (Ids{3}));  // -2.5 beats -1 + -2
  UnigramModel split(Pieces{{"<unk>", 0}, {"a", -1}, {"b", -2}, {"ab", -3.5}}, 0, false);
  EXPECT_EQ(run(split, "ab"), (Ids{1, 2}));
  EXPECT_EQ(run(split, "abab"), (Ids{1, 2, 1, 2}));
}

TEST(UnigramModelTest, TiesKeepTheFirstPathFound) {
  // "ab" + "c" and "a" + "bc" score the same: the library keeps the first it reaches.
  UnigramModel m(Pieces{{"<unk>", 0}, {"a", -1}, {"bc", -1}, {"ab", -1}, {"c", -1}}, 0, false);
  EXPECT_EQ(run(m, "abc"), (Ids{1, 2}));
}

TEST(UnigramModelTest, UnknownCharactersFuseIntoOneUnknown) {
  UnigramModel m(Pieces{{"<unk>", 0}, {"a", -1}}, 0, false);
  EXPECT_EQ(run(m, "axya"), (Ids{1, 0, 1}));
}

TEST(UnigramModelTest, ByteFallback) {
  Pieces pieces = {{"<unk>", 0}, {"a", -1}, {"<0xC3>", -5}, {"<0xA9>", -5}};
  UnigramModel m(pieces, 0, true);
  EXPECT_EQ(run(m, "a\u00e9"), (Ids{1, 2, 3}));
  EXPECT_EQ(run(m, "\u00e8"), (Ids{0}));
}

TEST(UnigramModelTest, UnknownWithoutUnkIdFails) {
  UnigramModel m(Pieces{{"a", -1}}, std::nullopt, false);
  EXPECT_EQ(run(m, "aa"), (Ids{0, 0}));
  EXPECT_THROW(run(m, "b"), Error);
  EXPECT_THROW(UnigramModel(Pieces{}, std::nullopt, false), Error);
  EXPECT_THROW(UnigramModel(Pieces{{"a", -1}}, 3, false), Error);
}

}  // namespace
}  // namespace salvo
