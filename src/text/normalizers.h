// Normalizers of tokenizer.json: each rewrites a piece of text before pre-tokenization, as the
// tokenizers library's normalizer of the same name does. BertNormalizer and Precompiled have
// their own files.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "text/regex.h"
#include "text/unicode.h"

namespace salvo {

// One step of normalization.
class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Writes the normalized form of `text` to `out` (replacing its contents). Returns false when the
  // first character of `text` was removed, so that the result no longer starts where the text did
  // (the library's alignments; Metaspace's prepend_scheme "first" depends on it).
  virtual bool normalize(std::u32string_view text, std::u32string* out) const = 0;
  // Whether each character is normalized on its own (its result does not depend on its
  // neighbours), so that normalizing the pieces of a text gives the pieces of its normal form.
  virtual bool character_wise() const { return false; }
};

// Rust's char::to_lowercase on every character.
class LowercaseNormalizer : public Normalizer {
 public:
  bool normalize(std::u32string_view text, std::u32string* out) const override;
  bool character_wise() const override { return true; }
};

// Removes whitespace (char::is_whitespace) at either end.
class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  bool normalize(std::u32string_view text, std::u32string* out) const override;

 private:
  bool left_;
  bool right_;
};

// Removes combining marks (General_Category M), usually after NFD or NFKD.
class StripAccentsNormalizer : public Normalizer {
 public:
  bool normalize(std::u32string_view text, std::u32string* out) const override;
  bool character_wise() const override { return true; }
};

// NFC, NFD, NFKC or NFKD.
class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
  bool normalize(std::u32string_view text, std::u32string* out) const override;

 private:
  NormalForm form_;
};

// Nmt: removes ASCII control characters and turns other spacing characters into ' '.
class NmtNormalizer : public Normalizer {
 public:
  bool normalize(std::u32string_view text, std::u32string* out) const override;
};

// Puts a string in front of a non-empty text.
class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string_view prefix);
  bool normalize(std::u32string_view text, std::u32string* out) const override;

 private:
  std::u32string prefix_;
};

// Replaces every match of a pattern by a fixed string.
class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(TextPattern pattern, std::string_view content);
  bool normalize(std::u32string_view text, std::u32string* out) const override;

 private:
  TextPattern pattern_;
  std::u32string content_;
};

// Replaces each UTF-8 byte of the text by its GPT-2 byte-level character.
class ByteLevelNormalizer : public Normalizer {
 public:
  bool normalize(std::u32string_view text, std::u32string* out) const override;
};

// Applies normalizers one after the other.
class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  bool normalize(std::u32string_view text, std::u32string* out) const override;
  bool character_wise() const override {
    for (const auto& step : steps_) {
      if (!step->character_wise()) return false;
    }
    return true;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace salvo
