// Decoders for Parquet's value and level encodings (PLAIN, RLE/bit-packed hybrid, dictionary
// indices, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT).
// Every decoder is bounds-checked: malformed input throws salvo::Error(kIo) with the message
// prefix given by the caller (file and page offset).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/parquet/page_buffer.h"
#include "io/parquet/parquet_metadata.h"

namespace salvo::parquet {

// Decoded values of one column, one entry per row (or per non-null value while decoding).
// Integers and booleans live in `ints`, floats and doubles in `doubles`. Byte arrays (and INT96,
// FIXED_LEN_BYTE_ARRAY) are views: into the page data a decoder was given (PLAIN,
// DELTA_LENGTH_BYTE_ARRAY), into a dictionary's values, or into `storage` (values a decoder had to
// build, buffers handed over with adopt()). Whoever reads the views keeps the memory they point
// into alive: ParquetFileReader gives each column chunk's values ownership of its page buffers and
// dictionary, so a ColumnChunkData owns everything its views point into. Moving a ColumnValues
// keeps its views valid (the buffers themselves do not move).
struct ColumnValues {
  Type type = Type::kBoolean;
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::vector<std::string_view> views;
  std::vector<PageBuffer> storage;  // buffers owned by these values
  uint64_t storage_bytes = 0;
  // With DecodeContext::check_utf8, the byte-array values that are not valid UTF-8, in order:
  // (index among these values, offset of the first invalid byte in the value).
  std::vector<std::pair<size_t, size_t>> invalid_utf8;

  size_t size() const;
  bool is_bytes() const { return type == Type::kByteArray || type == Type::kFixedLenByteArray || type == Type::kInt96; }
  std::string_view bytes_at(size_t i) const { return views[i]; }
  // A buffer of `n` bytes owned by these values, for values a decoder builds.
  char* allocate(size_t n);
  // Takes ownership of a buffer that views point into (a decompressed page, a dictionary).
  void adopt(PageBuffer buffer, size_t size);
  // Moves the values and buffers of `other` (same type) to the end of these.
  void append(ColumnValues&& other);
  void reserve(size_t n);
};

// Where a decoder is, for error messages.
struct DecodeContext {
  std::string where;  // e.g. "data.parquet: column \"text\", page at byte 1234"
  // Most bytes one column chunk may decode to (values, views and built bytes together): data
  // that expands further (a dictionary entry repeated by an RLE run, DELTA_BYTE_ARRAY prefixes)
  // is refused rather than exhausting memory.
  uint64_t max_output_bytes = uint64_t{2} << 30;
  // When set, bytes that decoders build (DELTA_BYTE_ARRAY) are also counted here against
  // max_output_bytes: the pages of one column chunk, decoded in parallel, share this count.
  std::atomic<uint64_t>* built_bytes = nullptr;
  // Byte-array decoders check every value for UTF-8 as they decode it, while its bytes are in
  // cache, and list the bad ones in ColumnValues::invalid_utf8 (dictionary pages: their entries;
  // dictionary indices then list the rows that name a bad entry).
  bool check_utf8 = false;
  // Checks that `out` may grow by `values` values and `bytes` bytes.
  void check_growth(const struct ColumnValues& out, uint64_t values, uint64_t bytes) const;
  // Counts `bytes` built by a decoder against `built_bytes` (when set).
  void charge_built(uint64_t bytes) const;
  [[noreturn]] void fail(const std::string& what) const;
};

// Reads the RLE/bit-packed hybrid encoding (no length prefix) of values `bit_width` bits wide.
class RleBitPackedDecoder {
 public:
  RleBitPackedDecoder(const uint8_t* data, size_t size, int bit_width, const DecodeContext* context);

  // Writes the next `n` values to `out`; throws if the data ends first.
  void get(uint32_t* out, size_t n);

 private:
  void next_run();

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  int bit_width_;
  const DecodeContext* context_;
  bool rle_ = false;
  uint64_t left_ = 0;         // values left in the current run
  uint32_t rle_value_ = 0;
  size_t packed_start_ = 0;   // byte where the current bit-packed run starts
  uint64_t packed_index_ = 0;  // values of the run already read
};

// Number of bits needed for values 0..max_value.
int bit_width_of(uint32_t max_value);

// Unpacks values first .. first+n-1 of `bit_width` (<= 32) bits, LSB first, from data[0, size),
// which must hold them.
void unpack_bits(const uint8_t* data, size_t size, int bit_width, uint64_t first, size_t n, uint32_t* out);

// Decodes `n` PLAIN values of `type` from data[0, size) and appends them to `out`; byte arrays
// are views into `data`. Returns the bytes consumed. `type_length` is FIXED_LEN_BYTE_ARRAY's width.
size_t decode_plain(const uint8_t* data, size_t size, Type type, int32_t type_length, size_t n, ColumnValues* out,
                    const DecodeContext& context);

// DELTA_BINARY_PACKED: decodes exactly `n` values (the header must say n) into `out`. INT32 arithmetic wraps at 32 bits. Returns the bytes consumed.
size_t decode_delta_binary_packed(const uint8_t* data, size_t size, bool int32, size_t n, std::vector<int64_t>* out,
                                  const DecodeContext& context);

// DELTA_LENGTH_BYTE_ARRAY (views into `data`) and DELTA_BYTE_ARRAY (values built in `out`'s
// storage): append `n` byte arrays to `out`.
size_t decode_delta_length_byte_array(const uint8_t* data, size_t size, size_t n, ColumnValues* out,
                                      const DecodeContext& context);
size_t decode_delta_byte_array(const uint8_t* data, size_t size, size_t n, ColumnValues* out,
                               const DecodeContext& context);

// BYTE_STREAM_SPLIT for FLOAT, DOUBLE, INT32 and INT64: appends `n` values to `out`.
void decode_byte_stream_split(const uint8_t* data, size_t size, Type type, size_t n, ColumnValues* out,
                              const DecodeContext& context);

// Dictionary indices (one byte of bit width, then the hybrid encoding): appends the `n`
// dictionary entries they name to `out` (byte arrays as views into the dictionary's memory).
void decode_dictionary_indices(const uint8_t* data, size_t size, size_t n, const ColumnValues& dictionary,
                               ColumnValues* out, const DecodeContext& context);

// Boolean RLE (a v2 page encoding): a 4-byte length, then the hybrid encoding with width 1.
size_t decode_boolean_rle(const uint8_t* data, size_t size, size_t n, ColumnValues* out, const DecodeContext& context);

}  // namespace salvo::parquet
