// Parquet output: results and carried columns, readable by Spark, pyarrow and DuckDB.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/row_sink.h"

namespace salvo {

// Opens a Parquet sink writing one file, under a temporary name renamed when complete. (A folder of
// part files is a PartFolderSink of Parquet parts.)
std::unique_ptr<RowSink> open_parquet_sink(const std::filesystem::path& path, const Schema& schema,
                                           const SinkOptions& options);

// The Parquet type that a JSON column holding `values` gets, as SinkOptions::json_column_types
// names it ("BOOLEAN", "INT64", "DOUBLE" or "STRING"), by the rule at the top of parquet_sink.cc:
// for writers of one folder that must agree on it.
std::string json_column_type(const std::vector<nlohmann::json>& values);

}  // namespace salvo
