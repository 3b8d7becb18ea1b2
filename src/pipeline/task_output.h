// The columns each task gives, and how a model's rows of floats become them: the one place that
// knows what "embed", "classify", "score" and "tokenize" look like as data. Sinks and front ends
// only see the resulting RecordBatch.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <vector>

#include "salvo/model.h"
#include "salvo/table.h"

namespace salvo {

// The result columns of `task` for `model`, without "error". Throws kModel when the model does not
// serve the task.
Schema task_schema(Task task, const ModelInfo& model, const TaskOptions& options);

// Collects one call's results row by row (in any order) and turns them into columns.
class TaskOutput {
 public:
  // `width`: floats per row the model writes (ModelImpl::output_width).
  TaskOutput(Task task, const ModelInfo& model, const TaskOptions& options, size_t rows, size_t width);

  // Where the model's `width` floats for input row `row` go.
  float* values(size_t row);
  // Marks a row bad; its result columns are null and "error" holds `message`. Rows may be marked
  // from several threads at once, each row by one.
  void set_error(size_t row, std::string message);
  bool has_error(size_t row) const { return !errors_[row].empty(); }
  size_t errors() const { return error_count_; }

  // The result columns followed by "error". `encodings` holds each row's tokens (kTokenize).
  RecordBatch finish(const std::vector<Encoding>& encodings);

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
};

}  // namespace salvo
