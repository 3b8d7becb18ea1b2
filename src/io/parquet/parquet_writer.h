// Writes Parquet files column by column: buffered row groups, dictionary or
// PLAIN pages (data page v1), RLE/bit-packed levels, a codec per file, and the
// Thrift footer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/output_file.h"
#include "io/parquet/parquet_metadata.h"

namespace salvo {

// The value type of a written column; kString is a UTF-8 annotated BYTE_ARRAY.
enum class ParquetValueKind { kBoolean, kInt32, kInt64, kFloat, kDouble, kString, kBinary };

// One top-level output column: a nullable value, or a nullable three-level LIST
// of nullable values (`optional group <name> (LIST) { repeated group list {
// optional <type> element; } }`), or of such LISTs, `list_depth` deep.
struct ParquetColumnSpec {
  std::string name;
  ParquetValueKind kind = ParquetValueKind::kString;
  bool list = false;
  // kInt64 values that are microseconds since the Unix epoch: annotated TIMESTAMP(MICROS, UTC).
  bool timestamp = false;
  int list_depth = 1;  // list columns: 2 for lists of lists, ...
};

// Buffers one column's values for the row group being built. Levels are not
// stored one by one: a scalar row is defined or null, a list row has a length
// (or is null), and the writer derives the levels as runs from those.
class ParquetColumnBuffer {
 public:
  explicit ParquetColumnBuffer(ParquetColumnSpec spec);

  // One row: a null value, or a null list for a list column.
  void add_null();
  // One row holding one value (scalar columns).
  void add_bool(bool value);
  void add_int32(int32_t value);
  void add_int64(int64_t value);
  void add_float(float value);
  void add_double(double value);
  void add_bytes(std::string_view value);
  // One row holding a list (list columns); an empty span is an empty list, not
  // a null.
  void add_list(std::span<const float> values);
  void add_list(std::span<const int32_t> values);
  void add_list(std::span<const int64_t> values);
  void add_list(std::span<const double> values);
  void add_list(std::span<const std::string> values);
  // One row of a list column given by its levels, for lists of lists and lists holding nulls:
  // `definition` and `repetition` have one entry per level, as parquet_schema_for()'s schema
  // defines them (at depth d, counted from 0: 2d a null list, 2d + 1 an empty one; 2 * depth a
  // null element, 2 * depth + 1 a value). The row's values are added first, in order, with
  // add_element().
  void add_levels(std::span<const uint8_t> definition, std::span<const uint8_t> repetition);
  void add_element(bool value);
  void add_element(int32_t value);
  void add_element(int64_t value);
  void add_element(float value);
  void add_element(double value);
  void add_element(std::string_view value);

  const ParquetColumnSpec& spec() const { return spec_; }
  uint32_t max_definition_level() const { return spec_.list ? 2 * spec_.list_depth + 1 : 1; }
  uint32_t max_repetition_level() const { return spec_.list ? spec_.list_depth : 0; }
  size_t rows() const { return rows_; }
  // Approximate bytes the buffered values take once encoded, before
  // compression.
  size_t buffered_bytes() const;
  // Empties the buffer, keeping its capacity.
  void clear();

 private:
  friend class ParquetFileWriter;

  ParquetColumnSpec spec_;
  size_t rows_ = 0;
  std::vector<uint8_t> defined_;     // scalar columns: 1 for a value, 0 for a null, per row
  std::vector<int32_t> list_sizes_;  // list columns: elements per row, -1 for a null list
  // List columns once a row came as levels (add_levels()): every row's levels, and where each
  // row's levels and values end; list_sizes_ is then unused.
  bool leveled_ = false;
  std::vector<uint8_t> definition_;
  std::vector<uint8_t> repetition_;
  std::vector<size_t> level_ends_;
  std::vector<size_t> value_ends_;
  size_t value_count() const;
  void add_list_row(size_t n);
  void switch_to_levels();
  void end_leveled_row();
  std::string fixed_;                // PLAIN bytes of INT32, INT64, FLOAT, DOUBLE values
  std::vector<uint8_t> bools_;
  std::string bytes_;         // BYTE_ARRAY values, concatenated
  std::vector<size_t> ends_;  // end of each BYTE_ARRAY value in bytes_
};

// Tuning of a written file.
struct ParquetWriteOptions {
  parquet::CompressionCodec codec = parquet::CompressionCodec::kSnappy;
  size_t page_bytes = 1u << 20;            // target size of a data page before compression
  size_t dictionary_max_bytes = 1u << 20;  // a larger dictionary falls back to PLAIN
  std::vector<parquet::KeyValue> key_value_metadata;
  // Pages compressed at once, each on its own thread, while the next page is
  // encoded (0: one per available core).
  int threads = 0;
};

// Parses a codec name: none/uncompressed, snappy, gzip, zstd, lz4_raw (lz4
// means LZ4_RAW). Throws salvo::Error(kInvalidArgument) for any other name.
// Empty selects snappy.
parquet::CompressionCodec parse_parquet_codec(const std::string& name);

// One Parquet file being written under "<path>.partial" and renamed by
// finish(). A row group is encoded page by page; each page is compressed on its
// own thread while the next is encoded (ParquetWriteOptions::threads at once),
// and written in order as soon as it is ready, so memory holds the row group's
// buffers and a few pages.
class ParquetFileWriter {
 public:
  // Creates the file and writes the leading magic. Throws salvo::Error(kIo).
  ParquetFileWriter(const std::filesystem::path& path, ParquetWriteOptions options);
  ParquetFileWriter(const ParquetFileWriter&) = delete;
  ParquetFileWriter& operator=(const ParquetFileWriter&) = delete;

  // Encodes the buffers (one per column, in column order, all with the same row
  // count) as one row group, writes it and clears the buffers. Every row group
  // must have the same columns.
  void write_row_group(std::span<ParquetColumnBuffer> buffers);
  // Writes the footer with the schema of `columns` (those of the row groups),
  // closes and renames the file.
  void finish(const std::vector<ParquetColumnSpec>& columns);

  // Bytes written so far.
  uint64_t bytes_written() const { return offset_; }
  uint64_t rows_written() const { return static_cast<uint64_t>(metadata_.num_rows); }

 private:
  // One page, encoded, then compressed.
  struct EncodedPage {
    parquet::PageHeader header;
    std::string body;        // before compression
    std::string compressed;  // unused for uncompressed files: the body is written
  };

  // Encodes one column chunk into pages, handed to `emit` in order (the
  // dictionary page first), and fills the chunk's metadata but for its offsets
  // and sizes.
  void encode_column(const ParquetColumnBuffer& buffer, parquet::ColumnMetaData* meta,
                     const std::function<void(EncodedPage&&)>& emit);
  void write(std::string_view bytes);
  // A cleared page buffer, with the capacity a previous page left (thread-safe).
  std::string take_buffer();
  void give_back(std::string&& buffer);

  std::vector<ParquetColumnSpec> columns_;  // those of the first row group
  ParquetWriteOptions options_;
  OutputFile file_;
  uint64_t offset_ = 0;
  parquet::FileMetaData metadata_;
  std::mutex spare_mutex_;
  std::vector<std::string> spare_;  // page buffers kept for their capacity
};

// The schema elements for `columns` under a root named "schema" (exposed for
// tests).
std::vector<parquet::SchemaElement> parquet_schema_for(
    const std::vector<ParquetColumnSpec>& columns);

}  // namespace salvo
