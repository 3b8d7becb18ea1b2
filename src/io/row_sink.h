// Sinks: where results go. The format follows the file extension.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/record.h"

namespace salvo {

// What a job computes, which decides the output's fields.
enum class Task {
  kEmbed,     // "embedding": pooled vector
  kClassify,  // "label" and "score", optionally top-k or all scores
  kTokenize,  // "input_ids" and "token_type_ids"
};

// The shape of the output rows.
struct OutputSchema {
  Task task = Task::kEmbed;
  std::vector<std::string> labels;  // classify: label names in id order
  size_t top_k = 0;                 // classify: also write the k best labels with their scores
  bool all_scores = false;          // classify: also write every label's score
  size_t dims = 0;                  // embed: vector width; classify: number of labels (for .npy)
  CarriedColumns carried;           // the id and passthrough columns, as the source reports them
  std::string compression;          // Parquet / TFRecord codec; empty: the format's default
  size_t row_group_bytes = 128u << 20;  // Parquet: target size of a row group
  size_t part_file_bytes = 1u << 30;    // Parquet output folder: target size of a part file
};

// Writes rows in the order given. The file appears under its final name only after finish():
// until then it is "<name>.partial", so a crash never leaves a file that looks complete.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void write(const OutputRow& row) = 0;
  // Flushes, closes and renames to the final name. Throws salvo::Error(kIo) on failure.
  virtual void finish() = 0;
};

// Opens a sink for `path` by its extension: .jsonl, .csv, .npy, .parquet (a file; a path ending in
// "/" is a folder of part files), .tfrecord / .tfrecords. Throws salvo::Error
// (kInvalidArgument for an unknown extension or a task the format cannot hold, kIo otherwise).
std::unique_ptr<RowSink> open_row_sink(const std::filesystem::path& path, const OutputSchema& schema);

}  // namespace salvo
