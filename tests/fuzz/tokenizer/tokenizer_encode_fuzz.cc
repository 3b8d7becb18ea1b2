// libFuzzer target: encode() and encode_pair() of arbitrary bytes with each kind of tokenizer
// (WordPiece, byte-level BPE, BPE with byte fallback, Unigram with Precompiled), with and without
// truncation. Every id must be in the vocabulary, type ids must match ids, and truncation must
// hold. The tokenizers come from SALVO_TOKENIZERS_DIR (tests/data/tokenizers).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "text/tokenizer.h"

namespace {

std::vector<salvo::Tokenizer>& tokenizers() {
  static std::vector<salvo::Tokenizer> all = [] {
    const char* dir = std::getenv("SALVO_TOKENIZERS_DIR");
    std::string base = dir ? dir : "tests/data/tokenizers";
    std::vector<salvo::Tokenizer> out;
    for (const char* name : {"bert-uncased", "trained-bpe-bytelevel", "trained-bpe-bytefallback",
                             "trained-unigram", "trained-wordpiece", "vocab-cased"}) {
      out.push_back(salvo::Tokenizer::from_model_dir(base + "/" + name));
    }
    return out;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::vector<salvo::Tokenizer>& all = tokenizers();
  salvo::Tokenizer tokenizer = all[data[0] % all.size()];
  uint8_t mode = data[1];
  std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  size_t max_length = (mode & 0x3) == 0 ? 0 : 3 + (mode >> 2);
  tokenizer.set_max_length(max_length);
  salvo::Encoding e;
  bool pair = (mode & 0x80) != 0;
  try {
    if (pair) {
      size_t cut = text.find('\x01');
      if (cut == std::string_view::npos) cut = text.size() / 2;
      tokenizer.encode_pair(text.substr(0, cut), text.substr(std::min(cut + 1, text.size())), &e);
    } else {
      tokenizer.encode(text, &e);
    }
  } catch (const salvo::Error&) {
    return 0;  // the library's own truncation errors
  }
  if (e.ids.size() != e.type_ids.size()) __builtin_trap();
  for (int32_t id : e.ids) {
    if (id < 0 || static_cast<size_t>(id) >= tokenizer.vocab_size()) __builtin_trap();
  }
  if (max_length >= tokenizer.num_special_tokens(pair) && max_length > 0 &&
      e.ids.size() > max_length) {
    __builtin_trap();
  }
  return 0;
}
