// Sources: where input rows come from. The format follows the file extension.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/record.h"

namespace salvo {

struct BinaryFileOptions;  // salvo/types.h

// Which fields of a record hold the text and the id, and which are copied to the output.
struct FieldNames {
  std::string text = "text";
  std::string id = "id";
  std::vector<std::string> passthrough;
  std::string text_pair;  // empty: rows have one text
};

// Reads records from one input. read() is called from one thread; parse() from many at once.
class RowSource {
 public:
  virtual ~RowSource() = default;

  // Appends up to `max_records` records to `out`. Returns false at the end of the input.
  // Throws salvo::Error(kIo) when the input cannot be read at all.
  virtual bool read(size_t max_records, std::vector<RawRecord>* out) = 0;

  // Turns a framed record into a row; a record it cannot parse gets `error` set, never a throw.
  virtual void parse(const RawRecord& record, InputRow* row) const = 0;

  // The id and passthrough columns, with their types as far as the format knows them.
  virtual CarriedColumns carried_columns() const = 0;

  // What one record is called in messages ("line 12: ..."): "line", "row" or "record".
  virtual const char* record_name() const { return "record"; }
  // How an error message names a row: "line 12", or a file's path.
  virtual std::string record_label(const InputRow& row) const {
    return std::string(record_name()) + " " + std::to_string(row.line);
  }

  // Bytes consumed so far and the input's total size when known, for progress and ETA.
  virtual uint64_t bytes_read() const = 0;
  virtual std::optional<uint64_t> total_bytes() const = 0;
};

// Limits that protect memory from hostile input.
struct SourceLimits {
  size_t max_record_bytes = 16u << 20;  // a longer record becomes an error row, not a huge buffer
};

// Opens `path` by its extension: .jsonl / .ndjson / .json (JSON lines), .csv, .parquet (also a
// folder of part files or a glob), .tfrecord / .tfrecords (optionally .gz / .zz). A folder or glob
// of other files, or any input when `files` asks for it, is read as binary files (one row per
// file, see io/binary_file_source.h). Throws salvo::Error (kInvalidArgument for an unknown
// extension, kIo for an unreadable file or a bad CSV header).
std::unique_ptr<RowSource> open_row_source(const std::filesystem::path& path, const FieldNames& fields,
                                           const SourceLimits& limits, const BinaryFileOptions& files);
std::unique_ptr<RowSource> open_row_source(const std::filesystem::path& path, const FieldNames& fields,
                                           const SourceLimits& limits = {});

}  // namespace salvo
