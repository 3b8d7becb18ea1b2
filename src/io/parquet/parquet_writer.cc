#include "io/parquet/parquet_writer.h"

#include <algorithm>
#include <deque>
#include <cstring>
#include <unordered_map>

#include "core/cpu.h"
#include "core/error.h"
#include "io/compression.h"
#include "io/parquet/parquet_encoder.h"
#include "io/parquet/thrift_compact.h"

namespace salvo {
namespace {

constexpr std::string_view kMagic = "PAR1";

parquet::Type physical_type(ParquetValueKind kind) {
  switch (kind) {
    case ParquetValueKind::kBoolean:
      return parquet::Type::kBoolean;
    case ParquetValueKind::kInt32:
      return parquet::Type::kInt32;
    case ParquetValueKind::kInt64:
      return parquet::Type::kInt64;
    case ParquetValueKind::kFloat:
      return parquet::Type::kFloat;
    case ParquetValueKind::kDouble:
      return parquet::Type::kDouble;
    case ParquetValueKind::kString:
    case ParquetValueKind::kBinary:
      return parquet::Type::kByteArray;
  }
  return parquet::Type::kByteArray;
}

size_t fixed_width(ParquetValueKind kind) {
  switch (kind) {
    case ParquetValueKind::kInt32:
    case ParquetValueKind::kFloat:
      return 4;
    case ParquetValueKind::kInt64:
    case ParquetValueKind::kDouble:
      return 8;
    default:
      return 0;
  }
}

bool is_byte_array(ParquetValueKind kind) {
  return kind == ParquetValueKind::kString || kind == ParquetValueKind::kBinary;
}

parquet::SchemaElement leaf_element(const std::string& name, ParquetValueKind kind, bool timestamp) {
  parquet::SchemaElement e;
  e.type = physical_type(kind);
  e.repetition_type = parquet::FieldRepetitionType::kOptional;
  e.name = name;
  if (kind == ParquetValueKind::kString) {
    e.converted_type = parquet::ConvertedType::kUtf8;
    e.logical_type = parquet::LogicalType{parquet::LogicalType::Kind::kString};
  }
  if (timestamp && kind == ParquetValueKind::kInt64) {
    e.converted_type = parquet::ConvertedType::kTimestampMicros;
    parquet::LogicalType t;
    t.kind = parquet::LogicalType::Kind::kTimestamp;
    t.adjusted_to_utc = true;
    t.unit = parquet::LogicalType::TimeUnit::kMicros;
    e.logical_type = t;
  }
  return e;
}

// Compresses one page into `out`, whose capacity is reused.
void compress_page(parquet::CompressionCodec codec, std::string_view in, std::string* out) {
  switch (codec) {
    case parquet::CompressionCodec::kUncompressed:
      out->assign(in);
      return;
    case parquet::CompressionCodec::kSnappy:
      compress_into(Compression::kSnappy, in, out);
      return;
    case parquet::CompressionCodec::kGzip:
      compress_into(Compression::kGzip, in, out);
      return;
    case parquet::CompressionCodec::kZstd:
      compress_into(Compression::kZstd, in, out);
      return;
    case parquet::CompressionCodec::kLz4Raw:
      compress_into(Compression::kLz4Raw, in, out);
      return;
    default:
      throw Error(ErrorCode::kInternal, std::string("the Parquet writer has no ") +
                                            parquet::codec_name(codec) + " codec");
  }
}

// Page buffers kept for reuse: a fresh megabyte-sized buffer costs the kernel a
// page fault per 4 KiB, which was a quarter of the writer's time.
constexpr size_t kMaxSpareBuffers = 1024;

}  // namespace

ParquetColumnBuffer::ParquetColumnBuffer(ParquetColumnSpec spec) : spec_(std::move(spec)) {}

void ParquetColumnBuffer::add_null() {
  if (leveled_) {
    definition_.push_back(0);
    repetition_.push_back(0);
    end_leveled_row();
    return;
  }
  if (spec_.list) {
    list_sizes_.push_back(-1);
  } else {
    defined_.push_back(0);
  }
  ++rows_;
}

void ParquetColumnBuffer::add_bool(bool value) {
  defined_.push_back(1);
  bools_.push_back(value ? 1 : 0);
  ++rows_;
}

void ParquetColumnBuffer::add_int32(int32_t value) {
  defined_.push_back(1);
  append_plain(value, &fixed_);
  ++rows_;
}

void ParquetColumnBuffer::add_int64(int64_t value) {
  defined_.push_back(1);
  append_plain(value, &fixed_);
  ++rows_;
}

void ParquetColumnBuffer::add_float(float value) {
  defined_.push_back(1);
  append_plain(value, &fixed_);
  ++rows_;
}

void ParquetColumnBuffer::add_double(double value) {
  defined_.push_back(1);
  append_plain(value, &fixed_);
  ++rows_;
}

void ParquetColumnBuffer::add_bytes(std::string_view value) {
  defined_.push_back(1);
  bytes_.append(value);
  ends_.push_back(bytes_.size());
  ++rows_;
}

void ParquetColumnBuffer::add_list(std::span<const float> values) {
  fixed_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
  add_list_row(values.size());
}

void ParquetColumnBuffer::add_list(std::span<const int32_t> values) {
  fixed_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
  add_list_row(values.size());
}

void ParquetColumnBuffer::add_list(std::span<const int64_t> values) {
  fixed_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
  add_list_row(values.size());
}

void ParquetColumnBuffer::add_list(std::span<const double> values) {
  fixed_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
  add_list_row(values.size());
}

void ParquetColumnBuffer::add_list(std::span<const std::string> values) {
  for (const auto& v : values) {
    bytes_.append(v);
    ends_.push_back(bytes_.size());
  }
  add_list_row(values.size());
}

void ParquetColumnBuffer::add_list_row(size_t n) {
  if (!leveled_) {
    list_sizes_.push_back(static_cast<int32_t>(n));
    ++rows_;
    return;
  }
  // A list of values (depth 1): its size says its levels.
  const auto value = static_cast<uint8_t>(max_definition_level());
  if (n == 0) {
    definition_.push_back(1);
    repetition_.push_back(0);
  }
  for (size_t i = 0; i < n; ++i) {
    definition_.push_back(value);
    repetition_.push_back(i == 0 ? 0 : 1);
  }
  end_leveled_row();
}

size_t ParquetColumnBuffer::value_count() const {
  if (const size_t width = fixed_width(spec_.kind)) return fixed_.size() / width;
  return is_byte_array(spec_.kind) ? ends_.size() : bools_.size();
}

void ParquetColumnBuffer::switch_to_levels() {
  if (leveled_) return;
  leveled_ = true;
  // The rows so far were lists of values given by their sizes (depth 1).
  std::vector<int32_t> sizes = std::move(list_sizes_);
  list_sizes_.clear();
  rows_ = 0;
  size_t values = 0;
  for (int32_t n : sizes) {
    if (n < 0) {
      definition_.push_back(0);
      repetition_.push_back(0);
    } else {
      if (n == 0) {
        definition_.push_back(1);
        repetition_.push_back(0);
      }
      for (int32_t i = 0; i < n; ++i) {
        definition_.push_back(static_cast<uint8_t>(max_definition_level()));
        repetition_.push_back(i == 0 ? 0 : 1);
      }
      values += static_cast<size_t>(n);
    }
    level_ends_.push_back(definition_.size());
    value_ends_.push_back(values);
    ++rows_;
  }
}

void ParquetColumnBuffer::end_leveled_row() {
  level_ends_.push_back(definition_.size());
  value_ends_.push_back(value_count());
  ++rows_;
}

void ParquetColumnBuffer::add_levels(std::span<const uint8_t> definition, std::span<const uint8_t> repetition) {
  switch_to_levels();
  definition_.insert(definition_.end(), definition.begin(), definition.end());
  repetition_.insert(repetition_.end(), repetition.begin(), repetition.end());
  end_leveled_row();
}

void ParquetColumnBuffer::add_element(bool value) { bools_.push_back(value ? 1 : 0); }
void ParquetColumnBuffer::add_element(int32_t value) { append_plain(value, &fixed_); }
void ParquetColumnBuffer::add_element(int64_t value) { append_plain(value, &fixed_); }
void ParquetColumnBuffer::add_element(float value) { append_plain(value, &fixed_); }
void ParquetColumnBuffer::add_element(double value) { append_plain(value, &fixed_); }

void ParquetColumnBuffer::add_element(std::string_view value) {
  bytes_.append(value);
  ends_.push_back(bytes_.size());
}

size_t ParquetColumnBuffer::buffered_bytes() const {
  // Levels encode to a few bytes per list row (runs) and a bit per scalar row.
  return fixed_.size() + bools_.size() / 8 + bytes_.size() + 4 * ends_.size() + defined_.size() / 8 +
         4 * list_sizes_.size() + definition_.size() / 2;
}

void ParquetColumnBuffer::clear() {
  rows_ = 0;
  defined_.clear();
  list_sizes_.clear();
  fixed_.clear();
  bools_.clear();
  bytes_.clear();
  ends_.clear();
  leveled_ = false;
  definition_.clear();
  repetition_.clear();
  level_ends_.clear();
  value_ends_.clear();
}

parquet::CompressionCodec parse_parquet_codec(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n.empty() || n == "snappy") return parquet::CompressionCodec::kSnappy;
  if (n == "none" || n == "uncompressed") return parquet::CompressionCodec::kUncompressed;
  if (n == "gzip") return parquet::CompressionCodec::kGzip;
  if (n == "zstd") return parquet::CompressionCodec::kZstd;
  if (n == "lz4" || n == "lz4_raw") return parquet::CompressionCodec::kLz4Raw;
  throw Error(ErrorCode::kInvalidArgument, "unknown Parquet compression \"" + name +
                                               "\" (expected none, snappy, gzip, zstd or lz4_raw)");
}

std::vector<parquet::SchemaElement> parquet_schema_for(
    const std::vector<ParquetColumnSpec>& columns) {
  std::vector<parquet::SchemaElement> schema;
  parquet::SchemaElement root;
  root.name = "schema";
  root.num_children = static_cast<int32_t>(columns.size());
  schema.push_back(root);
  for (const auto& column : columns) {
    if (!column.list) {
      schema.push_back(leaf_element(column.name, column.kind, column.timestamp));
      continue;
    }
    for (int depth = 0; depth < column.list_depth; ++depth) {
      parquet::SchemaElement group;
      group.repetition_type = parquet::FieldRepetitionType::kOptional;
      group.name = depth == 0 ? column.name : "element";
      group.num_children = 1;
      group.converted_type = parquet::ConvertedType::kList;
      group.logical_type = parquet::LogicalType{parquet::LogicalType::Kind::kList};
      schema.push_back(group);
      parquet::SchemaElement repeated;
      repeated.repetition_type = parquet::FieldRepetitionType::kRepeated;
      repeated.name = "list";
      repeated.num_children = 1;
      schema.push_back(repeated);
    }
    schema.push_back(leaf_element("element", column.kind, column.timestamp));
  }
  return schema;
}

ParquetFileWriter::ParquetFileWriter(const std::filesystem::path& path, ParquetWriteOptions options)
    : options_(std::move(options)), file_(path) {
  metadata_.version = 2;  // RLE_DICTIONARY data pages are a format 2 feature
  metadata_.created_by = "salvo version 0.1.0";
  metadata_.key_value_metadata = options_.key_value_metadata;
  write(kMagic);
}

std::string ParquetFileWriter::take_buffer() {
  std::lock_guard lock(spare_mutex_);
  if (spare_.empty()) return {};
  std::string buffer = std::move(spare_.back());
  spare_.pop_back();
  return buffer;
}

void ParquetFileWriter::give_back(std::string&& buffer) {
  if (buffer.capacity() < 4096) return;
  buffer.clear();
  std::lock_guard lock(spare_mutex_);
  if (spare_.size() < kMaxSpareBuffers) spare_.push_back(std::move(buffer));
}

void ParquetFileWriter::write(std::string_view bytes) {
  file_.write(bytes);
  offset_ += bytes.size();
}

void ParquetFileWriter::write_row_group(std::span<ParquetColumnBuffer> buffers) {
  const size_t rows = buffers.empty() ? 0 : buffers[0].rows();
  if (rows == 0) return;
  if (columns_.empty()) {
    for (const auto& b : buffers) columns_.push_back(b.spec());
  }
  if (buffers.size() != columns_.size()) {
    throw Error(ErrorCode::kInternal, "row group of " + std::to_string(buffers.size()) +
                                          " columns in a file of " +
                                          std::to_string(columns_.size()));
  }
  for (size_t i = 0; i < buffers.size(); ++i) {
    const auto& b = buffers[i];
    if (b.spec().name != columns_[i].name || b.spec().kind != columns_[i].kind ||
        b.spec().list != columns_[i].list || (b.spec().list && b.spec().list_depth != columns_[i].list_depth)) {
      throw Error(ErrorCode::kInternal,
                  "column " + b.spec().name + " changed its type between row groups");
    }
    if (b.rows() != rows) {
      throw Error(ErrorCode::kInternal, "column " + b.spec().name + " has " +
                                            std::to_string(b.rows()) + " rows in a row group of " +
                                            std::to_string(rows));
    }
  }
  const bool compressed = options_.codec != parquet::CompressionCodec::kUncompressed;
  // Pages compress on up to this many threads at once while the next is encoded.
  const size_t window = static_cast<size_t>(std::max(1, options_.threads > 0 ? options_.threads : available_cores()));
  parquet::RowGroup group;
  group.file_offset = static_cast<int64_t>(offset_);
  group.ordinal = static_cast<int16_t>(metadata_.row_groups.size());
  group.num_rows = static_cast<int64_t>(rows);
  int64_t compressed_total = 0;
  for (auto& buffer : buffers) {
    parquet::ColumnChunk chunk;
    chunk.file_offset = static_cast<int64_t>(offset_);
    parquet::ColumnMetaData meta;
    bool data_page_seen = false;
    auto write_page = [&](EncodedPage page) {
      if (page.header.type == parquet::PageType::kDictionaryPage) {
        meta.dictionary_page_offset = static_cast<int64_t>(offset_);
      } else if (!data_page_seen) {
        meta.data_page_offset = static_cast<int64_t>(offset_);
        data_page_seen = true;
      }
      const std::string& stored = compressed ? page.compressed : page.body;
      page.header.compressed_page_size = static_cast<int32_t>(stored.size());
      ThriftCompactWriter header;
      parquet::encode(header, page.header);
      write(header.data());
      write(stored);
      meta.total_uncompressed_size += static_cast<int64_t>(header.data().size()) + page.header.uncompressed_page_size;
      meta.total_compressed_size += static_cast<int64_t>(header.data().size() + stored.size());
      give_back(std::move(page.compressed));
      give_back(std::move(page.body));
    };
    std::deque<std::future<EncodedPage>> compressing;
    auto write_until = [&](size_t left) {
      while (compressing.size() > left) {
        write_page(compressing.front().get());
        compressing.pop_front();
      }
    };
    auto compress = [this](EncodedPage page) {
      page.compressed = take_buffer();
      compress_page(options_.codec, page.body, &page.compressed);
      give_back(std::move(page.body));  // the uncompressed copy is no longer needed
      return page;
    };
    encode_column(buffer, &meta, [&](EncodedPage&& page) {
      if (!compressed) {
        write_page(std::move(page));
      } else if (window == 1) {
        write_page(compress(std::move(page)));
      } else {
        compressing.push_back(std::async(std::launch::async, compress, std::move(page)));
        write_until(window - 1);
      }
    });
    write_until(0);
    buffer.clear();
    group.total_byte_size += meta.total_uncompressed_size;
    compressed_total += meta.total_compressed_size;
    chunk.meta_data = std::move(meta);
    group.columns.push_back(std::move(chunk));
  }
  group.total_compressed_size = compressed_total;
  metadata_.row_groups.push_back(std::move(group));
  metadata_.num_rows += static_cast<int64_t>(rows);
}

void ParquetFileWriter::encode_column(const ParquetColumnBuffer& b, parquet::ColumnMetaData* out,
                                      const std::function<void(EncodedPage&&)>& emit) {
  const ParquetColumnSpec& spec = b.spec();
  const uint32_t max_def = b.max_definition_level();
  const uint32_t max_rep = b.max_repetition_level();
  const size_t rows = b.rows();
  const size_t width = fixed_width(spec.kind);

  parquet::ColumnMetaData& meta = *out;
  meta.type = physical_type(spec.kind);
  meta.path_in_schema = {spec.name};
  for (int depth = 0; spec.list && depth < spec.list_depth; ++depth) {
    meta.path_in_schema.push_back("list");
    meta.path_in_schema.push_back("element");
  }
  meta.codec = options_.codec;

  auto value_view = [&](size_t i) {
    const size_t begin = i ? b.ends_[i - 1] : 0;
    return std::string_view(b.bytes_).substr(begin, b.ends_[i] - begin);
  };
  auto add_page = [&](parquet::PageHeader header, std::string body) {
    header.uncompressed_page_size = static_cast<int32_t>(body.size());
    emit(EncodedPage{std::move(header), std::move(body), {}});
  };

  // Dictionary for byte arrays while it stays small; PLAIN otherwise.
  std::vector<uint32_t> indices;
  bool dictionary = false;
  if (is_byte_array(spec.kind) && !b.ends_.empty()) {
    std::unordered_map<std::string_view, uint32_t> ids;
    std::string dictionary_page = take_buffer();
    indices.resize(b.ends_.size());
    bool fits = true;
    for (size_t i = 0; i < b.ends_.size(); ++i) {
      auto [it, inserted] = ids.try_emplace(value_view(i), static_cast<uint32_t>(ids.size()));
      if (inserted) {
        append_plain_bytes(it->first, &dictionary_page);
        if (dictionary_page.size() > options_.dictionary_max_bytes) {
          fits = false;
          break;
        }
      }
      indices[i] = it->second;
    }
    if (fits) {
      dictionary = true;
      parquet::PageHeader header;
      header.type = parquet::PageType::kDictionaryPage;
      header.dictionary_page_header = parquet::DictionaryPageHeader{
          static_cast<int32_t>(ids.size()), parquet::Encoding::kPlain, std::nullopt};
      add_page(std::move(header), std::move(dictionary_page));
    } else {
      give_back(std::move(dictionary_page));
      indices.clear();
    }
  }
  const int index_width = dictionary
                              ? std::max(1, bit_width_for(static_cast<uint32_t>(
                                                *std::max_element(indices.begin(), indices.end()))))
                              : 0;

  // Estimated encoded bytes of values [begin, end), to cut pages near
  // options_.page_bytes.
  auto value_bytes = [&](size_t begin, size_t end) -> size_t {
    if (dictionary) return (end - begin) * index_width / 8;
    if (width) return (end - begin) * width;
    if (is_byte_array(spec.kind)) {
      return (end > begin ? b.ends_[end - 1] - (begin ? b.ends_[begin - 1] : 0) : 0) +
             4 * (end - begin);
    }
    return (end - begin) / 8;
  };
  // Levels and values of row r: a scalar row is one level; a list row one per
  // element, or one for an empty or null list.
  std::vector<LevelRun> runs;
  auto row_levels = [&](size_t r) -> size_t {
    if (b.leveled_) return b.level_ends_[r] - (r ? b.level_ends_[r - 1] : 0);
    return spec.list ? static_cast<size_t>(std::max<int32_t>(1, b.list_sizes_[r])) : 1;
  };
  auto row_values = [&](size_t r) -> size_t {
    if (b.leveled_) return b.value_ends_[r] - (r ? b.value_ends_[r - 1] : 0);
    return spec.list ? static_cast<size_t>(std::max<int32_t>(0, b.list_sizes_[r])) : b.defined_[r];
  };
  // Runs of levels given one by one.
  auto level_runs = [&](const std::vector<uint8_t>& levels, size_t begin, size_t end) {
    runs.clear();
    for (size_t i = begin; i < end; ++i) {
      if (!runs.empty() && runs.back().value == levels[i]) {
        ++runs.back().count;
      } else {
        runs.push_back({levels[i], 1});
      }
    }
  };

  int64_t levels_total = 0;
  int64_t nulls = 0;
  size_t row = 0;
  size_t value = 0;
  // Pages end at row boundaries, so no row spans two pages.
  while (row < rows) {
    size_t row_end = row;
    size_t value_end = value;
    size_t levels = 0;
    do {
      levels += row_levels(row_end);
      value_end += row_values(row_end);
      ++row_end;
    } while (row_end < rows && value_bytes(value, value_end) + (row_end - row) / 4 < options_.page_bytes);

    std::string page = take_buffer();
    page.reserve(value_bytes(value, value_end) + 8 * (row_end - row) + 64);
    if (b.leveled_) {
      const size_t first = row ? b.level_ends_[row - 1] : 0;
      level_runs(b.repetition_, first, b.level_ends_[row_end - 1]);
      append_levels_v1_runs(runs, max_rep, &page);
      level_runs(b.definition_, first, b.level_ends_[row_end - 1]);
      append_levels_v1_runs(runs, max_def, &page);
    } else if (spec.list) {
      // Repetition: 0 starts a row, 1 repeats its list. Definition: 3 an
      // element, 1 an empty list, 0 a null list.
      runs.clear();
      for (size_t r = row; r < row_end; ++r) {
        const int32_t n = b.list_sizes_[r];
        runs.push_back({0, 1});
        if (n > 1) runs.push_back({1, static_cast<uint64_t>(n - 1)});
      }
      append_levels_v1_runs(runs, max_rep, &page);
      runs.clear();
      for (size_t r = row; r < row_end; ++r) {
        const int32_t n = b.list_sizes_[r];
        if (n > 0) {
          runs.push_back({max_def, static_cast<uint64_t>(n)});
        } else {
          runs.push_back({n == 0 ? 1u : 0u, 1});
        }
      }
      append_levels_v1_runs(runs, max_def, &page);
    } else {
      runs.clear();
      for (size_t r = row; r < row_end; ++r) {
        if (!runs.empty() && runs.back().value == b.defined_[r]) {
          ++runs.back().count;
        } else {
          runs.push_back({b.defined_[r], 1});
        }
      }
      append_levels_v1_runs(runs, max_def, &page);
      nulls += static_cast<int64_t>((row_end - row) - (value_end - value));
    }
    if (dictionary) {
      page.push_back(static_cast<char>(index_width));
      append_rle_hybrid(std::span<const uint32_t>(indices).subspan(value, value_end - value),
                        index_width, &page);
    } else if (width) {
      page.append(b.fixed_.data() + value * width, (value_end - value) * width);
    } else if (is_byte_array(spec.kind)) {
      for (size_t i = value; i < value_end; ++i) append_plain_bytes(value_view(i), &page);
    } else {
      append_plain_bools(std::span<const uint8_t>(b.bools_).subspan(value, value_end - value),
                         &page);
    }

    parquet::PageHeader header;
    header.type = parquet::PageType::kDataPage;
    parquet::DataPageHeader data;
    data.num_values = static_cast<int32_t>(levels);
    data.encoding = dictionary ? parquet::Encoding::kRleDictionary : parquet::Encoding::kPlain;
    data.definition_level_encoding = parquet::Encoding::kRle;
    data.repetition_level_encoding = parquet::Encoding::kRle;
    header.data_page_header = data;
    add_page(std::move(header), std::move(page));
    levels_total += static_cast<int64_t>(levels);
    row = row_end;
    value = value_end;
  }

  meta.num_values = levels_total;
  meta.encodings = {parquet::Encoding::kPlain, parquet::Encoding::kRle};
  if (dictionary) meta.encodings.push_back(parquet::Encoding::kRleDictionary);
  if (!spec.list)
    meta.statistics = parquet::Statistics{nulls, std::nullopt, std::nullopt, std::nullopt};
}

void ParquetFileWriter::finish(const std::vector<ParquetColumnSpec>& columns) {
  if (!metadata_.row_groups.empty() && columns.size() != columns_.size()) {
    throw Error(ErrorCode::kInternal, "footer schema differs from the row groups' columns");
  }
  metadata_.schema = parquet_schema_for(columns);
  ThriftCompactWriter out;
  parquet::encode(out, metadata_);
  const std::string& footer = out.data();
  write(footer);
  std::string tail;
  append_plain(static_cast<uint32_t>(footer.size()), &tail);
  tail.append(kMagic);
  write(tail);
  file_.finish();
}

}  // namespace salvo
