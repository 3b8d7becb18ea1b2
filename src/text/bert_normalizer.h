// Hugging Face's BertNormalizer: clean text, isolate CJK ideographs, strip accents, lowercase.
#pragma once

#include <string>
#include <string_view>

#include "text/normalizers.h"

namespace salvo {

// The options of tokenizer.json's "BertNormalizer"; strip_accents is already resolved (a null
// there follows lowercase).
struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;
  bool lowercase = true;
};

// Applies the BertNormalizer steps, in the library's order, to code points.
class BertNormalizer : public Normalizer {
 public:
  explicit BertNormalizer(const BertNormalizerOptions& options) : options_(options) {}

  // Writes the normalized form of `text` to `out` (replacing its contents).
  bool normalize(std::u32string_view text, std::u32string* out) const override;
  // Cleaning, CJK spacing, accent stripping (a decomposition within one character) and lowercasing
  // all look at one character at a time.
  bool character_wise() const override { return true; }

  const BertNormalizerOptions& options() const { return options_; }

 private:
  BertNormalizerOptions options_;
};

}  // namespace salvo
