#include "text/text_featurizer.h"

#include "core/utf8.h"

namespace salvo {

std::string TextFeaturizer::featurize(std::string_view text, Features* out) const {
  size_t bad = 0;
  if (!is_valid_utf8(text, &bad)) return "text is not valid UTF-8 (byte " + std::to_string(bad) + ")";
  tokenizer_.encode(text, &out->encoding);
  if (out->encoding.ids.empty()) return "the text gives no tokens";
  return "";
}

}  // namespace salvo
