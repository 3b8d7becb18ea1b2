// Reads one Parquet file: footer, flat schema, and column chunks decoded page by page.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "io/parquet/parquet_decoder.h"
#include "io/parquet/parquet_metadata.h"

namespace salvo::parquet {

// A leaf of the schema tree: a column with values.
struct LeafColumn {
  std::string name;  // dotted path from the root ("a.b" for nested leaves)
  size_t index = 0;  // position among the leaves, and in RowGroup::columns
  SchemaElement element;
  int max_definition_level = 0;
  int max_repetition_level = 0;
};

// One column of one row group. `values` holds the non-null values in row order; `defined` has
// one entry per row (1: a value, 0: null), or is empty when no row is null.
struct ColumnChunkData {
  ColumnValues values;
  std::vector<uint8_t> defined;
  int64_t rows = 0;
};

// Limits against hostile files.
struct ReaderOptions {
  uint64_t max_column_bytes = uint64_t{2} << 30;  // most one column chunk may decode to
};

// An open Parquet file. Construction reads and checks the footer; read_column() may be called
// from several threads at once (reads use pread).
class ParquetFileReader {
 public:
  // Throws salvo::Error(kIo) naming the file (and offset) if it is unreadable or not Parquet.
  explicit ParquetFileReader(const std::filesystem::path& path, ReaderOptions options = {});
  ~ParquetFileReader();
  ParquetFileReader(const ParquetFileReader&) = delete;
  ParquetFileReader& operator=(const ParquetFileReader&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const FileMetaData& metadata() const { return metadata_; }
  const std::vector<LeafColumn>& columns() const { return columns_; }
  // The leaf with this name, or nullptr.
  const LeafColumn* find_column(std::string_view name) const;
  size_t num_row_groups() const { return metadata_.row_groups.size(); }
  int64_t num_rows(size_t group) const { return metadata_.row_groups[group].num_rows; }
  uint64_t file_size() const { return file_size_; }
  // Compressed bytes of the given leaves in one row group (for progress).
  uint64_t compressed_bytes(size_t group, const std::vector<size_t>& leaves) const;

  // Reads and decodes one flat column of one row group. Throws salvo::Error(kIo) naming the
  // file, column and byte offset for corrupt data, or for nested (repeated) columns.
  ColumnChunkData read_column(size_t group, size_t leaf) const;

  // Reads several columns of one row group, decoding them in parallel.
  std::vector<ColumnChunkData> read_row_group(size_t group, const std::vector<size_t>& leaves) const;

 private:
  [[noreturn]] void fail(uint64_t offset, const std::string& what) const;
  void read_at(uint64_t offset, size_t size, uint8_t* out) const;
  void build_columns();

  std::filesystem::path path_;
  ReaderOptions options_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  FileMetaData metadata_;
  std::vector<LeafColumn> columns_;
};

}  // namespace salvo::parquet
