// TFRecord output: one tf.train.Example per row.
#pragma once

#include <filesystem>
#include <memory>

#include "io/row_sink.h"

namespace salvo {

// Opens a TFRecord sink writing tf.train.Example records: "id", passthrough features, and
// "embedding" (float list), or "label" (bytes) and "score" (float), or "input_ids" (int64 list);
// error rows carry an "error" bytes feature. schema.compression "gzip" or "zlib" compresses.
std::unique_ptr<RowSink> open_tfrecord_sink(const std::filesystem::path& path, const OutputSchema& schema);

}  // namespace salvo
