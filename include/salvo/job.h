// A batch job over files: read rows from an input file, run a session's task on them, write one
// output row per input row, in input order. Memory stays bounded whatever the input's size.
#pragma once

#include "salvo/export.h"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "salvo/session.h"
#include "salvo/types.h"

namespace salvo {

// A job's progress, as a progress line reads it.
struct JobProgress {
  uint64_t rows = 0;    // rows written (including error rows)
  uint64_t errors = 0;  // rows written with an error
  uint64_t tokens = 0;  // tokens computed
  uint64_t bytes_read = 0;
  std::optional<uint64_t> total_bytes;  // input size when known
  double seconds = 0;
};

// What a finished job did, for the one-line summary.
struct JobSummary {
  uint64_t rows = 0;
  uint64_t errors = 0;
  uint64_t tokens = 0;         // tokens computed
  uint64_t padded_tokens = 0;  // rows x longest row, summed over batches: what a padded engine computes
  uint64_t batches = 0;
  double seconds = 0;
  uint64_t resumed_rows = 0;  // rows a resumed job found done and skipped
  bool already_complete = false;  // resume found the whole output (or shard) done: nothing ran

  // The share of a padded layout that would have been padding; salvo's own execution is packed and
  // computes none of it, so this measures how well length-sorting groups rows.
  double padding_fraction() const {
    return padded_tokens ? 1.0 - static_cast<double>(tokens) / static_cast<double>(padded_tokens) : 0.0;
  }
};

struct JobOptions {
  Task task = Task::kEmbed;
  TaskOptions task_options;
  // Input: .jsonl, .csv, .parquet (file, folder of part files, glob) or .tfrecord (.gz, .zz); or a
  // folder or glob of other files, read as Spark's binaryFile source reads them (see `files`).
  std::filesystem::path input;
  BinaryFileOptions files;
  // Output: .jsonl, .csv, .npy, .parquet or .tfrecord; a path ending in "/" is a folder of part
  // files of `folder_format`, each holding `part_rows` rows, with a manifest and a _SUCCESS marker.
  std::filesystem::path output;
  std::string folder_format = "parquet";
  uint64_t part_rows = 100000;
  // Continue a job that died: a folder output continues after the last part its manifest records
  // (the result is the same as an uninterrupted run's); a single-file output that exists is taken
  // as done. When the output does not exist yet, the job simply runs.
  bool resume = false;
  // Process only the shard_index-th of shard_count disjoint slices of the input (split by record
  // offset in JSONL/CSV/TFRecord, by row group in Parquet): one job over several machines. Shards
  // may share one output folder; its _SUCCESS appears when the last shard completes.
  uint32_t shard_index = 0;
  uint32_t shard_count = 1;
  std::string text_field = "text";
  std::string text_pair_field;  // kScore: the second text of each pair
  std::string id_field = "id";  // copied to the output as "id" when the input has it
  std::vector<std::string> keep_columns;  // copied to the output unchanged
  // Parquet output: the types of columns carried from JSON values (the id and kept columns of JSON
  // Lines input), by column name: "bool", "int64", "float64" or "string". Without one, a column
  // takes the type of its first values (the first row group; for shards, the input's first 10,000
  // rows), and a later value that does not fit is null with its row's error.
  std::map<std::string, std::string> column_types;
  // Task::kPredict: the columns that feed the model's forward(), in order, each a number or an
  // array of numbers (nested arrays are flattened) reshaped to its shape without the batch dimension
  // (empty: a scalar), as Spark's predict_batch_udf takes input_tensor_shapes. A row whose value is
  // null, not numeric or of the wrong size is an error row.
  std::vector<std::string> input_columns;
  std::vector<std::vector<int64_t>> input_shapes;  // one per input column; missing: a scalar
  std::vector<std::string> input_dtypes;           // "float32" (default) or "int64", one per column
  size_t max_record_bytes = 16u << 20;    // a longer input record becomes an error row
  std::string compression;                // output codec (Parquet, TFRecord)
  std::string record_type;  // TFRecord: "Example" (default) or "SequenceExample"
  size_t num_shards = 0;    // TFRecord: > 0 writes a folder of part-NNNNN-of-MMMMM files and _SUCCESS
  size_t window_rows = 2048;  // rows handed to the session together: sorted by length together
  size_t window_bytes = 0;    // > 0: a window also closes once its records hold this many bytes
  // Called once the input and output are open and the task fits the model, before the first row
  // is read: everything that can fail before then has been checked (a start line printed here is
  // never followed by a usage error).
  std::function<void()> started;
  // Called from the job's thread after each window is written.
  std::function<void(const JobProgress&)> progress;
  // When set and it becomes true (e.g. from a signal handler), the job stops at its next window
  // and throws salvo::Error(kCancelled); its temporary files are removed, no output appears.
  const std::atomic<bool>* cancel = nullptr;
};

// Checks what can be checked before a model loads: the input opens and has the fields asked for,
// the output's format is known and its place writable, kept columns do not clash with the task's
// columns. Throws salvo::Error (kInvalidArgument, kIo) naming the path and the problem.
SALVO_API void check_job(const JobOptions& options);

// Runs a job to the end on `session`. Bad rows become error rows; anything that stops the job
// (unreadable input, unwritable output, a model failure) throws salvo::Error, after every thread
// has stopped; the partial output is removed.
SALVO_API JobSummary run_job(Session& session, const JobOptions& options);

}  // namespace salvo
