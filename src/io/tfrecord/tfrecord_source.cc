#include "io/tfrecord/tfrecord_source.h"

#include <cstdio>

#include "core/error.h"
#include "core/utf8.h"
#include "io/tfrecord/crc32c.h"
#include "io/tfrecord/example.pb.h"
#include "io/tfrecord/feature_value.h"
#include "io/tfrecord/tfrecord_file.h"

namespace salvo {
namespace {

// The file's compression: a plain first record header wins whatever the name says; otherwise a
// gzip or zlib magic; otherwise the name's guess (whose reader then reports the corruption).
TfRecordCompression detect_compression(const std::filesystem::path& path) {
  const TfRecordCompression by_name = tfrecord_compression_for(path);
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return by_name;
  unsigned char h[12];
  const size_t n = std::fread(h, 1, sizeof(h), f);
  std::fclose(f);
  if (n == sizeof(h)) {
    const uint32_t stored = h[8] | h[9] << 8 | h[10] << 16 | static_cast<uint32_t>(h[11]) << 24;
    if (mask_crc32c(crc32c(h, 8)) == stored) return TfRecordCompression::kNone;
  }
  if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b) return TfRecordCompression::kGzip;
  if (n >= 2 && (h[0] & 0x0f) == 8 && (h[0] >> 4) <= 7 && (h[0] << 8 | h[1]) % 31 == 0) {
    return TfRecordCompression::kZlib;
  }
  return by_name;
}

class TfRecordSource : public RowSource {
 public:
  TfRecordSource(const std::filesystem::path& path, FieldNames fields, const SourceLimits& limits)
      : reader_(path, detect_compression(path), limits.max_record_bytes),
        fields_(std::move(fields)),
        max_record_bytes_(limits.max_record_bytes) {}

  bool read(size_t max_records, std::vector<RawRecord>* out) override {
    for (size_t i = 0; i < max_records; ++i) {
      RawRecord record;
      uint64_t offset = 0;
      uint64_t too_long = 0;
      if (!reader_.next(&record.bytes, &offset, &too_long)) return false;
      record.index = next_index_++;
      record.line = record.index + 1;
      if (too_long) {
        record.error = "record at byte " + std::to_string(offset) + " has " +
                       std::to_string(too_long) + " bytes, more than the limit of " +
                       std::to_string(max_record_bytes_);
      }
      out->push_back(std::move(record));
    }
    return true;
  }

  void parse(const RawRecord& record, InputRow* row) const override {
    row->index = record.index;
    row->line = record.line;
    row->error = record.error;
    row->passthrough.assign(fields_.passthrough.size(), nullptr);
    if (!row->error.empty()) return;
    // One Example per thread, cleared between records, keeps its allocations.
    thread_local tf::Example example;
    example.Clear();
    if (!example.ParseFromString(record.bytes)) {
      row->error = "record is not a valid tf.train.Example";
      return;
    }
    const auto& features = example.features().feature();
    if (auto id = features.find(fields_.id); id != features.end())
      row->id = feature_to_json(id->second);
    for (size_t i = 0; i < fields_.passthrough.size(); ++i) {
      if (auto value = features.find(fields_.passthrough[i]); value != features.end()) {
        row->passthrough[i] = feature_to_json(value->second);
      }
    }
    if (fields_.text.empty()) return;  // rows without text (tensor inputs)
    row->error = text_feature(features, fields_.text, "text", &row->text);
    if (row->error.empty() && !fields_.text_pair.empty()) {
      row->error = text_feature(features, fields_.text_pair, "text pair", &row->text_pair);
    }
  }

  // "a float_list", "an int64_list": a feature's kind in messages.
  static std::string kind_with_article(const tf::Feature& feature) {
    const std::string kind = feature_kind_name(feature);
    return (kind.starts_with("int") ? "an " : "a ") + kind;
  }

  // The one value of bytes feature `name` in `out`, or why there is none (`what`: "text" or
  // "text pair").
  template <typename Features>
  static std::string text_feature(const Features& features, const std::string& name, const std::string& what,
                                  std::string* out) {
    auto text = features.find(name);
    if (text == features.end()) return "missing " + what + " feature \"" + name + "\"";
    if (text->second.kind_case() == tf::Feature::KIND_NOT_SET) return what + " feature \"" + name + "\" has no value";
    if (text->second.kind_case() != tf::Feature::kBytesList) {
      return what + " feature \"" + name + "\" is " + kind_with_article(text->second) + ", not a bytes_list";
    }
    const int values = text->second.bytes_list().value_size();
    if (values == 0) return what + " feature \"" + name + "\" is an empty bytes list";
    if (values > 1) return what + " feature \"" + name + "\" holds " + std::to_string(values) + " values, not one";
    const std::string& value = text->second.bytes_list().value(0);
    size_t bad = 0;
    if (!is_valid_utf8(value, &bad)) return what + " is not valid UTF-8 (byte " + std::to_string(bad) + ")";
    *out = value;
    return "";
  }

  // Example features carry their own types record by record.
  CarriedColumns carried_columns() const override {
    CarriedColumns columns{ColumnSpec{"id", ValueType::kDynamic}, {}};
    for (const auto& name : fields_.passthrough)
      columns.passthrough.push_back({name, ValueType::kDynamic});
    return columns;
  }

  uint64_t bytes_read() const override { return reader_.bytes_read(); }
  std::optional<uint64_t> total_bytes() const override { return reader_.total_bytes(); }

 private:
  TfRecordReader reader_;
  FieldNames fields_;
  size_t max_record_bytes_;
  uint64_t next_index_ = 0;
};

}  // namespace

std::unique_ptr<RowSource> open_tfrecord_source(const std::filesystem::path& path,
                                                const FieldNames& fields,
                                                const SourceLimits& limits) {
  return std::make_unique<TfRecordSource>(path, fields, limits);
}

}  // namespace salvo
