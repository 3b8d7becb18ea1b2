// Sources: where input rows come from. The format follows the file extension.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/record.h"
#include "salvo/types.h"

namespace salvo {

// Which fields of a record hold the text and the id, and which are copied to the output.
struct FieldNames {
  std::string text = "text";  // empty: rows have no text (tensor inputs, kept columns only)
  std::string id = "id";
  std::vector<std::string> passthrough;
  std::string text_pair;  // empty: rows have one text
  // The last this many passthrough columns are tensor inputs (predict): a source may decode them
  // straight to numbers (InputRow::tensors) instead of JSON values; Parquet does for numeric columns.
  size_t tensor_inputs = 0;
};

// Reads records from one input. read() is called from one thread; parse() from many at once.
class RowSource {
 public:
  virtual ~RowSource() = default;

  // Appends up to `max_records` records to `out`. Returns false at the end of the input.
  // Throws salvo::Error(kIo) when the input cannot be read at all.
  virtual bool read(size_t max_records, std::vector<RawRecord>* out) = 0;

  // Like read(), appending to `out->records`, but records may borrow their bytes
  // (RawRecord::borrowed) from buffers the source adds to `out->buffers`: columnar sources
  // (Parquet) hand out views into decoded pages instead of one copy per value. The default
  // calls read(). Use one of read() and read_batch() for a whole input, not both.
  virtual bool read_batch(size_t max_records, RawBatch* out) { return read(max_records, &out->records); }

  // Turns a framed record into a row; a record it cannot parse gets `error` set, never a throw.
  // A record with borrowed bytes may give a row with borrowed text (InputRow::text_view()), valid
  // as long as the record's batch.
  virtual void parse(const RawRecord& record, InputRow* row) const = 0;

  // Like parse(), but may move the record's values (id, passthrough, bytes) into the row instead
  // of copying them; the record is left valid but unspecified. The default calls parse().
  virtual void consume(RawRecord&& record, InputRow* row) const { parse(record, row); }

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

// Which part of an input a source reads: the index-th of `count` disjoint, contiguous slices,
// whose union is the whole input in order. Files are split by record start offset (JSONL, CSV,
// TFRecord) or by row group (Parquet), so slices may be uneven; a slice may be empty.
struct Slice {
  uint32_t index = 0;
  uint32_t count = 1;
  bool whole() const { return count <= 1; }
};

// Limits that protect memory from hostile input.
struct SourceLimits {
  size_t max_record_bytes = 16u << 20;  // a longer record becomes an error row, not a huge buffer
  // Columnar sources (Parquet): threads that decode row groups and pages ahead of read(), 0 for
  // one per available core, and the most decoded bytes they may hold ahead of it, 0 for 128 MiB
  // per decoding thread and at least 256 MiB (at least one row group is always decoded, however
  // large).
  int decode_threads = 0;
  uint64_t read_ahead_bytes = 0;
};

// Opens `path` by its extension: .jsonl / .ndjson / .json (JSON lines), .csv, .parquet (also a
// folder of part files or a glob), .tfrecord / .tfrecords (optionally .gz / .zz). A folder or glob
// of other files, or any input when `files` asks for it, is read as binary files (one row per
// file, see io/binary_file_source.h). Throws salvo::Error (kInvalidArgument for an unknown
// extension, kIo for an unreadable file or a bad CSV header). `slice` selects a part of the input
// (records keep their index in the whole input).
std::unique_ptr<RowSource> open_row_source(const std::filesystem::path& path, const FieldNames& fields,
                                           const SourceLimits& limits = {}, const Slice& slice = {},
                                           const BinaryFileOptions& files = {});

}  // namespace salvo
