// Parquet output: results and carried columns, readable by Spark, pyarrow and DuckDB.
#pragma once

#include <filesystem>
#include <memory>

#include "io/row_sink.h"

namespace salvo {

// Opens a Parquet sink. A path ending in ".parquet" is one file; a path ending in "/" is a folder
// that receives part files (part-00000.parquet, ...) of about options.part_file_bytes each and a
// _SUCCESS marker. Every file is written under a temporary name and renamed when complete; a
// folder's parts wait in _temporary/job.<pid>.<random>/ until the job completes, then replace the
// folder's earlier parts together.
std::unique_ptr<RowSink> open_parquet_sink(const std::filesystem::path& path, const Schema& schema,
                                           const SinkOptions& options);

}  // namespace salvo
