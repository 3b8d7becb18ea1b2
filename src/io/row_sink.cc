#include "io/row_sink.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "io/json_rows.h"
#include "io/output_file.h"
#include "io/parquet/parquet_sink.h"
#include "io/tfrecord/tfrecord_sink.h"

namespace salvo {
namespace {

class JsonlSink : public RowSink {
 public:
  JsonlSink(const std::filesystem::path& path, OutputSchema schema) : file_(path), formatter_(std::move(schema)) {}

  void write(const OutputRow& row) override {
    line_.clear();
    formatter_.append(row, &line_);
    line_.push_back('\n');
    file_.write(line_);
  }

  void finish() override { file_.finish(); }

 private:
  OutputFile file_;
  JsonRowFormatter formatter_;
  std::string line_;
};

void append_csv_field(std::string* out, std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

// CSV: vectors are written as one JSON array per cell, which pandas and Spark parse with from_json.
class CsvSink : public RowSink {
 public:
  CsvSink(const std::filesystem::path& path, OutputSchema schema) : file_(path), schema_(std::move(schema)) {
    std::string header = "id,";
    for (const auto& column : schema_.carried.passthrough) {
      append_csv_field(&header, column.name);
      header.push_back(',');
    }
    switch (schema_.task) {
      case Task::kEmbed: header += "embedding,error\n"; break;
      case Task::kTokenize: header += "input_ids,token_type_ids,error\n"; break;
      case Task::kClassify:
        header += schema_.top_k || schema_.all_scores ? "label,score,scores,error\n" : "label,score,error\n";
        break;
    }
    file_.write(header);
  }

  void write(const OutputRow& row) override {
    line_.clear();
    append_value(row.id);
    line_.push_back(',');
    for (size_t i = 0; i < schema_.carried.passthrough.size(); ++i) {
      if (i < row.passthrough.size()) append_value(row.passthrough[i]);
      line_.push_back(',');
    }
    cell_.clear();
    const bool ok = row.error.empty();
    switch (schema_.task) {
      case Task::kEmbed:
        if (ok) append_json_array(&cell_, row.values);
        append_csv_field(&line_, cell_);
        break;
      case Task::kTokenize:
        if (ok) append_json_array(&cell_, row.ids);
        append_csv_field(&line_, cell_);
        line_.push_back(',');
        cell_.clear();
        if (ok) append_json_array(&cell_, row.type_ids);
        append_csv_field(&line_, cell_);
        break;
      case Task::kClassify: {
        if (ok) {
          const auto order = labels_by_score(row.values);
          append_csv_field(&line_, schema_.labels[order[0]]);
          line_.push_back(',');
          append_json_float(&line_, row.values[order[0]]);
          if (schema_.top_k || schema_.all_scores) {
            nlohmann::json scores = nlohmann::json::object();
            const size_t n = schema_.all_scores ? order.size() : std::min(schema_.top_k, order.size());
            for (size_t i = 0; i < n; ++i) scores[schema_.labels[order[i]]] = row.values[order[i]];
            line_.push_back(',');
            append_csv_field(&line_, scores.dump());
          }
        } else {
          line_.append(schema_.top_k || schema_.all_scores ? ",," : ",");
        }
        break;
      }
    }
    line_.push_back(',');
    append_csv_field(&line_, row.error);
    line_.push_back('\n');
    file_.write(line_);
  }

  void finish() override { file_.finish(); }

 private:
  // A string as itself, any other JSON value as its JSON text, null as an empty cell.
  void append_value(const nlohmann::json& value) {
    if (value.is_string()) {
      append_csv_field(&line_, value.get_ref<const std::string&>());
    } else if (!value.is_null()) {
      append_csv_field(&line_, value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }

  OutputFile file_;
  OutputSchema schema_;
  std::string line_;
  std::string cell_;
};

// NumPy .npy (format 1.0): a float32 matrix, one row per input row. The header is written with
// room for any row count and patched in finish(). Error rows are NaN rows.
class NpySink : public RowSink {
 public:
  NpySink(const std::filesystem::path& path, const OutputSchema& schema) : file_(path), dims_(schema.dims) {
    if (schema.task == Task::kTokenize) {
      throw Error(ErrorCode::kInvalidArgument,
                  path.string() + ": .npy holds a matrix; token ids have varying lengths (use .jsonl or .csv)");
    }
    file_.write(header(0));
  }

  void write(const OutputRow& row) override {
    if (row.error.empty() && row.values.size() != dims_) {
      throw Error(ErrorCode::kInternal, "row of width " + std::to_string(row.values.size()) + " in a .npy of width " +
                                            std::to_string(dims_));
    }
    if (row.error.empty()) {
      file_.write({reinterpret_cast<const char*>(row.values.data()), row.values.size() * sizeof(float)});
    } else {
      nan_row_.assign(dims_, std::nanf(""));
      file_.write({reinterpret_cast<const char*>(nan_row_.data()), nan_row_.size() * sizeof(float)});
    }
    ++rows_;
  }

  void finish() override {
    file_.write_at(0, header(rows_));
    file_.finish();
  }

 private:
  std::string header(uint64_t rows) const {
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(dims_) + "), }";
    const size_t total = 128;  // magic(6) + version(2) + length(2) + dict, padded; fits any shape
    dict.append(total - 10 - dict.size() - 1, ' ');
    dict.push_back('\n');
    std::string h("\x93NUMPY\x01\x00", 8);
    const uint16_t len = static_cast<uint16_t>(dict.size());
    h.push_back(static_cast<char>(len & 0xFF));
    h.push_back(static_cast<char>(len >> 8));
    return h + dict;
  }

  OutputFile file_;
  size_t dims_;
  uint64_t rows_ = 0;
  std::vector<float> nan_row_;
};

}  // namespace

std::unique_ptr<RowSink> open_row_sink(const std::filesystem::path& path, const OutputSchema& schema) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  std::string ext = lower(path.extension().string());
  if (ext == ".gz" || ext == ".zz") ext = lower(path.stem().extension().string());
  if (ext == ".tfrecord" || ext == ".tfrecords") return open_tfrecord_sink(path, schema);
  if (ext == ".parquet" || path.string().ends_with('/')) return open_parquet_sink(path, schema);
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") return std::make_unique<JsonlSink>(path, schema);
  if (ext == ".csv") return std::make_unique<CsvSink>(path, schema);
  if (ext == ".npy") return std::make_unique<NpySink>(path, schema);
  throw Error(ErrorCode::kInvalidArgument, "cannot write " + path.string() + ": unknown output format \"" + ext +
                                               "\" (expected .jsonl, .csv, .npy, .parquet or .tfrecord)");
}

}  // namespace salvo
