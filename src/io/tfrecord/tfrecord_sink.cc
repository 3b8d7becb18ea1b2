#include "io/tfrecord/tfrecord_sink.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>


#include <cstdio>
#include <set>

#include "core/error.h"
#include "io/tfrecord/example.pb.h"
#include "io/tfrecord/feature_value.h"
#include "io/tfrecord/tfrecord_file.h"

namespace salvo {
namespace {

// The compression asked for, or the one the name implies (.gz, .zz) when none was.
TfRecordCompression sink_compression(const std::filesystem::path& path, const std::string& name) {
  if (name.empty()) return tfrecord_compression_for(path);
  return parse_tfrecord_compression(name, path);
}

// A list of lists of scalars: a SequenceExample's feature list.
bool is_list_of_lists(const DataType& t) {
  return t.is_list() && t.element().is_list() && !t.element().element().is_list() &&
         t.element().element().id() != TypeId::kJson;
}

// Writes each column as a feature of the same name, mapped as LinkedIn's spark-tfrecord maps
// Spark types: integers and booleans to Int64List, floats and doubles to FloatList, strings and
// binaries to BytesList, lists to lists of their element's kind; a null leaves the feature out.
// As a SequenceExample, columns of lists of lists become feature lists (one Feature per inner
// list) and the other columns the context.
class TfRecordSink : public RowSink {
 public:
  TfRecordSink(const std::filesystem::path& path, const Schema& schema, const SinkOptions& options)
      : schema_(schema) {
    if (options.record_type.empty() || options.record_type == "Example") {
      sequence_ = false;
    } else if (options.record_type == "SequenceExample") {
      sequence_ = true;
    } else {
      throw Error(ErrorCode::kInvalidArgument, "unknown TFRecord record type \"" + options.record_type +
                                                   "\" (expected Example or SequenceExample)");
    }
    for (const auto& field : schema_.fields) {
      const DataType& t = field.type;
      const bool nested = t.is_list() && (t.element().is_list() || t.element().id() == TypeId::kJson);
      if (nested && !(sequence_ && is_list_of_lists(t))) {
        throw Error(ErrorCode::kInvalidArgument,
                    path.string() + ": column \"" + field.name + "\" is " + t.to_string() + ", which a tf.train." +
                        (sequence_ ? "SequenceExample" : "Example") + " cannot hold" +
                        (sequence_ || !is_list_of_lists(t) ? "" : " (a SequenceExample can: --record-type SequenceExample)"));
      }
    }
    const TfRecordCompression compression = sink_compression(path, options.compression);
    if (options.num_shards == 0) {
      writers_.push_back(std::make_unique<TfRecordWriter>(path, compression));
      return;
    }
    // A folder of shards, as TensorFlow's sharded datasets and Spark's writers name them.
    folder_ = path.string().ends_with('/') ? path.parent_path() : path;
    std::error_code ec;
    std::filesystem::create_directories(folder_, ec);
    if (ec) throw Error(ErrorCode::kIo, "cannot create folder " + folder_.string() + ": " + ec.message());
    std::filesystem::remove(folder_ / "_SUCCESS", ec);
    const char* suffix = compression == TfRecordCompression::kGzip   ? ".gz"
                         : compression == TfRecordCompression::kZlib ? ".zz"
                                                                     : "";
    for (size_t i = 0; i < options.num_shards; ++i) {
      char name[64];
      std::snprintf(name, sizeof(name), "part-%05zu-of-%05zu.tfrecord%s", i, options.num_shards, suffix);
      writers_.push_back(std::make_unique<TfRecordWriter>(folder_ / name, compression));
      shard_names_.insert(name);
    }
  }

  void write(const RecordBatch& batch) override {
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      google::protobuf::MessageLite* message = nullptr;
      if (sequence_) {
        sequence_example_.Clear();
        auto& context = *sequence_example_.mutable_context()->mutable_feature();
        auto& lists = *sequence_example_.mutable_feature_lists()->mutable_feature_list();
        for (size_t c = 0; c < batch.num_columns(); ++c) {
          const Column& column = batch.column(c);
          if (column.is_null(r)) continue;
          if (is_list_of_lists(column.type())) {
            tf::FeatureList& list = lists[schema_.fields[c].name];
            const Column& steps = column.child();
            for (int64_t i = column.list_begin(r); i < column.list_end(r); ++i) {
              tf::Feature* step = list.add_feature();
              if (!steps.is_null(i)) set_feature(steps, i, step);
            }
          } else {
            set_feature(column, r, &context[schema_.fields[c].name]);
            keep_json_kind(c, column, r, &context[schema_.fields[c].name]);
          }
        }
        message = &sequence_example_;
      } else {
        example_.Clear();
        auto& features = *example_.mutable_features()->mutable_feature();
        for (size_t c = 0; c < batch.num_columns(); ++c) {
          const Column& column = batch.column(c);
          if (column.is_null(r)) continue;
          set_feature(column, r, &features[schema_.fields[c].name]);
          keep_json_kind(c, column, r, &features[schema_.fields[c].name]);
        }
        message = &example_;
      }
      buffer_.clear();
      {
        // Deterministic: map entries sorted by key, so that equal rows give equal bytes.
        google::protobuf::io::StringOutputStream stream(&buffer_);
        google::protobuf::io::CodedOutputStream coded(&stream);
        coded.SetSerializationDeterministic(true);
        message->SerializeToCodedStream(&coded);
      }
      // Round-robin over the shards: row i goes to shard i mod N.
      writers_[rows_ % writers_.size()]->write(buffer_);
      ++rows_;
    }
  }

  void finish() override {
    for (auto& w : writers_) w->finish();
    if (folder_.empty()) return;
    // Shards of an earlier run with another shard count would be read with these: remove them,
    // as Spark's overwrite does. Only names of this sink's pattern are touched.
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(folder_, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("part-") && name.find("-of-") != std::string::npos &&
          name.find(".tfrecord") != std::string::npos && !shard_names_.contains(name)) {
        std::filesystem::remove(entry.path(), ec);
      }
    }
    OutputFile(folder_ / "_SUCCESS").finish();
  }

 private:
  // A JSON column's empty list has no kind of its own (a TFRecord input's empty float_list comes
  // as []): it takes the kind of the column's last non-empty value, so that a reader parsing the
  // feature with one type reads every record. (Before any, it is a bytes_list.)
  void keep_json_kind(size_t c, const Column& column, int64_t r, tf::Feature* feature) {
    if (column.type().id() != TypeId::kJson) return;
    if (json_kinds_.size() <= c) json_kinds_.resize(c + 1, tf::Feature::KIND_NOT_SET);
    const nlohmann::json& value = column.json_at(r);
    if (!value.is_array() || !value.empty()) {
      json_kinds_[c] = feature->kind_case();
      return;
    }
    switch (json_kinds_[c]) {
      case tf::Feature::kFloatList: feature->mutable_float_list(); return;
      case tf::Feature::kInt64List: feature->mutable_int64_list(); return;
      default: return;
    }
  }

  static void set_feature(const Column& column, int64_t r, tf::Feature* feature) {
    switch (column.type().id()) {
      case TypeId::kBool: feature->mutable_int64_list()->add_value(column.bool_at(r) ? 1 : 0); return;
      case TypeId::kInt32: feature->mutable_int64_list()->add_value(column.int32_at(r)); return;
      case TypeId::kInt64:
      case TypeId::kTimestamp: feature->mutable_int64_list()->add_value(column.int64_at(r)); return;
      case TypeId::kFloat32: feature->mutable_float_list()->add_value(column.float32_at(r)); return;
      case TypeId::kFloat64:
        feature->mutable_float_list()->add_value(static_cast<float>(column.float64_at(r)));
        return;
      case TypeId::kString:
      case TypeId::kBinary: feature->mutable_bytes_list()->add_value(std::string(column.string_at(r))); return;
      case TypeId::kJson: json_to_feature(column.json_at(r), feature); return;
      case TypeId::kList: break;
    }
    const Column& child = column.child();
    const int64_t begin = column.list_begin(r);
    const int64_t end = column.list_end(r);
    switch (child.type().id()) {
      case TypeId::kFloat32: {
        auto values = column.list_values<float>(r);
        feature->mutable_float_list()->mutable_value()->Add(values.begin(), values.end());
        return;
      }
      case TypeId::kFloat64: {
        auto* list = feature->mutable_float_list();
        for (double v : column.list_values<double>(r)) list->add_value(static_cast<float>(v));
        return;
      }
      case TypeId::kInt32: {
        auto* list = feature->mutable_int64_list();
        for (int32_t v : column.list_values<int32_t>(r)) list->add_value(v);
        return;
      }
      case TypeId::kInt64:
      case TypeId::kTimestamp: {
        auto values = column.list_values<int64_t>(r);
        feature->mutable_int64_list()->mutable_value()->Add(values.begin(), values.end());
        return;
      }
      case TypeId::kBool: {
        auto* list = feature->mutable_int64_list();
        for (int64_t i = begin; i < end; ++i) list->add_value(child.bool_at(i) ? 1 : 0);
        return;
      }
      default: {
        auto* list = feature->mutable_bytes_list();
        for (int64_t i = begin; i < end; ++i) list->add_value(std::string(child.string_at(i)));
        return;
      }
    }
  }

  Schema schema_;
  bool sequence_ = false;
  std::vector<std::unique_ptr<TfRecordWriter>> writers_;  // one, or one per shard
  std::vector<tf::Feature::KindCase> json_kinds_;  // per column: see keep_json_kind
  std::filesystem::path folder_;                          // the shards' folder; empty for one file
  std::set<std::string> shard_names_;
  uint64_t rows_ = 0;
  tf::Example example_;
  tf::SequenceExample sequence_example_;
  std::string buffer_;
};

}  // namespace

std::unique_ptr<RowSink> open_tfrecord_sink(const std::filesystem::path& path, const Schema& schema,
                                            const SinkOptions& options) {
  return std::make_unique<TfRecordSink>(path, schema, options);
}

}  // namespace salvo
