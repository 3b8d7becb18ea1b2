// The Unigram model (SentencePiece style): the segmentation of a word whose pieces' scores add up
// to the highest total (Viterbi), with unknown characters fused, as tokenizers' Unigram encodes
// without sampling.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/models/model.h"
#include "text/token_trie.h"

namespace salvo {

class UnigramModel : public TokenizerModel {
 public:
  // `pieces` are (token, score) with ids in order. Throws salvo::Error(kModel) if unk_id is
  // outside the vocabulary or the vocabulary is empty.
  UnigramModel(const std::vector<std::pair<std::string, double>>& pieces,
               std::optional<size_t> unk_id, bool byte_fallback);

  void tokenize(std::u32string_view word, std::vector<int32_t>* ids) const override;
  int32_t token_to_id(std::string_view token) const override;
  std::string_view id_to_token(int32_t id) const override;
  size_t vocab_size() const override { return tokens_.size(); }
  size_t id_limit() const override { return tokens_.size(); }
  const char* name() const override { return "Unigram"; }

 private:
  int32_t unk_id_or_throw() const;

  std::vector<std::string> tokens_;
  std::vector<double> scores_;
  TokenTrie trie_;  // token -> id (a repeated token keeps its last id)
  double unk_score_ = 0;
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false;
  int32_t byte_ids_[256];  // ids of "<0xXX>" tokens, or -1
};

}  // namespace salvo
