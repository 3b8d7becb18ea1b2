#include "io/parquet/parquet_table_reader.h"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "io/dataset_paths.h"
#include "io/parquet/logical_values.h"
#include "io/parquet/parquet_file_reader.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;
using parquet::ColumnChunkData;
using parquet::ConvertedType;
using parquet::LeafColumn;
using LogicalKind = parquet::LogicalType::Kind;

// How a leaf's decoded values become a column's values.
enum class Conversion {
  kBool,
  kInt32,
  kUInt32,  // to int64
  kInt64,
  kUInt64,  // to int64; a value past int64's range is an error (not a wrapped, negative number)
  kTimestamp,  // any unit, INT96 and DATE: to microseconds (parquet::timestamp_micros)
  kDecimal,    // to float64 (parquet::decimal_value)
  kFloat,
  kDouble,
  kBytes,  // string or binary
};

struct Plan {
  std::string name;
  bool partition = false;
  size_t leaf = 0;
  Conversion conversion = Conversion::kBytes;
  parquet::ValueMeaning meaning;
  DataType type;
};

bool is_text(const parquet::SchemaElement& e) {
  if (e.logical_type && e.logical_type->kind == LogicalKind::kString) return true;
  return e.converted_type && (*e.converted_type == ConvertedType::kUtf8 || *e.converted_type == ConvertedType::kEnum ||
                              *e.converted_type == ConvertedType::kJson);
}

Plan plan_for(const LeafColumn& c, const fs::path& file) {
  const parquet::SchemaElement& e = c.element;
  auto refuse = [&](const std::string& what) -> Plan {
    throw Error(ErrorCode::kInvalidArgument,
                file.string() + ": column \"" + c.name + "\" is " + what + ", which salvo cannot read as a value");
  };
  if (c.list_depth() > 0 && c.unreadable.empty()) return refuse("a list");
  if (c.max_repetition_level > 0) return refuse(c.unreadable.empty() ? "a nested (repeated) column" : c.unreadable);
  using Kind = parquet::ValueMeaning::Kind;
  const parquet::ValueMeaning meaning = parquet::meaning_of(e);
  Plan p{c.name, false, c.index, Conversion::kBytes, meaning, DataType::binary()};
  if (meaning.kind == Kind::kDecimal) {
    p.conversion = Conversion::kDecimal, p.type = DataType::float64();
    return p;
  }
  if (meaning.is_timestamp()) {
    p.conversion = Conversion::kTimestamp, p.type = DataType::timestamp();
    return p;
  }
  switch (*e.type) {
    case parquet::Type::kBoolean: p.conversion = Conversion::kBool, p.type = DataType::boolean(); break;
    case parquet::Type::kInt32:
      if (meaning.kind == Kind::kUnsigned) {
        p.conversion = Conversion::kUInt32, p.type = DataType::int64();
      } else {
        p.conversion = Conversion::kInt32, p.type = DataType::int32();
      }
      break;
    case parquet::Type::kInt64:
      p.conversion = meaning.kind == Kind::kUnsigned ? Conversion::kUInt64 : Conversion::kInt64;
      p.type = DataType::int64();
      break;
    case parquet::Type::kFloat: p.conversion = Conversion::kFloat, p.type = DataType::float32(); break;
    case parquet::Type::kDouble: p.conversion = Conversion::kDouble, p.type = DataType::float64(); break;
    case parquet::Type::kByteArray: p.type = is_text(e) ? DataType::string() : DataType::binary(); break;
    case parquet::Type::kFixedLenByteArray: p.type = DataType::binary(); break;
    default: return refuse("of an unknown physical type");
  }
  return p;
}

// Appends a decoded column chunk to `out`, converting each value as `plan` says.
void append_chunk(const ColumnChunkData& chunk, const Plan& plan, const fs::path& file, Column* out) {
  const parquet::ColumnValues& v = chunk.values;
  out->reserve(chunk.rows);
  size_t next = 0;
  for (int64_t r = 0; r < chunk.rows; ++r) {
    if (!chunk.defined.empty() && !chunk.defined[static_cast<size_t>(r)]) {
      out->append_null();
      continue;
    }
    const size_t i = next++;
    switch (plan.conversion) {
      case Conversion::kBool: out->append_bool(v.ints[i] != 0); break;
      case Conversion::kInt32: out->append_int32(static_cast<int32_t>(v.ints[i])); break;
      case Conversion::kUInt32: out->append_int64(static_cast<uint32_t>(v.ints[i])); break;
      case Conversion::kInt64: out->append_int64(v.ints[i]); break;
      case Conversion::kUInt64:
        if (v.ints[i] < 0) {
          throw Error(ErrorCode::kInvalidArgument,
                      file.string() + ": column \"" + plan.name + "\" (UINT64) holds " +
                          std::to_string(static_cast<uint64_t>(v.ints[i])) +
                          ", past the int64 range salvo reads it in (cast it to a decimal or a string)");
        }
        out->append_int64(v.ints[i]);
        break;
      case Conversion::kTimestamp:
        if (const auto micros = parquet::timestamp_micros(v, i, plan.meaning.kind)) {
          out->append_int64(*micros);
        } else {
          out->append_null();
        }
        break;
      case Conversion::kDecimal: out->append_float64(parquet::decimal_value(v, i, plan.meaning.scale)); break;
      case Conversion::kFloat: out->append_float32(static_cast<float>(v.doubles[i])); break;
      case Conversion::kDouble: out->append_float64(v.doubles[i]); break;
      case Conversion::kBytes: out->append_string(v.bytes_at(i)); break;
    }
  }
}

}  // namespace

struct ParquetTableReader::File {
  fs::path path;
  std::vector<std::pair<std::string, std::optional<std::string>>> partitions;
  uint64_t size = 0;
};

struct ParquetTableReader::OpenFile {
  std::unique_ptr<parquet::ParquetFileReader> reader;
  size_t file = SIZE_MAX;
  std::vector<Plan> plans;     // one per output column
  std::vector<size_t> leaves;  // the leaves read, in the order of the plans that read a leaf
};

ParquetTableReader::ParquetTableReader(const std::string& path, const std::vector<std::string>& columns)
    : names_(columns) {
  several_files_ = has_wildcard(path) || fs::is_directory(path);
  if (has_wildcard(path)) {
    glob_t matches{};
    const int rc = ::glob(path.c_str(), 0, nullptr, &matches);
    if (rc != 0 && rc != GLOB_NOMATCH) {
      globfree(&matches);
      throw Error(ErrorCode::kIo, "cannot expand " + path);
    }
    for (size_t i = 0; i < matches.gl_pathc; ++i) {
      const fs::path p = matches.gl_pathv[i];
      if (fs::is_regular_file(p) && !is_hidden(p.filename().string())) {
        files_.push_back({p, partitions_of(p, glob_base(path)), 0});
      }
    }
    globfree(&matches);
  } else if (fs::is_directory(path)) {
    std::error_code ec;
    fs::recursive_directory_iterator it(path, ec), end;
    if (ec) throw Error(ErrorCode::kIo, "cannot list " + path + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) throw Error(ErrorCode::kIo, "cannot list " + path + ": " + ec.message());
      if (is_hidden(it->path().filename().string())) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) files_.push_back({it->path(), partitions_of(it->path(), path), 0});
    }
  } else {
    if (!fs::exists(path)) throw Error(ErrorCode::kIo, "cannot open " + path + ": no such file");
    files_.push_back({path, {}, 0});
  }
  if (files_.empty()) throw Error(ErrorCode::kIo, "no Parquet files in " + path);
  std::sort(files_.begin(), files_.end(), [](const File& a, const File& b) { return a.path < b.path; });
  for (File& f : files_) {
    std::error_code ec;
    f.size = fs::file_size(f.path, ec);
    total_bytes_ += f.size;
  }
  open_file(0);
  for (const Plan& p : open_->plans) schema_.fields.push_back({p.name, p.type});
  next_ = launch(0, 0);
}

const std::filesystem::path& ParquetTableReader::batch_file() const { return files_[batch_file_].path; }

ParquetTableReader::~ParquetTableReader() {
  if (next_.valid()) next_.wait();
}

void ParquetTableReader::open_file(size_t index) {
  auto open = std::make_unique<OpenFile>();
  open->reader = std::make_unique<parquet::ParquetFileReader>(files_[index].path);
  open->file = index;
  const File& file = files_[index];
  for (const std::string& name : names_) {
    Plan plan;
    if (const LeafColumn* leaf = open->reader->find_column(name)) {
      plan = plan_for(*leaf, file.path);
      open->leaves.push_back(leaf->index);
    } else if (std::any_of(file.partitions.begin(), file.partitions.end(),
                           [&](const auto& p) { return p.first == name; })) {
      plan = Plan{name, true, 0, Conversion::kBytes, {}, DataType::string()};
    } else if (const std::string nested = open->reader->nested_column(name); !nested.empty()) {
      throw Error(ErrorCode::kInvalidArgument, file.path.string() + ": column \"" + name + "\" is " + nested +
                                                   ", which salvo cannot read as one value");
    } else {
      throw Error(ErrorCode::kInvalidArgument, file.path.string() + ": no column named \"" + name + "\"" +
                                                   (index > 0 ? " (other files of the input have it)" : ""));
    }
    if (index > 0 && !(plan.type == schema_.fields[open->plans.size()].type)) {
      throw Error(ErrorCode::kInvalidArgument, file.path.string() + ": column \"" + name + "\" is " +
                                                   plan.type.to_string() + ", but " + files_[0].path.string() +
                                                   " has it as " + schema_.fields[open->plans.size()].type.to_string());
    }
    open->plans.push_back(std::move(plan));
  }
  open_ = std::move(open);
}

std::future<std::optional<ParquetTableReader::Group>> ParquetTableReader::launch(size_t file, size_t group) {
  return std::async(std::launch::async, [this, file, group]() -> std::optional<Group> {
    size_t f = file;
    size_t g = group;
    for (;;) {
      if (f >= files_.size()) return std::nullopt;
      if (open_->file != f) open_file(f);
      if (g < open_->reader->num_row_groups()) break;
      ++f;
      g = 0;
    }
    Group out{RecordBatch(schema_), f, g, open_->reader->num_row_groups()};
    const int64_t rows = open_->reader->num_rows(g);
    std::vector<ColumnChunkData> chunks = open_->reader->read_row_group(g, open_->leaves);
    size_t chunk = 0;
    for (size_t c = 0; c < open_->plans.size(); ++c) {
      const Plan& plan = open_->plans[c];
      Column& column = out.batch.mutable_column(c);
      if (plan.partition) {
        const auto& partitions = files_[f].partitions;
        const auto it =
            std::find_if(partitions.begin(), partitions.end(), [&](const auto& p) { return p.first == plan.name; });
        column.reserve(rows);
        for (int64_t r = 0; r < rows; ++r) {
          if (it->second) {
            column.append_string(*it->second);
          } else {
            column.append_null();
          }
        }
        continue;
      }
      ColumnChunkData data = std::move(chunks[chunk++]);
      append_chunk(data, plan, files_[f].path, &column);
    }
    return out;
  });
}

bool ParquetTableReader::next(RecordBatch* batch) {
  if (!next_.valid()) return false;
  std::optional<Group> group = next_.get();
  if (!group) {
    bytes_read_ = total_bytes_;
    return false;
  }
  while (last_file_ < group->file) done_files_bytes_ += files_[last_file_++].size;
  bytes_read_ = done_files_bytes_ + files_[group->file].size * (group->group + 1) / std::max<size_t>(1, group->groups);
  batch_file_row_ = group->file == batch_file_ ? batch_file_row_ + batch_rows_ : 0;
  batch_file_ = group->file;
  batch_rows_ = static_cast<uint64_t>(group->batch.num_rows());
  *batch = std::move(group->batch);
  next_ = launch(group->file, group->group + 1);
  return true;
}

}  // namespace salvo
