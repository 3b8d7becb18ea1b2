// Parquet value and level encodings used by the writer: PLAIN and the
// RLE/bit-packed hybrid.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace salvo {

// Number of bits needed to store values up to `max_value` (0 for 0).
int bit_width_for(uint32_t max_value);

// Appends `values` in the RLE/bit-packed hybrid encoding with `bit_width` bits
// per value, without a length prefix: runs of 8 or more equal values become RLE
// runs, the rest bit-packed groups of 8 (the last group zero-padded; readers
// know the value count from the page header).
void append_rle_hybrid(std::span<const uint32_t> values, int bit_width, std::string* out);

// Appends definition or repetition levels as a data page v1 stores them: a
// 4-byte little-endian length, then the hybrid encoding with the bit width of
// `max_level`.
void append_levels_v1(std::span<const uint32_t> levels, uint32_t max_level, std::string* out);

// `count` copies of `value`: levels as the writer knows them (a list of 384
// floats is one run of definition level 3), never expanded value by value.
struct LevelRun {
  uint32_t value = 0;
  uint64_t count = 0;
};

// Like append_rle_hybrid() on the values the runs expand to (adjacent runs may
// hold the same value), in time proportional to the number of runs: a run
// long enough becomes one RLE run after lending the values that complete the
// pending bit-packed group.
void append_rle_hybrid_runs(std::span<const LevelRun> runs, int bit_width, std::string* out);

// Like append_levels_v1() on the values the runs expand to.
void append_levels_v1_runs(std::span<const LevelRun> runs, uint32_t max_level, std::string* out);

// Appends an unsigned LEB128 varint.
void append_uleb128(uint64_t value, std::string* out);

// Appends a little-endian fixed-width value (PLAIN for INT32, INT64, FLOAT,
// DOUBLE).
template <typename T>
void append_plain(T value, std::string* out) {
  static_assert(std::is_arithmetic_v<T>);
  out->append(reinterpret_cast<const char*>(&value),
              sizeof(T));  // x86-64 and ARM64 are little-endian
}

// Appends a BYTE_ARRAY value in PLAIN: a 4-byte little-endian length, then the
// bytes.
void append_plain_bytes(std::string_view value, std::string* out);

// Appends BOOLEAN values in PLAIN: one bit each, least significant bit first.
void append_plain_bools(std::span<const uint8_t> values, std::string* out);

}  // namespace salvo
