// Parquet output layout (one row per input row, every column nullable):
//   id                     the input's id, with its type (when the input has an
//   id column) <passthrough>...       the --keep-columns values, with their
//   types embed:     embedding   LIST<FLOAT> classify:  label       STRING, the
//   best label
//              score       FLOAT, its probability
//              top_labels  LIST<STRING>, the top_k best labels, best first
//              (top_k > 0) top_scores  LIST<FLOAT>, their probabilities, in the
//              same order (top_k > 0) scores      LIST<FLOAT>, every label's
//              probability in label order (all_scores);
//                          the label names are in the footer's key-value
//                          metadata "salvo.labels"
//   tokenize:  input_ids, token_type_ids  LIST<INT32>
//   error                  STRING: null for a computed row; for an error row
//   the reason, and every
//                          result column null
// Columns of JSON input (ValueType::kDynamic) take the type their values have
// in the first row group: all integers (within int64) BIGINT, all numbers
// DOUBLE, all booleans BOOLEAN, otherwise (or all null) STRING with non-string
// values as their JSON text. A later value that does not fit the chosen type
// (e.g. 2.5 in a BIGINT column) ends the job with an error naming the column
// and line, rather than being written differently.
#include "io/parquet/parquet_sink.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <optional>
#include <set>

#include "core/error.h"
#include "io/parquet/parquet_writer.h"

namespace salvo {
namespace {

using json = nlohmann::json;

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();

ParquetValueKind kind_of(ValueType type) {
  switch (type) {
    case ValueType::kBinary:
      return ParquetValueKind::kBinary;
    case ValueType::kBool:
      return ParquetValueKind::kBoolean;
    case ValueType::kInt32:
      return ParquetValueKind::kInt32;
    case ValueType::kInt64:
      return ParquetValueKind::kInt64;
    case ValueType::kFloat:
      return ParquetValueKind::kFloat;
    case ValueType::kDouble:
      return ParquetValueKind::kDouble;
    case ValueType::kString:
    case ValueType::kDynamic:
      return ParquetValueKind::kString;
  }
  return ParquetValueKind::kString;
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

std::string json_text(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

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
  ParquetSink(const std::filesystem::path& path, const OutputSchema& schema)
      : path_(path), folder_(path.string().ends_with('/')), schema_(schema) {
    options_.codec = parse_parquet_codec(schema.compression);
    if (schema_.task == Task::kClassify) {
      options_.key_value_metadata.push_back({"salvo.labels", json(schema_.labels).dump()});
    }
    if (schema_.carried.id) carried_.push_back({"id", schema_.carried.id->type});
    for (const auto& column : schema_.carried.passthrough) carried_.push_back(column);
    for (const auto& column : carried_) {
      const bool dynamic = column.type == ValueType::kDynamic;
      columns_.push_back({column.name, kind_of(column.type), false});
      pending_.emplace_back(dynamic ? std::optional<std::vector<json>>(std::vector<json>())
                                    : std::nullopt);
    }
    switch (schema_.task) {
      case Task::kEmbed:
        columns_.push_back({"embedding", ParquetValueKind::kFloat, true});
        break;
      case Task::kClassify:
        columns_.push_back({"label", ParquetValueKind::kString, false});
        columns_.push_back({"score", ParquetValueKind::kFloat, false});
        if (schema_.top_k > 0) {
          columns_.push_back({"top_labels", ParquetValueKind::kString, true});
          columns_.push_back({"top_scores", ParquetValueKind::kFloat, true});
        }
        if (schema_.all_scores) columns_.push_back({"scores", ParquetValueKind::kFloat, true});
        break;
      case Task::kTokenize:
        columns_.push_back({"input_ids", ParquetValueKind::kInt32, true});
        columns_.push_back({"token_type_ids", ParquetValueKind::kInt32, true});
        break;
    }
    columns_.push_back({"error", ParquetValueKind::kString, false});
    std::set<std::string> names;
    for (const auto& column : columns_) {
      if (!names.insert(column.name).second) {
        throw Error(ErrorCode::kInvalidArgument,
                    path_.string() + ": two output columns are named \"" + column.name +
                        "\" (a kept column clashes with a result column)");
      }
    }
    for (const auto& column : columns_) buffers_.emplace_back(column);

    row_group_bytes_ = std::max<size_t>(1, schema_.row_group_bytes);
    if (folder_) {
      row_group_bytes_ = std::min(row_group_bytes_, std::max<size_t>(1, schema_.part_file_bytes));
      std::error_code ec;
      std::filesystem::create_directories(path_, ec);
      if (ec)
        throw Error(ErrorCode::kIo,
                    "cannot create output folder " + path_.string() + ": " + ec.message());
      // A folder holding an old _SUCCESS must not look complete while this job
      // runs.
      std::filesystem::remove(path_ / "_SUCCESS", ec);
    } else {
      writer_ = std::make_unique<ParquetFileWriter>(path_, options_);
    }
  }

  void write(const OutputRow& row) override {
    if (std::any_of(pending_.begin(), pending_.end(),
                    [](const auto& p) { return p.has_value(); })) {
      pending_lines_.push_back(row.line);
    }
    for (size_t i = 0; i < carried_.size(); ++i) {
      const size_t p = schema_.carried.id ? i - 1 : i;
      const json& v = schema_.carried.id && i == 0 ? row.id
                      : p < row.passthrough.size() ? row.passthrough[p]
                                                   : null_;
      if (pending_[i]) {
        pending_[i]->push_back(v);
        carried_bytes_ += json_bytes(v);
      } else {
        append_carried(i, v, row.line);
      }
    }
    const bool ok = row.error.empty();
    size_t c = carried_.size();
    switch (schema_.task) {
      case Task::kEmbed:
        ok ? buffers_[c].add_list(std::span<const float>(row.values)) : buffers_[c].add_null();
        ++c;
        break;
      case Task::kTokenize:
        ok ? buffers_[c].add_list(std::span<const int32_t>(row.ids)) : buffers_[c].add_null();
        ok ? buffers_[c + 1].add_list(std::span<const int32_t>(row.type_ids))
           : buffers_[c + 1].add_null();
        c += 2;
        break;
      case Task::kClassify:
        c = append_classification(row, c);
        break;
    }
    ok ? buffers_[c].add_null() : buffers_[c].add_bytes(row.error);
    ++rows_;
    if (buffered_bytes() >= row_group_bytes_) flush_row_group();
  }

  void finish() override {
    flush_row_group();
    resolve_pending();  // an empty output still gets a schema
    if (!folder_) {
      writer_->finish(columns_);
      return;
    }
    if (!writer_ && parts_.empty()) open_part();  // one empty part carries the schema
    if (writer_) close_part();
    std::error_code ec;
    std::filesystem::remove(path_ / "_temporary", ec);
    // Part files of an earlier run into this folder are replaced, as a single
    // file would be.
    for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("part-") && name.ends_with(".parquet") && !parts_.count(name)) {
        std::filesystem::remove(entry.path(), ec);
      }
    }
    OutputFile success(path_ / "_SUCCESS");
    success.finish();
  }

 private:
  size_t append_classification(const OutputRow& row, size_t c) {
    const size_t columns = 2 + (schema_.top_k > 0 ? 2 : 0) + (schema_.all_scores ? 1 : 0);
    if (!row.error.empty() || row.values.empty()) {
      for (size_t i = 0; i < columns; ++i) buffers_[c + i].add_null();
      return c + columns;
    }
    const auto& probs = row.values;
    order_.resize(probs.size());
    std::iota(order_.begin(), order_.end(), 0);
    std::stable_sort(order_.begin(), order_.end(),
                     [&](size_t a, size_t b) { return probs[a] > probs[b]; });
    const size_t best = order_[0];
    buffers_[c++].add_bytes(best < schema_.labels.size() ? schema_.labels[best]
                                                         : std::to_string(best));
    buffers_[c++].add_float(probs[best]);
    if (schema_.top_k > 0) {
      const size_t k = std::min(schema_.top_k, order_.size());
      top_labels_.clear();
      top_scores_.clear();
      for (size_t i = 0; i < k; ++i) {
        const size_t label = order_[i];
        top_labels_.push_back(label < schema_.labels.size() ? schema_.labels[label]
                                                            : std::to_string(label));
        top_scores_.push_back(probs[label]);
      }
      buffers_[c++].add_list(std::span<const std::string>(top_labels_));
      buffers_[c++].add_list(std::span<const float>(top_scores_));
    }
    if (schema_.all_scores) buffers_[c++].add_list(std::span<const float>(probs));
    return c;
  }

  void append_carried(size_t i, const json& v, uint64_t line) {
    if (!append_json(v, columns_[i].kind, &buffers_[i])) {
      const bool inferred = carried_[i].type == ValueType::kDynamic;
      throw Error(ErrorCode::kInvalidArgument,
                  path_.string() + ": column \"" + columns_[i].name + "\" is " +
                      kind_name(columns_[i].kind) +
                      (inferred ? " (inferred from the first row group)" : "") + ", but line " +
                      std::to_string(line) + " holds " + json_text(v) +
                      " (write .jsonl, or make the column's values one type)");
    }
  }

  // Fixes the type of each JSON column from its buffered values and moves them
  // into its column.
  void resolve_pending() {
    for (size_t i = 0; i < carried_.size(); ++i) {
      if (!pending_[i]) continue;
      std::vector<json> values = std::move(*pending_[i]);
      pending_[i].reset();
      columns_[i].kind = infer_kind(values);
      buffers_[i] = ParquetColumnBuffer(columns_[i]);
      for (size_t r = 0; r < values.size(); ++r) {
        append_carried(i, values[r], r < pending_lines_.size() ? pending_lines_[r] : 0);
      }
    }
    pending_lines_.clear();
    carried_bytes_ = 0;
  }

  size_t buffered_bytes() const {
    size_t bytes = carried_bytes_;
    for (const auto& b : buffers_) bytes += b.buffered_bytes();
    return bytes;
  }

  void open_part() {
    char name[32];
    std::snprintf(name, sizeof(name), "part-%05zu.parquet", next_part_++);
    part_name_ = name;
    std::error_code ec;
    std::filesystem::create_directories(path_ / "_temporary", ec);
    if (ec)
      throw Error(ErrorCode::kIo,
                  "cannot create " + (path_ / "_temporary").string() + ": " + ec.message());
    writer_ = std::make_unique<ParquetFileWriter>(path_ / "_temporary" / part_name_, options_);
  }

  // Completes the current part under _temporary/ and moves it into the folder.
  void close_part() {
    writer_->finish(columns_);
    writer_.reset();
    std::error_code ec;
    std::filesystem::rename(path_ / "_temporary" / part_name_, path_ / part_name_, ec);
    if (ec) {
      throw Error(ErrorCode::kIo, "cannot rename " + (path_ / "_temporary" / part_name_).string() +
                                      " to " + (path_ / part_name_).string() + ": " + ec.message());
    }
    parts_.insert(part_name_);
  }

  void flush_row_group() {
    if (rows_ == 0) return;
    resolve_pending();
    if (!writer_) open_part();
    writer_->write_row_group(buffers_);
    rows_ = 0;
    if (folder_ && writer_->bytes_written() >= schema_.part_file_bytes) close_part();
  }

  std::filesystem::path path_;
  bool folder_;
  OutputSchema schema_;
  ParquetWriteOptions options_;
  std::vector<ColumnSpec> carried_;           // "id" first when present, then passthrough
  std::vector<ParquetColumnSpec> columns_;    // carried columns, results, error
  std::vector<ParquetColumnBuffer> buffers_;  // one per column
  std::vector<std::optional<std::vector<json>>>
      pending_;                          // JSON columns whose type is not yet fixed
  std::vector<uint64_t> pending_lines_;  // line of each row buffered there
  size_t carried_bytes_ = 0;
  size_t rows_ = 0;
  size_t row_group_bytes_ = 0;
  std::unique_ptr<ParquetFileWriter> writer_;
  size_t next_part_ = 0;
  std::string part_name_;
  std::set<std::string> parts_;
  std::vector<size_t> order_;
  std::vector<std::string> top_labels_;
  std::vector<float> top_scores_;
  const json null_;
};

}  // namespace

std::unique_ptr<RowSink> open_parquet_sink(const std::filesystem::path& path,
                                           const OutputSchema& schema) {
  return std::make_unique<ParquetSink>(path, schema);
}

}  // namespace salvo
