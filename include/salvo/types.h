// The vocabulary of salvo's API: tasks, number formats, options and the log callback.
#pragma once

#include "salvo/export.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace salvo {

class Featurizer;

// The library's version, e.g. "0.2.0".
SALVO_API const char* library_version();

// What a call computes for each input row.
enum class Task {
  kEmbed,     // a pooled (usually L2-normalised) sentence embedding
  kClassify,  // class probabilities of a sequence-classification head: label, score, ...
  kScore,     // one relevance score per text pair (cross-encoders, rerankers)
  kTokenize,  // the token ids the model would see
  kPredict,   // a TorchScript model's output tensors for input tensors
  kFeaturize,  // the session's featurizer alone (audio, image): a tensor per row, no model run
};

// "embed", "classify", "score", "tokenize", "predict", "featurize".
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
  // The first stage applied to each row (see featurizer.h); empty: the model's tokenizer. A
  // session with a featurizer and no model serves Task::kFeaturize only.
  std::shared_ptr<const Featurizer> featurizer;
};

// Per-call choices of a task.
struct TaskOptions {
  size_t top_k = 0;         // classify: also give the k most likely labels and their scores
  bool all_scores = false;  // classify: also give every label's score, in label order
  // featurize: the tensor as a list of its rows along the first axis (list<list<float32>>), which
  // a SequenceExample writes as a feature list; otherwise one flat list.
  bool nested_features = false;
  // predict on a session with a featurizer (files in): each row's features, reshaped to this
  // shape without the batch dimension, are the model's one input. Empty: the features' own shape.
  std::vector<int64_t> input_shape;
};

// How a folder or glob of files is read as Spark's binaryFile source reads it: one row per file
// (path, modificationTime, length, content, and the key=value folders above it as columns).
struct BinaryFileOptions {
  bool enabled = false;    // read the input as binary files (else only when it is not Parquet)
  bool recursive = false;  // Spark's recursiveFileLookup: no columns from key=value folders
  std::string glob;        // Spark's pathGlobFilter: only files whose name matches ("*.wav")
  // Adds a "label" column: "parent" (the file's folder name) or "regex:PATTERN" (the first
  // capture group of PATTERN searched in the path; null when it does not match).
  std::string label_from;
};

}  // namespace salvo
