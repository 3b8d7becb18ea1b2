// Parquet input: a file, a folder of part files, or a glob.
#pragma once

#include <memory>
#include <string>

#include "io/row_source.h"

namespace salvo {

// Opens Parquet input. `path` is one .parquet file, a folder of part files (Spark's layout:
// `_SUCCESS` and hidden files ignored, `key=value` sub-folders become string columns), or a glob
// (`data/*.parquet`). Only the text (none when FieldNames::text is empty), text pair, id and
// passthrough columns are read. Carried columns may be LISTs (nested, and the legacy two-level
// forms too), carried as JSON arrays with their element type (ColumnSpec::list_depth); numeric
// tensor inputs (FieldNames::tensor_inputs) come as numbers in InputRow::tensors from
// read_batch() records. Row groups are decoded
// ahead of read() on SourceLimits::decode_threads threads, several at once (and the pages of one
// column chunk in parallel), holding at most SourceLimits::read_ahead_bytes of decoded data ahead
// (at least one row group), so files larger than memory work. read_batch() records borrow their
// text from the decoded pages; the texts are checked for UTF-8 as their pages are decoded. Throws
// salvo::Error(kIo) naming the file and offset for a file that is not Parquet or is corrupt,
// kInvalidArgument for a missing column, a text column that is not a string, or a column salvo
// cannot read as one value (a struct, a map, a list of structs); a decoding error is thrown by read() after the rows before it.
// `slice` reads only the row groups whose first row falls in the slice's share of all rows.
std::unique_ptr<RowSource> open_parquet_source(const std::string& path, const FieldNames& fields,
                                               const SourceLimits& limits, const Slice& slice = {});

}  // namespace salvo
