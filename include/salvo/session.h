// A session runs a model on rows in memory: it tokenizes them, sorts them by length, packs them
// into batches under a token budget, runs the batches on its model replicas (in parallel when it
// has several), and returns one result row per input row, in input order.
//
// One session may be called from many threads at once; calls queue for its replicas. Several
// sessions may share one Model.
#pragma once

#include "salvo/export.h"

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "salvo/model.h"
#include "salvo/table.h"
#include "salvo/types.h"

namespace salvo {

// The most values one row of a tensor input may hold (2^31: 8 GiB of float32).
inline constexpr int64_t kMaxTensorRowValues = int64_t{1} << 31;

// The values one row of this shape holds (the product of its sizes); -1 when a size is negative or
// the product is over kMaxTensorRowValues (or overflows).
inline int64_t tensor_row_values(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n) || n > kMaxTensorRowValues) return -1;
  }
  return n;
}

// One input of a TorchScript model (Task::kPredict): a tensor per row, all of one shape, as Spark's
// predict_batch_udf takes a column reshaped to input_tensor_shapes. Rows follow one another in
// `floats` (or `ints`); a bad row (marked in Inputs::errors) still takes its place, with any values.
struct TensorColumn {
  std::string name;             // for messages; tensors are passed to forward() in order
  std::vector<int64_t> shape;   // one row's shape, without the batch dimension; empty: a scalar
  bool int64 = false;           // the model takes int64 values (`ints`), else float32 (`floats`)
  std::vector<float> floats;
  std::vector<int64_t> ints;

  // Values per row: the product of `shape`. Throws kInvalidArgument for a negative size or more than
  // kMaxTensorRowValues.
  int64_t row_size() const;
  int64_t rows() const;
};

// The rows of one call. Text is given as views: the caller keeps the bytes alive until the call
// returns (run) or its result is ready (submit); `keep_alive` may own them for asynchronous calls.
struct SALVO_API Inputs {
  // One per row (the first text of a pair for kScore); for a featurizer that reads files (audio,
  // images), each row's bytes.
  std::vector<std::string_view> texts;
  std::vector<std::string_view> text_pairs;  // kScore: the second text of each pair
  // Optional, one per row: a non-empty string marks the row bad before it runs (a null or a value
  // of the wrong type in the caller's data) and is reported as its error.
  std::vector<std::string> errors;
  // Alternatively, rows already tokenized (texts empty): one Encoding per row.
  std::vector<Encoding> encodings;
  // Task::kPredict: the model's input tensors, in forward()'s order.
  std::vector<TensorColumn> tensors;
  std::shared_ptr<const void> keep_alive;

  size_t size() const;
};

// One call: what to compute, and on what.
struct Request {
  Task task = Task::kEmbed;
  TaskOptions options;
  Inputs inputs;
};

// What a call cost, for progress lines and summaries.
struct RunStats {
  uint64_t rows = 0;
  uint64_t errors = 0;         // rows reported with an error
  uint64_t tokens = 0;         // tokens computed
  uint64_t padded_tokens = 0;  // rows x longest row, summed over batches: what a padded engine computes
  uint64_t batches = 0;
};

// The result of a call: the task's columns (see Session::output_schema; for kPredict, one column
// per output tensor: "output" for a single tensor, "output_0", ... for a tuple, the keys of a
// dict; a scalar per row, or a fixed-length list of its values in row-major order) followed by "error"
// (string; null for a row that was computed, the reason for one that was not, whose other columns
// are null), one row per input row in input order.
struct Result {
  RecordBatch columns;
  RunStats stats;
};

class SALVO_API Session {
 public:
  // Starts the session's replica threads. Throws salvo::Error(kInvalidArgument) for bad options.
  // `model` may be null when options.featurizer is set: the session then serves Task::kFeaturize.
  Session(std::shared_ptr<const Model> model, const SessionOptions& options = {});
  // Loads `path` and starts a session on it.
  static std::unique_ptr<Session> open(const std::filesystem::path& path, const ModelOptions& model_options = {},
                                       const SessionOptions& options = {});
  // Waits for submitted calls to finish, then stops the threads.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The model; throws kInvalidArgument for a featurizer-only session.
  const Model& model() const;
  std::shared_ptr<const Model> shared_model() const;
  // What turns each row into the model's input: options.featurizer, or the model's tokenizer;
  // null for a tensor model (predict) given no featurizer, whose rows arrive as tensors.
  const Featurizer* featurizer() const;
  // Compute threads in all, after resolving 0 to the core count.
  int threads() const;

  // The columns a task gives for this model, without the trailing "error" column. Throws kModel
  // when the model cannot serve the task (e.g. classify without a head). For kPredict the columns
  // depend on what the model returns: they are known from the first result.
  Schema output_schema(Task task, const TaskOptions& options = {}) const;

  // Queues a call and returns at once (or, when the session's queue is full, once there is room).
  // Throws for a call that cannot run (a task the model lacks: kModel; inconsistent inputs:
  // kInvalidArgument). The future holds the Result, or the salvo::Error of a failure while running
  // (kBackend, kInternal). Bad rows are not errors: they get an error in the result.
  std::future<Result> submit(Request request);
  // submit() and wait.
  Result run(Request request);

  // Conveniences over run() for a list of texts.
  Result embed(const std::vector<std::string>& texts);
  Result classify(const std::vector<std::string>& texts, const TaskOptions& options = {});
  Result tokenize(const std::vector<std::string>& texts);
  Result score(const std::vector<std::string>& texts, const std::vector<std::string>& text_pairs);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace salvo
