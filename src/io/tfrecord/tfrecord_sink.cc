#include "io/tfrecord/tfrecord_sink.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>

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

class TfRecordSink : public RowSink {
 public:
  TfRecordSink(const std::filesystem::path& path, OutputSchema schema)
      : writer_(path, sink_compression(path, schema.compression)), schema_(std::move(schema)) {
    if (schema_.task == Task::kClassify && schema_.labels.empty()) {
      throw Error(ErrorCode::kInvalidArgument,
                  path.string() + ": classification output needs label names");
    }
  }

  void write(const OutputRow& row) override {
    example_.Clear();
    auto& features = *example_.mutable_features()->mutable_feature();
    if (!row.id.is_null()) json_to_feature(row.id, &features["id"]);
    for (size_t i = 0; i < row.passthrough.size() && i < schema_.carried.passthrough.size(); ++i) {
      if (!row.passthrough[i].is_null())
        json_to_feature(row.passthrough[i], &features[schema_.carried.passthrough[i].name]);
    }
    if (!row.error.empty()) {
      features["error"].mutable_bytes_list()->add_value(row.error);
      features["line"].mutable_int64_list()->add_value(static_cast<int64_t>(row.line));
    } else {
      switch (schema_.task) {
        case Task::kEmbed:
          features["embedding"].mutable_float_list()->mutable_value()->Add(row.values.begin(),
                                                                           row.values.end());
          break;
        case Task::kTokenize:
          features["input_ids"].mutable_int64_list()->mutable_value()->Add(row.ids.begin(),
                                                                           row.ids.end());
          features["token_type_ids"].mutable_int64_list()->mutable_value()->Add(
              row.type_ids.begin(), row.type_ids.end());
          break;
        case Task::kClassify:
          write_classification(row.values, &features);
          break;
      }
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

  void finish() override { writer_.finish(); }

 private:
  void write_classification(const std::vector<float>& probs,
                            google::protobuf::Map<std::string, tf::Feature>* features) {
    if (probs.empty() || probs.size() > schema_.labels.size()) {
      throw Error(ErrorCode::kInternal, std::to_string(probs.size()) + " class scores for " +
                                            std::to_string(schema_.labels.size()) + " labels");
    }
    // The first of equal maxima, as the other sinks rank them.
    const size_t best =
        static_cast<size_t>(std::max_element(probs.begin(), probs.end()) - probs.begin());
    (*features)["label"].mutable_bytes_list()->add_value(schema_.labels[best]);
    (*features)["score"].mutable_float_list()->add_value(probs[best]);
    if (schema_.top_k > 0 || schema_.all_scores) {
      (*features)["scores"].mutable_float_list()->mutable_value()->Add(probs.begin(), probs.end());
    }
  }

  TfRecordWriter writer_;
  OutputSchema schema_;
  tf::Example example_;
  std::string buffer_;
};

}  // namespace

std::unique_ptr<RowSink> open_tfrecord_sink(const std::filesystem::path& path,
                                            const OutputSchema& schema) {
  return std::make_unique<TfRecordSink>(path, schema);
}

}  // namespace salvo
