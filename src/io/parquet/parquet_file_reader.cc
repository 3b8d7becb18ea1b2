#include "io/parquet/parquet_file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

#include "core/error.h"
#include "io/compression.h"

namespace salvo::parquet {
namespace {

constexpr char kMagic[4] = {'P', 'A', 'R', '1'};

Compression to_compression(CompressionCodec codec, const DecodeContext& context) {
  switch (codec) {
    case CompressionCodec::kUncompressed: return Compression::kNone;
    case CompressionCodec::kSnappy: return Compression::kSnappy;
    case CompressionCodec::kGzip: return Compression::kGzip;
    case CompressionCodec::kZstd: return Compression::kZstd;
    case CompressionCodec::kLz4: return Compression::kLz4Hadoop;
    case CompressionCodec::kLz4Raw: return Compression::kLz4Raw;
    default: context.fail(std::string("unsupported compression ") + codec_name(codec));
  }
}

// Definition levels of one page: appends n levels (0 or 1 for flat columns) to `levels`.
void decode_levels(const uint8_t* data, size_t size, Encoding encoding, int max_level, size_t n,
                   std::vector<uint8_t>* levels, const DecodeContext& context) {
  const int width = bit_width_of(static_cast<uint32_t>(max_level));
  const size_t base = levels->size();
  levels->resize(base + n);
  if (encoding == Encoding::kBitPacked) {
    // The deprecated BIT_PACKED levels are packed most significant bit first.
    if ((uint64_t{n} * width + 7) / 8 > size) context.fail("BIT_PACKED levels run past the end of the page");
    for (size_t i = 0; i < n; ++i) {
      uint32_t v = 0;
      for (int b = 0; b < width; ++b) {
        const uint64_t bit = uint64_t{i} * width + b;
        v = (v << 1) | ((data[bit / 8] >> (7 - bit % 8)) & 1);
      }
      (*levels)[base + i] = static_cast<uint8_t>(v);
    }
    return;
  }
  if (encoding != Encoding::kRle) context.fail(std::string("unsupported level encoding ") + encoding_name(encoding));
  RleBitPackedDecoder decoder(data, size, width, &context);
  uint32_t buffer[1024];
  for (size_t done = 0; done < n;) {
    const size_t take = std::min<size_t>(1024, n - done);
    decoder.get(buffer, take);
    for (size_t i = 0; i < take; ++i) {
      if (buffer[i] > static_cast<uint32_t>(max_level)) {
        context.fail("definition level " + std::to_string(buffer[i]) + " above the maximum " +
                     std::to_string(max_level));
      }
      (*levels)[base + done + i] = static_cast<uint8_t>(buffer[i]);
    }
    done += take;
  }
}

// Decodes `n` non-null values of a data page into `out`.
void decode_values(const uint8_t* data, size_t size, Encoding encoding, const LeafColumn& column, size_t n,
                   const ColumnValues* dictionary, ColumnValues* out, const DecodeContext& context) {
  const Type type = *column.element.type;
  switch (encoding) {
    case Encoding::kPlain:
      decode_plain(data, size, type, column.element.type_length.value_or(0), n, out, context);
      return;
    case Encoding::kPlainDictionary:
    case Encoding::kRleDictionary:
      if (dictionary == nullptr) context.fail("dictionary-encoded page without a dictionary page");
      decode_dictionary_indices(data, size, n, *dictionary, out, context);
      return;
    case Encoding::kRle:
      if (type != Type::kBoolean) context.fail("RLE encoding for a non-boolean column");
      decode_boolean_rle(data, size, n, out, context);
      return;
    case Encoding::kDeltaBinaryPacked:
      if (type != Type::kInt32 && type != Type::kInt64) context.fail("DELTA_BINARY_PACKED for a non-integer column");
      context.check_growth(*out, n, 0);
      decode_delta_binary_packed(data, size, type == Type::kInt32, n, &out->ints, context);
      return;
    case Encoding::kDeltaLengthByteArray:
      if (type != Type::kByteArray) context.fail("DELTA_LENGTH_BYTE_ARRAY for a non-BYTE_ARRAY column");
      decode_delta_length_byte_array(data, size, n, out, context);
      return;
    case Encoding::kDeltaByteArray:
      if (type != Type::kByteArray && type != Type::kFixedLenByteArray) {
        context.fail("DELTA_BYTE_ARRAY for a non-byte-array column");
      }
      decode_delta_byte_array(data, size, n, out, context);
      return;
    case Encoding::kByteStreamSplit:
      decode_byte_stream_split(data, size, type, n, out, context);
      return;
    default:
      context.fail(std::string("unsupported encoding ") + encoding_name(encoding));
  }
}

}  // namespace

ParquetFileReader::ParquetFileReader(const std::filesystem::path& path, ReaderOptions options)
    : path_(path), options_(options) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw Error(ErrorCode::kIo, "cannot open " + path.string() + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(fd_, &st) != 0) {
    const int e = errno;
    ::close(fd_);
    throw Error(ErrorCode::kIo, "cannot stat " + path.string() + ": " + std::strerror(e));
  }
  file_size_ = static_cast<uint64_t>(st.st_size);
  try {
    if (file_size_ < 12) fail(0, "not a Parquet file (" + std::to_string(file_size_) + " bytes, too short)");
    uint8_t head[4];
    uint8_t tail[8];
    read_at(0, 4, head);
    read_at(file_size_ - 8, 8, tail);
    if (std::memcmp(head, kMagic, 4) != 0) fail(0, "not a Parquet file (no PAR1 magic at the start)");
    if (std::memcmp(tail + 4, "PARE", 4) == 0) fail(file_size_ - 4, "encrypted Parquet files are not supported");
    if (std::memcmp(tail + 4, kMagic, 4) != 0) {
      fail(file_size_ - 4, "not a Parquet file or truncated (no PAR1 magic at the end)");
    }
    uint32_t footer_length;
    std::memcpy(&footer_length, tail, 4);
    if (footer_length > file_size_ - 12) {
      fail(file_size_ - 8, "footer length " + std::to_string(footer_length) + " exceeds the file size " +
                               std::to_string(file_size_));
    }
    const uint64_t footer_offset = file_size_ - 8 - footer_length;
    std::vector<uint8_t> footer(footer_length);
    read_at(footer_offset, footer_length, footer.data());
    ThriftCompactReader in(footer.data(), footer.size(), path.string(), footer_offset);
    metadata_ = decode_file_metadata(in);
    build_columns();
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

ParquetFileReader::~ParquetFileReader() {
  if (fd_ >= 0) ::close(fd_);
}

void ParquetFileReader::fail(uint64_t offset, const std::string& what) const {
  throw Error(ErrorCode::kIo, path_.string() + ": byte " + std::to_string(offset) + ": " + what);
}

void ParquetFileReader::read_at(uint64_t offset, size_t size, uint8_t* out) const {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd_, out + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(offset + done, std::string("read failed: ") + std::strerror(errno));
    if (n == 0) fail(offset + done, "unexpected end of file");
    done += static_cast<size_t>(n);
  }
}

void ParquetFileReader::build_columns() {
  const auto& schema = metadata_.schema;
  if (schema.empty()) fail(file_size_ - 8, "the schema is empty");
  // Walks the depth-first schema list without recursion; each stack entry is a group with
  // children still to visit.
  struct Group {
    size_t children_left;
    int def;
    int rep;
    std::string prefix;
  };
  const int root_children = schema[0].num_children.value_or(0);
  if (root_children < 0) fail(file_size_ - 8, "negative child count in the schema");
  std::vector<Group> stack{{static_cast<size_t>(root_children), 0, 0, ""}};
  size_t i = 1;
  while (!stack.empty()) {
    if (stack.back().children_left == 0) {
      stack.pop_back();
      continue;
    }
    --stack.back().children_left;
    if (i >= schema.size()) fail(file_size_ - 8, "the schema has fewer elements than its child counts say");
    const SchemaElement& e = schema[i++];
    const Group& parent = stack.back();
    const auto repetition = e.repetition_type.value_or(FieldRepetitionType::kRequired);
    const int def = parent.def + (repetition != FieldRepetitionType::kRequired ? 1 : 0);
    const int rep = parent.rep + (repetition == FieldRepetitionType::kRepeated ? 1 : 0);
    std::string name = parent.prefix.empty() ? e.name : parent.prefix + "." + e.name;
    const int children = e.num_children.value_or(0);
    if (children < 0) fail(file_size_ - 8, "negative child count in the schema");
    if (children > 0) {
      if (stack.size() > 100) fail(file_size_ - 8, "schema nested deeper than 100 levels");
      stack.push_back({static_cast<size_t>(children), def, rep, std::move(name)});
      continue;
    }
    if (!e.type) fail(file_size_ - 8, "schema leaf \"" + name + "\" has no type");
    columns_.push_back({std::move(name), columns_.size(), e, def, rep});
  }
  if (i != schema.size()) fail(file_size_ - 8, "the schema has more elements than its child counts say");
  for (size_t g = 0; g < metadata_.row_groups.size(); ++g) {
    const RowGroup& group = metadata_.row_groups[g];
    if (group.columns.size() != columns_.size()) {
      fail(file_size_ - 8, "row group " + std::to_string(g) + " has " + std::to_string(group.columns.size()) +
                               " column chunks, the schema " + std::to_string(columns_.size()) + " columns");
    }
    if (group.num_rows < 0) fail(file_size_ - 8, "row group " + std::to_string(g) + " has a negative row count");
  }
}

const LeafColumn* ParquetFileReader::find_column(std::string_view name) const {
  for (const auto& c : columns_) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

uint64_t ParquetFileReader::compressed_bytes(size_t group, const std::vector<size_t>& leaves) const {
  uint64_t total = 0;
  for (size_t leaf : leaves) {
    const auto& chunk = metadata_.row_groups[group].columns[leaf];
    if (chunk.meta_data && chunk.meta_data->total_compressed_size > 0) {
      total += static_cast<uint64_t>(chunk.meta_data->total_compressed_size);
    }
  }
  return total;
}

ColumnChunkData ParquetFileReader::read_column(size_t group, size_t leaf) const {
  const LeafColumn& column = columns_.at(leaf);
  const RowGroup& row_group = metadata_.row_groups.at(group);
  DecodeContext context;
  context.max_output_bytes = options_.max_column_bytes;
  context.where = path_.string() + ": column \"" + column.name + "\", row group " + std::to_string(group);
  if (column.max_repetition_level > 0) context.fail("repeated (nested) columns are not supported");
  if (column.max_definition_level > 1) context.fail("nested optional columns are not supported");
  const ColumnChunk& chunk = row_group.columns[leaf];
  if (chunk.file_path) context.fail("column chunks in other files are not supported");
  if (!chunk.meta_data) context.fail("column chunk has no metadata");
  const ColumnMetaData& meta = *chunk.meta_data;
  if (meta.type != *column.element.type) context.fail("column chunk type differs from the schema");
  const Compression compression = to_compression(meta.codec, context);

  int64_t start = meta.data_page_offset;
  if (meta.dictionary_page_offset && *meta.dictionary_page_offset > 0 && *meta.dictionary_page_offset < start) {
    start = *meta.dictionary_page_offset;
  }
  const int64_t length = meta.total_compressed_size;
  if (start < 4 || length < 0 || static_cast<uint64_t>(start) > file_size_ ||
      static_cast<uint64_t>(length) > file_size_ - static_cast<uint64_t>(start)) {
    context.fail("column chunk at byte " + std::to_string(start) + " of " + std::to_string(length) +
                 " bytes lies outside the file of " + std::to_string(file_size_) + " bytes");
  }
  std::vector<uint8_t> buffer(static_cast<size_t>(length));
  read_at(static_cast<uint64_t>(start), buffer.size(), buffer.data());

  ColumnChunkData result;
  result.values.type = meta.type;
  result.rows = row_group.num_rows;
  ColumnValues dictionary;
  dictionary.type = meta.type;
  bool has_dictionary = false;
  bool any_null = false;
  std::vector<uint8_t> levels;
  std::string page_bytes;
  uint64_t rows = 0;
  const uint64_t total_rows = static_cast<uint64_t>(row_group.num_rows);
  const std::string where = context.where;
  size_t pos = 0;
  while (rows < total_rows) {
    if (pos >= buffer.size()) {
      context.fail("column chunk ends after " + std::to_string(rows) + " of " + std::to_string(total_rows) + " rows");
    }
    const uint64_t page_offset = static_cast<uint64_t>(start) + pos;
    context.where = where + ", page at byte " + std::to_string(page_offset);
    ThriftCompactReader header_reader(buffer.data() + pos, buffer.size() - pos, path_.string(), page_offset);
    const PageHeader header = decode_page_header(header_reader);
    pos += header_reader.position();
    if (header.compressed_page_size < 0 || static_cast<size_t>(header.compressed_page_size) > buffer.size() - pos) {
      context.fail("page of " + std::to_string(header.compressed_page_size) + " bytes runs past the column chunk");
    }
    if (header.uncompressed_page_size < 0 ||
        static_cast<uint64_t>(header.uncompressed_page_size) > options_.max_column_bytes) {
      context.fail("bad uncompressed page size " + std::to_string(header.uncompressed_page_size));
    }
    const uint8_t* page = buffer.data() + pos;
    const size_t page_size = static_cast<size_t>(header.compressed_page_size);
    pos += page_size;
    const auto decompress_page = [&](const uint8_t* data, size_t size, size_t expected) {
      return decompress(compression, std::string_view(reinterpret_cast<const char*>(data), size), expected,
                        context.where);
    };

    if (header.type == PageType::kDictionaryPage) {
      if (!header.dictionary_page_header) context.fail("dictionary page without its header");
      const auto& dict = *header.dictionary_page_header;
      if (has_dictionary) context.fail("second dictionary page in one column chunk");
      if (dict.encoding != Encoding::kPlain && dict.encoding != Encoding::kPlainDictionary) {
        context.fail(std::string("dictionary page with encoding ") + encoding_name(dict.encoding));
      }
      if (dict.num_values < 0) context.fail("negative dictionary size");
      page_bytes = decompress_page(page, page_size, static_cast<size_t>(header.uncompressed_page_size));
      decode_plain(reinterpret_cast<const uint8_t*>(page_bytes.data()), page_bytes.size(), meta.type,
                   column.element.type_length.value_or(0), static_cast<size_t>(dict.num_values), &dictionary, context);
      has_dictionary = true;
      continue;
    }
    if (header.type != PageType::kDataPage && header.type != PageType::kDataPageV2) continue;

    int32_t num_values = 0;
    Encoding encoding;
    const uint8_t* values_data;
    size_t values_size;
    const size_t levels_start = levels.size();
    if (header.type == PageType::kDataPage) {
      if (!header.data_page_header) context.fail("data page without its header");
      const auto& h = *header.data_page_header;
      num_values = h.num_values;
      encoding = h.encoding;
      if (num_values < 0 || static_cast<uint64_t>(num_values) > total_rows - rows) {
        context.fail("page of " + std::to_string(num_values) + " values exceeds the row group's rows");
      }
      page_bytes = decompress_page(page, page_size, static_cast<size_t>(header.uncompressed_page_size));
      const auto* data = reinterpret_cast<const uint8_t*>(page_bytes.data());
      size_t size = page_bytes.size();
      if (column.max_definition_level > 0) {
        context.check_growth(result.values, static_cast<uint64_t>(num_values), 0);
        if (h.definition_level_encoding == Encoding::kRle) {
          if (size < 4) context.fail("definition levels lack their length");
          uint32_t level_bytes;
          std::memcpy(&level_bytes, data, 4);
          if (level_bytes > size - 4) context.fail("definition levels run past the end of the page");
          decode_levels(data + 4, level_bytes, Encoding::kRle, column.max_definition_level,
                        static_cast<size_t>(num_values), &levels, context);
          data += 4 + level_bytes;
          size -= 4 + level_bytes;
        } else {
          const size_t level_bytes = (static_cast<size_t>(num_values) + 7) / 8;
          decode_levels(data, size, h.definition_level_encoding, column.max_definition_level,
                        static_cast<size_t>(num_values), &levels, context);
          data += level_bytes;
          size -= level_bytes;
        }
      }
      values_data = data;
      values_size = size;
    } else {
      if (!header.data_page_header_v2) context.fail("v2 data page without its header");
      const auto& h = *header.data_page_header_v2;
      num_values = h.num_values;
      encoding = h.encoding;
      if (num_values < 0 || static_cast<uint64_t>(num_values) > total_rows - rows) {
        context.fail("page of " + std::to_string(num_values) + " values exceeds the row group's rows");
      }
      if (h.repetition_levels_byte_length < 0 || h.definition_levels_byte_length < 0 ||
          static_cast<uint64_t>(h.repetition_levels_byte_length) + h.definition_levels_byte_length > page_size) {
        context.fail("v2 page level lengths exceed the page");
      }
      const size_t level_bytes = static_cast<size_t>(h.repetition_levels_byte_length) + h.definition_levels_byte_length;
      if (column.max_definition_level > 0) {
        context.check_growth(result.values, static_cast<uint64_t>(num_values), 0);
        decode_levels(page + h.repetition_levels_byte_length, static_cast<size_t>(h.definition_levels_byte_length),
                      Encoding::kRle, column.max_definition_level, static_cast<size_t>(num_values), &levels, context);
      }
      if (static_cast<size_t>(header.uncompressed_page_size) < level_bytes) {
        context.fail("v2 page's uncompressed size is smaller than its levels");
      }
      const size_t body_size = static_cast<size_t>(header.uncompressed_page_size) - level_bytes;
      if (h.is_compressed && compression != Compression::kNone) {
        page_bytes = decompress_page(page + level_bytes, page_size - level_bytes, body_size);
      } else {
        page_bytes.assign(reinterpret_cast<const char*>(page + level_bytes), page_size - level_bytes);
      }
      values_data = reinterpret_cast<const uint8_t*>(page_bytes.data());
      values_size = page_bytes.size();
    }
    size_t present = static_cast<size_t>(num_values);
    if (column.max_definition_level > 0) {
      present = 0;
      for (size_t i = levels_start; i < levels.size(); ++i) present += levels[i];
      if (present != static_cast<size_t>(num_values)) any_null = true;
    }
    decode_values(values_data, values_size, encoding, column, present, has_dictionary ? &dictionary : nullptr,
                  &result.values, context);
    rows += static_cast<uint64_t>(num_values);
  }
  if (column.max_definition_level > 0 && any_null) result.defined = std::move(levels);
  return result;
}

std::vector<ColumnChunkData> ParquetFileReader::read_row_group(size_t group, const std::vector<size_t>& leaves) const {
  std::vector<ColumnChunkData> result(leaves.size());
  if (leaves.size() == 1) {
    result[0] = read_column(group, leaves[0]);
    return result;
  }
  std::vector<std::future<ColumnChunkData>> futures;
  futures.reserve(leaves.size());
  for (size_t leaf : leaves) {
    futures.push_back(std::async(std::launch::async, [this, group, leaf] { return read_column(group, leaf); }));
  }
  // get() on every future, even after one failed, so no task outlives this call.
  std::exception_ptr first_error;
  for (size_t i = 0; i < futures.size(); ++i) {
    try {
      result[i] = futures[i].get();
    } catch (...) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
  return result;
}

}  // namespace salvo::parquet
