// The texts of one call, read from what Python hands over: a sequence of str (list, tuple, numpy
// object array, ...) or an Arrow string column (anything with __arrow_c_array__ or
// __arrow_c_stream__: pyarrow arrays and chunked arrays, polars, ...). Texts are views: nothing
// is copied, and a TextInput keeps the memory they point into alive.
#pragma once

#include <nanobind/nanobind.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "salvo/session.h"

namespace salvo::python {

struct ArrowChunk;

// The rows of a call and what their views point into.
class TextInput {
 public:
  TextInput();
  ~TextInput();  // releases Arrow chunks: call with the GIL held
  TextInput(TextInput&&) noexcept;
  TextInput& operator=(TextInput&&) noexcept;

  size_t size() const { return texts_.size(); }
  const std::vector<std::string_view>& texts() const { return texts_; }
  // One per row when any row is bad (empty strings for good rows), else empty.
  const std::vector<std::string>& errors() const { return errors_; }
  // Moves the views and errors into a session's Inputs; this object must outlive the call.
  Inputs take_inputs();

  void add_text(std::string_view text) { texts_.push_back(text); if (!errors_.empty()) errors_.emplace_back(); }
  void add_error(std::string message);
  void hold(nanobind::object owner) { owners_.push_back(std::move(owner)); }
  void hold(std::unique_ptr<ArrowChunk> chunk);

 private:
  std::vector<std::string_view> texts_;
  std::vector<std::string> errors_;
  std::vector<nanobind::object> owners_;
  std::vector<std::unique_ptr<ArrowChunk>> chunks_;
};

// Reads `texts` (GIL held). Throws nb::type_error for something that is not a sequence or a string
// column, nb::value_error for an Arrow array whose offsets or buffers are inconsistent. A row that
// is null or not a string is not an exception: it gets an error.
TextInput read_texts(nanobind::handle texts);

}  // namespace salvo::python
