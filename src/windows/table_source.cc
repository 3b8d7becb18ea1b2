#include "windows/table_source.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <deque>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/utf8.h"
#include "core/json_text.h"
#include "io/dataset_paths.h"
#include "io/parquet/parquet_table_reader.h"
#include "io/row_source.h"
#include "windows/time_spec.h"

namespace salvo::windows {
namespace {

using json = nlohmann::json;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

class ParquetTableSource : public TableSource {
 public:
  ParquetTableSource(const std::string& path, const std::vector<std::string>& columns) : reader_(path, columns) {}
  const Schema& schema() const override { return reader_.schema(); }
  bool next(InputBatch* batch) override {
    batch->errors.clear();
    batch->lines.clear();
    batch->first_row = rows_;
    if (!reader_.next(&batch->rows)) return false;
    batch->file = reader_.several_files() ? reader_.batch_file().string() : "";
    batch->first_row_in_file = reader_.batch_first_row_in_file();
    check_text(batch);
    rows_ += static_cast<uint64_t>(batch->rows.num_rows());
    return true;
  }
  uint64_t bytes_read() const override { return reader_.bytes_read(); }
  std::optional<uint64_t> total_bytes() const override { return reader_.total_bytes(); }
  const char* record_name() const override { return "row"; }

 private:
  // A STRING value that is not UTF-8 (writers do not check) makes its row an error row, as a CSV or
  // JSONL line with such bytes is: passed on, it would make the output unreadable.
  void check_text(InputBatch* batch) const {
    std::map<int64_t, std::string> bad;
    const RecordBatch& rows = batch->rows;
    for (size_t c = 0; c < rows.num_columns(); ++c) {
      const Column& column = rows.column(c);
      if (column.type().id() != TypeId::kString) continue;
      for (int64_t r = 0; r < rows.num_rows(); ++r) {
        size_t at = 0;
        if (column.is_null(r) || bad.count(r) || is_valid_utf8(column.string_at(r), &at)) continue;
        bad[r] = row_place(*batch, r, record_name()) + ": column \"" +
                 rows.schema().fields[c].name + "\" is not valid UTF-8 (byte " + std::to_string(at) + ")";
      }
    }
    for (auto& [r, why] : bad) batch->errors.emplace_back(r, std::move(why));
  }

  ParquetTableReader reader_;
  uint64_t rows_ = 0;
};

bool parse_int64(std::string_view s, int64_t* out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

bool parse_double(std::string_view s, double* out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

bool parse_bool(std::string_view s, bool* out) {
  const std::string l = lower(std::string(s));
  if (l == "true") return *out = true, true;
  if (l == "false") return *out = false, true;
  return false;
}

bool json_fits_int64(const json& v) {
  return v.is_number_integer() && (!v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX));
}

// A CSV or JSONL record's values for the columns asked for (null: missing or empty), or why it is bad.
struct TextRow {
  uint64_t index = 0;
  uint64_t line = 0;
  std::vector<json> values;
  std::string error;
};

// Appends `v` to `out` (of a scalar type); false when it does not fit the type.
bool append_value(const json& v, bool csv, Column* out) {
  // A CSV field is null when empty and unquoted (the source gives null); a quoted "" is an empty
  // string, and null in a column of another type.
  if (v.is_null() || (csv && out->type().id() != TypeId::kString && v.get_ref<const std::string&>().empty())) {
    out->append_null();
    return true;
  }
  const std::string* text = v.is_string() ? &v.get_ref<const std::string&>() : nullptr;
  switch (out->type().id()) {
    case TypeId::kBool: {
      bool b = false;
      if (v.is_boolean())
        b = v.get<bool>();
      else if (!(text && parse_bool(*text, &b)))
        return false;
      out->append_bool(b);
      return true;
    }
    case TypeId::kInt32:
    case TypeId::kInt64: {
      int64_t i = 0;
      if (json_fits_int64(v))
        i = v.get<int64_t>();
      else if (!(csv && text && parse_int64(*text, &i)))
        return false;
      if (out->type().id() == TypeId::kInt32) {
        if (i < INT32_MIN || i > INT32_MAX) return false;
        out->append_int32(static_cast<int32_t>(i));
      } else {
        out->append_int64(i);
      }
      return true;
    }
    case TypeId::kFloat32:
    case TypeId::kFloat64: {
      double d = 0;
      if (v.is_number())
        d = v.get<double>();
      else if (!(csv && text && parse_double(*text, &d)))
        return false;
      if (out->type().id() == TypeId::kFloat32)
        out->append_float32(static_cast<float>(d));
      else
        out->append_float64(d);
      return true;
    }
    case TypeId::kTimestamp: {
      int64_t micros = 0;
      if (!(text && parse_timestamp(*text, &micros))) return false;
      out->append_int64(micros);
      return true;
    }
    case TypeId::kString:
    case TypeId::kBinary:
      out->append_string(text ? *text : v.dump(-1, ' ', false, json::error_handler_t::replace));
      return true;
    default: return false;
  }
}

// The type every non-null value of a column fits (see TableSourceOptions::infer_rows), or
// `if_empty` when there is none.
DataType infer_type(const std::deque<TextRow>& rows, size_t column, bool csv, const DataType& if_empty) {
  bool any = false, all_bool = true, all_int = true, all_number = true;
  for (const TextRow& row : rows) {
    if (!row.error.empty()) continue;
    const json& v = row.values[column];
    if (v.is_null()) continue;
    if (csv) {
      const std::string& s = v.get_ref<const std::string&>();
      if (s.empty()) continue;
      any = true;
      bool b;
      int64_t i;
      double d;
      all_bool = all_bool && parse_bool(s, &b);
      all_int = all_int && parse_int64(s, &i);
      all_number = all_number && parse_double(s, &d);
    } else {
      any = true;
      all_bool = all_bool && v.is_boolean();
      all_int = all_int && json_fits_int64(v);
      all_number = all_number && v.is_number();
    }
  }
  if (!any) return if_empty;
  if (all_bool) return DataType::boolean();
  if (all_int) return DataType::int64();
  if (all_number) return DataType::float64();
  return DataType::string();
}

// CSV (with a header) and JSON lines: records framed by the row sources of io/, typed here.
class TextTableSource : public TableSource {
 public:
  TextTableSource(const std::string& path, const std::vector<std::string>& columns, const TableSourceOptions& options,
                  bool csv)
      : options_(options), csv_(csv), columns_(columns), seen_(columns.size(), false) {
    FieldNames fields;
    fields.text = "";  // every column read is a passthrough value
    fields.id = "";
    fields.passthrough = columns;
    source_ = open_row_source(path, fields, SourceLimits{options.max_record_bytes});
    for (const auto& [name, type] : options.column_types) {
      if (std::find(columns.begin(), columns.end(), name) == columns.end()) {
        throw Error(ErrorCode::kInvalidArgument,
                    "--column-types names \"" + name + "\", which is not a column the job reads");
      }
    }
    // Type the columns from the first records.
    while (pending_.size() < options_.infer_rows && read_more()) {
    }
    for (size_t c = 0; c < columns.size(); ++c) {
      auto given = options.column_types.find(columns[c]);
      auto if_empty = options.empty_column_types.find(columns[c]);
      schema_.fields.push_back(
          {columns[c],
           given != options.column_types.end()
               ? given->second
               : infer_type(pending_, c, csv_,
                            if_empty != options.empty_column_types.end() ? if_empty->second : DataType::string())});
    }
    if (csv_) return;
    // A CSV header names its columns; JSON lines only show theirs row by row.
    for (size_t c = 0; c < columns.size(); ++c) {
      if (!seen_[c] && !pending_.empty()) {
        const bool none_read = std::all_of(pending_.begin(), pending_.end(), [](const TextRow& r) { return !r.error.empty(); });
        if (none_read) {  // not JSON Lines at all (a CSV file named .jsonl, say): say so, not "no field"
          throw Error(ErrorCode::kInvalidArgument,
                      path + ": none of the first " + std::to_string(pending_.size()) + " lines is a JSON object (line " +
                          std::to_string(pending_.front().line) + ": " + pending_.front().error + ")");
        }
        throw Error(ErrorCode::kInvalidArgument, path + ": no field named \"" + columns[c] + "\" in the first " +
                                                     std::to_string(pending_.size()) + " lines");
      }
    }
  }

  const Schema& schema() const override { return schema_; }

  bool next(InputBatch* batch) override {
    batch->rows = RecordBatch(schema_);
    batch->errors.clear();
    batch->lines.clear();
    while (pending_.size() < options_.batch_rows && read_more()) {
    }
    if (pending_.empty()) return false;
    batch->first_row = pending_.front().index;
    const size_t n = std::min(pending_.size(), options_.batch_rows);
    for (size_t r = 0; r < n; ++r) {
      TextRow& row = pending_.front();
      batch->lines.push_back(row.line);
      std::string error = row.error;
      for (size_t c = 0; c < columns_.size() && error.empty(); ++c) {
        Column& column = batch->rows.mutable_column(c);
        if (!append_value(row.values[c], csv_, &column)) {
          const json& v = row.values[c];
          error = "column \"" + columns_[c] + "\": " + (v.is_string() ? "\"" + v.get<std::string>() + "\"" : v.dump()) +
                  " is not " +
                  (schema_.fields[c].type.id() == TypeId::kTimestamp ? "an ISO 8601 timestamp"
                   : schema_.fields[c].type.id() == TypeId::kInt32 || schema_.fields[c].type.id() == TypeId::kInt64
                       ? "an " + schema_.fields[c].type.to_string()
                       : "a " + schema_.fields[c].type.to_string()) +
                  (options_.column_types.count(columns_[c])
                       ? ""
                       : " (the type its first rows have; set another with --column-types)");
        }
      }
      if (!error.empty()) {
        const int64_t at = static_cast<int64_t>(r);
        for (size_t c = 0; c < columns_.size(); ++c) {
          Column& column = batch->rows.mutable_column(c);
          if (column.size() == at) column.append_null();
        }
        batch->errors.emplace_back(at,
                                   std::string(source_->record_name()) + " " + std::to_string(row.line) + ": " + error);
      }
      pending_.pop_front();
    }
    return true;
  }

  uint64_t bytes_read() const override { return source_->bytes_read(); }
  std::optional<uint64_t> total_bytes() const override { return source_->total_bytes(); }
  const char* record_name() const override { return source_->record_name(); }

 private:
  // Frames and parses up to a thousand more records into pending_; false at the end of the input.
  bool read_more() {
    records_.clear();
    const bool more = source_->read(1000, &records_);
    for (RawRecord& record : records_) {
      TextRow row;
      row.index = record.index;
      row.line = record.line;
      row.values.assign(columns_.size(), nullptr);
      if (!record.error.empty()) {
        row.error = record.error;
      } else if (csv_) {
        InputRow parsed;
        source_->parse(record, &parsed);
        row.error = parsed.error;
        for (size_t c = 0; c < columns_.size() && c < parsed.passthrough.size(); ++c) {
          // As a JSON line's bytes are checked whole: passed on, such text would spoil the output.
          size_t at = 0;
          if (const json& v = parsed.passthrough[c];
              row.error.empty() && v.is_string() && !is_valid_utf8(v.get_ref<const std::string&>(), &at)) {
            row.error = "column \"" + columns_[c] + "\" is not valid UTF-8 (byte " + std::to_string(at) + ")";
          }
          row.values[c] = std::move(parsed.passthrough[c]);
        }
      } else {
        parse_json(record.bytes, &row);
      }
      pending_.push_back(std::move(row));
    }
    return more || !records_.empty();
  }

  void parse_json(const std::string& bytes, TextRow* row) {
    json doc;
    try {
      doc = parse_json_document(bytes);
    } catch (const json::parse_error& e) {
      std::string message = e.what();
      if (auto end = message.find("] "); message.rfind("[json.exception", 0) == 0 && end != std::string::npos) {
        message.erase(0, end + 2);
      }
      row->error = "invalid JSON: " + message;
      return;
    }
    if (!doc.is_object()) {
      row->error = std::string("a JSON ") + doc.type_name() + ", not an object";
      return;
    }
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (auto it = doc.find(columns_[c]); it != doc.end()) {
        row->values[c] = std::move(*it);
        seen_[c] = true;
      }
    }
  }

  TableSourceOptions options_;
  bool csv_;
  std::vector<std::string> columns_;
  std::unique_ptr<RowSource> source_;
  Schema schema_;
  std::vector<RawRecord> records_;
  std::deque<TextRow> pending_;
  std::vector<bool> seen_;  // JSONL: whether some record has had the field
};

}  // namespace

std::string row_place(const InputBatch& batch, int64_t r, const char* record_name) {
  const auto at = static_cast<size_t>(r);
  if (at < batch.lines.size()) return std::string(record_name) + " " + std::to_string(batch.lines[at]);
  if (!batch.file.empty()) return batch.file + " row " + std::to_string(batch.first_row_in_file + at + 1);
  return "row " + std::to_string(batch.first_row + at + 1);
}

DataType parse_type_name(const std::string& name) {
  const std::string n = lower(name);
  if (n == "bool" || n == "boolean") return DataType::boolean();
  if (n == "int32" || n == "int") return DataType::int32();
  if (n == "int64" || n == "long" || n == "bigint") return DataType::int64();
  if (n == "float32" || n == "float") return DataType::float32();
  if (n == "float64" || n == "double") return DataType::float64();
  if (n == "string" || n == "str") return DataType::string();
  if (n == "timestamp") return DataType::timestamp();
  throw Error(ErrorCode::kInvalidArgument,
              "--column-types: unknown type \"" + name +
                  "\" (expected bool, int32, int64, float32, float64, string or timestamp)");
}

std::unique_ptr<TableSource> open_table_source(const std::string& path, const std::vector<std::string>& columns,
                                               const TableSourceOptions& options) {
  const std::filesystem::path p(path);
  std::string ext = lower(p.extension().string());
  if (ext == ".gz" || ext == ".zz") ext = lower(p.stem().extension().string());
  if (ext == ".parquet" || has_wildcard(path) || std::filesystem::is_directory(p)) {
    if (!options.column_types.empty()) {
      throw Error(ErrorCode::kInvalidArgument,
                  "--column-types applies to CSV and JSONL input; Parquet columns have their own types");
    }
    return std::make_unique<ParquetTableSource>(path, columns);
  }
  if (ext == ".csv") return std::make_unique<TextTableSource>(path, columns, options, true);
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") {
    return std::make_unique<TextTableSource>(path, columns, options, false);
  }
  throw Error(ErrorCode::kInvalidArgument, "cannot read " + path + ": unknown input format \"" + ext +
                                               "\" (windows reads .parquet, .csv and .jsonl)");
}

}  // namespace salvo::windows
