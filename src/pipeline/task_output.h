// The columns each task gives, and how a model's rows of floats become them: the one place that
// knows what "embed", "classify", "score", "tokenize" and "featurize" look like as data. Sinks and front ends
// only see the resulting RecordBatch.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "model/model_impl.h"
#include "salvo/featurizer.h"
#include "salvo/model.h"
#include "salvo/table.h"

namespace salvo {

// The result columns of `task` for `model`, without "error". Throws kModel when the model does not
// serve the task. `features`: what the session's featurizer makes (kFeaturize's column types).
// kPredict's columns come from the model's outputs: its schema here is empty.
Schema task_schema(Task task, const ModelInfo& model, const TaskOptions& options,
                   FeatureKind features = FeatureKind::kTokens);

// Collects one call's results row by row (in any order) and turns them into columns.
class TaskOutput {
 public:
  // `width`: floats per row the model writes (ModelImpl::output_width).
  TaskOutput(Task task, const ModelInfo& model, const TaskOptions& options, size_t rows, size_t width,
             FeatureKind features = FeatureKind::kTokens);

  // Where the model's `width` floats for input row `row` go.
  float* values(size_t row);
  // Marks a row bad; its result columns are null and "error" holds `message`. Rows may be marked
  // from several threads at once, each row by one.
  void set_error(size_t row, std::string message);
  bool has_error(size_t row) const { return !errors_[row].empty(); }
  size_t errors() const;
  // kPredict: the outputs of a batch whose row i is input row rows[i]. The first batch fixes the
  // output columns; a later batch whose outputs differ in name, kind or shape is an error.
  // Thread-safe (batches finish on several replicas).
  void set_outputs(const std::vector<size_t>& rows, const std::vector<OutputTensor>& outputs);

  // The result columns followed by "error". `features` holds each row's tokens (kTokenize) or
  // tensor (kFeaturize).
  RecordBatch finish(const std::vector<Features>& features);

 private:
  Task task_;
  TaskOptions options_;
  Schema schema_;
  std::vector<std::string> labels_;
  size_t rows_;
  size_t width_;
  Column direct_;              // kEmbed: the embedding column, filled in place
  float* embedding_ = nullptr;  // its values
  std::vector<float> matrix_;  // kClassify, kScore: probabilities or logits, row after row
  std::vector<std::string> errors_;  // each row is set by one thread
  std::atomic<size_t> error_count_{0};  // rows go bad on several tokenizer and replica threads at once

  // kPredict: one column per output tensor, values of each row at its input position.
  struct PredictColumn {
    std::string name;
    bool int64 = false;
    std::vector<int64_t> row_shape;  // without the batch dimension
    int64_t row_size = 0;
    std::vector<float> floats;
    std::vector<int64_t> ints;
  };
  std::mutex predict_mutex_;
  std::vector<PredictColumn> predict_;
};

}  // namespace salvo
