// Binary files as rows, as Spark's binaryFile source gives them: one row per file with `path`
// (string), `modificationTime` (timestamp), `length` (int64) and `content` (binary), plus a column
// per `key=value` folder above the file (partition inference) and, on request, a `label`.
#pragma once

#include <memory>
#include <string>

#include "io/row_source.h"
#include "salvo/types.h"

namespace salvo {

// Opens `path`: one file, a folder (walked to the bottom; hidden names starting with "." or "_"
// skipped, as Spark skips them) or a glob whose `**` matches any number of folders. Files are
// listed (and sorted by path) at once, read one at a time as rows are asked for. `fields.text`
// names the column handed to the session as the row's input ("content" for featurizers); the id
// and kept columns may be any of the columns. A file that cannot be read or is over
// limits.max_record_bytes becomes an error row naming it. Throws salvo::Error(kIo) when nothing
// matches or the folder cannot be listed, kInvalidArgument for an unknown column or a bad
// --label-from.
std::unique_ptr<RowSource> open_binary_file_source(const std::string& path, const FieldNames& fields,
                                                   const SourceLimits& limits, const BinaryFileOptions& options);

// Whether a folder or glob holds files other than Parquet: such input is read as binary files
// when no option says how. A plain file is never binary input by this test.
bool looks_like_binary_files(const std::string& path);

// Whether `name` (one path segment) matches a shell wildcard pattern (*, ?, [...]).
bool wildcard_match(const std::string& pattern, const std::string& name);

}  // namespace salvo
