// Parquet output: results and carried columns, readable by Spark, pyarrow and DuckDB.
#pragma once

#include <filesystem>
#include <memory>

#include "io/row_sink.h"

namespace salvo {

// Opens a Parquet sink writing one file, under a temporary name renamed when complete. (A folder of
// part files is a PartFolderSink of Parquet parts.)
std::unique_ptr<RowSink> open_parquet_sink(const std::filesystem::path& path, const Schema& schema,
                                           const SinkOptions& options);

}  // namespace salvo
