// Typed, columnar Parquet reading, beside ParquetSource's row records: chosen columns of Parquet
// input as RecordBatches of their own types, for commands that compute over values (windows)
// rather than carry them. Built on ParquetFileReader, which it does not change.
#pragma once

#include <cstdint>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "salvo/table.h"

namespace salvo {

// Reads the named columns of Parquet input: one .parquet file, a folder of part files (hidden
// files and `_SUCCESS` skipped; `key=value` folders give string columns), or a glob. Types:
//   BOOLEAN bool; INT32 int32 (unsigned: int64; DATE: timestamp); INT64 int64 (TIMESTAMP of any
//   unit: timestamp, microseconds, nanoseconds floored); INT96 timestamp (Spark's legacy ones);
//   DECIMAL (of any physical type) float64; FLOAT float32; DOUBLE float64; BYTE_ARRAY string when
//   annotated UTF8/STRING/ENUM/JSON, else binary; FIXED_LEN_BYTE_ARRAY binary. Nested columns are
//   refused. (parquet/logical_values.h converts.)
// Row groups are decoded one ahead, on another thread, while the current one is used.
class ParquetTableReader {
 public:
  // Throws salvo::Error: kIo for input that cannot be read, kInvalidArgument naming a column that
  // is missing or of a type it cannot read.
  ParquetTableReader(const std::string& path, const std::vector<std::string>& columns);
  ~ParquetTableReader();
  ParquetTableReader(const ParquetTableReader&) = delete;
  ParquetTableReader& operator=(const ParquetTableReader&) = delete;

  // The columns asked for, in that order, with their types (those of the first file; the other
  // files must agree).
  const Schema& schema() const { return schema_; }
  // Replaces `batch` with the next row group's rows; false at the end of the input.
  bool next(RecordBatch* batch);

  // Where the rows of the last next() came from: their file, and the 0-based position of the first
  // of them in that file.
  const std::filesystem::path& batch_file() const;
  uint64_t batch_first_row_in_file() const { return batch_file_row_; }
  // Whether the input names more than one file's place (a folder or a glob), even if one matched.
  bool several_files() const { return several_files_; }

  // Input bytes done and in all, for progress.
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  struct File;
  struct OpenFile;
  // One decoded row group, and where it was.
  struct Group {
    RecordBatch batch;
    size_t file = 0;
    size_t group = 0;
    size_t groups = 0;  // row groups of its file
  };
  // Decodes row group `group` of file `file` (or the next that exists) on another thread.
  std::future<std::optional<Group>> launch(size_t file, size_t group);
  void open_file(size_t index);

  std::vector<File> files_;
  std::vector<std::string> names_;
  Schema schema_;
  uint64_t total_bytes_ = 0;
  uint64_t bytes_read_ = 0;
  uint64_t done_files_bytes_ = 0;
  size_t last_file_ = 0;
  bool several_files_ = false;
  size_t batch_file_ = 0;
  uint64_t batch_file_row_ = 0;
  uint64_t batch_rows_ = 0;
  std::unique_ptr<OpenFile> open_;  // used by the decoding task only
  std::future<std::optional<Group>> next_;
};

}  // namespace salvo
