#include "io/parquet/parquet_source.h"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "core/cpu.h"
#include "core/error.h"
#include "core/utf8.h"
#include "io/dataset_paths.h"
#include "io/parquet/logical_values.h"
#include "io/parquet/parquet_file_reader.h"
#include "io/parquet/row_group_scheduler.h"

namespace salvo {
namespace {

using parquet::ColumnChunkData;
using parquet::LeafColumn;
using parquet::ParquetFileReader;
using parquet::RowGroupScheduler;
using parquet::ScheduledUnit;
using parquet::TaskSpawner;

// One input file and the partition values its folders name (Spark's `key=value` layout).
struct InputFile {
  std::filesystem::path path;
  std::vector<std::pair<std::string, std::optional<std::string>>> partitions;
  uint64_t size = 0;
};

std::vector<InputFile> list_inputs(const std::string& path) {
  std::vector<InputFile> files;
  namespace fs = std::filesystem;
  if (has_wildcard(path)) {
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

// The type a column's values are carried as: timestamps of any unit (and INT96, DATE) as
// microseconds, decimals as doubles (parquet/logical_values.h).
ValueType value_type_of(const LeafColumn& column) {
  using Kind = parquet::ValueMeaning::Kind;
  const parquet::ValueMeaning meaning = parquet::meaning_of(column.element);
  if (meaning.kind == Kind::kDecimal) return ValueType::kDouble;
  if (meaning.is_timestamp()) return ValueType::kTimestamp;
  switch (*column.element.type) {
    case parquet::Type::kBoolean: return ValueType::kBool;
    case parquet::Type::kInt32: return meaning.kind == Kind::kUnsigned ? ValueType::kInt64 : ValueType::kInt32;
    // A UINT64 column's values past int64 would wrap: carried as JSON numbers (exact in JSON Lines
    // and CSV output; Parquet output types them by their values, or by --column-types).
    case parquet::Type::kInt64:
      return meaning.kind == Kind::kUnsigned && column.list_depth() == 0 ? ValueType::kDynamic : ValueType::kInt64;
    case parquet::Type::kFloat: return ValueType::kFloat;
    case parquet::Type::kDouble: return ValueType::kDouble;
    case parquet::Type::kByteArray: return is_text_annotated(column.element) ? ValueType::kString : ValueType::kBinary;
    default: return ValueType::kBinary;
  }
}

bool is_numeric(ValueType type) {
  return type == ValueType::kBool || type == ValueType::kInt32 || type == ValueType::kInt64 ||
         type == ValueType::kFloat || type == ValueType::kDouble;
}

// "float", "list<list<int64>>": a column's type in messages.
std::string type_text(const LeafColumn& column) {
  std::string text;
  switch (value_type_of(column)) {
    case ValueType::kBool: text = "bool"; break;
    case ValueType::kInt32: text = "int32"; break;
    case ValueType::kInt64: text = "int64"; break;
    case ValueType::kFloat: text = "float"; break;
    case ValueType::kDouble: text = "double"; break;
    case ValueType::kString: text = "string"; break;
    case ValueType::kTimestamp: text = "timestamp"; break;
    case ValueType::kDynamic: text = "uint64"; break;
    default: text = "binary"; break;
  }
  for (int i = 0; i < column.list_depth(); ++i) text = "list<" + text + ">";
  return text;
}

// The column named `name` of `file`, or nullptr. Throws salvo::Error(kInvalidArgument) for a
// column salvo cannot read as one value (a struct, a map, a list of structs).
const LeafColumn* find_readable(const ParquetFileReader& file, const std::string& name) {
  const LeafColumn* column = file.find_column(name);
  if (column != nullptr && !column->unreadable.empty()) {
    throw Error(ErrorCode::kInvalidArgument, file.path().string() + ": column \"" + name + "\" is " +
                                                 column->unreadable + ", which salvo cannot read");
  }
  if (column == nullptr) {
    if (const std::string nested = file.nested_column(name); !nested.empty()) {
      throw Error(ErrorCode::kInvalidArgument, file.path().string() + ": column \"" + name + "\" is " + nested +
                                                   ", which salvo cannot read as one value");
    }
  }
  return column;
}

// Where a carried value comes from: a column of the file or a partition folder.
struct CarriedSource {
  std::string name;
  ValueType type = ValueType::kDynamic;
  int list_depth = 0;
  bool partition = false;
};

// One row group of one file: decoded by RowGroupScheduler's workers (each column chunk's pages
// in parallel), then cut into records by read().
class DecodedGroup final : public ScheduledUnit {
 public:
  // The first `text_columns` leaves are texts, checked for UTF-8 as their pages are decoded.
  DecodedGroup(std::shared_ptr<const ParquetFileReader> reader, size_t file, size_t group, std::vector<size_t> leaves,
               size_t text_columns)
      : reader_(std::move(reader)), group_(group), leaves_(std::move(leaves)), text_columns_(text_columns), file(file) {
    const auto& row_group = reader_->metadata().row_groups[group];
    rows = row_group.num_rows;
    for (size_t i = 0; i < reader_->num_row_groups(); ++i) file_rows += reader_->num_rows(i);
    for (size_t leaf : leaves_) {
      const LeafColumn& column = reader_->columns()[leaf];
      types.push_back(value_type_of(column));
      meanings.push_back(parquet::meaning_of(column.element));
      // What the column's pages decode to: its uncompressed pages, one view or number per value
      // (and the levels and offsets of lists), the compressed chunk while it is decoded.
      const auto& meta = row_group.columns[leaf].meta_data;
      int64_t values = rows;
      if (meta) {
        estimate_ += static_cast<uint64_t>(std::max<int64_t>(0, meta->total_uncompressed_size)) +
                     static_cast<uint64_t>(std::max<int64_t>(0, meta->total_compressed_size));
        if (column.list_depth() > 0) values = std::max(values, meta->num_values);
      }
      estimate_ += static_cast<uint64_t>(std::max<int64_t>(0, values)) *
                   ((*column.element.type == parquet::Type::kByteArray ? sizeof(std::string_view) + 1 : 9) +
                    (column.list_depth() > 0 ? 6 : 0));
    }
  }

  uint64_t estimated_bytes() const override { return estimate_; }

  void start(TaskSpawner& spawner) override {
    chunks_.resize(leaves_.size());
    pages_.resize(leaves_.size());
    for (size_t c = 0; c < leaves_.size(); ++c) {
      spawner.spawn([this, c](TaskSpawner& pages) {
        chunks_[c] = reader_->open_column(group_, leaves_[c], c < text_columns_);
        pages_[c].resize(chunks_[c]->page_count());
        for (size_t p = 0; p < pages_[c].size(); ++p) {
          pages.spawn([this, c, p](TaskSpawner&) { pages_[c][p] = chunks_[c]->decode_page(p); });
        }
      });
    }
  }

  void finish() override {
    columns.resize(leaves_.size());
    value_index_.resize(leaves_.size());
    for (size_t c = 0; c < leaves_.size(); ++c) {
      columns[c] = chunks_[c]->assemble(std::move(pages_[c]));
      // Where each slot's value is (a row's, or a list element's), for columns with nulls.
      const auto& defined = columns[c].defined;
      if (!defined.empty()) {
        auto& index = value_index_[c];
        index.resize(defined.size());
        uint32_t next = 0;
        for (size_t r = 0; r < defined.size(); ++r) {
          index[r] = defined[r] ? next : kNull;
          next += defined[r];
        }
      }
    }
    chunks_.clear();
    pages_.clear();
  }

  // The index of slot `slot`'s value in column `c` (a row of a flat column, an innermost element
  // of a list column), or SIZE_MAX for a null.
  size_t value_of(size_t c, size_t slot) const {
    if (value_index_[c].empty()) return slot;
    const uint32_t i = value_index_[c][slot];
    return i == kNull ? SIZE_MAX : i;
  }

 private:
  std::shared_ptr<const ParquetFileReader> reader_;
  size_t group_;
  std::vector<size_t> leaves_;
  size_t text_columns_;
  uint64_t estimate_ = 0;
  std::vector<std::unique_ptr<parquet::ColumnChunkPages>> chunks_;
  std::vector<std::vector<parquet::DecodedPage>> pages_;
  static constexpr uint32_t kNull = UINT32_MAX;
  std::vector<std::vector<uint32_t>> value_index_;  // per column with nulls: slot -> value or kNull

 public:
  size_t file;
  // The text and text pair columns (those the source reads), then the carried file columns in order.
  std::vector<ColumnChunkData> columns;
  std::vector<ValueType> types;  // of `columns` (of their elements, for lists)
  std::vector<parquet::ValueMeaning> meanings;  // of `columns`: what their physical values stand for
  int64_t rows = 0;
  int64_t file_rows = 0;  // rows of the whole file, for progress
  uint64_t first_row = 0;  // sliced sources: the index of its first row in the whole input
};

nlohmann::json to_json(const parquet::ColumnValues& values, size_t i, ValueType type, parquet::ValueMeaning meaning) {
  using Kind = parquet::ValueMeaning::Kind;
  switch (type) {
    case ValueType::kBool: return values.ints[i] != 0;
    case ValueType::kInt32: return values.ints[i];
    case ValueType::kInt64:
    case ValueType::kDynamic:  // UINT64 (see value_type_of)
      if (meaning.kind == Kind::kUnsigned && values.type == parquet::Type::kInt32) {
        return static_cast<uint32_t>(values.ints[i]);
      }
      if (meaning.kind == Kind::kUnsigned) return static_cast<uint64_t>(values.ints[i]);
      return values.ints[i];
    case ValueType::kTimestamp: {
      const auto micros = parquet::timestamp_micros(values, i, meaning.kind);
      return micros ? nlohmann::json(*micros) : nlohmann::json(nullptr);
    }
    case ValueType::kFloat:
    case ValueType::kDouble:
      if (meaning.kind == Kind::kDecimal) return parquet::decimal_value(values, i, meaning.scale);
      return values.doubles[i];
    case ValueType::kString: return std::string(values.bytes_at(i));
    default: {
      const std::string_view b = values.bytes_at(i);
      return nlohmann::json::binary(std::vector<uint8_t>(b.begin(), b.end()));
    }
  }
}

// The value of slot `slot` of column `c` (a flat column's row, a list's element) as JSON.
nlohmann::json slot_json(const DecodedGroup& group, size_t c, size_t slot) {
  const size_t i = group.value_of(c, slot);
  if (i == SIZE_MAX) return nullptr;
  return to_json(group.columns[c].values, i, group.types[c], group.meanings[c]);
}

// List `i` of depth `depth` of list column `c` as a JSON array (null for a null list).
nlohmann::json list_json(const DecodedGroup& group, size_t c, size_t depth, size_t i) {
  const auto& lists = group.columns[c].lists;
  const parquet::ListLevel& level = lists[depth];
  if (!level.valid.empty() && !level.valid[i]) return nullptr;
  nlohmann::json out = nlohmann::json::array();
  const uint32_t begin = level.offsets[i];
  const uint32_t end = level.offsets[i + 1];
  out.get_ref<nlohmann::json::array_t&>().reserve(end - begin);
  for (uint32_t k = begin; k < end; ++k) {
    out.push_back(depth + 1 < lists.size() ? list_json(group, c, depth + 1, k) : slot_json(group, c, k));
  }
  return out;
}

// Row `row` of column `c` as JSON.
nlohmann::json value_json(const DecodedGroup& group, size_t c, size_t row) {
  return group.columns[c].lists.empty() ? slot_json(group, c, row) : list_json(group, c, 0, row);
}

// Row `row` of numeric column `c` as flat numbers (lists of lists in row-major order).
void numbers_of(const DecodedGroup& group, size_t c, size_t row, NumericValue* out) {
  const ColumnChunkData& chunk = group.columns[c];
  // The slots of the row: a range at each depth, contiguous since lists hold their items in order.
  size_t begin = row;
  size_t end = row + 1;
  for (size_t depth = 0; depth < chunk.lists.size(); ++depth) {
    const parquet::ListLevel& level = chunk.lists[depth];
    if (!level.valid.empty()) {
      for (size_t i = begin; i < end; ++i) {
        if (level.valid[i]) continue;
        if (depth == 0) {
          out->null = true;  // the row's list
        } else {
          out->numeric = false;  // a list inside it
        }
        return;
      }
    }
    const size_t next_begin = level.offsets[begin];
    end = level.offsets[end];
    begin = next_begin;
  }
  if (!chunk.defined.empty()) {
    for (size_t i = begin; i < end; ++i) {
      if (chunk.defined[i]) continue;
      if (chunk.lists.empty()) {
        out->null = true;
      } else {
        out->numeric = false;  // a null element
      }
      return;
    }
  }
  if (begin == end) return;
  const size_t first = group.value_of(c, begin);  // the slots hold values first .. first + (end - begin)
  const parquet::ColumnValues& values = chunk.values;
  if (const parquet::ValueMeaning& m = group.meanings[c]; m.kind == parquet::ValueMeaning::Kind::kDecimal) {
    out->floats.resize(end - begin);
    for (size_t k = 0; k < end - begin; ++k) out->floats[k] = parquet::decimal_value(values, first + k, m.scale);
  } else if (values.type == parquet::Type::kFloat || values.type == parquet::Type::kDouble) {
    out->floats.assign(values.doubles.begin() + first, values.doubles.begin() + first + (end - begin));
  } else {
    out->ints.assign(values.ints.begin() + first, values.ints.begin() + first + (end - begin));
  }
}

int decode_threads(const SourceLimits& limits) {
  return limits.decode_threads > 0 ? limits.decode_threads : available_cores();
}

uint64_t read_ahead_bytes(const SourceLimits& limits) {
  if (limits.read_ahead_bytes > 0) return limits.read_ahead_bytes;
  return std::max<uint64_t>(uint64_t{256} << 20, static_cast<uint64_t>(decode_threads(limits)) * (uint64_t{128} << 20));
}

class ParquetSource : public RowSource {
 public:
  ParquetSource(const std::string& path, const FieldNames& fields, const SourceLimits& limits, const Slice& slice)
      : fields_(fields), limits_(limits), files_(list_inputs(path)), name_files_(!std::filesystem::is_regular_file(path)) {
    for (const auto& f : files_) total_bytes_ += f.size;
    if (!slice.whole()) plan_slice(slice);
    // The first file fixes the columns and their types; later files must match.
    open_file(0);
    const ParquetFileReader& first = *reader_;
    auto partition_of = [&](const std::string& name) {
      for (const auto& [key, value] : files_[0].partitions) {
        if (key == name) return true;
      }
      return false;
    };
    // The texts are the first columns read (no text: rows hold carried values only).
    size_t next = 0;
    if (!fields.text.empty()) {
      text_column(first, fields.text, "text");
      text_ = next++;
    }
    if (!fields.text_pair.empty()) {
      text_column(first, fields.text_pair, "text pair");
      pair_ = next++;
    }
    carried_first_ = next;
    auto carried = [&](const std::string& name, bool required) -> std::optional<CarriedSource> {
      if (const LeafColumn* c = find_readable(first, name)) {
        return CarriedSource{name, value_type_of(*c), c->list_depth(), false};
      }
      if (partition_of(name)) return CarriedSource{name, ValueType::kString, 0, true};
      if (required) throw missing_column(first, name, "a column --keep-columns can carry");
      return std::nullopt;
    };
    id_ = carried(fields.id, false);
    for (const auto& name : fields.passthrough) passthrough_.push_back(*carried(name, true));
    // Tensor inputs of numeric columns are handed over as numbers, without JSON.
    const size_t tensors = std::min(fields.tensor_inputs, passthrough_.size());
    tensor_first_ = passthrough_.size() - tensors;
    numeric_tensors_ = tensors > 0 && std::all_of(passthrough_.begin() + static_cast<std::ptrdiff_t>(tensor_first_),
                                                   passthrough_.end(), [](const CarriedSource& p) {
                                                     return !p.partition && is_numeric(p.type);
                                                   });
    check_file(first);
    scheduler_ = std::make_unique<RowGroupScheduler>(decode_threads(limits), read_ahead_bytes(limits),
                                                     [this] { return produce(); });
  }

  bool read(size_t max_records, std::vector<RawRecord>* out) override { return read_records(max_records, out, nullptr); }

  bool read_batch(size_t max_records, RawBatch* out) override {
    return read_records(max_records, &out->records, &out->buffers);
  }

  // The texts were checked for UTF-8 when their pages were decoded (a bad one is a record error).
  void parse(const RawRecord& record, InputRow* row) const override {
    row->index = record.index;
    row->line = record.line;
    row->error = record.error;
    if (record.decoded != nullptr) {
      from_decoded(*static_cast<const DecodedGroup*>(record.decoded), record.decoded_row, row);
    } else {
      row->id = record.id;
      row->passthrough = record.passthrough;
      row->text_pair = record.text_pair;
    }
    if (!row->error.empty()) return;
    if (record.borrowed.data() != nullptr) {
      row->borrowed_text = record.borrowed;
    } else {
      row->text = record.bytes;
    }
  }

  void consume(RawRecord&& record, InputRow* row) const override {
    row->index = record.index;
    row->line = record.line;
    row->error = std::move(record.error);
    if (record.decoded != nullptr) {
      from_decoded(*static_cast<const DecodedGroup*>(record.decoded), record.decoded_row, row);
    } else {
      row->id = std::move(record.id);
      row->passthrough = std::move(record.passthrough);
      row->text_pair = std::move(record.text_pair);
    }
    if (!row->error.empty()) return;
    if (record.borrowed.data() != nullptr) {
      row->borrowed_text = record.borrowed;
    } else {
      row->text = std::move(record.bytes);
    }
  }

  CarriedColumns carried_columns() const override {
    CarriedColumns columns;
    if (id_) columns.id = ColumnSpec{"id", id_->type, id_->list_depth};
    for (const auto& p : passthrough_) columns.passthrough.push_back({p.name, p.type, p.list_depth});
    return columns;
  }

  // A folder or glob's rows are named by their file and row in it ("in/part-1.parquet row 3"); one
  // file's by their record number ("record 3").
  std::string record_label(const InputRow& row) const override {
    if (!name_files_) return RowSource::record_label(row);
    std::lock_guard lock(file_runs_mutex_);
    const auto after = file_runs_.upper_bound(row.index);
    if (after == file_runs_.begin()) return RowSource::record_label(row);
    return files_[std::prev(after)->second].path.string() + " row " + std::to_string(row.line);
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
  static constexpr size_t kNone = SIZE_MAX;

  // Checks that `file` has a text column `name` (`what`: "text" or "text pair") and returns it.
  static const LeafColumn* text_column(const ParquetFileReader& file, const std::string& name, const char* what) {
    const LeafColumn* c = find_readable(file, name);
    if (c == nullptr) throw missing_column(file, name, "a string column");
    if (c->list_depth() > 0) {
      throw Error(ErrorCode::kInvalidArgument, file.path().string() + ": " + what + " column \"" + name +
                                                   "\" is a list (" + type_text(*c) + "), not a string column");
    }
    if (*c->element.type != parquet::Type::kByteArray) {
      throw Error(ErrorCode::kInvalidArgument, file.path().string() + ": " + what + " column \"" + name +
                                                   "\" is not a string or binary (BYTE_ARRAY) column (it is " +
                                                   type_text(*c) + ")");
    }
    return c;
  }

  // Slices split by row group: a group belongs to the slice its first row falls in, by the share
  // of the input's rows before it. Reads every file's footer once.
  void plan_slice(const Slice& slice) {
    sliced_ = true;
    uint64_t total_rows = 0;
    group_first_row_.resize(files_.size());
    for (size_t f = 0; f < files_.size(); ++f) {
      const ParquetFileReader footer(files_[f].path);
      for (size_t g = 0; g < footer.num_row_groups(); ++g) {
        group_first_row_[f].push_back(total_rows);
        total_rows += static_cast<uint64_t>(footer.num_rows(g));
      }
    }
    group_in_slice_.resize(files_.size());
    total_bytes_ = 0;
    for (size_t f = 0; f < files_.size(); ++f) {
      bool any = false;
      for (uint64_t first : group_first_row_[f]) {
        const bool mine = total_rows > 0 && first * slice.count / total_rows == slice.index;
        group_in_slice_[f].push_back(mine);
        any = any || mine;
      }
      if (any) total_bytes_ += files_[f].size;
    }
  }

  bool in_slice(size_t file, size_t group) const { return !sliced_ || group_in_slice_[file][group]; }

  void open_file(size_t index) {
    parquet::ReaderOptions options;
    options.buffer_pool = buffer_pool_;
    reader_ = std::make_shared<ParquetFileReader>(files_[index].path, options);
    reader_file_ = index;
  }

  // Checks that a file has the columns the first one had, with the same types, and notes which
  // of its leaves to read.
  void check_file(const ParquetFileReader& file) {
    leaves_.clear();
    if (text_ != kNone) leaves_.push_back(text_column(file, fields_.text, "text")->index);
    if (pair_ != kNone) leaves_.push_back(text_column(file, fields_.text_pair, "text pair")->index);
    auto require = [&](const CarriedSource& carried) {
      const LeafColumn* c = find_readable(file, carried.name);
      if (c == nullptr) {
        throw Error(ErrorCode::kInvalidArgument, file.path().string() + ": no column named \"" + carried.name +
                                                     "\" (other files of the input have it)");
      }
      if (value_type_of(*c) != carried.type || c->list_depth() != carried.list_depth) {
        throw Error(ErrorCode::kInvalidArgument, file.path().string() + ": column \"" + carried.name +
                                                     "\" has a different type than in " + files_[0].path.string());
      }
      leaves_.push_back(c->index);
    };
    if (id_ && !id_->partition) require(*id_);
    for (const auto& p : passthrough_) {
      if (!p.partition) require(p);
    }
  }

  // The scheduler's producer: the next row group of the input (opening files as it goes), or null.
  std::shared_ptr<ScheduledUnit> produce() {
    for (;;) {
      if (next_file_ >= files_.size()) return nullptr;
      if (reader_file_ != next_file_) {
        open_file(next_file_);
        check_file(*reader_);
      }
      while (next_group_ < reader_->num_row_groups() && !in_slice(next_file_, next_group_)) ++next_group_;
      if (next_group_ < reader_->num_row_groups()) break;
      ++next_file_;
      next_group_ = 0;
    }
    auto group = std::make_shared<DecodedGroup>(reader_, next_file_, next_group_, leaves_, carried_first_);
    if (sliced_) group->first_row = group_first_row_[next_file_][next_group_];
    ++next_group_;
    return group;
  }

  // Moves to the next decoded row group.
  bool advance() {
    std::shared_ptr<DecodedGroup> group = std::static_pointer_cast<DecodedGroup>(scheduler_->next());
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
    return true;
  }

  // Cuts records from the decoded row groups; with `buffers`, records borrow their text and the
  // row groups they come from are added to `buffers`.
  bool read_records(size_t max_records, std::vector<RawRecord>* out,
                    std::vector<std::shared_ptr<const void>>* buffers) {
    size_t produced = 0;
    const DecodedGroup* shared = nullptr;
    while (produced < max_records) {
      if (!current_ || row_ == current_->rows) {
        if (!advance()) return false;
        continue;
      }
      if (buffers != nullptr && shared != current_.get()) {
        buffers->push_back(current_);
        shared = current_.get();
      }
      out->emplace_back();
      make_record(&out->back(), buffers != nullptr);
      ++produced;
    }
    return true;
  }

  // The text of row `row` in column `c` (`what`: "text" or "text pair") in `out`, or why it
  // cannot be used.
  std::string text_of(const DecodedGroup& group, size_t c, size_t row, const char* what, std::string_view* out) const {
    const size_t i = group.value_of(c, row);
    if (i == SIZE_MAX) return std::string(what) + " is null";
    const parquet::ColumnValues& values = group.columns[c].values;
    *out = values.bytes_at(i);
    if (out->size() > limits_.max_record_bytes) {
      return std::string(what) + " of " + std::to_string(out->size()) + " bytes exceeds the limit of " +
             std::to_string(limits_.max_record_bytes);
    }
    const auto& invalid = values.invalid_utf8;
    const auto bad = std::lower_bound(invalid.begin(), invalid.end(), std::pair<size_t, size_t>(i, 0));
    if (bad != invalid.end() && bad->first == i) {
      return std::string(what) + " is not valid UTF-8 (byte " + std::to_string(bad->second) + ")";
    }
    return "";
  }

  void make_record(RawRecord* record, bool borrow) {
    record->index = sliced_ ? current_->first_row + static_cast<uint64_t>(row_) : next_index_++;
    record->line = record->index + 1;
    if (name_files_) {  // the row's number in its file, and where its file's rows start
      const uint64_t group_first = sliced_ ? current_->first_row - group_first_row_[current_->file][0]
                                           : static_cast<uint64_t>(file_rows_done_);
      record->line = group_first + static_cast<uint64_t>(row_) + 1;
      if (current_->file != labelled_file_) {
        std::lock_guard lock(file_runs_mutex_);
        file_runs_[record->index] = current_->file;
        labelled_file_ = current_->file;
      }
    }
    const size_t row = static_cast<size_t>(row_++);
    std::string_view text;
    if (text_ != kNone) record->error = text_of(*current_, text_, row, "text", &text);
    std::string_view pair;
    if (pair_ != kNone && record->error.empty()) record->error = text_of(*current_, pair_, row, "text pair", &pair);
    if (record->error.empty() && text_ != kNone) {
      if (borrow) {
        // A view with a null pointer reads as "not borrowed": an empty value gets a real one.
        record->borrowed = text.data() != nullptr ? text : std::string_view("", 0);
      } else {
        record->bytes.assign(text);
      }
    }
    if (borrow) {
      // parse() builds the carried values (and copies the pair) on its own thread from the row
      // group the batch holds.
      record->decoded = current_.get();
      record->decoded_row = row;
    } else {
      if (record->error.empty()) record->text_pair.assign(pair);
      InputRow values;
      carried_values(*current_, row, &values, false);
      record->id = std::move(values.id);
      record->passthrough = std::move(values.passthrough);
    }
  }

  // What parse() takes from a decoded row group: the carried values and the text pair.
  void from_decoded(const DecodedGroup& group, size_t row, InputRow* out) const {
    carried_values(group, row, out, true);
    if (pair_ != kNone && out->error.empty()) {
      std::string_view pair;
      text_of(group, pair_, row, "text pair", &pair);
      out->text_pair.assign(pair);
    }
  }

  // The id and passthrough values of row `row` of a decoded row group; with `numbers`, tensor
  // inputs of numeric columns as numbers (InputRow::tensors).
  void carried_values(const DecodedGroup& group, size_t row, InputRow* out, bool numbers) const {
    const auto& partitions = files_[group.file].partitions;
    auto partition_value = [&](const std::string& name) -> nlohmann::json {
      for (const auto& [key, value] : partitions) {
        if (key == name) return value ? nlohmann::json(*value) : nlohmann::json();
      }
      return nullptr;
    };
    size_t column = carried_first_;
    if (id_) out->id = id_->partition ? partition_value(id_->name) : value_json(group, column++, row);
    if (passthrough_.empty()) return;
    out->passthrough.reserve(passthrough_.size());
    const bool tensors = numbers && numeric_tensors_;
    if (tensors) out->tensors.resize(passthrough_.size() - tensor_first_);
    for (size_t p = 0; p < passthrough_.size(); ++p) {
      const CarriedSource& source = passthrough_[p];
      if (source.partition) {
        out->passthrough.push_back(partition_value(source.name));
      } else if (tensors && p >= tensor_first_) {
        numbers_of(group, column++, row, &out->tensors[p - tensor_first_]);
        out->passthrough.emplace_back();
      } else {
        out->passthrough.push_back(value_json(group, column++, row));
      }
    }
  }

  FieldNames fields_;
  SourceLimits limits_;
  // Recycles the large chunk and page buffers of row groups once nothing points into them.
  std::shared_ptr<parquet::PageBufferPool> buffer_pool_ =
      std::make_shared<parquet::PageBufferPool>(static_cast<size_t>(read_ahead_bytes(limits_)));
  std::vector<InputFile> files_;
  uint64_t total_bytes_ = 0;
  // Where each read column is among a decoded group's columns.
  size_t text_ = kNone;
  size_t pair_ = kNone;
  size_t carried_first_ = 0;
  std::optional<CarriedSource> id_;
  std::vector<CarriedSource> passthrough_;
  size_t tensor_first_ = 0;       // the passthrough columns from here on are tensor inputs
  bool numeric_tensors_ = false;  // and all of them numeric columns, handed over as numbers

  // Used by the producer (on the thread that calls read()).
  std::shared_ptr<ParquetFileReader> reader_;
  size_t reader_file_ = SIZE_MAX;
  std::vector<size_t> leaves_;
  size_t next_file_ = 0;
  size_t next_group_ = 0;

  // Used by read().
  std::shared_ptr<DecodedGroup> current_;
  int64_t row_ = 0;
  uint64_t next_index_ = 0;
  uint64_t done_bytes_ = 0;
  bool sliced_ = false;
  std::vector<std::vector<uint64_t>> group_first_row_;  // sliced: [file][group] -> its first row's index
  std::vector<std::vector<bool>> group_in_slice_;       // sliced: [file][group] -> read it
  int64_t file_rows_done_ = 0;
  // Folders and globs: the index of the first record of each run of one file's records -> the file,
  // for record_label() (on the parsing threads).
  const bool name_files_;
  mutable std::mutex file_runs_mutex_;
  std::map<uint64_t, size_t> file_runs_;
  size_t labelled_file_ = SIZE_MAX;

  // Last, so that it stops its workers before anything they use goes.
  std::unique_ptr<RowGroupScheduler> scheduler_;
};

}  // namespace

std::unique_ptr<RowSource> open_parquet_source(const std::string& path, const FieldNames& fields,
                                               const SourceLimits& limits, const Slice& slice) {
  return std::make_unique<ParquetSource>(path, fields, limits, slice);
}

}  // namespace salvo
