#include "io/binary_file_source.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <regex>
#include <set>
#include <tuple>

#include "core/error.h"
#include "io/dataset_paths.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;


// One listed file. Size and time come from the listing, as in Spark.
struct FileEntry {
  fs::path path;
  int64_t length = 0;
  int64_t mtime_us = 0;
  std::vector<Partition> partitions;  // key=value folders
  json label;
};

// `dir / name`, without a leading "./" for patterns relative to the working folder.
fs::path join(const fs::path& dir, const fs::path& name) { return dir == "." ? name : dir / name; }

// The entries of a folder that listings see, by name: hidden ones left out. A folder that cannot
// be listed (no permission, gone) is an I/O error naming it: its files would be missing silently.
std::vector<fs::path> folder_entries(const fs::path& dir) {
  std::vector<fs::path> names;
  std::error_code ec;
  fs::directory_iterator it(dir.empty() ? fs::path(".") : dir, ec);
  for (fs::directory_iterator end; !ec && it != end; it.increment(ec)) {
    fs::path name = it->path().filename();
    if (!is_hidden(name.string())) names.push_back(std::move(name));
  }
  if (ec) throw Error(ErrorCode::kIo, "cannot list " + dir.string() + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

// Folders already walked, by device and inode: a folder reached twice (a symbolic link to a folder
// listed elsewhere, or to one above it) is walked once, so each file is listed once and a link
// loop ends.
class VisitedFolders {
 public:
  // True the first time `dir` (a folder, links followed) is seen at this step of a walk (a glob's
  // segment index; 0 for a folder's walk).
  bool first_visit(const fs::path& dir, size_t step = 0) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return false;
    return seen_.insert({st.st_dev, st.st_ino, step}).second;
  }

 private:
  std::set<std::tuple<dev_t, ino_t, size_t>> seen_;
};

// A path to list as a file: a regular file, or a link that leads nowhere (reading it gives the
// file's error row). Folders, FIFOs, sockets and devices are not files to read.
bool listed_as_file(const fs::path& p) {
  std::error_code ec;
  const fs::file_status target = fs::status(p, ec);
  if (fs::is_regular_file(target)) return true;
  return !fs::exists(target) && fs::is_symlink(fs::symlink_status(p, ec));
}

bool is_folder(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);  // links followed
}

// Walks `dir` for paths whose segments below it match `segments` from `i` on ("**": any number of
// folders, itself included). Links to folders are followed, each folder walked once.
void glob_walk(const fs::path& dir, const std::vector<std::string>& segments, size_t i, VisitedFolders* visited,
               std::vector<fs::path>* out) {
  if (i == segments.size()) return;
  const std::string& seg = segments[i];
  if (seg == "**") {
    if (!visited->first_visit(dir, i)) return;
    glob_walk(dir, segments, i + 1, visited, out);
    for (const fs::path& name : folder_entries(dir)) {
      const fs::path p = join(dir, name);
      if (is_folder(p)) glob_walk(p, segments, i, visited, out);
    }
    return;
  }
  const bool last = i + 1 == segments.size();
  if (!has_wildcard(seg)) {
    const fs::path p = join(dir, seg);
    if (last) {
      if (listed_as_file(p)) out->push_back(p);
    } else if (is_folder(p)) {
      glob_walk(p, segments, i + 1, visited, out);
    }
    return;
  }
  for (const fs::path& name : folder_entries(dir)) {
    if (!wildcard_match(seg, name.string())) continue;
    const fs::path p = join(dir, name);
    if (last) {
      if (listed_as_file(p)) out->push_back(p);
    } else if (is_folder(p)) {
      glob_walk(p, segments, i + 1, visited, out);
    }
  }
}

// The folders of a pattern before its first wildcard, and the segments from there on.
std::pair<fs::path, std::vector<std::string>> split_pattern(const std::string& pattern) {
  fs::path base;
  std::vector<std::string> rest;
  for (const auto& part : fs::path(pattern)) {
    const std::string s = part.string();
    if (s.empty()) continue;
    if (rest.empty() && !has_wildcard(s)) {
      base /= part;
    } else {
      rest.push_back(s);
    }
  }
  // The last plain segment is a file name, not a folder, when the pattern has no wildcard after it.
  return {base.empty() ? fs::path(".") : base, rest};
}

// Every file of a folder, to the bottom; hidden files and folders skipped, links to folders
// followed, each folder walked once.
void walk_folder(const fs::path& dir, VisitedFolders* visited, std::vector<fs::path>* out) {
  if (!visited->first_visit(dir)) return;
  for (const fs::path& name : folder_entries(dir)) {
    const fs::path p = dir / name;
    if (is_folder(p)) {
      walk_folder(p, visited, out);
    } else if (listed_as_file(p)) {
      out->push_back(p);
    }
  }
}

// The listed paths of an input, and the folder partition folders are counted from.
std::pair<std::vector<fs::path>, fs::path> list_paths(const std::string& input) {
  std::vector<fs::path> paths;
  std::error_code ec;
  VisitedFolders visited;
  if (has_wildcard(input)) {
    auto [base, segments] = split_pattern(input);
    glob_walk(base, segments, 0, &visited, &paths);
    std::sort(paths.begin(), paths.end());
    paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
    return {paths, base};
  }
  if (fs::is_directory(input, ec)) {
    walk_folder(input, &visited, &paths);
    std::sort(paths.begin(), paths.end());
    return {paths, input};
  }
  if (!fs::exists(fs::symlink_status(input, ec))) throw Error(ErrorCode::kIo, "cannot open " + input + ": no such file");
  paths.push_back(input);
  return {paths, fs::path(input).parent_path()};
}

// The type Spark would infer for a partition column from its values: int, then long, then
// double, else string. Nulls (__HIVE_DEFAULT_PARTITION__) fit any type.
ValueType infer_partition_type(const std::vector<const std::string*>& values) {
  auto all = [&](auto pred) {
    return std::all_of(values.begin(), values.end(), [&](const std::string* v) { return !v || pred(*v); });
  };
  auto parse_int = [](const std::string& v, long long* out) {
    if (v.empty() || v.size() > 20) return false;
    char* end = nullptr;
    errno = 0;
    *out = std::strtoll(v.c_str(), &end, 10);
    return errno == 0 && end == v.c_str() + v.size() && !std::isspace(static_cast<unsigned char>(v[0]));
  };
  long long n = 0;
  if (all([&](const std::string& v) { return parse_int(v, &n) && n >= INT32_MIN && n <= INT32_MAX; })) {
    return ValueType::kInt32;
  }
  if (all([&](const std::string& v) { return parse_int(v, &n); })) return ValueType::kInt64;
  if (all([](const std::string& v) {
        char* end = nullptr;
        if (v.empty() || std::isspace(static_cast<unsigned char>(v[0]))) return false;
        std::strtod(v.c_str(), &end);
        return end == v.c_str() + v.size();
      })) {
    return ValueType::kDouble;
  }
  return ValueType::kString;
}

json partition_value(const std::optional<std::string>& v, ValueType type) {
  if (!v) return nullptr;
  switch (type) {
    case ValueType::kInt32:
    case ValueType::kInt64: return std::stoll(*v);
    case ValueType::kDouble: return std::stod(*v);
    default: return *v;
  }
}

// What a row's column is: a file field, a partition or the label.
enum class ColumnKind { kPath, kModificationTime, kLength, kContent, kPartition, kLabel };

struct ColumnRef {
  ColumnKind kind;
  size_t partition = 0;  // kPartition: index into the partition columns
};

class BinaryFileSource : public RowSource {
 public:
  BinaryFileSource(const std::string& input, const FieldNames& fields, const SourceLimits& limits,
                   const BinaryFileOptions& options)
      : limits_(limits) {
    auto [paths, base] = list_paths(input);
    if (!options.glob.empty()) {
      std::erase_if(paths, [&](const fs::path& p) { return !wildcard_match(options.glob, p.filename().string()); });
    }
    if (paths.empty()) {
      throw Error(ErrorCode::kIo, "no files in " + input + (options.glob.empty() ? "" : " match " + options.glob));
    }
    std::optional<std::regex> label_regex;
    const bool label_parent = options.label_from == "parent";
    if (!options.label_from.empty() && !label_parent) {
      if (!options.label_from.starts_with("regex:")) {
        throw Error(ErrorCode::kInvalidArgument,
                    "--label-from " + options.label_from + ": expected parent or regex:PATTERN");
      }
      try {
        label_regex.emplace(options.label_from.substr(6));
      } catch (const std::regex_error& e) {
        throw Error(ErrorCode::kInvalidArgument, "--label-from " + options.label_from + ": " + e.what());
      }
    }
    files_.reserve(paths.size());
    for (auto& p : paths) {
      FileEntry f;
      f.path = std::move(p);
      struct stat st {};
      if (::stat(f.path.c_str(), &st) == 0) {
        f.length = st.st_size;
        f.mtime_us = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000 + st.st_mtim.tv_nsec / 1000;
        total_ += static_cast<uint64_t>(st.st_size);
      }
      if (!options.recursive) {
        f.partitions = partitions_of(f.path, base);
      }
      if (label_parent) {
        f.label = f.path.parent_path().filename().string();
      } else if (label_regex) {
        std::smatch m;
        const std::string s = f.path.string();
        if (std::regex_search(s, m, *label_regex)) f.label = m.size() > 1 ? m[1].str() : m[0].str();
      }
      files_.push_back(std::move(f));
    }
    infer_partitions();
    has_label_ = !options.label_from.empty();

    text_ = require(fields.text, "--text-field");
    if (text_.kind != ColumnKind::kContent && text_.kind != ColumnKind::kPath && text_.kind != ColumnKind::kLabel &&
        !(text_.kind == ColumnKind::kPartition && partition_types_[text_.partition] == ValueType::kString)) {
      throw Error(ErrorCode::kInvalidArgument, "--text-field " + fields.text + ": not a string or binary column");
    }
    if (auto id = find(fields.id)) {
      id_ = *id;
      carried_.id = ColumnSpec{"id", type_of(*id)};
    }
    for (const auto& name : fields.passthrough) {
      passthrough_.push_back(require(name, "--keep-columns"));
      carried_.passthrough.push_back({name, type_of(passthrough_.back())});
    }
  }

  bool read(size_t max_records, std::vector<RawRecord>* out) override {
    for (size_t i = 0; i < max_records; ++i) {
      if (next_ >= files_.size()) return false;
      RawRecord record;
      record.index = next_;
      record.line = next_ + 1;
      read_file(files_[next_], &record);
      ++next_;
      out->push_back(std::move(record));
    }
    return next_ < files_.size();
  }

  void parse(const RawRecord& record, InputRow* row) const override {
    const FileEntry& f = files_[record.index];
    row->index = record.index;
    row->line = record.line;
    row->error = record.error;
    if (id_) row->id = value(*id_, f, record);
    row->passthrough.clear();
    for (const auto& c : passthrough_) row->passthrough.push_back(value(c, f, record));
    if (!row->error.empty()) return;
    if (text_.kind == ColumnKind::kContent) {
      row->text = record.bytes;
    } else {
      const json v = value(text_, f, record);
      row->text = v.is_string() ? v.get<std::string>() : "";
    }
  }

  CarriedColumns carried_columns() const override { return carried_; }
  const char* record_name() const override { return "file"; }
  std::string record_label(const InputRow& row) const override { return files_[row.index].path.string(); }
  uint64_t bytes_read() const override { return read_; }
  std::optional<uint64_t> total_bytes() const override { return total_; }

 private:
  void infer_partitions() {
    for (const auto& f : files_) {
      for (const auto& [key, v] : f.partitions) {
        if (std::find(partition_names_.begin(), partition_names_.end(), key) == partition_names_.end()) {
          partition_names_.push_back(key);
        }
      }
    }
    for (const auto& name : partition_names_) {
      std::vector<const std::string*> values;
      for (const auto& f : files_) {
        for (const auto& [key, v] : f.partitions) {
          if (key == name && v) values.push_back(&*v);
        }
      }
      partition_types_.push_back(infer_partition_type(values));
    }
  }

  std::optional<ColumnRef> find(const std::string& name) const {
    if (name == "path") return ColumnRef{ColumnKind::kPath};
    if (name == "modificationTime") return ColumnRef{ColumnKind::kModificationTime};
    if (name == "length") return ColumnRef{ColumnKind::kLength};
    if (name == "content") return ColumnRef{ColumnKind::kContent};
    if (name == "label" && has_label_) return ColumnRef{ColumnKind::kLabel};
    for (size_t i = 0; i < partition_names_.size(); ++i) {
      if (partition_names_[i] == name) return ColumnRef{ColumnKind::kPartition, i};
    }
    return std::nullopt;
  }

  ColumnRef require(const std::string& name, const char* flag) const {
    if (auto c = find(name)) return *c;
    std::string columns = "path, modificationTime, length, content";
    for (const auto& p : partition_names_) columns += ", " + p;
    if (has_label_) columns += ", label";
    throw Error(ErrorCode::kInvalidArgument,
                std::string(flag) + ": binary file rows have no column \"" + name + "\" (their columns: " + columns +
                    "). A folder or glob of files other than Parquet is read as binary files, one row per file, as "
                    "Spark's binaryFile reads them; JSON Lines, CSV and TFRecord input is one file");
  }

  ValueType type_of(const ColumnRef& c) const {
    switch (c.kind) {
      case ColumnKind::kPath:
      case ColumnKind::kLabel: return ValueType::kString;
      case ColumnKind::kModificationTime: return ValueType::kTimestamp;
      case ColumnKind::kLength: return ValueType::kInt64;
      case ColumnKind::kContent: return ValueType::kBinary;
      case ColumnKind::kPartition: return partition_types_[c.partition];
    }
    return ValueType::kString;
  }

  json value(const ColumnRef& c, const FileEntry& f, const RawRecord& record) const {
    switch (c.kind) {
      case ColumnKind::kPath: return f.path.string();
      case ColumnKind::kModificationTime: return f.mtime_us;
      case ColumnKind::kLength: return f.length;
      case ColumnKind::kContent:
        if (!record.error.empty()) return nullptr;
        return json::binary(std::vector<uint8_t>(record.bytes.begin(), record.bytes.end()));
      case ColumnKind::kLabel: return f.label;
      case ColumnKind::kPartition: {
        const std::string& name = partition_names_[c.partition];
        for (const auto& [key, v] : f.partitions) {
          if (key == name) return partition_value(v, partition_types_[c.partition]);
        }
        return nullptr;
      }
    }
    return nullptr;
  }

  // Reads a whole file into the record, or sets its error; never more than the record limit.
  void read_file(const FileEntry& f, RawRecord* record) {
    const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      record->error = std::string("cannot open: ") + std::strerror(errno);
      return;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      record->error = S_ISDIR(st.st_mode) ? "is a folder" : "not a regular file";
      ::close(fd);
      return;
    }
    if (static_cast<uint64_t>(st.st_size) > limits_.max_record_bytes) {
      record->error = "file is " + std::to_string(st.st_size) + " bytes, over the limit of " +
                      std::to_string(limits_.max_record_bytes) + " (--max-record-bytes)";
      ::close(fd);
      return;
    }
    record->bytes.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < record->bytes.size()) {
      const ssize_t n = ::read(fd, record->bytes.data() + done, record->bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        record->error = std::string("cannot read: ") + std::strerror(errno);
        record->bytes.clear();
        ::close(fd);
        return;
      }
      if (n == 0) break;  // the file shrank since it was listed: keep what is there
      done += static_cast<size_t>(n);
    }
    record->bytes.resize(done);
    ::close(fd);
    read_ += done;
  }

  SourceLimits limits_;
  std::vector<FileEntry> files_;
  std::vector<std::string> partition_names_;
  std::vector<ValueType> partition_types_;
  bool has_label_ = false;
  ColumnRef text_{ColumnKind::kContent};
  std::optional<ColumnRef> id_;
  std::vector<ColumnRef> passthrough_;
  CarriedColumns carried_;
  size_t next_ = 0;
  uint64_t read_ = 0;
  uint64_t total_ = 0;
};

}  // namespace

bool wildcard_match(const std::string& pattern, const std::string& name) {
  return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

bool looks_like_binary_files(const std::string& path) {
  auto is_parquet = [](const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return ext == ".parquet";
  };
  if (has_wildcard(path)) return !is_parquet(fs::path(path).filename());
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return false;
  fs::recursive_directory_iterator it(path, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (is_hidden(it->path().filename().string())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) return !is_parquet(it->path());
  }
  return false;
}

std::unique_ptr<RowSource> open_binary_file_source(const std::string& path, const FieldNames& fields,
                                                   const SourceLimits& limits, const BinaryFileOptions& options) {
  return std::make_unique<BinaryFileSource>(path, fields, limits, options);
}

}  // namespace salvo
