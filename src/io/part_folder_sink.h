// A folder of part files: each part holds a fixed number of consecutive rows and is written under a
// temporary name and renamed when whole; after each part a manifest records the parts that are
// complete. That is what lets a killed job resume from its last part, and the shards of one job
// (Slurm array tasks, Kubernetes indexed Job pods) write into one folder:
//
//   out/part-00000.parquet ...                       one job
//   out/part-00003-of-00010-00000.parquet ...        shard 3 of 10 (names sort in input order)
//   out/_salvo_manifest[-shard-00003-of-00010].json  which parts are complete, for which job
//   out/_SUCCESS                                     once every shard is complete
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/row_sink.h"

namespace salvo {

struct PartFolderOptions {
  std::string format = "parquet";  // the parts' format, as a file extension: parquet, jsonl, csv, tfrecord, npy
  uint64_t part_rows = 100000;     // rows per part (the last part of a shard may hold fewer)
  uint32_t shard_index = 0;
  uint32_t shard_count = 1;
  // What the job is (input, model, options), as JSON text: a resumed job must be the same job.
  std::string job;
  // Continue from the parts the manifest records, when it is there and is this job's; otherwise
  // start afresh. Without resume, this shard's earlier parts are removed first.
  bool resume = false;
  SinkOptions sink;
};

class PartFolderSink : public RowSink {
 public:
  // Creates the folder if needed, takes this shard's lock (_salvo_lock[-shard-I-of-N], held until
  // the sink is destroyed) and reads or resets this shard's manifest. Throws
  // salvo::Error(kInvalidArgument) when resuming over another job's parts, kIo when the folder
  // cannot be written or another process is writing the same shard of it.
  PartFolderSink(const std::filesystem::path& folder, const Schema& schema, PartFolderOptions options);
  ~PartFolderSink() override;

  // Gives the parts' columns when they were not known at construction (an empty schema: a model whose
  // outputs show only when it runs). Must come before the first write.
  void set_schema(const Schema& schema) { schema_ = schema; }
  // Rows of this shard that completed parts already hold: a resumed job skips that many.
  uint64_t rows_done() const { return rows_done_; }
  // Whether the manifest says this shard finished (a resumed job then has nothing to do).
  bool complete() const { return complete_; }

  void write(const RecordBatch& batch) override;
  // Commits the last part, marks this shard complete, and writes _SUCCESS once every shard is.
  void finish() override;
  uint64_t rows_given_errors() const override { return rows_given_errors_; }

 private:
  std::string part_name(size_t part) const;
  // What every part file name of this job's shard starts with.
  std::string shard_part_prefix() const;
  std::filesystem::path manifest_path(uint32_t shard) const;
  void open_part();
  void commit_part();
  void write_manifest();
  void remove_shard_files();

  std::filesystem::path folder_;
  Schema schema_;
  PartFolderOptions options_;
  std::vector<std::string> parts_;  // committed, in order
  uint64_t rows_done_ = 0;          // rows the committed parts hold
  uint64_t rows_given_errors_ = 0;  // by this run's parts (see RowSink::rows_given_errors)
  bool complete_ = false;
  int lock_fd_ = -1;                // flock'ed: one writer per shard of a folder
  std::unique_ptr<RowSink> part_;   // the part being written
  uint64_t part_rows_written_ = 0;
};

// The manifest file name of `shard` of `count` ("_salvo_manifest.json" for a single shard).
std::string part_manifest_name(uint32_t shard, uint32_t count);

}  // namespace salvo
