// A call's result as Python sees it: the session's RecordBatch, shared (never copied) by the numpy
// arrays and Arrow arrays made from it.
#pragma once

#include <nanobind/nanobind.h>

#include <memory>

#include "salvo/session.h"

namespace salvo::python {

class ResultBatch {
 public:
  // Takes the result of a call. Float cells of failed rows are set to NaN, so numpy views of
  // the embedding and score columns show NaN there (Arrow sees them as null).
  explicit ResultBatch(Result result);

  const RecordBatch& columns() const { return result_->columns; }
  const RunStats& stats() const { return result_->stats; }
  std::shared_ptr<const Result> shared() const { return result_; }

 private:
  std::shared_ptr<const Result> result_;
};

// A Python object that keeps `result` alive: the owner of numpy arrays over its buffers.
nanobind::object result_owner(std::shared_ptr<const Result> result);
// The column as numpy or Python values: a numeric column is a 1-D array and a fixed-length list
// of numbers a 2-D array over the batch's own buffer (read-only unless `writable`); strings are a
// list of str (None for null); other lists a list of lists (None for null).
nanobind::object column_to_python(const ResultBatch& batch, size_t index, bool writable);
// The "error" column as a list of str or None.
nanobind::object errors_to_python(const ResultBatch& batch);

void bind_result_batch(nanobind::module_& m);

}  // namespace salvo::python
