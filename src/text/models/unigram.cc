#include "text/models/unigram.h"

#include <cstdio>
#include <limits>

#include "core/error.h"
#include "text/unicode.h"

namespace salvo {

namespace {

// SentencePiece's penalty: an unknown character scores this much below the worst piece.
constexpr double kUnkPenalty = 10.0;

// The best segmentation of the text up to a position: its score, where its last piece starts
// (-1: none yet) and that piece's id.
struct BestPath {
  double score;
  int32_t start;
  int32_t id;
};

}  // namespace

UnigramModel::UnigramModel(const std::vector<std::pair<std::string, double>>& pieces,
                           std::optional<size_t> unk_id, bool byte_fallback)
    : byte_fallback_(byte_fallback) {
  if (pieces.empty()) throw Error(ErrorCode::kModel, "the Unigram vocabulary is empty");
  if (unk_id && *unk_id >= pieces.size()) {
    throw Error(ErrorCode::kModel, "the Unigram unk_id " + std::to_string(*unk_id) +
                                       " is outside the vocabulary of " +
                                       std::to_string(pieces.size()));
  }
  if (unk_id) unk_id_ = static_cast<int32_t>(*unk_id);
  double min_score = std::numeric_limits<double>::infinity();
  tokens_.reserve(pieces.size());
  scores_.reserve(pieces.size());
  std::u32string key;
  for (size_t id = 0; id < pieces.size(); ++id) {
    const auto& [token, score] = pieces[id];
    tokens_.push_back(token);
    scores_.push_back(score);
    key.clear();
    decode_utf8(token, &key);
    trie_.insert(key, static_cast<int32_t>(id));
    if (score < min_score) min_score = score;
  }
  unk_score_ = min_score - kUnkPenalty;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    byte_ids_[b] = token_to_id(name);
  }
}

int32_t UnigramModel::unk_id_or_throw() const {
  if (unk_id_ < 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "Unigram: an unknown character needs unk_id, which the model does not set");
  }
  return unk_id_;
}

void UnigramModel::tokenize(std::u32string_view word, std::vector<int32_t>* ids) const {
  size_t n = word.size();
  if (n == 0) return;
  thread_local std::vector<BestPath> best;
  thread_local std::vector<std::pair<uint32_t, int32_t>> path;  // (start, id), last piece first
  best.assign(n + 1, BestPath{0.0, -1, 0});
  for (size_t start = 0; start < n; ++start) {
    double here = best[start].score;
    bool has_single = false;
    trie_.for_each_prefix(word.substr(start), [&](size_t length, int32_t id) {
      BestPath& target = best[start + length];
      double candidate = scores_[id] + here;
      if (target.start < 0 || candidate > target.score) {
        target = {candidate, static_cast<int32_t>(start), id};
      }
      if (length == 1) has_single = true;
    });
    if (!has_single) {
      BestPath& target = best[start + 1];
      double candidate = unk_score_ + here;
      if (target.start < 0 || candidate > target.score) {
        target = {candidate, static_cast<int32_t>(start), unk_id_or_throw()};
      }
    }
  }
  path.clear();
  for (size_t end = n; end > 0;) {
    const BestPath& node = best[end];
    path.emplace_back(static_cast<uint32_t>(node.start), node.id);
    end = static_cast<size_t>(node.start);
  }
  // Walk the pieces in order; consecutive unknown pieces fuse into one string.
  size_t k = path.size();
  while (k > 0) {
    --k;
    uint32_t start = path[k].first;
    int32_t id = path[k].second;
    if (unk_id_ < 0 || id != unk_id_) {
      ids->push_back(id);
      continue;
    }
    while (k > 0 && path[k - 1].second == unk_id_) --k;
    uint32_t end = k > 0 ? path[k - 1].first : static_cast<uint32_t>(n);
    std::u32string_view fused = word.substr(start, end - start);
    int32_t found = trie_.find(fused);  // the fused string may itself be a token
    if (found >= 0) {
      ids->push_back(found);
      continue;
    }
    if (byte_fallback_) {
      std::string bytes = to_utf8(fused);
      bool all = true;
      for (char b : bytes) all &= byte_ids_[static_cast<uint8_t>(b)] >= 0;
      if (all) {
        for (char b : bytes) ids->push_back(byte_ids_[static_cast<uint8_t>(b)]);
        continue;
      }
    }
    ids->push_back(unk_id_or_throw());
  }
}

int32_t UnigramModel::token_to_id(std::string_view token) const {
  std::u32string key;
  decode_utf8(token, &key);
  return trie_.find(key);
}

std::string_view UnigramModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) return {};
  return tokens_[id];
}

}  // namespace salvo
