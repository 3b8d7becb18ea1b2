#include "io/row_sink.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/base64.h"
#include "io/json_rows.h"
#include "io/output_file.h"
#include "io/parquet/parquet_sink.h"
#include "io/part_folder_sink.h"
#include "io/tfrecord/tfrecord_sink.h"
#include "salvo/error.h"

namespace salvo {
namespace {

class JsonlSink : public RowSink {
 public:
  explicit JsonlSink(const std::filesystem::path& path) : file_(path) {}

  void write(const RecordBatch& batch) override {
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      line_.clear();
      append_json_row(batch, r, &line_);
      line_.push_back('\n');
      file_.write(line_);
    }
  }

  void finish() override { file_.finish(); }

 private:
  OutputFile file_;
  std::string line_;
};

void append_csv_field(std::string* out, std::string_view value) {
  // An empty string is quoted: an empty cell is a null (see CsvSink).
  if (!value.empty() && value.find_first_of(",\"\r\n") == std::string_view::npos) {
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

// CSV with a header row: scalars as text, lists and JSON values as their JSON text (which pandas and
// Spark parse with from_json), nulls as empty cells and empty strings as "" (as Spark writes them,
// and as Spark, DuckDB and salvo's own CSV reader tell them apart), a non-finite float as NaN, Inf
// or -Inf (Spark's defaults, which pandas and DuckDB read too).
class CsvSink : public RowSink {
 public:
  CsvSink(const std::filesystem::path& path, const Schema& schema) : file_(path) {
    std::string header;
    for (size_t c = 0; c < schema.fields.size(); ++c) {
      if (c) header.push_back(',');
      append_csv_field(&header, schema.fields[c].name);
    }
    header.push_back('\n');
    file_.write(header);
  }

  void write(const RecordBatch& batch) override {
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      line_.clear();
      for (size_t c = 0; c < batch.num_columns(); ++c) {
        if (c) line_.push_back(',');
        const Column& column = batch.column(c);
        if (column.is_null(r)) continue;
        const TypeId id = column.type().id();
        if (id == TypeId::kString) {
          append_csv_field(&line_, column.string_at(r));
        } else if (id == TypeId::kBinary) {
          cell_.clear();
          append_base64(column.string_at(r), &cell_);  // as in JSON Lines
          append_csv_field(&line_, cell_);
        } else if (id == TypeId::kJson && column.json_at(r).is_string()) {
          append_csv_field(&line_, column.json_at(r).get_ref<const std::string&>());
        } else if (const double v = id == TypeId::kFloat32   ? column.float32_at(r)
                                    : id == TypeId::kFloat64 ? column.float64_at(r)
                                                             : 0.0;
                   !std::isfinite(v)) {
          line_.append(std::isnan(v) ? "NaN" : v > 0 ? "Inf" : "-Inf");  // Spark's CSV spellings
        } else {
          cell_.clear();
          append_json_value(column, r, &cell_);
          append_csv_field(&line_, cell_);
        }
      }
      line_.push_back('\n');
      file_.write(line_);
    }
  }

  void finish() override { file_.finish(); }

 private:
  OutputFile file_;
  std::string line_;
  std::string cell_;
};

// NumPy .npy (format 1.0): the one fixed-width float32 list column (an embedding) as a matrix, one
// row per input row; every other column is left out. A null row (an error row) is a NaN row. The
// header is written with room for any row count and patched in finish().
class NpySink : public RowSink {
 public:
  NpySink(const std::filesystem::path& path, const Schema& schema) : file_(path) {
    for (size_t c = 0; c < schema.fields.size(); ++c) {
      const DataType& t = schema.fields[c].type;
      if (t.is_list() && t.fixed_length() > 0 && t.element().id() == TypeId::kFloat32) {
        if (column_ >= 0) {
          throw Error(ErrorCode::kInvalidArgument,
                      path.string() + ": .npy holds one matrix, and this output has several vector columns");
        }
        column_ = static_cast<int>(c);
        dims_ = static_cast<size_t>(t.fixed_length());
      }
    }
    if (column_ < 0) {
      throw Error(ErrorCode::kInvalidArgument,
                  path.string() + ": .npy holds a float matrix, and this output has no fixed-width vector column "
                                  "(use .jsonl, .csv, .parquet or .tfrecord)");
    }
    file_.write(header(0));
  }

  void write(const RecordBatch& batch) override {
    const Column& column = batch.column(static_cast<size_t>(column_));
    const std::span<const float> values = column.child().values<float>();
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      if (column.is_null(r)) {
        nan_row_.assign(dims_, std::nanf(""));
        file_.write({reinterpret_cast<const char*>(nan_row_.data()), dims_ * sizeof(float)});
      } else {
        file_.write({reinterpret_cast<const char*>(values.data() + column.list_begin(r)), dims_ * sizeof(float)});
      }
      ++rows_;
    }
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
  int column_ = -1;
  size_t dims_ = 0;
  uint64_t rows_ = 0;
  std::vector<float> nan_row_;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// What an output path names: a folder (ends in "/"), and its format's extension, lower case, with
// a whole-file compression suffix (.gz, .zz) taken off.
struct OutputName {
  bool folder = false;
  std::filesystem::path named;  // the path without a folder's trailing "/"
  std::string ext;              // ".parquet", ".tfrecord", ... or ""
  bool compressed = false;      // ended in .gz or .zz
  bool tfrecord() const { return ext == ".tfrecord" || ext == ".tfrecords"; }
};

OutputName output_name(const std::filesystem::path& path) {
  OutputName out;
  const std::string text = path.string();
  out.folder = text.ends_with('/');
  out.named = out.folder ? std::filesystem::path(text.substr(0, text.size() - 1)) : path;
  out.ext = lower(out.named.extension().string());
  out.compressed = out.ext == ".gz" || out.ext == ".zz";
  if (out.compressed) out.ext = lower(out.named.stem().extension().string());
  return out;
}

}  // namespace

void check_sink_choice(const std::filesystem::path& path, const std::string& folder_format,
                       const SinkOptions& options) {
  const std::string text = path.string();
  const OutputName name = output_name(path);
  const std::string& ext = name.ext;
  if (options.num_shards > 0 && !ext.empty() && !name.tfrecord()) {
    throw Error(ErrorCode::kInvalidArgument, "--num-shards writes a folder of TFRecord shards, and " +
                                                 name.named.string() + " names a " + ext +
                                                 " output: give a folder (out/) or a .tfrecord name");
  }
  if (name.compressed && name.tfrecord() && !name.folder && !options.compression.empty()) {
    const std::string suffix = lower(name.named.extension().string());
    const char* named = suffix == ".gz" ? "gzip" : "zlib";
    if (options.compression != named) {
      throw Error(ErrorCode::kInvalidArgument, "--compression " + options.compression + " contradicts the name " + text +
                                                   " (" + suffix + " is " + named + "): change one");
    }
  }
  if (name.compressed && !name.tfrecord() && !name.folder) {
    throw Error(ErrorCode::kInvalidArgument,
                "cannot write " + text + ": only TFRecord is compressed as a whole file (.tfrecord.gz); Parquet " +
                    "compresses its pages (--compression), and .jsonl, .csv and .npy are written plain");
  }
  std::string format = name.folder ? folder_format : ext.empty() ? "" : ext.substr(1);
  if (options.num_shards > 0 || name.tfrecord()) format = "tfrecord";
  if (!options.record_type.empty() && format != "tfrecord") {
    throw Error(ErrorCode::kInvalidArgument, "--record-type " + options.record_type + " is for TFRecord output; " +
                                                 (format.empty() ? text : format) + " is not TFRecord");
  }
  if (!options.json_column_types.empty() && format != "parquet") {
    throw Error(ErrorCode::kInvalidArgument, "--column-types is for Parquet output; " +
                                                 (format.empty() ? text : format) + " is not Parquet");
  }
  if (!options.compression.empty() && options.compression != "none" && format != "parquet" &&
      format != "tfrecord") {
    throw Error(ErrorCode::kInvalidArgument, "--compression " + options.compression +
                                                 " is for Parquet and TFRecord output; " +
                                                 (format.empty() ? text : format) + " is written plain");
  }
}

std::unique_ptr<RowSink> open_row_sink(const std::filesystem::path& path, const Schema& schema,
                                       const SinkOptions& options) {
  std::set<std::string> names;
  for (const auto& field : schema.fields) {
    if (!names.insert(field.name).second) {
      throw Error(ErrorCode::kInvalidArgument, "two output columns are named \"" + field.name +
                                                   "\" (a kept column clashes with a result column)");
    }
  }
  const OutputName name = output_name(path);
  const std::string& ext = name.ext;
  if ((name.tfrecord() && !name.folder) || options.num_shards > 0) return open_tfrecord_sink(path, schema, options);
  if (name.folder) {
    return std::make_unique<PartFolderSink>(path, schema, PartFolderOptions{"parquet", 100000, 0, 1, "{}", false, options});
  }
  if (ext == ".parquet") return open_parquet_sink(path, schema, options);
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") return std::make_unique<JsonlSink>(path);
  if (ext == ".csv") return std::make_unique<CsvSink>(path, schema);
  if (ext == ".npy") return std::make_unique<NpySink>(path, schema);
  throw Error(ErrorCode::kInvalidArgument, "cannot write " + path.string() + ": unknown output format \"" + ext +
                                               "\" (expected .jsonl, .csv, .npy, .parquet or .tfrecord)");
}

}  // namespace salvo
