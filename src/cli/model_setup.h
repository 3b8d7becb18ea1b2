// Loading a model folder for a subcommand: tokenizer, encoder, the checks between them and the
// sequence length limit. Shared by the batch subcommands and stream.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "io/row_sink.h"
#include "model/bert_model.h"
#include "pipeline/token_budget_batcher.h"
#include "text/tokenizer.h"

namespace salvo::cli {

// The flags that say how a model folder is loaded and run.
struct ModelFlags {
  std::string gemm;            // --gemm; empty: the fastest library here
  std::string dtype = "f32";   // --dtype: f32, bf16, int8 or auto
  size_t max_length = 0;       // --max-length; 0: the tokenizer's truncation, else the model's positions
};

// A model folder, ready to run.
struct LoadedModel {
  Tokenizer tokenizer;
  std::unique_ptr<BertModel> model;  // null for Task::kTokenize
  std::string compute;               // which number format and instructions run, for the start line
};

// Sequence length limit: `requested` (--max-length) when non-zero, else the tokenizer's
// truncation, else the model's positions. Throws kInvalidArgument for a bad --max-length.
size_t resolve_max_length(size_t requested, const Tokenizer& tokenizer, const BertModel* model,
                          const std::filesystem::path& model_dir);

// Loads the tokenizer and, unless `task` is kTokenize, the model with the --gemm library and the
// --dtype number format (a format this CPU lacks falls back to f32 with a warning on stderr);
// checks that classify has a head and that the vocabularies agree; sets the tokenizer's max
// length. Throws salvo::Error(kModel) naming the folder and the problem.
LoadedModel load_model(const std::filesystem::path& model_dir, Task task, const ModelFlags& flags);

// Adds the flags every subcommand that tokenizes shares: --max-length, --threads, --batch-tokens,
// --batch-rows and, when `runs_model`, --gemm and --dtype. `batch` names a batch in the help
// ("batch", "micro-batch"), `rows` what it holds ("rows", "requests").
void add_compute_flags(CLI::App* cmd, const std::string& batch, const std::string& rows, bool runs_model,
                       ModelFlags* model, int* threads, BatchingOptions* batching);

}  // namespace salvo::cli
