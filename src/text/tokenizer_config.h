// The parts of a loaded tokenizer (internal to src/text/: tokenizer.cc runs them,
// tokenizer_json.cc builds them from tokenizer.json).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "text/added_tokens.h"
#include "text/models/model.h"
#include "text/normalizers.h"
#include "text/post_processors.h"
#include "text/pre_tokenizers.h"
#include "text/tokenizer.h"

namespace salvo {

// tokenizers' TruncationStrategy.
enum class TruncationStrategy { kLongestFirst, kOnlyFirst, kOnlySecond };

struct Tokenizer::Config {
  std::unique_ptr<Normalizer> normalizer;      // null: none
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // null: none
  std::unique_ptr<TokenizerModel> model;
  std::vector<AddedToken> added_tokens;      // one per content, with the ids the library gives
  AddedTokenMatcher raw_matcher;             // added tokens with normalized = false
  AddedTokenMatcher normalized_matcher;      // added tokens with normalized = true
  PostProcessor post_processor = PostProcessor::none();
  TruncationStrategy truncation_strategy = TruncationStrategy::kLongestFirst;
  bool truncate_left = false;
  size_t initial_max_length = 0;
  int32_t pad_id = 0;
  size_t vocab_size = 0;
  std::string description;
  std::unordered_map<int32_t, std::string> added_by_id;
  uint64_t serial = 0;  // unique per loaded tokenizer: owner of the per-thread word caches
};

// Parses tokenizer.json (tokenizer_json.cc). Throws salvo::Error(kModel) naming `path`.
std::shared_ptr<Tokenizer::Config> load_tokenizer_json(const std::filesystem::path& path);

// Adds `tokens` as the library's AddedVocabulary::add_tokens does (ids from the model's
// vocabulary, else after it), then builds the matchers and the id limits. Throws
// salvo::Error(kModel) naming `path` for tokens the library cannot match.
void add_tokens(const std::filesystem::path& path, const std::vector<AddedToken>& tokens,
                Tokenizer::Config* config);

}  // namespace salvo
