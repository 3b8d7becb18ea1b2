// Typed input rows for `salvo windows`, whatever the format: Parquet columns keep their own types
// (ParquetTableReader); CSV and JSONL records are framed by the existing row sources and typed here.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "salvo/table.h"

namespace salvo::windows {

// A batch of input rows: the columns asked for, typed, and the rows that could not be read.
struct InputBatch {
  RecordBatch rows;
  uint64_t first_row = 0;  // 0-based position of rows' first row in the input
  // Rows of this batch that could not be read (their values are null), and why, in row order.
  std::vector<std::pair<int64_t, std::string>> errors;
  // Text formats: each row's line in the file, for messages; empty for Parquet.
  std::vector<uint64_t> lines;
  // A folder or glob of Parquet files: the file these rows come from, and the 0-based position of
  // the first of them in it, for messages; empty for one file.
  std::string file;
  uint64_t first_row_in_file = 0;
};

// Where row `r` of `batch` is, for messages: "line 12" (text formats; `record_name` is "line"),
// "row 7" (one Parquet file), "events/part-1.parquet row 7" (a folder or glob of them).
std::string row_place(const InputBatch& batch, int64_t r, const char* record_name);

struct TableSourceOptions {
  // Types to read CSV and JSONL columns as, instead of inferring them ("amount" -> float64).
  std::map<std::string, DataType> column_types;
  // Types for CSV and JSONL columns that have no value in the rows types are inferred from.
  std::map<std::string, DataType> empty_column_types;
  size_t max_record_bytes = size_t{16} << 20;
  // CSV and JSONL columns without a given type get the type that fits every value of the first
  // `infer_rows` records: bool, int64, float64 (a mix of integers and decimals), else string.
  size_t infer_rows = 10000;
  size_t batch_rows = 65536;
};

class TableSource {
 public:
  virtual ~TableSource() = default;
  // The columns asked for, in order, with their types.
  virtual const Schema& schema() const = 0;
  // Fills `batch` with the next rows; false at the end of the input.
  virtual bool next(InputBatch* batch) = 0;
  virtual uint64_t bytes_read() const = 0;
  virtual std::optional<uint64_t> total_bytes() const = 0;
  // What a row is called in error messages' positions ("line", "row").
  virtual const char* record_name() const = 0;
};

// Opens `path` by its extension (as open_row_source does: .parquet, a folder or a glob; .csv;
// .jsonl / .ndjson / .json) for the named columns. Throws salvo::Error: kInvalidArgument for a
// missing column, an unknown format, or column types given for Parquet input; kIo when the input
// cannot be read.
std::unique_ptr<TableSource> open_table_source(const std::string& path, const std::vector<std::string>& columns,
                                               const TableSourceOptions& options);

// Parses a type name for --column-types: bool, int32, int64, float32, float64, string, timestamp.
// Throws salvo::Error(kInvalidArgument) otherwise.
DataType parse_type_name(const std::string& name);

}  // namespace salvo::windows
