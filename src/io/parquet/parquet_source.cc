#include "io/parquet/parquet_source.h"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <future>
#include <optional>

#include "core/error.h"
#include "core/utf8.h"
#include "io/parquet/parquet_file_reader.h"

namespace salvo {
namespace {

using parquet::ColumnChunkData;
using parquet::LeafColumn;
using parquet::ParquetFileReader;

// One input file and the partition values its folders name (Spark's `key=value` layout).
struct InputFile {
  std::filesystem::path path;
  std::vector<std::pair<std::string, std::optional<std::string>>> partitions;
  uint64_t size = 0;
};

bool is_hidden(const std::string& name) { return !name.empty() && (name[0] == '.' || name[0] == '_'); }

// Spark escapes special characters in partition values as %XX.
std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// `key=value` folders between `root` and the file.
std::vector<std::pair<std::string, std::optional<std::string>>> partitions_of(const std::filesystem::path& file,
                                                                             const std::filesystem::path& root) {
  std::vector<std::pair<std::string, std::optional<std::string>>> partitions;
  for (const auto& part : std::filesystem::relative(file.parent_path(), root)) {
    const std::string folder = part.string();
    const size_t eq = folder.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string value = percent_decode(folder.substr(eq + 1));
    partitions.emplace_back(percent_decode(folder.substr(0, eq)),
                            value == "__HIVE_DEFAULT_PARTITION__" ? std::nullopt : std::optional(value));
  }
  return partitions;
}

// The folders of a glob pattern before its first wildcard: partition folders are those below.
std::filesystem::path glob_base(const std::string& pattern) {
  std::filesystem::path base;
  for (const auto& part : std::filesystem::path(pattern).parent_path()) {
    if (part.string().find_first_of("*?[") != std::string::npos) break;
    base /= part;
  }
  return base.empty() ? "." : base;
}

std::vector<InputFile> list_inputs(const std::string& path) {
  std::vector<InputFile> files;
  namespace fs = std::filesystem;
  if (path.find_first_of("*?[") != std::string::npos) {
    glob_t matches{};
    const int rc = ::glob(path.c_str(), 0, nullptr, &matches);
    if (rc != 0 && rc != GLOB_NOMATCH) {
      globfree(&matches);
      throw Error(ErrorCode::kIo, "cannot expand " + path);
    }
    for (size_t i = 0; i < matches.gl_pathc; ++i) {
      fs::path p = matches.gl_pathv[i];
      if (fs::is_regular_file(p) && !is_hidden(p.filename().string())) {
        files.push_back({p, partitions_of(p, glob_base(path)), 0});
      }
    }
    globfree(&matches);
  } else if (fs::is_directory(path)) {
    std::error_code ec;
    fs::recursive_directory_iterator it(path, ec), end;
    if (ec) throw Error(ErrorCode::kIo, "cannot list " + path + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) throw Error(ErrorCode::kIo, "cannot list " + path + ": " + ec.message());
      const std::string name = it->path().filename().string();
      if (is_hidden(name)) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file()) continue;
      files.push_back({it->path(), partitions_of(it->path(), path), 0});
    }
  } else {
    if (!fs::exists(path)) throw Error(ErrorCode::kIo, "cannot open " + path + ": no such file");
    files.push_back({path, {}, 0});
  }
  std::sort(files.begin(), files.end(), [](const InputFile& a, const InputFile& b) { return a.path < b.path; });
  if (files.empty()) throw Error(ErrorCode::kIo, "no Parquet files in " + path);
  for (auto& f : files) {
    std::error_code ec;
    f.size = fs::file_size(f.path, ec);
  }
  return files;
}

// Why `name` is not a usable column of `file`: a nested column (a list, such as salvo's own
// `embedding`, or a struct) is said to be one, anything else is missing, with the columns there are.
Error missing_column(const ParquetFileReader& file, const std::string& name, const char* wanted) {
  std::string columns;
  size_t listed = 0;
  for (const LeafColumn& c : file.columns()) {
    if (c.name.starts_with(name + ".")) {
      return Error(ErrorCode::kInvalidArgument,
                   file.path().string() + ": column \"" + name + "\" is a " +
                       (c.max_repetition_level > 0 ? "list" : "nested") + " column (" + c.name + "), not " + wanted);
    }
    if (listed++ < 20) columns += (columns.empty() ? "" : ", ") + c.name;
  }
  if (listed > 20) columns += ", ...";
  return Error(ErrorCode::kInvalidArgument,
               file.path().string() + ": no column named \"" + name + "\" (its columns: " + columns + ")");
}

bool is_text_annotated(const parquet::SchemaElement& e) {
  using parquet::ConvertedType;
  using Kind = parquet::LogicalType::Kind;
  if (e.logical_type && e.logical_type->kind == Kind::kString) return true;
  return e.converted_type && (*e.converted_type == ConvertedType::kUtf8 || *e.converted_type == ConvertedType::kEnum ||
                              *e.converted_type == ConvertedType::kJson);
}

bool is_unsigned(const parquet::SchemaElement& e) {
  if (e.logical_type && e.logical_type->kind == parquet::LogicalType::Kind::kInteger) return !e.logical_type->is_signed;
  const int c = e.converted_type ? static_cast<int>(*e.converted_type) : -1;
  return c >= 11 && c <= 14;  // UINT_8 .. UINT_64
}

ValueType value_type_of(const LeafColumn& column) {
  switch (*column.element.type) {
    case parquet::Type::kBoolean: return ValueType::kBool;
    case parquet::Type::kInt32: return is_unsigned(column.element) ? ValueType::kInt64 : ValueType::kInt32;
    case parquet::Type::kInt64: return ValueType::kInt64;
    case parquet::Type::kFloat: return ValueType::kFloat;
    case parquet::Type::kDouble: return ValueType::kDouble;
    case parquet::Type::kByteArray: return is_text_annotated(column.element) ? ValueType::kString : ValueType::kBinary;
    default: return ValueType::kBinary;
  }
}

// Where a carried value comes from: a column of the file or a partition folder.
struct CarriedSource {
  std::string name;
  ValueType type = ValueType::kDynamic;
  bool partition = false;
};

// One decoded row group, ready to be cut into records.
struct DecodedGroup {
  size_t file = 0;
  std::vector<ColumnChunkData> columns;  // text first, then the carried file columns in order
  std::vector<ValueType> types;          // of `columns`
  std::vector<bool> unsigned_ints;
  int64_t rows = 0;
  int64_t file_rows = 0;  // rows of the whole file, for progress
};

// Walks one column row by row: the index of each row's value, or none for a null.
struct ColumnCursor {
  const ColumnChunkData* data = nullptr;
  size_t next_value = 0;
  // Advances one row; returns the value index or SIZE_MAX for a null.
  size_t step(size_t row) {
    if (!data->defined.empty() && !data->defined[row]) return SIZE_MAX;
    return next_value++;
  }
};

nlohmann::json to_json(const parquet::ColumnValues& values, size_t i, ValueType type, bool is_unsigned_int) {
  switch (type) {
    case ValueType::kBool: return values.ints[i] != 0;
    case ValueType::kInt32: return values.ints[i];
    case ValueType::kInt64:
      if (is_unsigned_int && values.type == parquet::Type::kInt32) return static_cast<uint32_t>(values.ints[i]);
      if (is_unsigned_int) return static_cast<uint64_t>(values.ints[i]);
      return values.ints[i];
    case ValueType::kFloat:
    case ValueType::kDouble: return values.doubles[i];
    case ValueType::kString: return std::string(values.bytes_at(i));
    default: {
      const std::string_view b = values.bytes_at(i);
      return nlohmann::json::binary(std::vector<uint8_t>(b.begin(), b.end()));
    }
  }
}

class ParquetSource : public RowSource {
 public:
  ParquetSource(const std::string& path, const FieldNames& fields, const SourceLimits& limits)
      : fields_(fields), limits_(limits), files_(list_inputs(path)) {
    for (const auto& f : files_) total_bytes_ += f.size;
    // The first file fixes the columns and their types; later files must match.
    open_file(0);
    const ParquetFileReader& first = *reader_;
    auto partition_of = [&](const std::string& name) {
      for (const auto& [key, value] : files_[0].partitions) {
        if (key == name) return true;
      }
      return false;
    };
    const LeafColumn* text = first.find_column(fields.text);
    if (text == nullptr) throw missing_column(first, fields.text, "a text (string) column");
    if (*text->element.type != parquet::Type::kByteArray) {
      throw Error(ErrorCode::kInvalidArgument, first.path().string() + ": text column \"" + fields.text +
                                                   "\" is not a string or binary (BYTE_ARRAY) column");
    }
    auto carried = [&](const std::string& name, bool required) -> std::optional<CarriedSource> {
      if (const LeafColumn* c = first.find_column(name)) return CarriedSource{name, value_type_of(*c), false};
      if (partition_of(name)) return CarriedSource{name, ValueType::kString, true};
      if (required) throw missing_column(first, name, "a column --keep-columns can carry (nested columns are not)");
      return std::nullopt;
    };
    id_ = carried(fields.id, false);
    for (const auto& name : fields.passthrough) passthrough_.push_back(*carried(name, true));
    check_file(first, 0);
    next_ = launch(0, 0);
  }

  ~ParquetSource() override {
    if (next_.valid()) next_.wait();
  }

  bool read(size_t max_records, std::vector<RawRecord>* out) override {
    size_t produced = 0;
    while (produced < max_records) {
      if (!current_ || row_ == current_->rows) {
        if (!advance()) return false;
        continue;
      }
      out->push_back(make_record());
      ++produced;
    }
    return true;
  }

  void parse(const RawRecord& record, InputRow* row) const override {
    row->index = record.index;
    row->line = record.line;
    row->error = record.error;
    row->id = record.id;
    row->passthrough = record.passthrough;
    if (!row->error.empty()) return;
    size_t bad = 0;
    if (!is_valid_utf8(record.bytes, &bad)) {
      row->error = "text is not valid UTF-8 (byte " + std::to_string(bad) + ")";
      return;
    }
    row->text = record.bytes;
  }

  CarriedColumns carried_columns() const override {
    CarriedColumns columns;
    if (id_) columns.id = ColumnSpec{"id", id_->type};
    for (const auto& p : passthrough_) columns.passthrough.push_back({p.name, p.type});
    return columns;
  }

  uint64_t bytes_read() const override {
    if (!current_) return done_bytes_;
    const uint64_t size = files_[current_->file].size;
    const double fraction =
        current_->file_rows > 0 ? static_cast<double>(file_rows_done_ + row_) / current_->file_rows : 1.0;
    return done_bytes_ + static_cast<uint64_t>(std::min(1.0, fraction) * size);
  }

  std::optional<uint64_t> total_bytes() const override { return total_bytes_; }

 private:
  void open_file(size_t index) {
    reader_ = std::make_unique<ParquetFileReader>(files_[index].path);
    reader_file_ = index;
  }

  // Checks that a file has the columns the first one had, with the same types.
  void check_file(const ParquetFileReader& file, size_t index) {
    std::vector<const CarriedSource*> wanted;
    CarriedSource text{fields_.text, ValueType::kDynamic, false};
    leaves_.clear();
    auto require = [&](const std::string& name, bool is_text, std::optional<ValueType> type) {
      const LeafColumn* c = file.find_column(name);
      if (c == nullptr) {
        throw Error(ErrorCode::kInvalidArgument, file.path().string() + ": no column named \"" + name +
                                                     "\" (other files of the input have it)");
      }
      if (is_text ? *c->element.type != parquet::Type::kByteArray : value_type_of(*c) != *type) {
        throw Error(ErrorCode::kInvalidArgument, file.path().string() + ": column \"" + name +
                                                     "\" has a different type than in " + files_[0].path.string());
      }
      leaves_.push_back(c->index);
    };
    require(fields_.text, true, std::nullopt);
    if (id_ && !id_->partition) require(id_->name, false, id_->type);
    for (const auto& p : passthrough_) {
      if (!p.partition) require(p.name, false, p.type);
    }
    (void)index;
  }

  // Decodes row group `group` of file `file` (or the next one that exists) on another thread.
  std::future<std::optional<DecodedGroup>> launch(size_t file, size_t group) {
    return std::async(std::launch::async, [this, file, group]() -> std::optional<DecodedGroup> {
      size_t f = file;
      size_t g = group;
      for (;;) {
        if (f >= files_.size()) return std::nullopt;
        if (reader_file_ != f) {
          open_file(f);
          check_file(*reader_, f);
        }
        if (g < reader_->num_row_groups()) break;
        ++f;
        g = 0;
      }
      DecodedGroup decoded;
      decoded.file = f;
      decoded.rows = reader_->num_rows(g);
      for (size_t i = 0; i < reader_->num_row_groups(); ++i) decoded.file_rows += reader_->num_rows(i);
      decoded.columns = reader_->read_row_group(g, leaves_);
      for (size_t leaf : leaves_) {
        decoded.types.push_back(value_type_of(reader_->columns()[leaf]));
        decoded.unsigned_ints.push_back(is_unsigned(reader_->columns()[leaf].element));
      }
      next_group_ = {f, g + 1};
      return decoded;
    });
  }

  // Moves to the next decoded row group and starts decoding the one after it.
  bool advance() {
    if (!next_.valid()) return false;
    std::optional<DecodedGroup> group = next_.get();
    if (current_) {
      if (group && group->file == current_->file) {
        file_rows_done_ += current_->rows;
      } else {
        done_bytes_ += files_[current_->file].size;
        file_rows_done_ = 0;
      }
    }
    current_.reset();
    if (!group) return false;
    current_ = std::move(group);
    row_ = 0;
    cursors_.assign(current_->columns.size(), {});
    for (size_t i = 0; i < cursors_.size(); ++i) cursors_[i].data = &current_->columns[i];
    next_ = launch(next_group_.first, next_group_.second);
    return true;
  }

  RawRecord make_record() {
    RawRecord record;
    record.index = next_index_++;
    record.line = record.index + 1;
    const size_t row = static_cast<size_t>(row_++);
    const auto& partitions = files_[current_->file].partitions;
    auto partition_value = [&](const std::string& name) -> nlohmann::json {
      for (const auto& [key, value] : partitions) {
        if (key == name) return value ? nlohmann::json(*value) : nlohmann::json();
      }
      return nullptr;
    };
    size_t column = 0;
    auto next_value = [&]() -> nlohmann::json {
      const size_t c = column++;
      const size_t i = cursors_[c].step(row);
      if (i == SIZE_MAX) return nullptr;
      return to_json(current_->columns[c].values, i, current_->types[c], current_->unsigned_ints[c]);
    };
    {
      const size_t i = cursors_[column++].step(row);
      if (i == SIZE_MAX) {
        record.error = "text is null";
      } else {
        const std::string_view text = current_->columns[0].values.bytes_at(i);
        if (text.size() > limits_.max_record_bytes) {
          record.error = "text of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                         std::to_string(limits_.max_record_bytes);
        } else {
          record.bytes.assign(text);
        }
      }
    }
    if (id_) record.id = id_->partition ? partition_value(id_->name) : next_value();
    record.passthrough.reserve(passthrough_.size());
    for (const auto& p : passthrough_) {
      record.passthrough.push_back(p.partition ? partition_value(p.name) : next_value());
    }
    return record;
  }

  FieldNames fields_;
  SourceLimits limits_;
  std::vector<InputFile> files_;
  uint64_t total_bytes_ = 0;
  std::optional<CarriedSource> id_;
  std::vector<CarriedSource> passthrough_;

  // Used by the decoding task only (one at a time).
  std::unique_ptr<ParquetFileReader> reader_;
  size_t reader_file_ = SIZE_MAX;
  std::vector<size_t> leaves_;
  std::pair<size_t, size_t> next_group_{0, 0};

  // Used by read().
  std::future<std::optional<DecodedGroup>> next_;
  std::optional<DecodedGroup> current_;
  std::vector<ColumnCursor> cursors_;
  int64_t row_ = 0;
  uint64_t next_index_ = 0;
  uint64_t done_bytes_ = 0;
  int64_t file_rows_done_ = 0;
};

}  // namespace

std::unique_ptr<RowSource> open_parquet_source(const std::string& path, const FieldNames& fields,
                                               const SourceLimits& limits) {
  return std::make_unique<ParquetSource>(path, fields, limits);
}

}  // namespace salvo
