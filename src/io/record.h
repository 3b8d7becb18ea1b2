// The rows that flow through a job: as read and as parsed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace salvo {

// The type of a column carried from input to output (the id and passthrough columns).
enum class ValueType {
  kDynamic,  // JSON values of any type (JSONL input): the writer decides per value or infers
  kString,
  kBinary,
  kBool,
  kInt32,
  kInt64,
  kFloat,
  kDouble,
  kTimestamp,  // microseconds since the Unix epoch (binaryFile's modificationTime)
};

// A column carried from input to output: its name in the output and its type.
struct ColumnSpec {
  std::string name;
  ValueType type = ValueType::kDynamic;
  // > 0: the values are lists nested this deep (2: lists of lists) whose elements are `type`.
  int list_depth = 0;
};

// The columns a job carries from input to output besides its results.
struct CarriedColumns {
  std::optional<ColumnSpec> id;      // written as "id"; absent when the input has no id column
  std::vector<ColumnSpec> passthrough;  // written under their own names, in this order
};

// One record as the source framed it, not yet parsed. Parsing happens on worker threads, so a
// malformed record costs the reader nothing. Text formats (JSONL, CSV) leave the record's bytes
// to parse; columnar and binary formats (Parquet, TFRecord) decode fields as they read, put the
// text in `bytes` (or, from read_batch(), in `borrowed`) and fill `id` and `passthrough`
// themselves.
struct RawRecord {
  uint64_t index = 0;  // 0-based position among the input's records; output order follows it
  uint64_t line = 0;   // 1-based line (text formats) or record number, for error messages
  std::string bytes;
  // Set instead of `bytes` by sources that hand out views into their decoded buffers
  // (RowSource::read_batch()): valid while the RawBatch the record came in is alive.
  std::string_view borrowed;
  std::string error;  // set by the source when it could not frame or decode the record
  std::string text_pair;  // the second text, decoded (columnar sources, from read())
  nlohmann::json id;  // decoded id (columnar sources)
  std::vector<nlohmann::json> passthrough;  // decoded passthrough values (columnar sources)
  // Columnar sources, from read_batch(): the decoded row this record is (opaque to all but its
  // source, kept alive by the RawBatch), from which parse() builds the id and passthrough values
  // on the parsing thread instead of the reading one.
  const void* decoded = nullptr;
  uint64_t decoded_row = 0;

  // The record's bytes, wherever they are.
  std::string_view data() const { return borrowed.data() != nullptr ? borrowed : std::string_view(bytes); }
};

// Records read together by RowSource::read_batch(). Records may borrow their bytes from buffers
// that `buffers` keeps alive (decoded Parquet pages, shared with the source and other batches),
// so text reaches the tokenizer without a copy. Keep the batch (or move it whole) for as long as
// its records, or rows parsed from them, are used.
struct RawBatch {
  std::vector<RawRecord> records;
  std::vector<std::shared_ptr<const void>> buffers;

  void clear() {
    records.clear();
    buffers.clear();
  }
};

// A value decoded straight to numbers for a tensor input (FieldNames::tensor_inputs): a number,
// or lists of numbers flattened in row-major order.
struct NumericValue {
  std::vector<double> floats;  // from floating-point columns
  std::vector<int64_t> ints;   // from integer and boolean columns
  bool null = false;           // the value is null
  bool numeric = true;         // false: it holds a null element, so no tensor
};

// A parsed input row: the text to run and the id to carry to the output, or why it is bad.
struct InputRow {
  uint64_t index = 0;
  uint64_t line = 0;
  nlohmann::json id;  // null when the input has no id field
  std::vector<nlohmann::json> passthrough;  // FieldNames::passthrough values, null when absent
  // The tensor inputs (the last FieldNames::tensor_inputs passthrough columns), when the source
  // decoded them as numbers; their `passthrough` values are then null. Empty otherwise.
  std::vector<NumericValue> tensors;
  std::string text;
  std::string text_pair;  // the second text of a pair, when FieldNames::text_pair is set
  // Set instead of `text` when parse() was given a record with borrowed bytes: a view into its
  // RawBatch's buffers. Read the text with text_view().
  std::string_view borrowed_text;
  std::string error;  // non-empty: the row is reported with this reason and not computed

  // The row's text, wherever it is.
  std::string_view text_view() const {
    return borrowed_text.data() != nullptr ? borrowed_text : std::string_view(text);
  }
};


}  // namespace salvo
