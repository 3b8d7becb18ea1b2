// A batch of token sequences packed end to end, without padding: what text models run on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace salvo {

struct PackedBatch {
  std::vector<int32_t> ids;       // all tokens, sequence after sequence
  std::vector<int32_t> type_ids;  // same length as ids
  std::vector<int32_t> offsets;   // rows()+1 entries; sequence r is [offsets[r], offsets[r+1])
  size_t rows() const { return offsets.empty() ? 0 : offsets.size() - 1; }
  size_t tokens() const { return ids.size(); }
};

}  // namespace salvo
