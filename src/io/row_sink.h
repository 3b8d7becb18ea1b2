// Sinks: where result rows go. The format follows the file extension; the columns come from the
// schema, so a sink knows nothing about the task that made them.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "salvo/table.h"

namespace salvo {

// Format choices of a sink.
struct SinkOptions {
  std::string compression;              // Parquet / TFRecord codec; empty: the format's default
  size_t row_group_bytes = 128u << 20;  // Parquet: target size of a row group
  std::string record_type;  // TFRecord: "Example" (default) or "SequenceExample"
  // TFRecord: > 0 writes a folder of part-NNNNN-of-MMMMM.tfrecord files, row i in part i mod N,
  // and an empty _SUCCESS file once all are complete; shards of an earlier run there are removed.
  size_t num_shards = 0;
  // Parquet: the types of JSON columns (values of JSON input, typed by their values) fixed
  // beforehand, by column name ("BOOLEAN", "INT64", "DOUBLE", "STRING"), as a folder's first part
  // chose them (RowSink::json_column_types), so that every part of a folder has one schema.
  std::map<std::string, std::string> json_column_types;
};

// Writes batches of rows in the order given. The file appears under its final name only after
// finish(): until then it is a temporary file beside it, so a crash never leaves a file that looks
// complete.
class RowSink {
 public:
  virtual ~RowSink() = default;
  // `batch` has the schema the sink was opened with.
  virtual void write(const RecordBatch& batch) = 0;
  // Flushes, closes and renames to the final name. Throws salvo::Error(kIo) on failure.
  virtual void finish() = 0;
  // After finish(): the type each JSON column was given (Parquet; see SinkOptions), by name.
  virtual std::map<std::string, std::string> json_column_types() const { return {}; }
  // Rows without an error that the sink gave one: a value their column's type cannot hold (Parquet
  // output of JSON input; see parquet_sink.cc), written as null.
  virtual uint64_t rows_given_errors() const { return 0; }
};

// Refuses what a sink for `path` would silently ignore: a codec for a format written plain (.jsonl,
// .csv, .npy), a compressed name (.gz, .zz) for a format other than TFRecord, TFRecord shards
// under another format's name, a TFRecord record type for another format. For a folder (a path
// ending in "/"), `folder_format` names its parts' format. Throws salvo::Error(kInvalidArgument)
// naming the path and the flag.
void check_sink_choice(const std::filesystem::path& path, const std::string& folder_format,
                       const SinkOptions& options);

// Opens a sink for `path` by its extension: .jsonl, .csv, .npy, .parquet, .tfrecord / .tfrecords;
// a path ending in "/" is a folder of part files (see part_folder_sink.h); a folder of TFRecord
// shards when options.num_shards > 0. Throws salvo::Error(kInvalidArgument)
// for an unknown extension, a schema the format cannot hold or two columns of one name, kIo when
// the file cannot be created.
std::unique_ptr<RowSink> open_row_sink(const std::filesystem::path& path, const Schema& schema,
                                       const SinkOptions& options = {});

}  // namespace salvo
