// LIST columns: files written by pyarrow and DuckDB (tests/data/parquet, made by
// make_list_fixtures.py), by salvo's own writer, and by hand (the legacy two-level forms, lists
// spanning pages, corrupt levels); tensor inputs as numbers; no text column; text pairs.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/parquet/parquet_encoder.h"
#include "io/parquet/parquet_file_reader.h"
#include "io/parquet/parquet_metadata.h"
#include "io/parquet/parquet_source.h"
#include "io/parquet/thrift_compact.h"
#include "io/row_sink.h"
#include "io/test_files.h"
#include "salvo/table.h"

namespace salvo {
namespace {

using namespace salvo::parquet;
using json = nlohmann::json;

const std::filesystem::path kFixtures = std::filesystem::path(SALVO_TEST_DATA_DIR) / "parquet";

// Binary values as {"hex": "..."}, as the fixtures' script writes them.
json comparable(const json& v) {
  if (v.is_binary()) {
    static const char* digits = "0123456789abcdef";
    std::string hex;
    for (uint8_t b : v.get_binary()) {
      hex.push_back(digits[b >> 4]);
      hex.push_back(digits[b & 15]);
    }
    return json{{"hex", hex}};
  }
  if (v.is_array()) {
    json out = json::array();
    for (const auto& x : v) out.push_back(comparable(x));
    return out;
  }
  return v;
}

std::vector<json> read_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(json::parse(line));
  return rows;
}

// Every row the source gives, as {"text": ..., "<column>": value, ...}: through read() (values
// decoded on the reading thread) or read_batch() (decoded by parse()).
std::vector<json> read_rows(const std::filesystem::path& path, const FieldNames& fields, bool batches) {
  auto source = open_parquet_source(path.string(), fields, {});
  std::vector<InputRow> rows;
  if (batches) {
    for (bool more = true; more;) {
      RawBatch batch;
      more = source->read_batch(17, &batch);
      for (const auto& record : batch.records) {
        rows.emplace_back();
        source->parse(record, &rows.back());
        rows.back().text = std::string(rows.back().text_view());  // the batch goes
        rows.back().borrowed_text = {};
      }
    }
  } else {
    std::vector<RawRecord> records;
    while (source->read(17, &records)) {
    }
    for (const auto& record : records) {
      rows.emplace_back();
      source->parse(record, &rows.back());
    }
  }
  std::vector<json> out;
  for (const auto& row : rows) {
    json j = json::object();
    if (!fields.text.empty()) j["text"] = row.error.empty() ? json(row.text) : json("error: " + row.error);
    for (size_t i = 0; i < fields.passthrough.size(); ++i) j[fields.passthrough[i]] = comparable(row.passthrough[i]);
    out.push_back(std::move(j));
  }
  return out;
}

void expect_rows(const std::vector<json>& got, const std::vector<json>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t bad = 0;
  for (size_t r = 0; r < want.size(); ++r) {
    if (got[r] != want[r] && bad++ < 3) ADD_FAILURE() << what << " row " << r << ":\n" << got[r] << "\n" << want[r];
  }
  EXPECT_EQ(bad, 0u) << what;
}

// DuckDB 2.0 writes a null FLOAT[4] as four level entries, three of them repeating inside the null
// list: they carry nothing, as DuckDB reads them back (duckdb_null_fixed_array.parquet, written by
// COPY ... TO from [[1,2,3,4], null, [5,6,7,8], [1,1,1,1]]).
TEST(ParquetListTest, DuckdbNullFixedSizeArraysRead) {
  FieldNames fields;
  fields.text = "";
  fields.passthrough = {"vec"};
  const std::vector<json> want = {json{{"vec", {1.0, 2.0, 3.0, 4.0}}}, json{{"vec", nullptr}},
                                  json{{"vec", {5.0, 6.0, 7.0, 8.0}}}, json{{"vec", {1.0, 1.0, 1.0, 1.0}}}};
  for (bool batches : {false, true}) {
    expect_rows(read_rows(kFixtures / "duckdb_null_fixed_array.parquet", fields, batches), want, "duckdb");
  }
}

TEST(ParquetListTest, ReadsListsAsPyarrowAndDuckdbWroteThem) {
  const std::vector<std::pair<std::string, std::string>> fixtures = {
      {"lists_v1_dict_snappy.parquet", "lists.jsonl"}, {"lists_v2_plain_zstd.parquet", "lists.jsonl"},
      {"lists_v1_plain_gzip.parquet", "lists.jsonl"},  {"lists_v2_dict_none.parquet", "lists.jsonl"},
      {"lists_v1_legacy_lz4.parquet", "lists.jsonl"},  {"lists_duckdb_v1.parquet", "lists_duckdb.jsonl"},
      {"lists_duckdb_v2.parquet", "lists_duckdb.jsonl"}};
  for (const auto& [file, expected_file] : fixtures) {
    const auto expected = read_jsonl(kFixtures / expected_file);
    ASSERT_FALSE(expected.empty()) << expected_file;
    FieldNames fields;
    fields.id = "no such id";
    for (const auto& [key, value] : expected[0].items()) {
      if (key != "text") fields.passthrough.push_back(key);
    }
    for (bool batches : {false, true}) {
      expect_rows(read_rows(kFixtures / file, fields, batches), expected, file + (batches ? " (batches)" : ""));
    }
  }
}

TEST(ParquetListTest, ListColumnsCarryTheirElementTypes) {
  FieldNames fields;
  fields.passthrough = {"f32", "f64", "i32", "i64", "u32", "i8", "flag", "s", "bin", "fixed", "nested", "req"};
  auto source = open_parquet_source((kFixtures / "lists_v1_dict_snappy.parquet").string(), fields, {});
  const CarriedColumns carried = source->carried_columns();
  const std::vector<std::pair<ValueType, int>> want = {
      {ValueType::kFloat, 1}, {ValueType::kDouble, 1}, {ValueType::kInt32, 1},  {ValueType::kInt64, 1},
      {ValueType::kInt64, 1}, {ValueType::kInt32, 1},  {ValueType::kBool, 1},   {ValueType::kString, 1},
      {ValueType::kBinary, 1}, {ValueType::kBinary, 1}, {ValueType::kFloat, 2}, {ValueType::kInt64, 1}};
  ASSERT_EQ(carried.passthrough.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(carried.passthrough[i].type, want[i].first) << fields.passthrough[i];
    EXPECT_EQ(carried.passthrough[i].list_depth, want[i].second) << fields.passthrough[i];
  }
  // The long lists span several pages (the fixture's pages are 512 bytes).
  ParquetFileReader reader(kFixtures / "lists_v1_dict_snappy.parquet");
  const LeafColumn* long_lists = reader.find_column("long");
  ASSERT_NE(long_lists, nullptr);
  EXPECT_EQ(long_lists->name, "long.list.element");
  EXPECT_GT(reader.open_column(0, long_lists->index)->page_count(), 2u);
}

// A list column as its text: the message says it is a list.
TEST(ParquetListTest, AListIsNotAText) {
  FieldNames fields;
  fields.text = "f32";
  try {
    open_parquet_source((kFixtures / "lists_v1_dict_snappy.parquet").string(), fields, {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("text column \"f32\" is a list (list<float>), not a string column"),
              std::string::npos)
        << e.what();
  }
}

// salvo's own output: lists of numbers (an embedding), of lists, of strings and booleans, with nulls
// at every level, read back as they were written.
TEST(ParquetListTest, SalvoOutputReadsBack) {
  testing::ScratchDir dir;
  Schema schema;
  schema.fields = {{"text", DataType::string()},
                   {"embedding", DataType::list(DataType::float32(), 3)},
                   {"image", DataType::list(DataType::list(DataType::float32()))},
                   {"words", DataType::list(DataType::string())},
                   {"flags", DataType::list(DataType::boolean())},
                   {"ids", DataType::list(DataType::int64())}};
  const json rows = json::parse(R"([
    {"text": "a", "embedding": [1.5, -2.0, 0.25], "image": [[1.0, 2.0], [], null, [null, 3.5]],
     "words": ["x", null, ""], "flags": [true, false], "ids": []},
    {"text": "b", "embedding": null, "image": null, "words": null, "flags": [null], "ids": [7, -9]},
    {"text": "c", "embedding": [0.0, 0.0, 1.0], "image": [], "words": [], "flags": [], "ids": null},
    {"text": "d", "embedding": [3.0, 2.0, 1.0], "image": [[4.0]], "words": ["only"], "flags": null, "ids": [1]}
  ])");
  // Appends a JSON value to a column of its type.
  std::function<void(const json&, Column*)> append = [&](const json& v, Column* column) {
    if (v.is_null()) return column->append_null();
    switch (column->type().id()) {
      case TypeId::kString: return column->append_string(v.get<std::string>());
      case TypeId::kFloat32: return column->append_float32(v.get<float>());
      case TypeId::kBool: return column->append_bool(v.get<bool>());
      case TypeId::kInt64: return column->append_int64(v.get<int64_t>());
      case TypeId::kList:
        column->begin_list();
        for (const auto& item : v) append(item, &column->mutable_child());
        return column->end_list();
      default: FAIL() << column->type().to_string();
    }
  };
  RecordBatch batch;
  for (const auto& field : schema.fields) {
    Column column(field.type);
    for (const auto& row : rows) append(row[field.name], &column);
    batch.add_column(field, std::move(column));
  }
  // Twice, so that a row group holds rows given by list sizes and rows given by levels.
  const auto path = dir / "out.parquet";
  auto sink = open_row_sink(path, batch.schema(), {});
  sink->write(batch);
  sink->write(batch);
  sink->finish();

  FieldNames fields;
  fields.passthrough = {"embedding", "image", "words", "flags", "ids"};
  std::vector<json> want;
  for (int copy = 0; copy < 2; ++copy) {
    for (const auto& row : rows) want.push_back(row);
  }
  for (bool batches : {false, true}) expect_rows(read_rows(path, fields, batches), want, "salvo's output");

  ParquetFileReader reader(path);
  EXPECT_EQ(reader.find_column("image")->list_depth(), 2);
  EXPECT_EQ(reader.find_column("image")->name, "image.list.element.list.element");
}

// --- hand-made files

struct HandPage {
  HandPage(std::vector<uint32_t> definition, std::vector<uint32_t> repetition, std::vector<int32_t> values,
           bool v2 = false)
      : definition(std::move(definition)), repetition(std::move(repetition)), values(std::move(values)), v2(v2) {}

  std::vector<uint32_t> definition;
  std::vector<uint32_t> repetition;
  std::vector<int32_t> values;  // the present ones, PLAIN
  bool v2 = false;
  std::string levels;  // v1: these bytes instead of the levels encoded
};

SchemaElement group(const std::string& name, FieldRepetitionType repetition, int children, bool list = false) {
  SchemaElement e;
  e.name = name;
  e.repetition_type = repetition;
  e.num_children = children;
  if (list) {
    e.converted_type = ConvertedType::kList;
    e.logical_type = LogicalType{LogicalType::Kind::kList};
  }
  return e;
}

SchemaElement int32_leaf(const std::string& name, FieldRepetitionType repetition) {
  SchemaElement e;
  e.name = name;
  e.repetition_type = repetition;
  e.type = Type::kInt32;
  return e;
}

// A file of one INT32 column: `schema` below the root, `rows` rows in one row group, the pages
// uncompressed.
std::string hand_file(const std::vector<SchemaElement>& schema, int max_def, int max_rep, int64_t rows,
                      const std::vector<HandPage>& pages) {
  std::string file = "PAR1";
  const auto start = static_cast<int64_t>(file.size());
  int64_t values = 0;
  std::vector<std::string> path;
  for (const auto& e : schema) path.push_back(e.name);
  for (const auto& p : pages) {
    std::string body;
    int32_t rep_bytes = 0;
    int32_t def_bytes = 0;
    if (!p.levels.empty()) {
      body = p.levels;
    } else if (!p.v2) {
      if (max_rep > 0) append_levels_v1(p.repetition, static_cast<uint32_t>(max_rep), &body);
      if (max_def > 0) append_levels_v1(p.definition, static_cast<uint32_t>(max_def), &body);
    } else {
      if (max_rep > 0) append_rle_hybrid(p.repetition, bit_width_for(static_cast<uint32_t>(max_rep)), &body);
      rep_bytes = static_cast<int32_t>(body.size());
      if (max_def > 0) append_rle_hybrid(p.definition, bit_width_for(static_cast<uint32_t>(max_def)), &body);
      def_bytes = static_cast<int32_t>(body.size()) - rep_bytes;
    }
    for (int32_t v : p.values) append_plain(v, &body);
    const auto n = static_cast<int32_t>(p.definition.size());
    PageHeader header;
    header.uncompressed_page_size = header.compressed_page_size = static_cast<int32_t>(body.size());
    if (p.v2) {
      header.type = PageType::kDataPageV2;
      DataPageHeaderV2 v2;
      v2.num_values = n;
      v2.num_rows = static_cast<int32_t>(std::count(p.repetition.begin(), p.repetition.end(), 0u));
      v2.num_nulls = n - static_cast<int32_t>(p.values.size());
      v2.definition_levels_byte_length = def_bytes;
      v2.repetition_levels_byte_length = rep_bytes;
      v2.is_compressed = false;
      header.data_page_header_v2 = v2;
    } else {
      header.type = PageType::kDataPage;
      header.data_page_header =
          DataPageHeader{n, parquet::Encoding::kPlain, parquet::Encoding::kRle, parquet::Encoding::kRle, std::nullopt};
    }
    ThriftCompactWriter h;
    encode(h, header);
    file += h.data() + body;
    values += n;
  }
  ColumnMetaData meta;
  meta.type = Type::kInt32;
  meta.encodings = {parquet::Encoding::kPlain, parquet::Encoding::kRle};
  meta.path_in_schema = path;
  meta.codec = CompressionCodec::kUncompressed;
  meta.num_values = values;
  meta.data_page_offset = start;
  meta.total_compressed_size = meta.total_uncompressed_size = static_cast<int64_t>(file.size()) - start;
  RowGroup row_group;
  row_group.num_rows = rows;
  row_group.columns = {ColumnChunk{std::nullopt, start, meta}};
  FileMetaData metadata;
  metadata.num_rows = rows;
  SchemaElement root;
  root.name = "schema";
  root.num_children = 1;
  metadata.schema = {root};
  metadata.schema.insert(metadata.schema.end(), schema.begin(), schema.end());
  metadata.row_groups = {row_group};
  ThriftCompactWriter footer;
  encode(footer, metadata);
  file += footer.data();
  const auto length = static_cast<uint32_t>(footer.data().size());
  file.append(reinterpret_cast<const char*>(&length), 4);
  return file + "PAR1";
}

// The values of column "x" of a file, one JSON per row.
std::vector<json> column_x(const std::filesystem::path& path) {
  FieldNames fields;
  fields.text = "";
  fields.passthrough = {"x"};
  std::vector<json> out;
  for (const auto& row : read_rows(path, fields, true)) out.push_back(row["x"]);
  return out;
}

using Rep = FieldRepetitionType;

// The standard three levels: optional group x (LIST) { repeated group list { optional int32 element } }
const std::vector<SchemaElement> kStandard = {group("x", Rep::kOptional, 1, true), group("list", Rep::kRepeated, 1),
                                              int32_leaf("element", Rep::kOptional)};

TEST(ParquetListTest, LegacyTwoLevelListsReadAsLists) {
  testing::ScratchDir dir;
  // Rows: [1, 2], [], null (the list itself optional), [3].
  const std::vector<json> want = {json::array({1, 2}), json::array(), nullptr, json::array({3})};
  // optional group x (LIST) { repeated int32 array; }: the repeated field is the element (rule 1).
  const auto two_level = dir.write(
      "two.parquet",
      hand_file({group("x", Rep::kOptional, 1, true), int32_leaf("array", Rep::kRepeated)}, 2, 1, 4,
                {HandPage{{2, 2, 1, 0, 2}, {0, 1, 0, 0, 0}, {1, 2, 3}}}));
  EXPECT_EQ(column_x(two_level), want);
  // Spark's and Hive's: optional group x (LIST) { repeated group bag { optional int32 array_element; } }
  const auto bag = dir.write("bag.parquet", hand_file({group("x", Rep::kOptional, 1, true), group("bag", Rep::kRepeated, 1),
                                                       int32_leaf("array_element", Rep::kOptional)},
                                                      3, 1, 4, {HandPage{{3, 2, 1, 0, 3}, {0, 1, 0, 0, 0}, {1, 3}}}));
  EXPECT_EQ(column_x(bag), (std::vector<json>{json::array({1, nullptr}), json::array(), nullptr, json::array({3})}));
  // A repeated field outside any LIST group: a required list of required elements.
  const auto bare = dir.write("bare.parquet", hand_file({int32_leaf("x", Rep::kRepeated)}, 1, 1, 3,
                                                        {HandPage{{1, 1, 0, 1}, {0, 1, 0, 0}, {5, 6, 7}}}));
  EXPECT_EQ(column_x(bare), (std::vector<json>{json::array({5, 6}), json::array(), json::array({7})}));
  // optional group x (LIST) { repeated group array (LIST) { repeated int32 array; } }: "array" is
  // the element itself (rule 3), here a list: [[1, 2], []], [], null.
  const auto nested = dir.write(
      "nested.parquet",
      hand_file({group("x", Rep::kOptional, 1, true), group("array", Rep::kRepeated, 1, true),
                 int32_leaf("array", Rep::kRepeated)},
                3, 2, 3, {HandPage{{3, 3, 2, 1, 0}, {0, 2, 1, 0, 0}, {1, 2}}}));
  EXPECT_EQ(column_x(nested), (std::vector<json>{json::array({json::array({1, 2}), json::array()}), json::array(), nullptr}));
}

TEST(ParquetListTest, ListsSpanPagesInV1AndV2) {
  testing::ScratchDir dir;
  // [1, 2, 3, 4, 5], [null, 6], [] with the first list cut across two pages and the second
  // starting a third one.
  for (bool v2 : {false, true}) {
    const auto path = dir.write("span.parquet", hand_file(kStandard, 3, 1, 3,
                                                          {HandPage{{3, 3}, {0, 1}, {1, 2}, v2},
                                                           HandPage{{3, 3, 3}, {1, 1, 1}, {3, 4, 5}, v2},
                                                           HandPage{{2, 3, 1}, {0, 1, 0}, {6}, v2}}));
    EXPECT_EQ(column_x(path), (std::vector<json>{json::array({1, 2, 3, 4, 5}), json::array({nullptr, 6}), json::array()}))
        << (v2 ? "v2" : "v1");
  }
}

// Corrupt levels end in salvo::Error naming the file, the column and the place.
TEST(ParquetListTest, CorruptLevelsGiveClearErrors) {
  testing::ScratchDir dir;
  auto expect_error = [&](const std::string& file, const std::string& needle) {
    const auto path = dir.write("bad.parquet", file);
    try {
      const auto rows = column_x(path);
      ADD_FAILURE() << "no error for " << needle << ": " << rows.size() << " rows";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("bad.parquet"), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
    }
  };
  // The chunk starts inside a list.
  expect_error(hand_file(kStandard, 3, 1, 1, {HandPage{{3, 3}, {1, 1}, {1, 2}}}), "continues a list that is null");
  // A repetition continues a null list, and an empty one.
  expect_error(hand_file(kStandard, 3, 1, 1, {HandPage{{0, 3}, {0, 1}, {1}}}), "level entry 1 (repetition 1)");
  expect_error(hand_file(kStandard, 3, 1, 1, {HandPage{{1, 3}, {0, 1}, {1}}}), "continues a list that is null, empty");
  // The levels hold 2 rows, the row group says 3.
  expect_error(hand_file(kStandard, 3, 1, 3, {HandPage{{3, 3}, {0, 0}, {1, 2}}}),
               "column \"x.list.element\", row group 0: the repetition levels hold 2 rows, the row group 3");
  // Levels above their maximum: RLE runs hold their value in a whole byte, whatever the bit width.
  HandPage high{{3, 3}, {0, 1}, {1, 2}};
  high.levels = std::string("\x04\x00\x00\x00\x02\x00\x02\x02", 8) + std::string("\x02\x00\x00\x00\x04\x03", 6);
  expect_error(hand_file(kStandard, 3, 1, 1, {high}), "repetition level 2 above the maximum 1");
  high.levels = std::string("\x02\x00\x00\x00\x04\x00", 6) + std::string("\x02\x00\x00\x00\x04\x05", 6);
  expect_error(hand_file(kStandard, 3, 1, 2, {high}), "definition level 5 above the maximum 3");
  // More values than the chunk's metadata says there are.
  expect_error(hand_file(kStandard, 3, 1, 1, {HandPage{{3, 3}, {0, 1}, {1}}}), "PLAIN data needs");
  // Lists nested deeper than salvo reads (9 LIST groups).
  std::vector<SchemaElement> deep;
  for (int d = 0; d < 9; ++d) {
    deep.push_back(group(d == 0 ? "x" : "element", Rep::kOptional, 1, true));
    deep.push_back(group("list", Rep::kRepeated, 1));
  }
  deep.push_back(int32_leaf("element", Rep::kOptional));
  const std::string deep_file = hand_file(deep, 19, 9, 1, {HandPage{{0}, {0}, {}}});
  try {
    FieldNames fields;
    fields.text = "";
    fields.passthrough = {"x"};
    open_parquet_source(dir.write("deep.parquet", deep_file).string(), fields, {});
    ADD_FAILURE() << "no error for deep lists";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lists nested 9 deep (salvo reads up to 8)"), std::string::npos) << e.what();
  }
  {
    ParquetFileReader reader(dir.write("deep.parquet", deep_file));
    EXPECT_THROW(reader.read_column(0, 0), Error);
  }
}

TEST(ParquetListTest, StructsAndMapsAreRefusedByName) {
  testing::ScratchDir dir;
  // A list of structs: optional group x (LIST) { repeated group list { optional group element { optional int32 a; } } }
  const auto path = dir.write(
      "structs.parquet",
      hand_file({group("x", Rep::kOptional, 1, true), group("list", Rep::kRepeated, 1), group("element", Rep::kOptional, 1),
                 int32_leaf("a", Rep::kOptional)},
                4, 1, 1, {HandPage{{4}, {0}, {1}}}));
  FieldNames fields;
  fields.text = "";
  fields.passthrough = {"x"};
  try {
    open_parquet_source(path.string(), fields, {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("column \"x\" is a list of structs, which salvo cannot read as one value"),
              std::string::npos)
        << e.what();
  }
  fields.passthrough = {"x.list.element.a"};
  try {
    open_parquet_source(path.string(), fields, {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a list of structs, which salvo cannot read"), std::string::npos) << e.what();
  }
}

// Every single-byte corruption of a list file reads or ends in salvo::Error.
TEST(ParquetListTest, HostileListFilesEndInErrors) {
  testing::ScratchDir dir;
  const std::string good = hand_file(kStandard, 3, 1, 4,
                                     {HandPage{{3, 3}, {0, 1}, {1, 2}}, HandPage{{3, 2, 0, 1}, {1, 0, 0, 0}, {3}, true}});
  EXPECT_EQ(column_x(dir.write("good.parquet", good)),
            (std::vector<json>{json::array({1, 2, 3}), json::array({nullptr}), nullptr, json::array()}));
  size_t errors = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t flip : {0x01, 0x10, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      const auto path = dir.write("flip.parquet", bad);
      try {
        ReaderOptions options;
        options.max_column_bytes = 1 << 20;
        ParquetFileReader reader(path, options);
        for (size_t g = 0; g < reader.num_row_groups(); ++g) {
          for (size_t c = 0; c < reader.columns().size(); ++c) reader.read_column(g, c);
        }
      } catch (const Error&) {
        ++errors;
      }
    }
  }
  EXPECT_GT(errors, good.size());
}

// --- what the source hands a job

TEST(ParquetListTest, TensorInputsComeAsNumbers) {
  FieldNames fields;
  fields.text = "";
  fields.passthrough = {"f32", "nested", "i64"};  // a kept column, then two tensor inputs
  fields.tensor_inputs = 2;
  const auto path = kFixtures / "lists_v1_dict_snappy.parquet";
  const auto expected = read_jsonl(kFixtures / "lists.jsonl");
  auto source = open_parquet_source(path.string(), fields, {});
  size_t r = 0;
  size_t numeric = 0;
  for (bool more = true; more;) {
    RawBatch batch;
    more = source->read_batch(13, &batch);
    for (const auto& record : batch.records) {
      InputRow row;
      source->parse(record, &row);
      ASSERT_EQ(row.tensors.size(), 2u);
      EXPECT_EQ(comparable(row.passthrough[0]), expected[r]["f32"]);  // kept: JSON
      EXPECT_TRUE(row.passthrough[1].is_null());
      // The expected numbers: the JSON flattened, or why not.
      for (size_t t = 0; t < 2; ++t) {
        const json& want = expected[r][t == 0 ? "nested" : "i64"];
        const NumericValue& got = row.tensors[t];
        if (want.is_null()) {
          EXPECT_TRUE(got.null) << r;
          continue;
        }
        std::vector<double> flat;
        bool has_null = false;
        std::function<void(const json&)> walk = [&](const json& v) {
          if (v.is_array()) {
            for (const auto& x : v) walk(x);
          } else if (v.is_null()) {
            has_null = true;
          } else {
            flat.push_back(v.get<double>());
          }
        };
        walk(want);
        EXPECT_FALSE(got.null) << r;
        EXPECT_EQ(got.numeric, !has_null) << r << " " << want;
        if (has_null || !got.numeric) continue;
        ++numeric;
        if (t == 0) {
          EXPECT_EQ(got.floats, flat) << r;
          EXPECT_TRUE(got.ints.empty());
        } else {
          std::vector<int64_t> ints;
          for (const auto& x : want) ints.push_back(x.get<int64_t>());
          EXPECT_EQ(got.ints, ints) << r;
        }
      }
      ++r;
    }
  }
  EXPECT_EQ(r, expected.size());
  EXPECT_GT(numeric, 10u);
}

// A file with no text column is read when no text is asked for; pairs of texts are checked as texts.
TEST(ParquetListTest, NoTextAndTextPairs) {
  testing::ScratchDir dir;
  Schema schema;
  schema.fields = {{"query", DataType::string()}, {"passage", DataType::binary()}, {"n", DataType::int64()}};
  RecordBatch batch;
  Column query(DataType::string());
  Column passage(DataType::binary());
  Column n(DataType::int64());
  const std::vector<std::pair<std::string, std::optional<std::string>>> pairs = {
      {"q1", "p1"}, {"q2", std::nullopt}, {"q3", "bad \xff"}, {"q4", ""}};
  for (size_t i = 0; i < pairs.size(); ++i) {
    query.append_string(pairs[i].first);
    pairs[i].second ? passage.append_string(*pairs[i].second) : passage.append_null();
    n.append_int64(static_cast<int64_t>(i));
  }
  batch.add_column(schema.fields[0], std::move(query));
  batch.add_column(schema.fields[1], std::move(passage));
  batch.add_column(schema.fields[2], std::move(n));
  const auto path = dir / "pairs.parquet";
  auto sink = open_row_sink(path, schema, {});
  sink->write(batch);
  sink->finish();

  FieldNames none;
  none.text = "";
  none.passthrough = {"n"};
  const auto rows = read_rows(path, none, true);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[3], json({{"n", 3}}));

  FieldNames fields;
  fields.text = "query";
  fields.text_pair = "passage";
  for (bool batches : {false, true}) {
    SCOPED_TRACE(batches ? "read_batch" : "read");
    auto source = open_parquet_source(path.string(), fields, {});
    std::vector<InputRow> got;
    RawBatch raw;  // the rows borrow their texts from it
    if (batches) {
      while (source->read_batch(2, &raw)) {
      }
      for (auto& record : raw.records) {
        got.emplace_back();
        source->consume(std::move(record), &got.back());
      }
    } else {
      std::vector<RawRecord> records;
      while (source->read(3, &records)) {
      }
      for (const auto& record : records) {
        got.emplace_back();
        source->parse(record, &got.back());
      }
    }
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].text_view(), "q1");
    EXPECT_EQ(got[0].text_pair, "p1");
    EXPECT_EQ(got[1].error, "text pair is null");
    EXPECT_EQ(got[2].error, "text pair is not valid UTF-8 (byte 4)");
    EXPECT_EQ(got[3].error, "");
    EXPECT_EQ(got[3].text_view(), "q4");
    EXPECT_EQ(got[3].text_pair, "");
  }
  fields.text_pair = "n";
  EXPECT_THROW(open_parquet_source(path.string(), fields, {}), Error);
}

}  // namespace
}  // namespace salvo
