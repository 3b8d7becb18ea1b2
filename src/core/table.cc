#include "salvo/table.h"

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "salvo/error.h"

namespace salvo {
namespace {

size_t width_of(TypeId id) {
  switch (id) {
    case TypeId::kBool: return 1;
    case TypeId::kInt32:
    case TypeId::kFloat32: return 4;
    case TypeId::kInt64:
    case TypeId::kTimestamp:
    case TypeId::kFloat64: return 8;
    default: return 0;
  }
}

const char* type_name(TypeId id) {
  switch (id) {
    case TypeId::kBool: return "bool";
    case TypeId::kInt32: return "int32";
    case TypeId::kInt64: return "int64";
    case TypeId::kFloat32: return "float32";
    case TypeId::kFloat64: return "float64";
    case TypeId::kString: return "string";
    case TypeId::kBinary: return "binary";
    case TypeId::kTimestamp: return "timestamp";
    case TypeId::kJson: return "json";
    case TypeId::kList: return "list";
  }
  return "?";
}

bool has_offsets(TypeId id) { return id == TypeId::kString || id == TypeId::kBinary || id == TypeId::kList; }

[[noreturn]] void internal(const std::string& what) { throw Error(ErrorCode::kInternal, what); }

int32_t checked_offset(size_t end) {
  if (end > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw Error(ErrorCode::kInvalidArgument, "a column batch holds more than 2 GiB of values; use smaller batches");
  }
  return static_cast<int32_t>(end);
}

template <typename T>
constexpr TypeId type_of() {
  if constexpr (std::is_same_v<T, float>) return TypeId::kFloat32;
  if constexpr (std::is_same_v<T, double>) return TypeId::kFloat64;
  if constexpr (std::is_same_v<T, int32_t>) return TypeId::kInt32;
  if constexpr (std::is_same_v<T, int64_t>) return TypeId::kInt64;
  if constexpr (std::is_same_v<T, uint8_t>) return TypeId::kBool;
  return TypeId::kJson;
}

}  // namespace

// --- DataType

DataType DataType::list(const DataType& element, int64_t fixed_length) {
  DataType t(TypeId::kList);
  t.element_ = std::make_shared<const DataType>(element);
  t.fixed_length_ = fixed_length;
  return t;
}

const DataType& DataType::element() const {
  if (!element_) internal(std::string("type ") + type_name(id_) + " has no element type");
  return *element_;
}

std::string DataType::to_string() const {
  if (id_ != TypeId::kList) return type_name(id_);
  std::string s = "list<" + element_->to_string() + ">";
  if (fixed_length_ > 0) s += "[" + std::to_string(fixed_length_) + "]";
  return s;
}

bool DataType::operator==(const DataType& other) const {
  if (id_ != other.id_) return false;
  if (id_ != TypeId::kList) return true;
  return fixed_length_ == other.fixed_length_ && *element_ == *other.element_;
}

int Schema::index_of(std::string_view name) const {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

// --- Column

Column::Column(DataType type) : type_(std::move(type)) {
  if (has_offsets(type_.id())) offsets_.push_back(0);
  if (type_.id() == TypeId::kJson) json_ = std::make_unique<std::vector<nlohmann::json>>();
  if (type_.is_list()) child_ = std::make_unique<Column>(type_.element());
}

Column::Column(Column&&) noexcept = default;
Column& Column::operator=(Column&&) noexcept = default;
Column::~Column() = default;

Column::Column(const Column& other)
    : type_(other.type_),
      size_(other.size_),
      null_count_(other.null_count_),
      valid_(other.valid_),
      offsets_(other.offsets_),
      data_(other.data_),
      in_list_(other.in_list_) {
  if (other.json_) json_ = std::make_unique<std::vector<nlohmann::json>>(*other.json_);
  if (other.child_) child_ = std::make_unique<Column>(*other.child_);
}

Column& Column::operator=(const Column& other) {
  if (this != &other) *this = Column(other);
  return *this;
}

void Column::check(TypeId expected, const char* what) const {
  if (type_.id() != expected && !(expected == TypeId::kInt64 && type_.id() == TypeId::kTimestamp) &&
      !(expected == TypeId::kString && type_.id() == TypeId::kBinary)) {
    internal(std::string("cannot ") + what + " on a column of " + type_.to_string());
  }
}

void Column::grow_validity() {
  if (valid_.empty()) valid_.assign(static_cast<size_t>(size_), 1);
}

void Column::mark_valid() {
  if (!valid_.empty()) valid_.push_back(1);
  ++size_;
}

void Column::reserve(int64_t rows) {
  if (has_offsets(type_.id())) offsets_.reserve(static_cast<size_t>(rows) + 1);
  if (const size_t w = width_of(type_.id())) data_.reserve(static_cast<size_t>(rows) * w);
  if (json_) json_->reserve(static_cast<size_t>(rows));
}

void Column::append_null() {
  grow_validity();
  valid_.push_back(0);
  ++size_;
  ++null_count_;
  if (has_offsets(type_.id())) offsets_.push_back(offsets_.back());
  if (const size_t w = width_of(type_.id())) data_.resize(data_.size() + w, 0);
  if (json_) json_->emplace_back(nullptr);
}

template <typename T>
void Column::append_fixed(TypeId expected, T value, const char* what) {
  check(expected, what);
  const size_t at = data_.size();
  data_.resize(at + sizeof(T));
  std::memcpy(data_.data() + at, &value, sizeof(T));
  mark_valid();
}

void Column::append_bool(bool value) { append_fixed<uint8_t>(TypeId::kBool, value ? 1 : 0, "append a bool"); }
void Column::append_int32(int32_t value) { append_fixed(TypeId::kInt32, value, "append an int32"); }
void Column::append_int64(int64_t value) { append_fixed(TypeId::kInt64, value, "append an int64"); }
void Column::append_float32(float value) { append_fixed(TypeId::kFloat32, value, "append a float32"); }
void Column::append_float64(double value) { append_fixed(TypeId::kFloat64, value, "append a float64"); }

void Column::append_string(std::string_view value) {
  check(TypeId::kString, "append a string");
  data_.insert(data_.end(), value.begin(), value.end());
  offsets_.push_back(checked_offset(data_.size()));
  mark_valid();
}

void Column::append_json(const nlohmann::json& value) {
  check(TypeId::kJson, "append a JSON value");
  if (value.is_null()) {
    append_null();
    return;
  }
  json_->push_back(value);
  mark_valid();
}

template <typename T>
void Column::append_list_of(std::span<const T> values) {
  if (!type_.is_list() || type_.element().id() != type_of<T>()) {
    internal("cannot append a list of " + DataType(type_of<T>()).to_string() + " to a column of " + type_.to_string());
  }
  begin_list();
  Column& child = *child_;
  // Copied in without zero-filling first: an image's list is ~600 KB.
  const auto* bytes = reinterpret_cast<const uint8_t*>(values.data());
  child.data_.insert(child.data_.end(), bytes, bytes + values.size_bytes());
  if (!child.valid_.empty()) child.valid_.resize(child.valid_.size() + values.size(), 1);
  child.size_ += static_cast<int64_t>(values.size());
  end_list();
}

void Column::append_list(std::span<const float> values) { append_list_of(values); }
void Column::append_list(std::span<const double> values) { append_list_of(values); }
void Column::append_list(std::span<const int32_t> values) { append_list_of(values); }
void Column::append_list(std::span<const int64_t> values) { append_list_of(values); }

void Column::append_list(std::span<const std::string> values) {
  if (!type_.is_list() || (type_.element().id() != TypeId::kString && type_.element().id() != TypeId::kBinary)) {
    internal("cannot append a list of strings to a column of " + type_.to_string());
  }
  begin_list();
  for (const auto& v : values) child_->append_string(v);
  end_list();
}

void Column::begin_list() {
  check(TypeId::kList, "begin a list");
  if (in_list_) internal("begin_list inside a list row");
  in_list_ = true;
}

void Column::end_list() {
  if (!in_list_) internal("end_list without begin_list");
  in_list_ = false;
  offsets_.push_back(checked_offset(static_cast<size_t>(child_->size())));
  mark_valid();
}

Column& Column::mutable_child() {
  if (!child_) internal("column of " + type_.to_string() + " has no child");
  return *child_;
}

const Column& Column::child() const {
  if (!child_) internal("column of " + type_.to_string() + " has no child");
  return *child_;
}

void Column::append_from(const Column& other, int64_t row) {
  if (!(type_ == other.type_)) internal("append_from: " + other.type_.to_string() + " into " + type_.to_string());
  if (other.is_null(row)) {
    append_null();
    return;
  }
  switch (type_.id()) {
    case TypeId::kString:
    case TypeId::kBinary: append_string(other.string_at(row)); return;
    case TypeId::kJson: append_json(other.json_at(row)); return;
    case TypeId::kList: {
      begin_list();
      for (int64_t i = other.list_begin(row); i < other.list_end(row); ++i) child_->append_from(*other.child_, i);
      end_list();
      return;
    }
    default: {
      const size_t w = width_of(type_.id());
      data_.insert(data_.end(), other.data_.begin() + row * w, other.data_.begin() + (row + 1) * w);
      mark_valid();
    }
  }
}

bool Column::bool_at(int64_t row) const { return data_[row] != 0; }

int32_t Column::int32_at(int64_t row) const {
  int32_t v;
  std::memcpy(&v, data_.data() + row * 4, 4);
  return v;
}

int64_t Column::int64_at(int64_t row) const {
  int64_t v;
  std::memcpy(&v, data_.data() + row * 8, 8);
  return v;
}

float Column::float32_at(int64_t row) const {
  float v;
  std::memcpy(&v, data_.data() + row * 4, 4);
  return v;
}

double Column::float64_at(int64_t row) const {
  double v;
  std::memcpy(&v, data_.data() + row * 8, 8);
  return v;
}

std::string_view Column::string_at(int64_t row) const {
  return {reinterpret_cast<const char*>(data_.data()) + offsets_[row],
          static_cast<size_t>(offsets_[row + 1] - offsets_[row])};
}

const nlohmann::json& Column::json_at(int64_t row) const {
  static const nlohmann::json null_value;
  if (!json_) internal("json_at on a column of " + type_.to_string());
  return is_null(row) ? null_value : (*json_)[row];
}

template <typename T>
std::span<const T> Column::values() const {
  const TypeId id = type_.id() == TypeId::kTimestamp ? TypeId::kInt64 : type_.id();
  if (id != type_of<T>()) internal("values<" + DataType(type_of<T>()).to_string() + "> of " + type_.to_string());
  return {reinterpret_cast<const T*>(data_.data()), static_cast<size_t>(size_)};
}

template std::span<const float> Column::values<float>() const;
template std::span<const double> Column::values<double>() const;
template std::span<const int32_t> Column::values<int32_t>() const;
template std::span<const int64_t> Column::values<int64_t>() const;
template std::span<const uint8_t> Column::values<uint8_t>() const;

std::vector<uint8_t>& Column::fill_in_place(int64_t rows) {
  if (size_ != 0) internal("fill_in_place on a column that already holds rows");
  if (const size_t w = width_of(type_.id())) {
    data_.resize(static_cast<size_t>(rows) * w);
    size_ = rows;
    return data_;
  }
  if (type_.is_list() && type_.fixed_length() > 0 && width_of(type_.element().id())) {
    const int64_t n = type_.fixed_length();
    std::vector<uint8_t>& values = child_->fill_in_place(rows * n);
    offsets_.resize(static_cast<size_t>(rows) + 1);
    for (int64_t r = 0; r <= rows; ++r) offsets_[r] = checked_offset(static_cast<size_t>(r * n));
    size_ = rows;
    return values;
  }
  internal("fill_in_place on a column of " + type_.to_string());
}

void Column::set_null(int64_t row) {
  grow_validity();
  if (valid_[row]) {
    valid_[row] = 0;
    ++null_count_;
  }
}

// --- RecordBatch

RecordBatch::RecordBatch(Schema schema) : schema_(std::move(schema)) {
  columns_.reserve(schema_.fields.size());
  for (const auto& f : schema_.fields) columns_.emplace_back(f.type);
}

int64_t RecordBatch::num_rows() const { return columns_.empty() ? 0 : columns_[0].size(); }

const Column& RecordBatch::column(std::string_view name) const {
  const int i = schema_.index_of(name);
  if (i < 0) throw Error(ErrorCode::kInvalidArgument, "no column named \"" + std::string(name) + "\"");
  return columns_[i];
}

void RecordBatch::add_column(Field field, Column column) {
  if (!columns_.empty() && column.size() != num_rows()) {
    internal("column " + field.name + " has " + std::to_string(column.size()) + " rows, the batch " +
             std::to_string(num_rows()));
  }
  schema_.fields.push_back(std::move(field));
  columns_.push_back(std::move(column));
}

void RecordBatch::append_columns(RecordBatch other) {
  for (size_t i = 0; i < other.columns_.size(); ++i) {
    add_column(std::move(other.schema_.fields[i]), std::move(other.columns_[i]));
  }
  for (auto& [k, v] : other.schema_.metadata) schema_.metadata.emplace(k, std::move(v));
}

void RecordBatch::append_rows(const RecordBatch& other) {
  if (other.columns_.size() != columns_.size()) internal("append_rows: schemas differ");
  for (size_t c = 0; c < columns_.size(); ++c) {
    for (int64_t r = 0; r < other.num_rows(); ++r) columns_[c].append_from(other.columns_[c], r);
  }
}

RecordBatch RecordBatch::slice(int64_t begin, int64_t end) const {
  RecordBatch out(schema_);
  for (size_t c = 0; c < columns_.size(); ++c) {
    for (int64_t r = begin; r < end; ++r) out.columns_[c].append_from(columns_[c], r);
  }
  return out;
}

}  // namespace salvo
