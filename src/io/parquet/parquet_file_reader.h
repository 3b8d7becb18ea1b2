// Reads one Parquet file: footer, flat schema, and column chunks decoded page by page.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/compression.h"
#include "io/parquet/parquet_decoder.h"
#include "io/parquet/parquet_metadata.h"

namespace salvo::parquet {

// Lists nested deeper than this are refused (a list of lists is 2).
inline constexpr int kMaxListDepth = 8;

// A leaf of the schema tree: a column with values.
struct LeafColumn {
  std::string name;  // dotted path from the root ("a.b" for nested leaves)
  size_t index = 0;  // position among the leaves, and in RowGroup::columns
  SchemaElement element;
  int max_definition_level = 0;
  int max_repetition_level = 0;
  // The top-level column this leaf holds whole (a value, or a LIST of values or of LISTs, read
  // by the rules of the format's LogicalTypes.md, legacy two-level lists included); empty for a
  // leaf of a struct or map, which is read by its dotted name when it is not repeated.
  std::string field;
  // Lists: for each nesting depth, outermost first, the definition level from which the list at
  // that depth is present (below it, null); at that level exactly it is empty. One per repetition
  // level. Empty for a flat column.
  std::vector<int> list_definition_levels;
  // Why the leaf cannot be read ("a list of structs"), or empty.
  std::string unreadable;

  int list_depth() const { return static_cast<int>(list_definition_levels.size()); }
};

// The lists of one nesting depth of a LIST column chunk: list i holds the items
// [offsets[i], offsets[i + 1]) of the next depth (lists, or element slots at the innermost depth).
struct ListLevel {
  std::vector<uint32_t> offsets;  // lists + 1 entries
  std::vector<uint8_t> valid;     // one per list, 0 for a null list; empty when none is null
};

// One column of one row group. `values` holds the non-null values in order; `defined` has one
// entry per slot (a row of a flat column, an innermost element of a list column; 1: a value,
// 0: null), or is empty when no slot is null. List columns have their lists in `lists`, the
// outermost (one per row) first. Byte-array values are views into buffers `values` owns (see
// ColumnValues).
struct ColumnChunkData {
  ColumnValues values;
  std::vector<uint8_t> defined;
  std::vector<ListLevel> lists;
  int64_t rows = 0;
};

// Limits against hostile files.
struct ReaderOptions {
  uint64_t max_column_bytes = uint64_t{2} << 30;  // most one column chunk may decode to
  // Where column chunk and page buffers come from and go back to; null: plain allocations.
  std::shared_ptr<PageBufferPool> buffer_pool;
};

// One data page of a column chunk, decoded.
struct DecodedPage {
  ColumnValues values;
  std::vector<uint8_t> levels;      // definition levels, one per entry (optional and list columns)
  std::vector<uint8_t> repetition;  // repetition levels, one per entry (list columns)
  bool has_nulls = false;
};

class ParquetFileReader;

// A column chunk read from the file, its page headers checked and its dictionary decoded. Its
// data pages are independent from here on: decode_page() may run for several pages at once on
// different threads, in any order; assemble() then joins them. The file reader must outlive it.
class ColumnChunkPages {
 public:
  ColumnChunkPages(const ColumnChunkPages&) = delete;
  ColumnChunkPages& operator=(const ColumnChunkPages&) = delete;

  size_t page_count() const { return pages_.size(); }
  int64_t rows() const { return rows_; }
  // Decompresses and decodes data page `i`. Thread-safe. Throws salvo::Error(kIo) naming the file,
  // column and page offset for corrupt data.
  DecodedPage decode_page(size_t i) const;
  // Joins every page, decoded, in order, into the chunk's values, which take over the page
  // buffers and the dictionary (views stay valid). Call once.
  ColumnChunkData assemble(std::vector<DecodedPage> pages);

 private:
  friend class ParquetFileReader;
  ColumnChunkPages() = default;

  struct PageRef {
    PageHeader header;
    size_t offset = 0;  // of the page body in raw_
    uint64_t file_offset = 0;  // of the page header, for messages
  };

  const LeafColumn* column_ = nullptr;
  Type type_ = Type::kBoolean;
  Compression compression_ = Compression::kNone;
  uint64_t max_bytes_ = 0;
  std::string where_;  // file, column and row group
  PageBuffer raw_;  // the column chunk as read from the file
  size_t raw_size_ = 0;
  bool raw_referenced_ = false;  // some values are views into raw_ (uncompressed pages)
  ColumnValues dictionary_;
  bool has_dictionary_ = false;
  bool check_utf8_ = false;
  std::shared_ptr<PageBufferPool> buffer_pool_;
  std::vector<PageRef> pages_;
  int64_t rows_ = 0;
  mutable std::atomic<uint64_t> built_bytes_{0};
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
  // The leaf with this dotted name, or the one that holds the top-level column of this name
  // (LeafColumn::field), or nullptr.
  const LeafColumn* find_column(std::string_view name) const;
  // For a name that no leaf has but some leaves are under (a struct, a map, a list of structs):
  // what it is, for messages ("a struct (its fields are columns of their own: st.a, st.b)"); empty
  // when no leaf is under it.
  std::string nested_column(std::string_view name) const;
  size_t num_row_groups() const { return metadata_.row_groups.size(); }
  int64_t num_rows(size_t group) const { return metadata_.row_groups[group].num_rows; }
  uint64_t file_size() const { return file_size_; }
  // Compressed bytes of the given leaves in one row group (for progress).
  uint64_t compressed_bytes(size_t group, const std::vector<size_t>& leaves) const;

  // Reads one column chunk of one row group and locates its pages (see ColumnChunkPages). List
  // columns come with their lists (ColumnChunkData::lists). Throws salvo::Error(kIo) naming the
  // file, column and byte offset for corrupt data, or for a repeated leaf salvo cannot read
  // (LeafColumn::unreadable).
  // With `check_utf8`, byte-array values are checked for UTF-8 as they are decoded
  // (ColumnValues::invalid_utf8 lists the bad ones).
  std::unique_ptr<ColumnChunkPages> open_column(size_t group, size_t leaf, bool check_utf8 = false) const;

  // Reads and decodes one column of one row group, page after page on this thread. Throws
  // as open_column() and ColumnChunkPages::decode_page() do.
  ColumnChunkData read_column(size_t group, size_t leaf, bool check_utf8 = false) const;

  // Reads several columns of one row group, decoding them in parallel.
  std::vector<ColumnChunkData> read_row_group(size_t group, const std::vector<size_t>& leaves) const;

 private:
  [[noreturn]] void fail(uint64_t offset, const std::string& what) const;
  void read_at(uint64_t offset, size_t size, uint8_t* out) const;
  void build_columns();
  void resolve_fields();

  std::filesystem::path path_;
  ReaderOptions options_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  FileMetaData metadata_;
  std::vector<LeafColumn> columns_;
};

}  // namespace salvo::parquet
