// TFRecord input: tf.train.Example records, text read from a bytes feature.
#pragma once

#include <filesystem>
#include <memory>

#include "io/row_source.h"

namespace salvo {

// Opens a TFRecord file of tf.train.Example records (GZIP or ZLIB compressed when the name ends in
// .gz or .zz). The text is the first value of the bytes feature named fields.text (none when it is
// empty), the second text of a pair that of fields.text_pair, both checked for UTF-8; the id is the
// feature named fields.id (bytes or int64). Both CRCs of every record are verified; corruption
// ends the job with the file and byte offset, an undecodable Example becomes an error row.
std::unique_ptr<RowSource> open_tfrecord_source(const std::filesystem::path& path, const FieldNames& fields,
                                                const SourceLimits& limits);

}  // namespace salvo
