// SentencePiece's precompiled normalization rules ("precompiled_charsmap" of a Precompiled
// normalizer): a Darts-clone double-array trie from UTF-8 strings to offsets of their replacements
// in a blob of NUL-terminated strings. Applied per grapheme cluster, as the tokenizers library does.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/normalizers.h"

namespace salvo {

class PrecompiledNormalizer : public Normalizer {
 public:
  // `charsmap` is the decoded precompiled_charsmap: u32 little-endian trie size in bytes, the trie
  // (u32 units), then the replacement strings. Throws salvo::Error(kModel) if it is truncated or
  // the strings are not UTF-8.
  explicit PrecompiledNormalizer(std::string_view charsmap);

  bool normalize(std::u32string_view text, std::u32string* out) const override;

  // The replacement of the shortest key that is a prefix of `key` (UTF-8), or nullopt if no key
  // is: spm_precompiled's Precompiled::transform. Out-of-range trie data finds nothing.
  std::optional<std::string_view> transform(std::string_view key) const;

 private:
  std::vector<uint32_t> units_;
  std::string strings_;
  // transform() of each one-character ASCII string: the replacement (code points) or none.
  std::array<std::optional<std::u32string>, 128> ascii_{};
};


}  // namespace salvo
