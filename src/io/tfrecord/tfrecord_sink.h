// TFRecord output: one tf.train.Example per row.
#pragma once

#include <filesystem>
#include <memory>

#include "io/row_sink.h"

namespace salvo {

// Opens a TFRecord sink writing one tf.train.Example per row, one feature per non-null column.
// options.compression "gzip" or "zlib" compresses (default: what the name's .gz / .zz says).
std::unique_ptr<RowSink> open_tfrecord_sink(const std::filesystem::path& path, const Schema& schema,
                                            const SinkOptions& options);

}  // namespace salvo
