#include "text/text_featurizer.h"

#include "core/utf8.h"
#include "salvo/error.h"

namespace salvo {

std::string TextFeaturizer::featurize(std::string_view text, Features* out) const {
  size_t bad = 0;
  if (!is_valid_utf8(text, &bad)) return "text is not valid UTF-8 (byte " + std::to_string(bad) + ")";
  try {
    tokenizer_.encode(text, &out->encoding);
  } catch (const Error& e) {  // a text the tokenizer's truncation strategy cannot fit
    return e.what();
  }
  if (out->encoding.ids.empty()) return "the text gives no tokens";
  return "";
}

}  // namespace salvo
