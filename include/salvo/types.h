// The vocabulary of salvo's API: tasks, number formats, options and the log callback.
#pragma once

#include "salvo/export.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace salvo {

// The library's version, e.g. "0.2.0".
SALVO_API const char* library_version();

// What a call computes for each input row.
enum class Task {
  kEmbed,     // a pooled (usually L2-normalised) sentence embedding
  kClassify,  // class probabilities of a sequence-classification head: label, score, ...
  kScore,     // one relevance score per text pair (cross-encoders, rerankers)
  kTokenize,  // the token ids the model would see
  kPredict,   // a TorchScript model's output tensors for input tensors
};

// "embed", "classify", "score", "tokenize", "predict".
SALVO_API const char* task_name(Task task);
// Parses a task name; throws salvo::Error(kInvalidArgument) for anything else.
SALVO_API Task parse_task(std::string_view name);

// The number format an encoder's matrix products run in.
enum class DType {
  kF32,   // float32 throughout: the format checked against PyTorch
  kBF16,  // bfloat16 products with float32 sums (AVX512_BF16)
  kInt8,  // int8 weights, uint8 activations, int32 sums (AVX512_VNNI)
  kAuto,  // the fastest of int8, bf16, f32 whose results stay within bounds on a probe batch
};

// "f32", "bf16", "int8", "auto".
SALVO_API const char* dtype_name(DType dtype);
// Parses "f32" (or "fp32", "float32"), "bf16", "int8", "auto"; throws kInvalidArgument otherwise.
SALVO_API DType parse_dtype(std::string_view name);

// How severe a log message is.
enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Receives what the library has to say (warnings, statistics lines). The library never writes to
// stdout or stderr itself; without a callback, messages are dropped.
using LogCallback = std::function<void(LogLevel level, const std::string& message)>;

// The token ids and token type (segment) ids of one input, as the model sees them: special tokens
// added, truncated.
struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
};

// How a model folder is loaded.
struct ModelOptions {
  DType dtype = DType::kF32;
  std::string gemm;       // matrix library: "onednn" or "openblas"; empty: the fastest here
  size_t max_length = 0;  // tokens per sequence, special tokens included; 0: sentence_bert_config.json's
                          // max_seq_length, else the tokenizer's truncation, else the model's positions
  LogCallback log;        // warnings while loading (e.g. a format this CPU lacks)
  bool tokenizer_only = false;  // load the tokenizer alone: the model serves only Task::kTokenize
};

// How rows are grouped into the batches a model runs.
struct BatchingOptions {
  size_t max_batch_tokens = 8192;  // real tokens per batch (execution is padding-free)
  size_t max_batch_rows = 256;     // rows per batch
};

// How a session runs its model.
struct SessionOptions {
  int threads = 0;   // compute threads in all; 0: every core this process may use
  int replicas = 1;  // model replicas working on separate batches; threads are split between them
  BatchingOptions batching;
  LogCallback log;
};

// Per-call choices of a task.
struct TaskOptions {
  size_t top_k = 0;         // classify: also give the k most likely labels and their scores
  bool all_scores = false;  // classify: also give every label's score, in label order
};

}  // namespace salvo
