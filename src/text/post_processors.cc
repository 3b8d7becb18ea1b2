#include "text/post_processors.h"

namespace salvo {

PostProcessor PostProcessor::none() {
  PostProcessor p;
  p.single = {TemplatePiece{TemplatePiece::Kind::kSequenceA, {}, 0}};
  p.pair = {TemplatePiece{TemplatePiece::Kind::kSequenceA, {}, 0},
            TemplatePiece{TemplatePiece::Kind::kSequenceB, {}, 1}};
  p.name = "no post-processor";
  return p;
}

size_t PostProcessor::added_tokens(bool is_pair) const {
  size_t n = 0;
  for (const TemplatePiece& p : is_pair ? pair : single) n += p.ids.size();
  return n;
}

void PostProcessor::apply(bool is_pair, const std::vector<int32_t>& a,
                          const std::vector<int32_t>& b, std::vector<int32_t>* ids,
                          std::vector<int32_t>* type_ids) const {
  for (const TemplatePiece& p : is_pair ? pair : single) {
    const std::vector<int32_t>* source = &p.ids;
    if (p.kind == TemplatePiece::Kind::kSequenceA) source = &a;
    if (p.kind == TemplatePiece::Kind::kSequenceB) source = &b;
    ids->insert(ids->end(), source->begin(), source->end());
    type_ids->insert(type_ids->end(), source->size(), p.type_id);
  }
}

}  // namespace salvo
