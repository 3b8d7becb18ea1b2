// What the file names and folders of a dataset mean, the way Spark and pyarrow read them: hidden
// files, `key=value` partition folders (values percent-escaped, `__HIVE_DEFAULT_PARTITION__` for
// null), and the fixed base of a glob pattern. Shared by the Parquet readers and binary-file input.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace salvo {

// A `key=value` folder's key and value (nullopt: Hive's null partition).
using Partition = std::pair<std::string, std::optional<std::string>>;

// Files and folders whose name starts with '.' or '_' (_SUCCESS, _temporary, .crc) are not data.
bool is_hidden(const std::string& name);

// Whether a path is a glob pattern (holds *, ? or [).
bool has_wildcard(const std::string& path);

// Spark escapes special characters in partition values as %XX.
std::string percent_decode(const std::string& s);

// The `key=value` folders between `root` and `file`, outermost first.
std::vector<Partition> partitions_of(const std::filesystem::path& file, const std::filesystem::path& root);

// The folders of a glob pattern before its first wildcard: partition folders are those below.
std::filesystem::path glob_base(const std::string& pattern);

}  // namespace salvo
