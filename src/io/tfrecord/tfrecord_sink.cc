#include "io/tfrecord/tfrecord_sink.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>


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

// Writes each column as a feature of the same name, mapped as LinkedIn's spark-tfrecord maps
// Spark types: integers and booleans to Int64List, floats and doubles to FloatList, strings and
// binaries to BytesList, lists to lists of their element's kind; a null leaves the feature out.
class TfRecordSink : public RowSink {
 public:
  TfRecordSink(const std::filesystem::path& path, const Schema& schema, const SinkOptions& options)
      : writer_(path, sink_compression(path, options.compression)), schema_(schema) {
    for (const auto& field : schema_.fields) {
      const DataType& t = field.type;
      if (t.is_list() && (t.element().is_list() || t.element().id() == TypeId::kJson)) {
        throw Error(ErrorCode::kInvalidArgument, path.string() + ": column \"" + field.name + "\" is " +
                                                     t.to_string() + ", which a tf.train.Example cannot hold");
      }
    }
  }

  void write(const RecordBatch& batch) override {
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      example_.Clear();
      auto& features = *example_.mutable_features()->mutable_feature();
      for (size_t c = 0; c < batch.num_columns(); ++c) {
        const Column& column = batch.column(c);
        if (column.is_null(r)) continue;
        set_feature(column, r, &features[schema_.fields[c].name]);
      }
      buffer_.clear();
      {
        // Deterministic: map entries sorted by key, so that equal rows give equal bytes.
        google::protobuf::io::StringOutputStream stream(&buffer_);
        google::protobuf::io::CodedOutputStream coded(&stream);
        coded.SetSerializationDeterministic(true);
        example_.SerializeToCodedStream(&coded);
      }
      writer_.write(buffer_);
    }
  }

  void finish() override { writer_.finish(); }

 private:
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

  TfRecordWriter writer_;
  Schema schema_;
  tf::Example example_;
  std::string buffer_;
};

}  // namespace

std::unique_ptr<RowSink> open_tfrecord_sink(const std::filesystem::path& path, const Schema& schema,
                                            const SinkOptions& options) {
  return std::make_unique<TfRecordSink>(path, schema, options);
}

}  // namespace salvo
