// Parquet output: one column per schema field, every column nullable.
//   scalars       BOOLEAN, INT32, INT64, TIMESTAMP (INT64 microseconds, UTC), FLOAT, DOUBLE,
//                 STRING (UTF-8), BINARY
//   lists         three-level LIST of one of those (embeddings: LIST<FLOAT>), or of such LISTs
//                 (lists of lists); elements may be null
//   JSON columns  (values of JSON input, whose type varies by row) take the type their values have
//                 in the first row group: all integers (within int64) BIGINT, all numbers DOUBLE,
//                 all booleans BOOLEAN, otherwise (or all null) STRING with non-string values as
//                 their JSON text; a folder's later parts take the types its first part chose
//                 (SinkOptions::json_column_types). A later value that does not fit the chosen type
//                 (e.g. 2.5 or "3a" in a BIGINT column) is written as null, and its row's "error"
//                 column says so, holding the value (rows_given_errors() counts those rows); without
//                 an "error" column it ends the job with an error naming the column and row.
// The schema's metadata (e.g. "salvo.labels") goes to the footer's key-value metadata.
#include "io/parquet/parquet_sink.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/json_text.h"
#include "io/parquet/parquet_writer.h"
#include "salvo/error.h"

namespace salvo {
namespace {

using json = nlohmann::json;

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();

// The Parquet value kind of a scalar type; nullopt for kJson (inferred) and kList.
std::optional<ParquetValueKind> kind_of(TypeId id) {
  switch (id) {
    case TypeId::kBool: return ParquetValueKind::kBoolean;
    case TypeId::kInt32: return ParquetValueKind::kInt32;
    case TypeId::kInt64:
    case TypeId::kTimestamp: return ParquetValueKind::kInt64;
    case TypeId::kFloat32: return ParquetValueKind::kFloat;
    case TypeId::kFloat64: return ParquetValueKind::kDouble;
    case TypeId::kString: return ParquetValueKind::kString;
    case TypeId::kBinary: return ParquetValueKind::kBinary;
    case TypeId::kJson:
    case TypeId::kList: return std::nullopt;
  }
  return std::nullopt;
}

const char* kind_name(ParquetValueKind kind) {
  switch (kind) {
    case ParquetValueKind::kBoolean:
      return "BOOLEAN";
    case ParquetValueKind::kInt32:
      return "INT32";
    case ParquetValueKind::kInt64:
      return "INT64";
    case ParquetValueKind::kFloat:
      return "FLOAT";
    case ParquetValueKind::kDouble:
      return "DOUBLE";
    case ParquetValueKind::kString:
      return "STRING";
    case ParquetValueKind::kBinary:
      return "BINARY";
  }
  return "?";
}

bool fits_int64(const json& v) {
  return v.is_number_integer() &&
         (!v.is_number_unsigned() ||
          v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
}

// A JSON column's type as json_column_types names it.
ParquetValueKind parse_json_kind(const std::string& name, const std::string& column) {
  for (const ParquetValueKind kind : {ParquetValueKind::kBoolean, ParquetValueKind::kInt64, ParquetValueKind::kDouble,
                                      ParquetValueKind::kString}) {
    if (name == kind_name(kind)) return kind;
  }
  throw Error(ErrorCode::kInvalidArgument, "column \"" + column + "\": unknown JSON column type \"" + name + "\"");
}

// The type a JSON column gets from its first row group's values (see the
// comment at the top).
ParquetValueKind infer_kind(const std::vector<json>& values) {
  bool all_bool = true, all_int = true, all_number = true, any = false;
  for (const auto& v : values) {
    if (v.is_null()) continue;
    any = true;
    all_bool = all_bool && v.is_boolean();
    all_int = all_int && fits_int64(v);
    all_number = all_number && v.is_number() && (!v.is_number_unsigned() || fits_int64(v));
  }
  if (!any) return ParquetValueKind::kString;
  if (all_bool) return ParquetValueKind::kBoolean;
  if (all_int) return ParquetValueKind::kInt64;
  if (all_number) return ParquetValueKind::kDouble;
  return ParquetValueKind::kString;
}

std::string json_text(const json& v) { return salvo::json_text(v); }

// Appends `v` to a column of `kind`; false when the value does not fit the
// type.
bool append_json(const json& v, ParquetValueKind kind, ParquetColumnBuffer* out) {
  if (v.is_null()) {
    out->add_null();
    return true;
  }
  switch (kind) {
    case ParquetValueKind::kString:
      out->add_bytes(v.is_string() ? v.get_ref<const std::string&>() : json_text(v));
      return true;
    case ParquetValueKind::kBinary:
      if (v.is_binary()) {
        const auto& bytes = v.get_binary();
        out->add_bytes(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
      } else {
        out->add_bytes(v.is_string() ? v.get_ref<const std::string&>() : json_text(v));
      }
      return true;
    case ParquetValueKind::kBoolean:
      if (!v.is_boolean()) return false;
      out->add_bool(v.get<bool>());
      return true;
    case ParquetValueKind::kInt32: {
      if (!fits_int64(v)) return false;
      const int64_t x = v.get<int64_t>();
      if (x < kInt32Min || x > kInt32Max) return false;
      out->add_int32(static_cast<int32_t>(x));
      return true;
    }
    case ParquetValueKind::kInt64:
      if (!fits_int64(v)) return false;
      out->add_int64(v.get<int64_t>());
      return true;
    case ParquetValueKind::kFloat:
      if (!v.is_number()) return false;
      out->add_float(v.get<float>());
      return true;
    case ParquetValueKind::kDouble:
      if (!v.is_number()) return false;
      out->add_double(v.get<double>());
      return true;
  }
  return false;
}

size_t json_bytes(const json& v) {
  return v.is_string() ? v.get_ref<const std::string&>().size() + 4 : 8;
}

class ParquetSink : public RowSink {
 public:
  ParquetSink(const std::filesystem::path& path, const Schema& schema, const SinkOptions& sink_options)
      : path_(path), sink_options_(sink_options) {
    options_.codec = parse_parquet_codec(sink_options.compression);
    for (const auto& [key, value] : schema.metadata) options_.key_value_metadata.push_back({key, value});
    for (const auto& field : schema.fields) {
      const DataType& t = field.type;
      ParquetColumnSpec spec{field.name, ParquetValueKind::kString, t.is_list()};
      if (t.is_list()) {
        const DataType* element = &t.element();
        for (spec.list_depth = 1; element->is_list(); ++spec.list_depth) element = &element->element();
        const auto kind = kind_of(element->id());
        if (!kind || spec.list_depth > 100) {
          throw Error(ErrorCode::kInvalidArgument, path_.string() + ": column \"" + field.name + "\" is " +
                                                       t.to_string() + ", which Parquet output cannot hold yet");
        }
        spec.kind = *kind;
        spec.timestamp = element->id() == TypeId::kTimestamp;
      } else if (const auto kind = kind_of(t.id())) {
        spec.kind = *kind;
        spec.timestamp = t.id() == TypeId::kTimestamp;
      }
      const bool json_typed = t.id() == TypeId::kJson;
      json_columns_.push_back(json_typed);
      const auto fixed = sink_options.json_column_types.find(field.name);
      if (json_typed && fixed != sink_options.json_column_types.end()) {
        spec.kind = parse_json_kind(fixed->second, field.name);
        columns_.push_back(spec);
        pending_.emplace_back(std::nullopt);
        continue;
      }
      columns_.push_back(spec);
      pending_.emplace_back(json_typed ? std::optional<std::vector<json>>(std::vector<json>()) : std::nullopt);
    }
    for (const auto& column : columns_) buffers_.emplace_back(column);
    if (!schema.fields.empty() && schema.fields.back().name == "error" &&
        schema.fields.back().type.id() == TypeId::kString) {
      error_column_ = schema.fields.size() - 1;
    }

    row_group_bytes_ = std::max<size_t>(1, sink_options.row_group_bytes);
    writer_ = std::make_unique<ParquetFileWriter>(path_, options_);
  }

  void write(const RecordBatch& batch) override {
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      for (size_t c = 0; c < columns_.size(); ++c) append(batch.column(c), r, c);
      ++rows_;
      ++total_rows_;
      if (buffered_bytes() >= row_group_bytes_) flush_row_group();
    }
  }

  void finish() override {
    flush_row_group();
    resolve_pending();  // an empty output still gets a schema
    writer_->finish(columns_);
  }

  uint64_t rows_given_errors() const override { return rows_given_errors_; }

  std::map<std::string, std::string> json_column_types() const override {
    std::map<std::string, std::string> types;
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (json_columns_[c]) types[columns_[c].name] = kind_name(columns_[c].kind);
    }
    return types;
  }

 private:
  void append(const Column& column, int64_t r, size_t c) {
    ParquetColumnBuffer& out = buffers_[c];
    if (pending_[c]) {
      const json& v = column.json_at(r);
      pending_[c]->push_back(v);
      pending_bytes_ += json_bytes(v);
      return;
    }
    if (c == error_column_ && !misfit_.empty()) {  // a value of this row did not fit its column
      if (column.is_null(r)) {
        out.add_bytes(misfit_);
        ++rows_given_errors_;
      } else {
        out.add_bytes(std::string(column.string_at(r)) + "; " + misfit_);
      }
      misfit_.clear();
      return;
    }
    if (column.is_null(r)) {
      out.add_null();
      return;
    }
    switch (column.type().id()) {
      case TypeId::kBool: out.add_bool(column.bool_at(r)); return;
      case TypeId::kInt32: out.add_int32(column.int32_at(r)); return;
      case TypeId::kInt64:
      case TypeId::kTimestamp: out.add_int64(column.int64_at(r)); return;
      case TypeId::kFloat32: out.add_float(column.float32_at(r)); return;
      case TypeId::kFloat64: out.add_double(column.float64_at(r)); return;
      case TypeId::kString:
      case TypeId::kBinary: out.add_bytes(column.string_at(r)); return;
      case TypeId::kJson: {
        const json& v = column.json_at(r);
        if (append_json(v, columns_[c].kind, &buffers_[c])) return;
        if (error_column_ == kNoColumn) throw Error(ErrorCode::kInvalidArgument, misfit(c, v, total_rows_ + 1));
        // Written as null: the row's error column (appended after this one) says why.
        out.add_null();
        misfit_ += (misfit_.empty() ? "" : "; ") + misfit(c, v, 0);
        return;
      }
      case TypeId::kList: append_list(column, r, &out); return;
    }
  }

  void append_list(const Column& column, int64_t r, ParquetColumnBuffer* out) {
    const Column& child = column.child();
    bool plain = !child.type().is_list();  // a list of values, none null: its size says its levels
    for (int64_t i = column.list_begin(r); plain && child.null_count() > 0 && i < column.list_end(r); ++i) {
      plain = !child.is_null(i);
    }
    if (!plain || child.type().id() == TypeId::kBool) {
      definition_.clear();
      repetition_.clear();
      append_levels(column, r, 0, 0, out);
      out->add_levels(definition_, repetition_);
      return;
    }
    switch (child.type().id()) {
      case TypeId::kFloat32: out->add_list(column.list_values<float>(r)); return;
      case TypeId::kFloat64: out->add_list(column.list_values<double>(r)); return;
      case TypeId::kInt32: out->add_list(column.list_values<int32_t>(r)); return;
      case TypeId::kInt64:
      case TypeId::kTimestamp: out->add_list(column.list_values<int64_t>(r)); return;
      case TypeId::kString:
      case TypeId::kBinary:
        strings_.clear();
        for (int64_t i = column.list_begin(r); i < column.list_end(r); ++i) strings_.emplace_back(child.string_at(i));
        out->add_list(std::span<const std::string>(strings_));
        return;
      default:
        throw Error(ErrorCode::kInvalidArgument, path_.string() + ": Parquet output cannot hold " +
                                                     column.type().to_string() + " yet");
    }
  }

  // The levels of entry `i` of list column `column` at nesting depth `depth` (0: the row's list),
  // whose first level has repetition `repeat`, into definition_ and repetition_; its values into
  // `out` (see ParquetColumnBuffer::add_levels()).
  void append_levels(const Column& column, int64_t i, int depth, int repeat, ParquetColumnBuffer* out) {
    auto level = [&](int definition, int repetition) {
      definition_.push_back(static_cast<uint8_t>(definition));
      repetition_.push_back(static_cast<uint8_t>(repetition));
    };
    if (column.is_null(i)) return level(2 * depth, repeat);
    const int64_t begin = column.list_begin(i);
    const int64_t end = column.list_end(i);
    if (begin == end) return level(2 * depth + 1, repeat);
    const Column& child = column.child();
    for (int64_t k = begin; k < end; ++k) {
      const int repetition = k == begin ? repeat : depth + 1;
      if (child.type().is_list()) {
        append_levels(child, k, depth + 1, repetition, out);
        continue;
      }
      if (child.is_null(k)) {
        level(2 * depth + 2, repetition);
        continue;
      }
      level(2 * depth + 3, repetition);
      switch (child.type().id()) {
        case TypeId::kBool: out->add_element(child.bool_at(k)); break;
        case TypeId::kInt32: out->add_element(child.int32_at(k)); break;
        case TypeId::kInt64:
        case TypeId::kTimestamp: out->add_element(child.int64_at(k)); break;
        case TypeId::kFloat32: out->add_element(child.float32_at(k)); break;
        case TypeId::kFloat64: out->add_element(child.float64_at(k)); break;
        case TypeId::kString:
        case TypeId::kBinary: out->add_element(child.string_at(k)); break;
        default:
          throw Error(ErrorCode::kInvalidArgument, path_.string() + ": Parquet output cannot hold " +
                                                       column.type().to_string() + " yet");
      }
    }
  }

  // Why JSON value `v` does not fit column `c`; `row` (1-based; 0: in the row's own error) names it.
  std::string misfit(size_t c, const json& v, uint64_t row) const {
    const std::string where = row ? path_.string() + ": row " + std::to_string(row) + ": " : "";
    return where + "column \"" + columns_[c].name + "\" holds " + json_text(v) + ", which its Parquet type " +
           kind_name(columns_[c].kind) + " (taken from the first row group, or the folder's first part) cannot " +
           "hold; written as null (write .jsonl, or make the column's values one type)";
  }

  // A JSON value into a column whose type was just inferred from the values, which it fits.
  void append_typed(size_t c, const json& v, uint64_t row) {
    if (!append_json(v, columns_[c].kind, &buffers_[c])) throw Error(ErrorCode::kInternal, misfit(c, v, row));
  }

  // Fixes the type of each JSON column from its buffered values and moves them into its column.
  void resolve_pending() {
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (!pending_[c]) continue;
      std::vector<json> values = std::move(*pending_[c]);
      pending_[c].reset();
      columns_[c].kind = infer_kind(values);
      buffers_[c] = ParquetColumnBuffer(columns_[c]);
      for (size_t r = 0; r < values.size(); ++r) append_typed(c, values[r], r + 1);
    }
    pending_bytes_ = 0;
  }

  size_t buffered_bytes() const {
    size_t bytes = pending_bytes_;
    for (const auto& b : buffers_) bytes += b.buffered_bytes();
    return bytes;
  }

  void flush_row_group() {
    if (rows_ == 0) return;
    resolve_pending();
    writer_->write_row_group(buffers_);
    rows_ = 0;
  }

  std::filesystem::path path_;
  SinkOptions sink_options_;
  ParquetWriteOptions options_;
  std::vector<ParquetColumnSpec> columns_;
  std::vector<ParquetColumnBuffer> buffers_;  // one per column
  std::vector<std::optional<std::vector<json>>> pending_;  // JSON columns whose type is not yet fixed
  std::vector<bool> json_columns_;                          // typed by their values
  static constexpr size_t kNoColumn = static_cast<size_t>(-1);
  size_t error_column_ = kNoColumn;  // the last column, when it is the rows' "error" (string)
  std::string misfit_;               // the current row's values that did not fit their columns, if any
  uint64_t rows_given_errors_ = 0;
  size_t pending_bytes_ = 0;
  size_t rows_ = 0;         // rows buffered in the current row group
  uint64_t total_rows_ = 0;  // rows written so far, for messages
  size_t row_group_bytes_ = 0;
  std::unique_ptr<ParquetFileWriter> writer_;
  std::vector<std::string> strings_;
  std::vector<uint8_t> definition_;  // levels of the list row being appended
  std::vector<uint8_t> repetition_;
};

}  // namespace

std::string json_column_type(const std::vector<nlohmann::json>& values) { return kind_name(infer_kind(values)); }

std::unique_ptr<RowSink> open_parquet_sink(const std::filesystem::path& path, const Schema& schema,
                                           const SinkOptions& options) {
  return std::make_unique<ParquetSink>(path, schema, options);
}

}  // namespace salvo
