// A batch job: read -> parse and tokenize (parallel) -> batch -> infer -> write, connected by
// bounded queues so that memory stays bounded whatever the input's size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "io/row_sink.h"
#include "io/row_source.h"
#include "pipeline/token_budget_batcher.h"

namespace salvo {

class BertModel;
class Tokenizer;

struct JobOptions {
  Task task = Task::kEmbed;
  std::filesystem::path input;
  std::filesystem::path output;
  FieldNames fields;
  SourceLimits limits;
  BatchingOptions batching;
  int threads = 1;       // compute threads (OpenMP); tokenizer threads are derived from it
  size_t top_k = 0;      // classify: write the k best labels
  bool all_scores = false;
  std::string compression;  // output codec for formats that have one (Parquet, TFRecord)
  bool progress = false;  // draw a progress line on stderr
};

// What a finished job did, for the one-line summary.
struct JobSummary {
  uint64_t rows = 0;
  uint64_t errors = 0;
  uint64_t tokens = 0;         // tokens computed
  uint64_t padded_tokens = 0;  // rows x longest row, summed over batches: what a padded engine computes
  uint64_t batches = 0;
  double seconds = 0;

  // The share of a padded layout that would have been padding; salvo's own execution is packed
  // and computes none of it, so this measures how well length-sorting groups rows.
  double padding_fraction() const {
    return padded_tokens ? 1.0 - static_cast<double>(tokens) / padded_tokens : 0.0;
  }
};

// Runs a job to the end. `model` may be null only for Task::kTokenize. Bad rows become error rows;
// anything that stops the job (unreadable input, unwritable output) throws salvo::Error, after
// every thread has been stopped and joined.
JobSummary run_job(const JobOptions& options, const Tokenizer& tokenizer, BertModel* model);

}  // namespace salvo
