// A text model's tokenizer as a session's first stage: text in, token ids out.
#pragma once

#include <string>
#include <string_view>

#include "salvo/featurizer.h"
#include "text/tokenizer.h"

namespace salvo {

// Validates UTF-8 and tokenizes; a text that gives no tokens is a bad row (a model needs one).
// Holds a reference: the tokenizer must outlive it (it belongs to the model).
class TextFeaturizer : public Featurizer {
 public:
  explicit TextFeaturizer(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  FeatureKind kind() const override { return FeatureKind::kTokens; }
  std::string describe() const override { return "tokenizer"; }
  std::string featurize(std::string_view text, Features* out) const override;

 private:
  const Tokenizer& tokenizer_;
};

}  // namespace salvo
