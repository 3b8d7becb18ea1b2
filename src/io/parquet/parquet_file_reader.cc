#include "io/parquet/parquet_file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

// Definition or repetition levels (`what`) of one page: appends n levels, each at most
// `max_level`, to `levels`.
void decode_levels(const uint8_t* data, size_t size, Encoding encoding, int max_level, size_t n,
                   std::vector<uint8_t>* levels, const char* what, const DecodeContext& context) {
  const int width = bit_width_of(static_cast<uint32_t>(max_level));
  const size_t base = levels->size();
  auto too_high = [&](uint32_t level) {
    context.fail(std::string(what) + " level " + std::to_string(level) + " above the maximum " +
                 std::to_string(max_level));
  };
  levels->resize(base + n);
  if (encoding == Encoding::kBitPacked) {
    // The deprecated BIT_PACKED levels are packed most significant bit first.
    if ((uint64_t{n} * width + 7) / 8 > size) context.fail(std::string("BIT_PACKED ") + what + " levels run past the end of the page");
    for (size_t i = 0; i < n; ++i) {
      uint32_t v = 0;
      for (int b = 0; b < width; ++b) {
        const uint64_t bit = uint64_t{i} * width + b;
        v = (v << 1) | ((data[bit / 8] >> (7 - bit % 8)) & 1);
      }
      if (v > static_cast<uint32_t>(max_level)) too_high(v);
      (*levels)[base + i] = static_cast<uint8_t>(v);
    }
    return;
  }
  if (encoding != Encoding::kRle) {
    context.fail(std::string("unsupported ") + what + " level encoding " + encoding_name(encoding));
  }
  RleBitPackedDecoder decoder(data, size, width, &context);
  uint32_t buffer[1024];
  for (size_t done = 0; done < n;) {
    const size_t take = std::min<size_t>(1024, n - done);
    decoder.get(buffer, take);
    for (size_t i = 0; i < take; ++i) {
      if (buffer[i] > static_cast<uint32_t>(max_level)) too_high(buffer[i]);
      (*levels)[base + done + i] = static_cast<uint8_t>(buffer[i]);
    }
    done += take;
  }
}

// The levels of a v1 data page at data[0, size): RLE with a 4-byte length, or BIT_PACKED.
// Appends them to `levels` and returns the bytes they take.
size_t decode_v1_levels(const uint8_t* data, size_t size, Encoding encoding, int max_level, size_t n,
                        std::vector<uint8_t>* levels, const char* what, const DecodeContext& context) {
  if (encoding == Encoding::kRle) {
    if (size < 4) context.fail(std::string(what) + " levels lack their length");
    uint32_t level_bytes;
    std::memcpy(&level_bytes, data, 4);
    if (level_bytes > size - 4) context.fail(std::string(what) + " levels run past the end of the page");
    decode_levels(data + 4, level_bytes, Encoding::kRle, max_level, n, levels, what, context);
    return 4 + static_cast<size_t>(level_bytes);
  }
  decode_levels(data, size, encoding, max_level, n, levels, what, context);
  return static_cast<size_t>((uint64_t{n} * bit_width_of(static_cast<uint32_t>(max_level)) + 7) / 8);
}

// Builds the lists of a LIST column chunk from its levels (see ColumnChunkData and
// LeafColumn::list_definition_levels): `definition` and `repetition` hold one entry per level,
// every page's in order. Fills out->lists and out->defined (per element slot).
void build_lists(const std::vector<uint8_t>& definition, const std::vector<uint8_t>& repetition,
                 const std::vector<int>& list_levels, int max_definition, ColumnChunkData* out,
                 const DecodeContext& context) {
  const size_t depth = list_levels.size();
  if (definition.size() >= UINT32_MAX) context.fail("column chunk has more than 2^32 levels");
  std::vector<ListLevel>& lists = out->lists;
  lists.assign(depth, {});
  std::vector<uint8_t>& slots = out->defined;
  slots.clear();
  // Whether the last list of each depth has elements, so that a repeated entry may add to it.
  bool open[kMaxListDepth] = {};
  bool null_list[kMaxListDepth] = {};
  bool null_slot = false;
  bool last_null[kMaxListDepth] = {};  // the last list begun at each depth is null
  for (size_t i = 0; i < definition.size(); ++i) {
    const int d = definition[i];
    const size_t r = repetition[i];
    if (r > 0 && !open[r - 1]) {
      // DuckDB (2.0) writes a null fixed-size array as that many entries, the later ones repeating
      // inside the null list with a definition level that keeps it null: they carry nothing, and
      // DuckDB reads them back so. (pyarrow 26 refuses such files.)
      if (last_null[r - 1] && d < list_levels[r - 1]) continue;
      context.fail("level entry " + std::to_string(i) + " (repetition " + std::to_string(r) +
                   ") continues a list that is null, empty or not begun");
    }
    // Entry i adds an item to the list at depth r - 1: a new list at depth r, or (r == depth) an
    // element slot. Deeper lists begin with it as far as its definition level reaches.
    size_t j = r;
    for (; j < depth; ++j) {
      lists[j].offsets.push_back(static_cast<uint32_t>(j + 1 < depth ? lists[j + 1].offsets.size() : slots.size()));
      const bool present = d >= list_levels[j];
      lists[j].valid.push_back(present);
      null_list[j] = null_list[j] || !present;
      last_null[j] = !present;
      open[j] = d > list_levels[j];
      if (!open[j]) break;
    }
    for (size_t k = j + 1; k < depth; ++k) open[k] = false;
    if (j == depth) {
      const bool value = d == max_definition;
      slots.push_back(value);
      null_slot = null_slot || !value;
    }
  }
  for (size_t j = 0; j < depth; ++j) {
    lists[j].offsets.push_back(static_cast<uint32_t>(j + 1 < depth ? lists[j + 1].offsets.size() : slots.size()));
    if (!null_list[j]) lists[j].valid.clear();
  }
  if (!null_slot) slots.clear();
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
    columns_.push_back({std::move(name), columns_.size(), e, def, rep, "", {}, ""});
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
  resolve_fields();
}

namespace {

// The schema as a tree (the list build_columns() has checked), for reading LIST columns.
struct SchemaNode {
  const SchemaElement* element = nullptr;
  std::vector<size_t> children;  // node indices
  int def = 0;                   // definition level of a value at this node
  size_t leaf = SIZE_MAX;        // index among the leaves, for a leaf
};

bool is_list_annotated(const SchemaElement& e) {
  return (e.logical_type && e.logical_type->kind == LogicalType::Kind::kList) ||
         (e.converted_type && *e.converted_type == ConvertedType::kList);
}

bool is_map_annotated(const SchemaElement& e) {
  return e.converted_type && (*e.converted_type == ConvertedType::kMap || *e.converted_type == ConvertedType::kMapKeyValue);
}

FieldRepetitionType repetition_of(const SchemaElement& e) {
  return e.repetition_type.value_or(FieldRepetitionType::kRequired);
}

// Resolves the value at `node` (a top-level field, or a list's element) to nested lists of one
// leaf, by the rules of LogicalTypes.md (its backward-compatibility rules for two-level lists
// included): appends each list's definition level to `lists` and returns the leaf, or returns
// SIZE_MAX with the reason in `why`. `as_element`: the node is a legacy list's repeated field
// standing for the element itself, whose repetition the enclosing list has taken.
size_t resolve_value(const std::vector<SchemaNode>& nodes, size_t node, bool as_element, std::vector<int>* lists,
                     std::string* why) {
  const SchemaNode& n = nodes[node];
  const SchemaElement& e = *n.element;
  const bool repeated = !as_element && repetition_of(e) == FieldRepetitionType::kRepeated;
  if (n.children.empty()) {
    // A repeated value outside a LIST group: a required list of required elements.
    if (repeated) lists->push_back(n.def - 1);
    return n.leaf;
  }
  if (is_map_annotated(e)) {
    *why = "a map";
    return SIZE_MAX;
  }
  if (!is_list_annotated(e)) {
    *why = repeated ? "a list of structs" : "a struct";
    return SIZE_MAX;
  }
  if (repeated) {
    *why = "a repeated LIST group";
    return SIZE_MAX;
  }
  if (n.children.size() != 1 || repetition_of(*nodes[n.children[0]].element) != FieldRepetitionType::kRepeated) {
    *why = "a LIST group without exactly one repeated field";
    return SIZE_MAX;
  }
  lists->push_back(n.def);  // present from here; the repeated field adds one for "has elements"
  const size_t r = n.children[0];
  const SchemaNode& repeated_node = nodes[r];
  // A repeated primitive is the element, required (rule 1).
  if (repeated_node.children.empty()) return repeated_node.leaf;
  // A repeated group of several fields is a struct element (rule 2).
  if (repeated_node.children.size() > 1) {
    *why = "a list of structs";
    return SIZE_MAX;
  }
  // A repeated group of one field named "array" or "<list>_tuple" is the element itself (rule 3).
  const std::string& name = repeated_node.element->name;
  if (name == "array" || name == e.name + "_tuple") {
    if (!is_list_annotated(*repeated_node.element)) {
      *why = "a list of structs";
      return SIZE_MAX;
    }
    return resolve_value(nodes, r, true, lists, why);
  }
  // Otherwise its one field is the element (the standard three levels, and Spark's and Hive's
  // "bag"/"array_element" forms).
  const size_t element = resolve_value(nodes, repeated_node.children[0], false, lists, why);
  if (element == SIZE_MAX && (*why == "a struct" || *why == "a map")) *why = "a list of " + why->substr(2) + "s";
  return element;
}

}  // namespace

void ParquetFileReader::resolve_fields() {
  const auto& schema = metadata_.schema;
  // The tree: node i is schema element i; children in order.
  std::vector<SchemaNode> nodes(schema.size());
  std::vector<std::pair<size_t, size_t>> stack{{0, static_cast<size_t>(schema[0].num_children.value_or(0))}};
  nodes[0].element = &schema[0];
  size_t leaf = 0;
  for (size_t i = 1; i < schema.size(); ++i) {
    while (stack.back().second == 0) stack.pop_back();
    --stack.back().second;
    const size_t parent = stack.back().first;
    nodes[parent].children.push_back(i);
    nodes[i].element = &schema[i];
    const auto repetition = repetition_of(schema[i]);
    nodes[i].def = nodes[parent].def + (repetition != FieldRepetitionType::kRequired ? 1 : 0);
    const size_t children = static_cast<size_t>(schema[i].num_children.value_or(0));
    if (children > 0) {
      stack.push_back({i, children});
    } else {
      nodes[i].leaf = leaf++;
    }
  }
  // Leaves of each top-level field.
  for (size_t top : nodes[0].children) {
    std::vector<size_t> leaves;
    std::vector<size_t> pending{top};
    while (!pending.empty()) {
      const size_t n = pending.back();
      pending.pop_back();
      if (nodes[n].leaf != SIZE_MAX) leaves.push_back(nodes[n].leaf);
      for (auto it = nodes[n].children.rbegin(); it != nodes[n].children.rend(); ++it) pending.push_back(*it);
    }
    std::vector<int> lists;
    std::string why;
    const size_t resolved = resolve_value(nodes, top, false, &lists, &why);
    for (size_t l : leaves) {
      LeafColumn& column = columns_[l];
      if (l == resolved && static_cast<int>(lists.size()) == column.max_repetition_level) {
        if (lists.size() > static_cast<size_t>(kMaxListDepth)) {
          column.unreadable = "lists nested " + std::to_string(lists.size()) + " deep (salvo reads up to " +
                              std::to_string(kMaxListDepth) + ")";
        }
        column.field = schema[top].name;
        column.list_definition_levels = lists;
      } else if (column.max_repetition_level > 0) {
        column.unreadable = why.empty() ? "a nested repeated column" : why;
      }
    }
  }
}

const LeafColumn* ParquetFileReader::find_column(std::string_view name) const {
  for (const auto& c : columns_) {
    if (c.name == name) return &c;
  }
  for (const auto& c : columns_) {
    if (c.field == name) return &c;
  }
  return nullptr;
}

std::string ParquetFileReader::nested_column(std::string_view name) const {
  std::string leaves;
  std::string reason;
  const std::string prefix = std::string(name) + ".";
  for (const auto& leaf : columns_) {
    if (!leaf.name.starts_with(prefix)) continue;
    leaves += (leaves.empty() ? "" : ", ") + leaf.name;
    if (reason.empty()) reason = leaf.unreadable;
  }
  if (leaves.empty()) return "";
  return reason.empty() ? "a struct (its fields are columns of their own: " + leaves + ")" : reason;
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

std::unique_ptr<ColumnChunkPages> ParquetFileReader::open_column(size_t group, size_t leaf, bool check_utf8) const {
  const LeafColumn& column = columns_.at(leaf);
  const RowGroup& row_group = metadata_.row_groups.at(group);
  std::unique_ptr<ColumnChunkPages> pages(new ColumnChunkPages());
  pages->column_ = &column;
  pages->max_bytes_ = options_.max_column_bytes;
  pages->check_utf8_ = check_utf8;
  pages->buffer_pool_ = options_.buffer_pool;
  pages->where_ = path_.string() + ": column \"" + column.name + "\", row group " + std::to_string(group);
  DecodeContext context;
  context.max_output_bytes = options_.max_column_bytes;
  context.check_utf8 = check_utf8;
  context.where = pages->where_;
  if (!column.unreadable.empty()) context.fail("the column is " + column.unreadable + ", which salvo cannot read");
  if (column.max_definition_level > UINT8_MAX) context.fail("definition levels above 255");
  const ColumnChunk& chunk = row_group.columns[leaf];
  if (chunk.file_path) context.fail("column chunks in other files are not supported");
  if (!chunk.meta_data) context.fail("column chunk has no metadata");
  const ColumnMetaData& meta = *chunk.meta_data;
  if (meta.type != *column.element.type) context.fail("column chunk type differs from the schema");
  pages->type_ = meta.type;
  pages->compression_ = to_compression(meta.codec, context);
  pages->rows_ = row_group.num_rows;

  int64_t start = meta.data_page_offset;
  // Arrow writes a chunk of no rows as its (empty) dictionary page alone, with data_page_offset 0.
  if (meta.dictionary_page_offset && *meta.dictionary_page_offset >= 4 &&
      (*meta.dictionary_page_offset < start || start < 4)) {
    start = *meta.dictionary_page_offset;
  }
  const int64_t length = meta.total_compressed_size;
  if (start < 4 || length < 0 || static_cast<uint64_t>(start) > file_size_ ||
      static_cast<uint64_t>(length) > file_size_ - static_cast<uint64_t>(start)) {
    context.fail("column chunk at byte " + std::to_string(start) + " of " + std::to_string(length) +
                 " bytes lies outside the file of " + std::to_string(file_size_) + " bytes");
  }
  pages->raw_size_ = static_cast<size_t>(length);
  pages->raw_ = allocate_page_buffer(pages->raw_size_, options_.buffer_pool);
  const auto* raw = reinterpret_cast<uint8_t*>(pages->raw_.get());
  read_at(static_cast<uint64_t>(start), pages->raw_size_, reinterpret_cast<uint8_t*>(pages->raw_.get()));

  pages->dictionary_.type = meta.type;
  const bool bytes = pages->dictionary_.is_bytes();
  // What one level entry may decode to: its value (a view or a number), its levels and, for
  // lists, its share of the list offsets.
  const bool list = column.max_repetition_level > 0;
  const uint64_t per_value = (bytes ? sizeof(std::string_view) : 8) + (list ? 2 + 5 * sizeof(uint32_t) : 0);
  // Pages hold rows whole for flat columns, so their value counts add up to the rows; a list
  // column's pages hold level entries, as many in all as the chunk's metadata says (its rows are
  // counted once the levels are decoded).
  uint64_t rows = 0;
  uint64_t decoded = 0;  // what the data pages will decode to at most, before DELTA_BYTE_ARRAY prefixes
  const uint64_t total_rows = list ? static_cast<uint64_t>(std::max<int64_t>(0, meta.num_values))
                                   : static_cast<uint64_t>(row_group.num_rows);
  if (list && meta.num_values < 0) context.fail("negative value count " + std::to_string(meta.num_values));
  if (list && row_group.num_rows > 0 && total_rows == 0) {
    context.fail("list column chunk of no values in a row group of " + std::to_string(row_group.num_rows) + " rows");
  }
  const char* unit = list ? " values" : " rows";
  const size_t size = pages->raw_size_;
  size_t pos = 0;
  while (rows < total_rows) {
    if (pos >= size) {
      context.fail("column chunk ends after " + std::to_string(rows) + " of " + std::to_string(total_rows) + unit);
    }
    const uint64_t page_offset = static_cast<uint64_t>(start) + pos;
    context.where = pages->where_ + ", page at byte " + std::to_string(page_offset);
    ThriftCompactReader header_reader(raw + pos, size - pos, path_.string(), page_offset);
    PageHeader header = decode_page_header(header_reader);
    pos += header_reader.position();
    if (header.compressed_page_size < 0 || static_cast<size_t>(header.compressed_page_size) > size - pos) {
      context.fail("page of " + std::to_string(header.compressed_page_size) + " bytes runs past the column chunk");
    }
    if (header.uncompressed_page_size < 0 ||
        static_cast<uint64_t>(header.uncompressed_page_size) > options_.max_column_bytes) {
      context.fail("bad uncompressed page size " + std::to_string(header.uncompressed_page_size));
    }
    const size_t body = pos;
    const size_t page_size = static_cast<size_t>(header.compressed_page_size);
    pos += page_size;

    if (header.type == PageType::kDictionaryPage) {
      if (!header.dictionary_page_header) context.fail("dictionary page without its header");
      const auto& dict = *header.dictionary_page_header;
      if (pages->has_dictionary_) context.fail("second dictionary page in one column chunk");
      if (dict.encoding != Encoding::kPlain && dict.encoding != Encoding::kPlainDictionary) {
        context.fail(std::string("dictionary page with encoding ") + encoding_name(dict.encoding));
      }
      if (dict.num_values < 0) context.fail("negative dictionary size");
      const size_t expanded = static_cast<size_t>(header.uncompressed_page_size);
      const char* data = pages->raw_.get() + body;
      if (pages->compression_ == Compression::kNone) {
        if (page_size != expanded) {
          context.fail("holds " + std::to_string(page_size) + " bytes, expected " + std::to_string(expanded));
        }
        pages->raw_referenced_ = true;
      } else {
        PageBuffer buffer = allocate_page_buffer(expanded, options_.buffer_pool);
        decompress_into(pages->compression_, std::string_view(data, page_size), buffer.get(), expanded, context.where);
        data = buffer.get();
        pages->dictionary_.adopt(std::move(buffer), expanded);
      }
      decode_plain(reinterpret_cast<const uint8_t*>(data), expanded, meta.type, column.element.type_length.value_or(0),
                   static_cast<size_t>(dict.num_values), &pages->dictionary_, context);
      pages->has_dictionary_ = true;
      continue;
    }
    if (header.type != PageType::kDataPage && header.type != PageType::kDataPageV2) continue;

    int32_t num_values = 0;
    if (header.type == PageType::kDataPage) {
      if (!header.data_page_header) context.fail("data page without its header");
      num_values = header.data_page_header->num_values;
    } else {
      if (!header.data_page_header_v2) context.fail("v2 data page without its header");
      const auto& h = *header.data_page_header_v2;
      num_values = h.num_values;
      if (h.repetition_levels_byte_length < 0 || h.definition_levels_byte_length < 0 ||
          static_cast<uint64_t>(h.repetition_levels_byte_length) + h.definition_levels_byte_length > page_size) {
        context.fail("v2 page level lengths exceed the page");
      }
      const size_t level_bytes = static_cast<size_t>(h.repetition_levels_byte_length) + h.definition_levels_byte_length;
      if (static_cast<size_t>(header.uncompressed_page_size) < level_bytes) {
        context.fail("v2 page's uncompressed size is smaller than its levels");
      }
      if (!h.is_compressed || pages->compression_ == Compression::kNone) pages->raw_referenced_ = true;
    }
    if (num_values < 0 || static_cast<uint64_t>(num_values) > total_rows - rows) {
      context.fail("page of " + std::to_string(num_values) + " values exceeds the " +
                   (list ? "column chunk's values" : "row group's rows"));
    }
    if (header.type == PageType::kDataPage && pages->compression_ == Compression::kNone) pages->raw_referenced_ = true;
    // The pages are about to be decoded in parallel: bound what they decode to together first.
    decoded += static_cast<uint64_t>(header.uncompressed_page_size) + (per_value + 1) * static_cast<uint64_t>(num_values);
    if (decoded + pages->dictionary_.storage_bytes > options_.max_column_bytes) {
      context.fail("column chunk decodes to more than " + std::to_string(options_.max_column_bytes) + " bytes");
    }
    rows += static_cast<uint64_t>(num_values);
    pages->pages_.push_back({std::move(header), body, page_offset});
  }
  return pages;
}

DecodedPage ColumnChunkPages::decode_page(size_t i) const {
  const PageRef& ref = pages_.at(i);
  const PageHeader& header = ref.header;
  const LeafColumn& column = *column_;
  DecodeContext context;
  context.max_output_bytes = max_bytes_;
  context.built_bytes = &built_bytes_;
  context.check_utf8 = check_utf8_;
  context.where = where_ + ", page at byte " + std::to_string(ref.file_offset);
  DecodedPage page;
  page.values.type = type_;
  const char* body = raw_.get() + ref.offset;
  const size_t page_size = static_cast<size_t>(header.compressed_page_size);
  const size_t expanded = static_cast<size_t>(header.uncompressed_page_size);
  // Decompresses `size` bytes at `data` into a buffer the page's values own, or passes the data
  // through when it is not compressed (the values then point into raw_).
  auto expand = [&](const char* data, size_t size, size_t expected, bool compressed) -> const uint8_t* {
    if (!compressed) {
      if (size != expected) {
        context.fail("holds " + std::to_string(size) + " bytes, expected " + std::to_string(expected));
      }
      return reinterpret_cast<const uint8_t*>(data);
    }
    PageBuffer buffer = allocate_page_buffer(expected, buffer_pool_);
    decompress_into(compression_, std::string_view(data, size), buffer.get(), expected, context.where);
    const auto* out = reinterpret_cast<const uint8_t*>(buffer.get());
    page.values.adopt(std::move(buffer), expected);
    return out;
  };

  int32_t num_values = 0;
  Encoding encoding;
  const uint8_t* values_data;
  size_t values_size;
  const int max_rep = column.max_repetition_level;
  const int max_def = column.max_definition_level;
  if (header.type == PageType::kDataPage) {
    const auto& h = *header.data_page_header;
    num_values = h.num_values;
    encoding = h.encoding;
    const uint8_t* data = expand(body, page_size, expanded, compression_ != Compression::kNone);
    size_t size = expanded;
    // Repetition levels first, then definition levels.
    if (max_rep > 0) {
      const size_t used = decode_v1_levels(data, size, h.repetition_level_encoding, max_rep,
                                           static_cast<size_t>(num_values), &page.repetition, "repetition", context);
      data += used;
      size -= used;
    }
    if (max_def > 0) {
      const size_t used = decode_v1_levels(data, size, h.definition_level_encoding, max_def,
                                           static_cast<size_t>(num_values), &page.levels, "definition", context);
      data += used;
      size -= used;
    }
    values_data = data;
    values_size = size;
  } else {
    const auto& h = *header.data_page_header_v2;
    num_values = h.num_values;
    encoding = h.encoding;
    const size_t level_bytes = static_cast<size_t>(h.repetition_levels_byte_length) + h.definition_levels_byte_length;
    const auto* levels = reinterpret_cast<const uint8_t*>(body);
    if (max_rep > 0) {
      decode_levels(levels, static_cast<size_t>(h.repetition_levels_byte_length), Encoding::kRle, max_rep,
                    static_cast<size_t>(num_values), &page.repetition, "repetition", context);
    }
    if (max_def > 0) {
      decode_levels(levels + h.repetition_levels_byte_length, static_cast<size_t>(h.definition_levels_byte_length),
                    Encoding::kRle, max_def, static_cast<size_t>(num_values), &page.levels, "definition", context);
    }
    const size_t body_size = expanded - level_bytes;
    const bool compressed = h.is_compressed && compression_ != Compression::kNone;
    values_data = expand(body + level_bytes, page_size - level_bytes, compressed ? body_size : page_size - level_bytes,
                         compressed);
    values_size = compressed ? body_size : page_size - level_bytes;
  }
  size_t present = static_cast<size_t>(num_values);
  if (max_def > 0) {
    present = static_cast<size_t>(std::count(page.levels.begin(), page.levels.end(), static_cast<uint8_t>(max_def)));
    page.has_nulls = present != static_cast<size_t>(num_values);
  }
  decode_values(values_data, values_size, encoding, column, present, has_dictionary_ ? &dictionary_ : nullptr,
                &page.values, context);
  return page;
}

ColumnChunkData ColumnChunkPages::assemble(std::vector<DecodedPage> pages) {
  ColumnChunkData result;
  result.values.type = type_;
  result.rows = rows_;
  const LeafColumn& column = *column_;
  const bool list = column.max_repetition_level > 0;
  size_t values = 0;
  size_t levels = 0;
  bool any_null = false;
  for (const auto& page : pages) {
    values += page.values.size();
    levels += page.levels.size();
    any_null = any_null || page.has_nulls;
  }
  result.values.reserve(values);
  std::vector<uint8_t> definition;
  std::vector<uint8_t> repetition;
  if (any_null || list) definition.reserve(levels);
  if (list) repetition.reserve(levels);
  for (auto& page : pages) {
    result.values.append(std::move(page.values));
    if (any_null || list) definition.insert(definition.end(), page.levels.begin(), page.levels.end());
    if (list) repetition.insert(repetition.end(), page.repetition.begin(), page.repetition.end());
  }
  if (list) {
    DecodeContext context;
    context.where = where_;
    build_lists(definition, repetition, column.list_definition_levels, column.max_definition_level, &result, context);
    const size_t rows = result.lists[0].offsets.size() - 1;
    if (rows != static_cast<uint64_t>(rows_)) {
      context.fail("the repetition levels hold " + std::to_string(rows) + " rows, the row group " +
                   std::to_string(rows_));
    }
  } else if (any_null) {
    // 1 where the value is there; below the maximum level, the value or a struct around it is null.
    const auto max_def = static_cast<uint8_t>(column.max_definition_level);
    result.defined.resize(definition.size());
    for (size_t i = 0; i < definition.size(); ++i) result.defined[i] = definition[i] == max_def;
  }
  for (auto& buffer : dictionary_.storage) result.values.adopt(std::move(buffer), 0);
  result.values.storage_bytes += dictionary_.storage_bytes;
  dictionary_.storage.clear();
  dictionary_.storage_bytes = 0;
  if (raw_referenced_) {
    result.values.adopt(std::move(raw_), raw_size_);
  } else {
    raw_.reset();
  }
  return result;
}

ColumnChunkData ParquetFileReader::read_column(size_t group, size_t leaf, bool check_utf8) const {
  std::unique_ptr<ColumnChunkPages> chunk = open_column(group, leaf, check_utf8);
  std::vector<DecodedPage> pages;
  pages.reserve(chunk->page_count());
  for (size_t i = 0; i < chunk->page_count(); ++i) pages.push_back(chunk->decode_page(i));
  return chunk->assemble(std::move(pages));
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
