#include "text/models/wordpiece.h"

#include <unordered_set>

#include "core/error.h"
#include "text/unicode.h"

namespace salvo {

namespace {

// Vocabularies beyond this many ids are refused before memory is committed to them.
constexpr int64_t kMaxVocabularyId = 64 * 1024 * 1024;

}  // namespace

void check_vocabulary_ids(const std::vector<std::pair<std::string, int32_t>>& vocab,
                          const std::string& what) {
  std::vector<bool> seen;
  for (const auto& [token, id] : vocab) {
    if (id < 0 || id >= kMaxVocabularyId) {
      throw Error(ErrorCode::kModel, what + ": token '" + token + "' has an invalid id " +
                                         std::to_string(id));
    }
    if (static_cast<size_t>(id) >= seen.size()) seen.resize(static_cast<size_t>(id) + 1, false);
    if (seen[id]) {
      throw Error(ErrorCode::kModel, what + ": id " + std::to_string(id) +
                                         " is given to more than one token (one is '" + token +
                                         "')");
    }
    seen[id] = true;
  }
}

WordPieceModel::WordPieceModel(const std::vector<std::pair<std::string, int32_t>>& vocab,
                               WordPieceOptions options)
    : options_(std::move(options)) {
  check_vocabulary_ids(vocab, "WordPiece vocabulary");
  std::u32string prefix;
  decode_utf8(options_.continuing_subword_prefix, &prefix);
  std::u32string key;
  for (const auto& [token, id] : vocab) {
    key.clear();
    decode_utf8(token, &key);
    word_start_.insert(key, id);
    if (std::u32string_view(key).substr(0, prefix.size()) == prefix) {
      continuation_.insert(std::u32string_view(key).substr(prefix.size()), id);
    }
    if (static_cast<size_t>(id) >= id_to_token_.size()) id_to_token_.resize(id + 1);
    id_to_token_[id] = token;
  }
  std::u32string unk;
  decode_utf8(options_.unk_token, &unk);
  unk_id_ = word_start_.find(unk);
  if (unk_id_ < 0) {
    throw Error(ErrorCode::kModel,
                "WordPiece vocabulary has no unk_token '" + options_.unk_token + "'");
  }
}

void WordPieceModel::tokenize(std::u32string_view word, std::vector<int32_t>* ids) const {
  size_t n = word.size();
  if (n > options_.max_input_chars_per_word) {
    ids->push_back(unk_id_);
    return;
  }
  size_t mark = ids->size();
  size_t start = 0;
  while (start < n) {
    // The library tries ever shorter candidates from the end of the word and takes the first in
    // the vocabulary: that is the longest vocabulary key starting here, which one trie walk finds.
    const TokenTrie& trie = start == 0 ? word_start_ : continuation_;
    size_t length = 0;
    int32_t found = trie.longest_prefix(word.substr(start), &length);
    if (found < 0 || length == 0) {
      ids->resize(mark);
      ids->push_back(unk_id_);
      return;
    }
    ids->push_back(found);
    start += length;
  }
}

int32_t WordPieceModel::token_to_id(std::string_view token) const {
  std::u32string key;
  decode_utf8(token, &key);
  return word_start_.find(key);
}

std::string_view WordPieceModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return {};
  return id_to_token_[id];
}

}  // namespace salvo
