// Post-processors of tokenizer.json (TemplateProcessing, BertProcessing, RobertaProcessing,
// ByteLevel, Sequence), reduced to what they do to ids: a template for single sequences and one
// for pairs, each a list of sequences and special tokens with their type ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace salvo {

// One element of a template.
struct TemplatePiece {
  enum class Kind { kSequenceA, kSequenceB, kSpecialTokens };
  Kind kind = Kind::kSequenceA;
  std::vector<int32_t> ids;  // the special tokens' ids (kSpecialTokens only)
  int32_t type_id = 0;
};

// How the encodings of a single text or a pair become the model's input.
struct PostProcessor {
  std::vector<TemplatePiece> single;
  std::vector<TemplatePiece> pair;
  std::string name;  // for describe(), e.g. "RobertaProcessing"

  // What a tokenizer without a post-processor does: A with type 0, then B with type 1.
  static PostProcessor none();
  // The number of special tokens added to a single text or a pair.
  size_t added_tokens(bool is_pair) const;
  // Appends the template's result for sequences `a` and `b` (b is ignored for a single text).
  void apply(bool is_pair, const std::vector<int32_t>& a, const std::vector<int32_t>& b,
             std::vector<int32_t>* ids, std::vector<int32_t>* type_ids) const;
};

}  // namespace salvo
