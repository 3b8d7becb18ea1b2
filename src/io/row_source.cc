#include "io/row_source.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include "core/error.h"
#include "core/utf8.h"
#include "io/binary_file_source.h"
#include "io/csv.h"
#include "io/dataset_paths.h"
#include "io/json_rows.h"
#include "io/parquet/parquet_source.h"
#include "io/record_reader.h"
#include "io/tfrecord/tfrecord_source.h"
#include "salvo/types.h"

namespace salvo {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string invalid_utf8_reason(const char* what, size_t offset) {
  return std::string(what) + " is not valid UTF-8 (byte " + std::to_string(offset) + ")";
}

// What every file source shares: records framed by a RecordReader, numbered from 0.
class FramedSource : public RowSource {
 public:
  bool read(size_t max_records, std::vector<RawRecord>* out) override {
    for (size_t i = 0; i < max_records; ++i) {
      RawRecord record;
      if (!reader_.next(&record)) return false;
      record.index -= header_records_;
      out->push_back(std::move(record));
    }
    return true;
  }

  uint64_t bytes_read() const override { return reader_.bytes_read(); }
  std::optional<uint64_t> total_bytes() const override { return reader_.total_bytes(); }

 protected:
  FramedSource(const std::filesystem::path& path, RecordReader::Framing framing, const SourceLimits& limits)
      : reader_(path, framing, limits.max_record_bytes) {}

  // Copies a record's position (and framing error) into its row; false when the row is already bad.
  static bool begin_row(const RawRecord& record, InputRow* row) {
    row->index = record.index;
    row->line = record.line;
    row->error = record.error;
    return row->error.empty();
  }

  RecordReader reader_;
  uint64_t header_records_ = 0;  // records before the data (a CSV header), not numbered as rows
};

// JSON Lines: one JSON object per line, text and id taken from named fields.
class JsonlSource : public FramedSource {
 public:
  JsonlSource(const std::filesystem::path& path, FieldNames fields, const SourceLimits& limits)
      : FramedSource(path, RecordReader::Framing::kLines, limits), fields_(std::move(fields)) {}

  // JSON values keep their own types; whether a line has an id is only known line by line.
  CarriedColumns carried_columns() const override {
    CarriedColumns columns{ColumnSpec{"id", ValueType::kDynamic}, {}};
    for (const auto& name : fields_.passthrough) columns.passthrough.push_back({name, ValueType::kDynamic});
    return columns;
  }

  void parse(const RawRecord& record, InputRow* row) const override {
    if (begin_row(record, row)) parse_json_row(record.bytes, fields_, row);
  }

  const char* record_name() const override { return "line"; }


 private:
  FieldNames fields_;
};

// CSV with a header row naming the columns.
class CsvSource : public FramedSource {
 public:
  CsvSource(const std::filesystem::path& path, const FieldNames& fields, const SourceLimits& limits)
      : FramedSource(path, RecordReader::Framing::kCsvRecords, limits) {
    RawRecord header;
    if (!reader_.next(&header)) throw Error(ErrorCode::kIo, path.string() + ": empty CSV file (no header row)");
    std::vector<std::string> names;
    std::string error;
    if (!header.error.empty() || !split_csv(header.bytes, &names, &error)) {
      throw Error(ErrorCode::kIo, path.string() + ": bad CSV header: " + (error.empty() ? header.error : error));
    }
    columns_ = names.size();
    auto column = [&](const std::string& name) {
      auto it = std::find(names.begin(), names.end(), name);
      return it == names.end() ? kNone : static_cast<size_t>(it - names.begin());
    };
    auto require = [&](const std::string& name) {
      const size_t c = column(name);
      if (c == kNone) {
        throw Error(ErrorCode::kInvalidArgument,
                    path.string() + ": no column named \"" + name + "\" in the CSV header");
      }
      return c;
    };
    if (!fields.text.empty()) text_column_ = require(fields.text);
    if (!fields.text_pair.empty()) text_pair_column_ = require(fields.text_pair);
    text_fields_ = {fields.text, fields.text_pair};
    id_column_ = column(fields.id);
    for (const auto& name : fields.passthrough) {
      passthrough_columns_.push_back(require(name));
      carried_.passthrough.push_back({name, ValueType::kString});
    }
    if (id_column_ != kNone) carried_.id = ColumnSpec{"id", ValueType::kString};
    header_records_ = 1;
  }

  void parse(const RawRecord& record, InputRow* row) const override {
    if (!begin_row(record, row)) return;
    std::vector<std::string> values;
    std::vector<bool> quoted;
    std::string error;
    if (!split_csv(record.bytes, &values, &error, &quoted)) {
      row->error = "invalid CSV: " + error;
    } else if (values.size() != columns_) {
      row->error = "CSV record has " + std::to_string(values.size()) + " fields, the header has " +
                   std::to_string(columns_);
    }
    // The fields read before a problem still name the row: its id and kept values are written.
    // An empty field is a null unless it was quoted ("" is the empty string), as Spark writes them.
    auto value = [&](size_t c) -> nlohmann::json {
      if (c >= values.size() || (values[c].empty() && !quoted[c])) return nullptr;
      return values[c];
    };
    if (id_column_ != kNone) row->id = value(id_column_);
    row->passthrough.resize(passthrough_columns_.size());
    for (size_t i = 0; i < passthrough_columns_.size(); ++i) row->passthrough[i] = value(passthrough_columns_[i]);
    if (!row->error.empty() || text_column_ == kNone) return;
    for (const size_t c : {text_column_, text_pair_column_}) {
      if (c != kNone && values[c].empty() && !quoted[c]) {
        row->error = "text field \"" + text_fields_[c == text_column_ ? 0 : 1] +
                     "\" is null (an empty cell; \"\" is an empty text)";
        return;
      }
    }
    size_t bad = 0;
    if (!is_valid_utf8(values[text_column_], &bad)) {
      row->error = invalid_utf8_reason("text", bad);
      return;
    }
    if (text_pair_column_ != kNone) {
      if (!is_valid_utf8(values[text_pair_column_], &bad)) {
        row->error = invalid_utf8_reason("text pair", bad);
        return;
      }
      row->text_pair = std::move(values[text_pair_column_]);
    }
    row->text = std::move(values[text_column_]);
  }

  CarriedColumns carried_columns() const override { return carried_; }
  const char* record_name() const override { return "line"; }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  CarriedColumns carried_;
  std::vector<size_t> passthrough_columns_;
  size_t columns_ = 0;
  size_t text_column_ = kNone;
  size_t text_pair_column_ = kNone;
  size_t id_column_ = kNone;
  std::array<std::string, 2> text_fields_;  // the text's and the text pair's names
};

// A slice of a sequential source: the records whose first byte lies in the slice's share of the
// input's bytes. The records before it are framed (not parsed) and dropped; for CSV that is the only
// way to know where records start, since quoted fields may span lines.
class SlicedSource : public RowSource {
 public:
  SlicedSource(std::unique_ptr<RowSource> inner, const Slice& slice, const std::filesystem::path& path)
      : inner_(std::move(inner)) {
    const std::optional<uint64_t> total = inner_->total_bytes();
    if (!total) throw Error(ErrorCode::kInvalidArgument, "cannot slice " + path.string() + ": its size is unknown");
    begin_ = *total * slice.index / slice.count;
    end_ = slice.index + 1 == slice.count ? UINT64_MAX : *total * (slice.index + 1) / slice.count;
  }

  bool read(size_t max_records, std::vector<RawRecord>* out) override {
    for (size_t produced = 0; produced < max_records;) {
      const uint64_t position = inner_->bytes_read();
      if (position >= end_) return false;
      record_.clear();
      if (!inner_->read(1, &record_)) {
        if (record_.empty()) return false;
      }
      if (record_.empty()) continue;
      if (position < begin_) continue;
      out->push_back(std::move(record_[0]));
      ++produced;
    }
    return true;
  }

  void parse(const RawRecord& record, InputRow* row) const override { inner_->parse(record, row); }
  CarriedColumns carried_columns() const override { return inner_->carried_columns(); }
  const char* record_name() const override { return inner_->record_name(); }
  uint64_t bytes_read() const override {
    const uint64_t at = inner_->bytes_read();
    return at <= begin_ ? 0 : std::min(at, end_) - begin_;
  }
  std::optional<uint64_t> total_bytes() const override {
    const auto total = inner_->total_bytes();
    return (std::min(*total, end_) > begin_) ? std::min(*total, end_) - begin_ : 0;
  }

 private:
  std::unique_ptr<RowSource> inner_;
  uint64_t begin_ = 0;
  uint64_t end_ = UINT64_MAX;
  std::vector<RawRecord> record_;
};

std::unique_ptr<RowSource> open_whole_source(const std::filesystem::path& path, const FieldNames& fields,
                                             const SourceLimits& limits) {
  std::string ext = lower(path.extension().string());
  if (ext == ".gz" || ext == ".zz") ext = lower(path.stem().extension().string());
  const bool file_format = ext == ".tfrecord" || ext == ".tfrecords" || ext == ".jsonl" || ext == ".ndjson" ||
                           ext == ".json" || ext == ".csv";
  std::error_code ec;
  if (file_format && std::filesystem::is_directory(path, ec)) {
    throw Error(ErrorCode::kIo, "cannot read " + path.string() + ": it is a folder, not a " + ext.substr(1) +
                                    " file (only Parquet input may be a folder of part files)");
  }
  if (ext == ".tfrecord" || ext == ".tfrecords") return open_tfrecord_source(path, fields, limits);
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") {
    return std::make_unique<JsonlSource>(path, fields, limits);
  }
  if (ext == ".csv") return std::make_unique<CsvSource>(path, fields, limits);
  return nullptr;
}

}  // namespace

std::unique_ptr<RowSource> open_row_source(const std::filesystem::path& path, const FieldNames& fields,
                                           const SourceLimits& limits, const Slice& slice,
                                           const BinaryFileOptions& files) {
  if (slice.count == 0 || slice.index >= slice.count) {
    throw Error(ErrorCode::kInvalidArgument, "slice " + std::to_string(slice.index) + " of " +
                                                 std::to_string(slice.count) + " does not exist");
  }
  const std::string name = path.string();
  std::unique_ptr<RowSource> source;
  if (files.enabled || files.recursive || !files.glob.empty() || !files.label_from.empty() ||
      looks_like_binary_files(name)) {
    // Binary files slice by file: a file belongs to the slice its first byte falls in.
    source = open_binary_file_source(name, fields, limits, files);
  } else {
    const std::string ext = lower(path.extension().string());
    source = open_whole_source(path, fields, limits);  // a .jsonl/.csv/.tfrecord file (not a folder)
    if (!source && (ext == ".parquet" || has_wildcard(name) ||
                    std::filesystem::is_directory(path))) {
      return open_parquet_source(name, fields, limits, slice);
    }
  }
  if (source) {
    if (slice.whole()) return source;
    return std::make_unique<SlicedSource>(std::move(source), slice, path);
  }
  std::string ext = lower(path.extension().string());
  throw Error(ErrorCode::kInvalidArgument, "cannot read " + path.string() + ": unknown input format \"" + ext +
                                               "\" (expected .jsonl, .csv, .parquet or .tfrecord)");
}

}  // namespace salvo
