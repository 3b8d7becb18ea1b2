#include "io/row_source.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "core/utf8.h"
#include "io/record_reader.h"

namespace salvo {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string invalid_utf8_reason(const char* what, size_t offset) {
  return std::string(what) + " is not valid UTF-8 (byte " + std::to_string(offset) + ")";
}

// JSON Lines: one JSON object per line, text and id taken from named fields.
class JsonlSource : public RowSource {
 public:
  JsonlSource(const std::filesystem::path& path, FieldNames fields, const SourceLimits& limits)
      : reader_(path, RecordReader::Framing::kLines, limits.max_record_bytes), fields_(std::move(fields)) {}

  bool read(size_t max_records, std::vector<RawRecord>* out) override {
    for (size_t i = 0; i < max_records; ++i) {
      RawRecord record;
      if (!reader_.next(&record)) return false;
      out->push_back(std::move(record));
    }
    return true;
  }

  void parse(const RawRecord& record, InputRow* row) const override {
    row->index = record.index;
    row->line = record.line;
    row->error = record.error;
    if (!row->error.empty()) return;
    size_t bad = 0;
    if (!is_valid_utf8(record.bytes, &bad)) {
      row->error = invalid_utf8_reason("line", bad);
      return;
    }
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(record.bytes);
    } catch (const nlohmann::json::parse_error& e) {
      // Drop nlohmann's "[json.exception.parse_error.101] " prefix: users need the position and reason.
      std::string what = e.what();
      if (auto end = what.find("] "); what.rfind("[json.exception", 0) == 0 && end != std::string::npos) {
        what.erase(0, end + 2);
      }
      row->error = "invalid JSON: " + what;
      return;
    }
    if (!doc.is_object()) {
      row->error = std::string("line is a JSON ") + doc.type_name() + ", not an object";
      return;
    }
    if (auto id = doc.find(fields_.id); id != doc.end()) row->id = std::move(*id);
    auto text = doc.find(fields_.text);
    if (text == doc.end()) {
      row->error = "missing text field \"" + fields_.text + "\"";
    } else if (!text->is_string()) {
      row->error = "text field \"" + fields_.text + "\" is a " + text->type_name() + ", not a string";
    } else {
      row->text = text->get<std::string>();
    }
  }

  uint64_t bytes_read() const override { return reader_.bytes_read(); }
  std::optional<uint64_t> total_bytes() const override { return reader_.total_bytes(); }

 private:
  RecordReader reader_;
  FieldNames fields_;
};

// Splits one CSV record (RFC 4180: comma-separated, "..." quoting with "" for a quote).
// Returns false for a quote that is never closed or stray characters after a closing quote.
bool split_csv(const std::string& record, std::vector<std::string>* fields, std::string* error) {
  fields->clear();
  std::string field;
  size_t i = 0;
  const size_t n = record.size();
  for (;;) {
    field.clear();
    if (i < n && record[i] == '"') {
      ++i;
      for (;;) {
        if (i >= n) {
          *error = "unterminated quoted field " + std::to_string(fields->size() + 1);
          return false;
        }
        if (record[i] == '"') {
          if (i + 1 < n && record[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field.push_back(record[i++]);
      }
      if (i < n && record[i] != ',') {
        *error = "unexpected character after closing quote in field " + std::to_string(fields->size() + 1);
        return false;
      }
    } else {
      size_t comma = record.find(',', i);
      if (comma == std::string::npos) comma = n;
      field.assign(record, i, comma - i);
      i = comma;
    }
    fields->push_back(field);
    if (i >= n) return true;
    ++i;  // the comma
  }
}

// CSV with a header row naming the columns.
class CsvSource : public RowSource {
 public:
  CsvSource(const std::filesystem::path& path, const FieldNames& fields, const SourceLimits& limits)
      : reader_(path, RecordReader::Framing::kCsvRecords, limits.max_record_bytes) {
    RawRecord header;
    if (!reader_.next(&header)) throw Error(ErrorCode::kIo, path.string() + ": empty CSV file (no header row)");
    std::vector<std::string> names;
    std::string error;
    if (!header.error.empty() || !split_csv(header.bytes, &names, &error)) {
      throw Error(ErrorCode::kIo, path.string() + ": bad CSV header: " + (error.empty() ? header.error : error));
    }
    columns_ = names.size();
    for (size_t c = 0; c < names.size(); ++c) {
      if (names[c] == fields.text) text_column_ = c;
      if (names[c] == fields.id) id_column_ = c;
    }
    if (text_column_ == kNone) {
      throw Error(ErrorCode::kInvalidArgument,
                  path.string() + ": no column named \"" + fields.text + "\" in the CSV header");
    }
    header_records_ = 1;
  }

  bool read(size_t max_records, std::vector<RawRecord>* out) override {
    for (size_t i = 0; i < max_records; ++i) {
      RawRecord record;
      if (!reader_.next(&record)) return false;
      record.index -= header_records_;
      out->push_back(std::move(record));
    }
    return true;
  }

  void parse(const RawRecord& record, InputRow* row) const override {
    row->index = record.index;
    row->line = record.line;
    row->error = record.error;
    if (!row->error.empty()) return;
    std::vector<std::string> values;
    std::string error;
    if (!split_csv(record.bytes, &values, &error)) {
      row->error = "invalid CSV: " + error;
      return;
    }
    if (values.size() != columns_) {
      row->error = "CSV record has " + std::to_string(values.size()) + " fields, the header has " +
                   std::to_string(columns_);
      if (values.size() <= text_column_) return;
    }
    if (id_column_ != kNone && id_column_ < values.size()) row->id = values[id_column_];
    if (!row->error.empty()) return;
    size_t bad = 0;
    if (!is_valid_utf8(values[text_column_], &bad)) {
      row->error = invalid_utf8_reason("text", bad);
      return;
    }
    row->text = std::move(values[text_column_]);
  }

  uint64_t bytes_read() const override { return reader_.bytes_read(); }
  std::optional<uint64_t> total_bytes() const override { return reader_.total_bytes(); }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  RecordReader reader_;
  size_t columns_ = 0;
  size_t text_column_ = kNone;
  size_t id_column_ = kNone;
  uint64_t header_records_ = 0;
};

}  // namespace

std::unique_ptr<RowSource> open_row_source(const std::filesystem::path& path, const FieldNames& fields,
                                           const SourceLimits& limits) {
  const std::string ext = lower(path.extension().string());
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") {
    return std::make_unique<JsonlSource>(path, fields, limits);
  }
  if (ext == ".csv") return std::make_unique<CsvSource>(path, fields, limits);
  throw Error(ErrorCode::kInvalidArgument, "cannot read " + path.string() + ": unknown input format \"" + ext +
                                               "\" (expected .jsonl or .csv)");
}

}  // namespace salvo
