#include "io/parquet/parquet_encoder.h"

#include <algorithm>
#include <vector>

namespace salvo {
namespace {

// Appends up to 8 values (fewer are zero-padded) as one bit-packed group of
// `bit_width` bytes.
void append_packed_group(std::span<const uint32_t> group, int bit_width, std::string* out) {
  uint64_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < 8; ++i) {
    const uint64_t v = i < group.size() ? group[i] : 0;
    acc |= v << bits;
    bits += bit_width;
    while (bits >= 8) {
      out->push_back(static_cast<char>(acc & 0xFF));
      acc >>= 8;
      bits -= 8;
    }
  }
}

void append_bit_packed_run(std::span<const uint32_t> values, int bit_width, std::string* out) {
  if (values.empty()) return;
  const size_t groups = (values.size() + 7) / 8;
  append_uleb128((groups << 1) | 1, out);
  for (size_t g = 0; g < groups; ++g) {
    append_packed_group(values.subspan(g * 8, std::min<size_t>(8, values.size() - g * 8)),
                        bit_width, out);
  }
}

void append_rle_run(uint32_t value, size_t count, int bit_width, std::string* out) {
  append_uleb128(static_cast<uint64_t>(count) << 1, out);
  for (int byte = 0; byte < (bit_width + 7) / 8; ++byte)
    out->push_back(static_cast<char>((value >> (8 * byte)) & 0xFF));
}

}  // namespace

int bit_width_for(uint32_t max_value) {
  int width = 0;
  while (max_value) {
    ++width;
    max_value >>= 1;
  }
  return width;
}

void append_uleb128(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void append_rle_hybrid(std::span<const uint32_t> values, int bit_width, std::string* out) {
  size_t literal_start = 0;  // values[literal_start, i) wait to be bit-packed
  size_t i = 0;
  while (i < values.size()) {
    size_t run = 1;
    while (i + run < values.size() && values[i + run] == values[i]) ++run;
    if (run < 8) {
      i += run;
      continue;
    }
    // A bit-packed run holds a multiple of 8 values unless it is the last, so
    // the run lends the pending literals the values that complete their last
    // group.
    const size_t pending = i - literal_start;
    const size_t fill = pending % 8 ? 8 - pending % 8 : 0;
    if (run - fill < 8) {
      i += run;
      continue;
    }
    append_bit_packed_run(values.subspan(literal_start, pending + fill), bit_width, out);
    append_rle_run(values[i], run - fill, bit_width, out);
    i += run;
    literal_start = i;
  }
  append_bit_packed_run(values.subspan(literal_start), bit_width, out);
}

void append_levels_v1(std::span<const uint32_t> levels, uint32_t max_level, std::string* out) {
  const size_t at = out->size();
  out->append(4, '\0');
  append_rle_hybrid(levels, bit_width_for(max_level), out);
  const uint32_t length = static_cast<uint32_t>(out->size() - at - 4);
  for (int byte = 0; byte < 4; ++byte)
    (*out)[at + byte] = static_cast<char>((length >> (8 * byte)) & 0xFF);
}

void append_rle_hybrid_runs(std::span<const LevelRun> runs, int bit_width, std::string* out) {
  std::vector<uint32_t> pending;  // short runs, waiting to be bit-packed
  size_t i = 0;
  while (i < runs.size()) {
    const uint32_t value = runs[i].value;
    uint64_t count = 0;
    for (; i < runs.size() && runs[i].value == value; ++i) count += runs[i].count;
    if (count == 0) continue;
    const uint64_t fill = pending.size() % 8 ? 8 - pending.size() % 8 : 0;
    if (count < fill + 8) {
      pending.insert(pending.end(), static_cast<size_t>(count), value);
      continue;
    }
    // Complete the pending group from this run; the rest of it is one RLE run.
    pending.insert(pending.end(), static_cast<size_t>(fill), value);
    append_bit_packed_run(pending, bit_width, out);
    pending.clear();
    append_rle_run(value, static_cast<size_t>(count - fill), bit_width, out);
  }
  append_bit_packed_run(pending, bit_width, out);
}

void append_levels_v1_runs(std::span<const LevelRun> runs, uint32_t max_level, std::string* out) {
  const size_t at = out->size();
  out->append(4, '\0');
  append_rle_hybrid_runs(runs, bit_width_for(max_level), out);
  const uint32_t length = static_cast<uint32_t>(out->size() - at - 4);
  for (int byte = 0; byte < 4; ++byte)
    (*out)[at + byte] = static_cast<char>((length >> (8 * byte)) & 0xFF);
}

void append_plain_bytes(std::string_view value, std::string* out) {
  append_plain(static_cast<uint32_t>(value.size()), out);
  out->append(value);
}

void append_plain_bools(std::span<const uint8_t> values, std::string* out) {
  for (size_t i = 0; i < values.size(); i += 8) {
    uint8_t byte = 0;
    for (size_t j = 0; j < 8 && i + j < values.size(); ++j) byte |= (values[i + j] ? 1 : 0) << j;
    out->push_back(static_cast<char>(byte));
  }
}

}  // namespace salvo
