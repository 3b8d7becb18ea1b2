// Parquet input: a file, a folder of part files, or a glob.
#pragma once

#include <memory>
#include <string>

#include "io/row_source.h"

namespace salvo {

// Opens Parquet input. `path` is one .parquet file, a folder of part files (Spark's layout:
// `_SUCCESS` and hidden files ignored, `key=value` sub-folders become string columns), or a glob
// (`data/*.parquet`). Only the text, id and passthrough columns are read; row groups are decoded
// as they are needed, so files larger than memory work. Throws salvo::Error(kIo) naming the file
// and offset for a file that is not Parquet or is corrupt, kInvalidArgument for a missing column.
// `slice` reads only the row groups whose first row falls in the slice's share of all rows.
std::unique_ptr<RowSource> open_parquet_source(const std::string& path, const FieldNames& fields,
                                               const SourceLimits& limits, const Slice& slice = {});

}  // namespace salvo
