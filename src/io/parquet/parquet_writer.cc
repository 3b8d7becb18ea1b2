#include "io/parquet/parquet_writer.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

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

// Compresses one page; `out` is reused across pages.
void compress_page(parquet::CompressionCodec codec, std::string_view in, std::string* out) {
  switch (codec) {
    case parquet::CompressionCodec::kUncompressed:
      out->assign(in);
      return;
    case parquet::CompressionCodec::kSnappy:
      *out = compress(Compression::kSnappy, in);
      return;
    case parquet::CompressionCodec::kGzip:
      *out = compress(Compression::kGzip, in);
      return;
    case parquet::CompressionCodec::kZstd:
      *out = compress(Compression::kZstd, in);
      return;
    case parquet::CompressionCodec::kLz4Raw:
      *out = compress(Compression::kLz4Raw, in);
      return;
    default:
      throw Error(ErrorCode::kInternal, std::string("the Parquet writer has no ") +
                                            parquet::codec_name(codec) + " codec");
  }
}

}  // namespace

ParquetColumnBuffer::ParquetColumnBuffer(ParquetColumnSpec spec) : spec_(std::move(spec)) {}

void ParquetColumnBuffer::add_null() {
  def_levels_.push_back(0);
  if (spec_.list) rep_levels_.push_back(0);
  ++rows_;
}

void ParquetColumnBuffer::add_bool(bool value) {
  def_levels_.push_back(1);
  bools_.push_back(value ? 1 : 0);
  ++rows_;
}

void ParquetColumnBuffer::add_int32(int32_t value) {
  def_levels_.push_back(1);
  append_plain(value, &fixed_);
  ++rows_;
}

void ParquetColumnBuffer::add_int64(int64_t value) {
  def_levels_.push_back(1);
  append_plain(value, &fixed_);
  ++rows_;
}

void ParquetColumnBuffer::add_float(float value) {
  def_levels_.push_back(1);
  append_plain(value, &fixed_);
  ++rows_;
}

void ParquetColumnBuffer::add_double(double value) {
  def_levels_.push_back(1);
  append_plain(value, &fixed_);
  ++rows_;
}

void ParquetColumnBuffer::add_bytes(std::string_view value) {
  def_levels_.push_back(1);
  bytes_.append(value);
  ends_.push_back(bytes_.size());
  ++rows_;
}

// Levels of a list row: an empty list is defined to the group (1); each element
// is defined to the value (3), the first starting the row (repetition 0), the
// rest repeating the list (1).
void ParquetColumnBuffer::begin_list(size_t size) {
  ++rows_;
  if (size == 0) {
    def_levels_.push_back(1);
    rep_levels_.push_back(0);
    return;
  }
  def_levels_.insert(def_levels_.end(), size, 3);
  rep_levels_.push_back(0);
  rep_levels_.insert(rep_levels_.end(), size - 1, 1);
}

void ParquetColumnBuffer::add_list(std::span<const float> values) {
  begin_list(values.size());
  fixed_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
}

void ParquetColumnBuffer::add_list(std::span<const int32_t> values) {
  begin_list(values.size());
  fixed_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
}

void ParquetColumnBuffer::add_list(std::span<const int64_t> values) {
  begin_list(values.size());
  fixed_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
}

void ParquetColumnBuffer::add_list(std::span<const double> values) {
  begin_list(values.size());
  fixed_.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
}

void ParquetColumnBuffer::add_list(std::span<const std::string> values) {
  begin_list(values.size());
  for (const auto& v : values) {
    bytes_.append(v);
    ends_.push_back(bytes_.size());
  }
}

size_t ParquetColumnBuffer::buffered_bytes() const {
  return fixed_.size() + bools_.size() / 8 + bytes_.size() + 4 * ends_.size() +
         def_levels_.size() / 4 + rep_levels_.size() / 4;
}

void ParquetColumnBuffer::clear() {
  rows_ = 0;
  def_levels_.clear();
  rep_levels_.clear();
  fixed_.clear();
  bools_.clear();
  bytes_.clear();
  ends_.clear();
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
    parquet::SchemaElement group;
    group.repetition_type = parquet::FieldRepetitionType::kOptional;
    group.name = column.name;
    group.num_children = 1;
    group.converted_type = parquet::ConvertedType::kList;
    group.logical_type = parquet::LogicalType{parquet::LogicalType::Kind::kList};
    schema.push_back(group);
    parquet::SchemaElement repeated;
    repeated.repetition_type = parquet::FieldRepetitionType::kRepeated;
    repeated.name = "list";
    repeated.num_children = 1;
    schema.push_back(repeated);
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

void ParquetFileWriter::write(std::string_view bytes) {
  file_.write(bytes);
  offset_ += bytes.size();
}

void ParquetFileWriter::write_row_group(std::span<ParquetColumnBuffer> buffers) {
  const size_t rows = buffers.empty() ? 0 : buffers[0].rows();
  if (rows == 0) return;
  if (metadata_.row_groups.empty()) {
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
        b.spec().list != columns_[i].list) {
      throw Error(ErrorCode::kInternal,
                  "column " + b.spec().name + " changed its type between row groups");
    }
    if (b.rows() != rows) {
      throw Error(ErrorCode::kInternal, "column " + b.spec().name + " has " +
                                            std::to_string(b.rows()) + " rows in a row group of " +
                                            std::to_string(rows));
    }
  }
  parquet::RowGroup group;
  group.file_offset = static_cast<int64_t>(offset_);
  group.ordinal = static_cast<int16_t>(metadata_.row_groups.size());
  group.num_rows = static_cast<int64_t>(rows);
  int64_t compressed = 0;
  for (auto& b : buffers) {
    group.columns.push_back(write_column(b));
    group.total_byte_size += group.columns.back().meta_data->total_uncompressed_size;
    compressed += group.columns.back().meta_data->total_compressed_size;
    b.clear();
  }
  group.total_compressed_size = compressed;
  metadata_.row_groups.push_back(std::move(group));
  metadata_.num_rows += static_cast<int64_t>(rows);
}

void ParquetFileWriter::write_page(const parquet::PageHeader& header_template,
                                   std::string_view body, parquet::ColumnMetaData* meta) {
  parquet::PageHeader header = header_template;
  compress_page(options_.codec, body, &compressed_);
  header.uncompressed_page_size = static_cast<int32_t>(body.size());
  header.compressed_page_size = static_cast<int32_t>(compressed_.size());
  ThriftCompactWriter out;
  parquet::encode(out, header);
  write(out.data());
  write(compressed_);
  meta->total_uncompressed_size += static_cast<int64_t>(out.data().size() + body.size());
  meta->total_compressed_size += static_cast<int64_t>(out.data().size() + compressed_.size());
}

parquet::ColumnChunk ParquetFileWriter::write_column(ParquetColumnBuffer& b) {
  const ParquetColumnSpec& spec = b.spec();
  const uint32_t max_def = b.max_definition_level();
  const uint32_t max_rep = b.max_repetition_level();
  const size_t levels = b.def_levels_.size();
  const size_t width = fixed_width(spec.kind);

  parquet::ColumnChunk chunk;
  chunk.file_offset = static_cast<int64_t>(offset_);
  parquet::ColumnMetaData meta;
  meta.type = physical_type(spec.kind);
  meta.path_in_schema = spec.list ? std::vector<std::string>{spec.name, "list", "element"}
                                  : std::vector<std::string>{spec.name};
  meta.codec = options_.codec;
  meta.num_values = static_cast<int64_t>(levels);

  auto value_view = [&](size_t i) {
    const size_t begin = i ? b.ends_[i - 1] : 0;
    return std::string_view(b.bytes_).substr(begin, b.ends_[i] - begin);
  };

  // Dictionary for byte arrays while it stays small; PLAIN otherwise.
  std::vector<uint32_t> indices;
  bool dictionary = false;
  if (is_byte_array(spec.kind) && !b.ends_.empty()) {
    std::unordered_map<std::string_view, uint32_t> ids;
    page_.clear();
    indices.resize(b.ends_.size());
    dictionary = true;
    for (size_t i = 0; i < b.ends_.size(); ++i) {
      auto [it, inserted] = ids.try_emplace(value_view(i), static_cast<uint32_t>(ids.size()));
      if (inserted) {
        append_plain_bytes(it->first, &page_);
        if (page_.size() > options_.dictionary_max_bytes) {
          dictionary = false;
          break;
        }
      }
      indices[i] = it->second;
    }
    if (dictionary) {
      parquet::PageHeader header;
      header.type = parquet::PageType::kDictionaryPage;
      header.dictionary_page_header = parquet::DictionaryPageHeader{
          static_cast<int32_t>(ids.size()), parquet::Encoding::kPlain, std::nullopt};
      meta.dictionary_page_offset = static_cast<int64_t>(offset_);
      write_page(header, page_, &meta);
    } else {
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

  meta.data_page_offset = static_cast<int64_t>(offset_);
  int64_t nulls = 0;
  size_t level = 0;
  size_t value = 0;
  // Pages end at row boundaries, so no row spans two pages.
  while (level < levels) {
    size_t level_end = level;
    size_t value_end = value;
    do {
      size_t row_end = level_end + 1;
      if (max_rep) {
        while (row_end < levels && b.rep_levels_[row_end] != 0) ++row_end;
      }
      for (size_t l = level_end; l < row_end; ++l) value_end += b.def_levels_[l] == max_def;
      level_end = row_end;
    } while (level_end < levels &&
             value_bytes(value, value_end) + (level_end - level) / 4 < options_.page_bytes);

    page_.clear();
    auto append_levels = [&](const std::vector<uint8_t>& source, uint32_t max_level) {
      scratch_.assign(source.begin() + level, source.begin() + level_end);
      append_levels_v1(scratch_, max_level, &page_);
    };
    if (max_rep) append_levels(b.rep_levels_, max_rep);
    append_levels(b.def_levels_, max_def);
    if (!spec.list) nulls += static_cast<int64_t>((level_end - level) - (value_end - value));
    if (dictionary) {
      page_.push_back(static_cast<char>(index_width));
      append_rle_hybrid(std::span<const uint32_t>(indices).subspan(value, value_end - value),
                        index_width, &page_);
    } else if (width) {
      page_.append(b.fixed_.data() + value * width, (value_end - value) * width);
    } else if (is_byte_array(spec.kind)) {
      for (size_t i = value; i < value_end; ++i) append_plain_bytes(value_view(i), &page_);
    } else {
      append_plain_bools(std::span<const uint8_t>(b.bools_).subspan(value, value_end - value),
                         &page_);
    }

    parquet::PageHeader header;
    header.type = parquet::PageType::kDataPage;
    parquet::DataPageHeader data;
    data.num_values = static_cast<int32_t>(level_end - level);
    data.encoding = dictionary ? parquet::Encoding::kRleDictionary : parquet::Encoding::kPlain;
    data.definition_level_encoding = parquet::Encoding::kRle;
    data.repetition_level_encoding = parquet::Encoding::kRle;
    header.data_page_header = data;
    write_page(header, page_, &meta);
    level = level_end;
    value = value_end;
  }

  meta.encodings = {parquet::Encoding::kPlain, parquet::Encoding::kRle};
  if (dictionary) meta.encodings.push_back(parquet::Encoding::kRleDictionary);
  if (!spec.list)
    meta.statistics = parquet::Statistics{nulls, std::nullopt, std::nullopt, std::nullopt};
  chunk.meta_data = std::move(meta);
  return chunk;
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
