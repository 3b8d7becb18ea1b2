// Columnar data: what every task produces and every sink writes. A RecordBatch is a set of named,
// typed columns of equal length, laid out as Apache Arrow lays them out (validity, int32 offsets,
// contiguous values), so results reach numpy and pyarrow without a copy and a sink needs no
// knowledge of the task that made them.
#pragma once

#include "salvo/export.h"

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace salvo {

// The kind of a column's values.
enum class TypeId : uint8_t {
  kBool,
  kInt32,
  kInt64,
  kFloat32,
  kFloat64,
  kString,     // UTF-8 text
  kBinary,     // raw bytes
  kTimestamp,  // microseconds since the Unix epoch, UTC, as int64
  kJson,       // any JSON value (columns of JSON input, whose type varies by row)
  kList,       // a list of values of the element type, per row
};

// A column type: a scalar, or a list of an element type (lists nest).
class SALVO_API DataType {
 public:
  DataType() : DataType(TypeId::kString) {}
  explicit DataType(TypeId id) : id_(id) {}

  static DataType boolean() { return DataType(TypeId::kBool); }
  static DataType int32() { return DataType(TypeId::kInt32); }
  static DataType int64() { return DataType(TypeId::kInt64); }
  static DataType float32() { return DataType(TypeId::kFloat32); }
  static DataType float64() { return DataType(TypeId::kFloat64); }
  static DataType string() { return DataType(TypeId::kString); }
  static DataType binary() { return DataType(TypeId::kBinary); }
  static DataType timestamp() { return DataType(TypeId::kTimestamp); }
  static DataType json() { return DataType(TypeId::kJson); }
  // A list of `element`; `fixed_length` > 0 promises that every non-null row holds exactly that
  // many values (an embedding's width), which lets matrix formats (.npy, numpy) hold the column.
  static DataType list(const DataType& element, int64_t fixed_length = 0);

  TypeId id() const { return id_; }
  bool is_list() const { return id_ == TypeId::kList; }
  // The element type of a list; throws for a scalar type.
  const DataType& element() const;
  int64_t fixed_length() const { return fixed_length_; }
  // "float32", "list<float32>[384]", "list<list<int64>>", ...
  std::string to_string() const;
  bool operator==(const DataType& other) const;

 private:
  TypeId id_;
  std::shared_ptr<const DataType> element_;
  int64_t fixed_length_ = 0;
};

// A named column type.
struct Field {
  std::string name;
  DataType type;
};

// The columns of a batch, in order, and key-value metadata that travels with them (e.g. the label
// names of a classifier, written to a Parquet footer).
struct SALVO_API Schema {
  std::vector<Field> fields;
  std::map<std::string, std::string> metadata;

  // Index of the field named `name`, or -1.
  int index_of(std::string_view name) const;
};

// One column: a validity flag per row and the values, built by appending rows in order.
// Appending a value of the wrong kind throws salvo::Error(kInternal).
class SALVO_API Column {
 public:
  explicit Column(DataType type);
  Column(Column&&) noexcept;
  Column& operator=(Column&&) noexcept;
  Column(const Column&);
  Column& operator=(const Column&);
  ~Column();

  const DataType& type() const { return type_; }
  int64_t size() const { return size_; }
  int64_t null_count() const { return null_count_; }
  bool is_null(int64_t row) const { return !valid_.empty() && !valid_[row]; }

  // --- building: one call per row (lists: append_list, or begin_list + child appends + end_list)
  void reserve(int64_t rows);
  void append_null();
  void append_bool(bool value);
  void append_int32(int32_t value);
  void append_int64(int64_t value);  // also kTimestamp
  void append_float32(float value);
  void append_float64(double value);
  void append_string(std::string_view value);  // kString and kBinary
  void append_json(const nlohmann::json& value);  // kJson; null is a null row
  // One list row of scalars (the element type must match T).
  void append_list(std::span<const float> values);
  void append_list(std::span<const double> values);
  void append_list(std::span<const int32_t> values);
  void append_list(std::span<const int64_t> values);
  void append_list(std::span<const std::string> values);
  // A list row built element by element through child(): begin_list(), append to mutable_child(),
  // end_list().
  void begin_list();
  void end_list();
  Column& mutable_child();
  // Appends row `row` of `other`, which must have the same type.
  void append_from(const Column& other, int64_t row);

  // --- reading
  bool bool_at(int64_t row) const;
  int32_t int32_at(int64_t row) const;
  int64_t int64_at(int64_t row) const;
  float float32_at(int64_t row) const;
  double float64_at(int64_t row) const;
  std::string_view string_at(int64_t row) const;
  const nlohmann::json& json_at(int64_t row) const;
  // A list row is the child's elements [list_begin(row), list_end(row)).
  int64_t list_begin(int64_t row) const { return offsets_[row]; }
  int64_t list_end(int64_t row) const { return offsets_[row + 1]; }
  const Column& child() const;
  // The contiguous values of a numeric column (T must match the type: uint8_t for kBool, int64_t
  // for kInt64 and kTimestamp, ...).
  template <typename T>
  std::span<const T> values() const;
  // Row `row` of a list of numbers, as a span of the child's values.
  template <typename T>
  std::span<const T> list_values(int64_t row) const {
    return child().values<T>().subspan(list_begin(row), list_end(row) - list_begin(row));
  }

  // Arrow buffers: validity bytes (one per row; empty when no row is null), int32 offsets
  // (strings, binaries and lists: size()+1 entries), and the raw value bytes.
  const std::vector<uint8_t>& validity() const { return valid_; }
  const std::vector<int32_t>& offsets() const { return offsets_; }
  const std::vector<uint8_t>& data() const { return data_; }
  // The value buffer, to be filled in place by a producer that knows the layout (e.g. a matrix of
  // embeddings written row by row): resizes the data to `rows` values of a numeric type or
  // `rows * fixed_length` values of a fixed-length numeric list, all valid, and returns it.
  std::vector<uint8_t>& fill_in_place(int64_t rows);
  // Marks row `row` null after a fill_in_place (its values stay, unused).
  void set_null(int64_t row);

 private:
  void mark_valid();
  void grow_validity();
  void check(TypeId expected, const char* what) const;
  template <typename T>
  void append_fixed(TypeId expected, T value, const char* what);
  template <typename T>
  void append_list_of(std::span<const T> values);

  DataType type_;
  int64_t size_ = 0;
  int64_t null_count_ = 0;
  std::vector<uint8_t> valid_;     // empty while no row is null
  std::vector<int32_t> offsets_;   // strings, binaries, lists
  std::vector<uint8_t> data_;      // fixed-width values, or string bytes
  std::unique_ptr<std::vector<nlohmann::json>> json_;  // kJson values
  std::unique_ptr<Column> child_;  // list elements
  bool in_list_ = false;
};

// Columns of equal length under a schema.
class SALVO_API RecordBatch {
 public:
  RecordBatch() = default;
  explicit RecordBatch(Schema schema);

  const Schema& schema() const { return schema_; }
  Schema& mutable_schema() { return schema_; }
  int64_t num_rows() const;
  size_t num_columns() const { return columns_.size(); }
  const Column& column(size_t i) const { return columns_[i]; }
  Column& mutable_column(size_t i) { return columns_[i]; }
  // The column named `name`; throws salvo::Error(kInvalidArgument) when absent.
  const Column& column(std::string_view name) const;

  // Adds a column at the end (its length must match the others).
  void add_column(Field field, Column column);
  // Adds the columns of `other` (same row count) after this batch's.
  void append_columns(RecordBatch other);
  // Appends every row of `other`, which must have the same schema.
  void append_rows(const RecordBatch& other);
  // A copy of rows [begin, end).
  RecordBatch slice(int64_t begin, int64_t end) const;

 private:
  Schema schema_;
  std::vector<Column> columns_;
};

}  // namespace salvo
