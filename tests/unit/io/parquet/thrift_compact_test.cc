#include "io/parquet/thrift_compact.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "io/parquet/parquet_metadata.h"

namespace salvo {
namespace {

ThriftCompactReader reader_of(const std::string& s) {
  return ThriftCompactReader(reinterpret_cast<const uint8_t*>(s.data()), s.size(), "t.parquet", 100);
}

TEST(ThriftCompactTest, EncodesFieldHeadersAndZigzagAsTheSpecSays) {
  ThriftCompactWriter w;
  w.begin_struct();
  w.field_i32(1, -1);    // delta 1, type 5; zigzag(-1) = 1
  w.field_i64(3, 150);   // delta 2, type 6; zigzag(150) = 300 = 0xac 0x02
  w.field_i32(40, 0);    // delta 37 > 15: long form, id as zigzag i16 (80 = 0x50)
  w.field_bool(41, true);
  w.end_struct();
  const std::string expected = {0x15, 0x01, 0x26, static_cast<char>(0xac), 0x02, 0x05, 0x50, 0x00, 0x11, 0x00};
  EXPECT_EQ(w.data(), expected);
}

TEST(ThriftCompactTest, RoundTripsEveryType) {
  ThriftCompactWriter w;
  w.begin_struct();
  w.field_bool(1, false);
  w.field_i32(2, INT32_MIN);
  w.field_i64(3, INT64_MAX);
  w.field_double(4, 2.5);
  w.field_binary(5, std::string("h\0i", 3));
  w.field_list_begin(6, ThriftType::kI32, 20);
  for (int i = 0; i < 20; ++i) w.write_i32(i * 1000 - 7);
  w.field_struct_begin(300);
  w.field_bool(1, true);
  w.end_struct();
  w.field_list_begin(301, ThriftType::kBoolTrue, 2);
  w.write_bool(true);
  w.write_bool(false);
  w.end_struct();

  auto r = reader_of(w.data());
  r.begin_struct();
  int16_t id;
  ThriftType type;
  ASSERT_TRUE(r.next_field(&id, &type));
  EXPECT_EQ(id, 1);
  EXPECT_FALSE(r.read_bool());
  ASSERT_TRUE(r.next_field(&id, &type));
  EXPECT_EQ(r.read_i32(), INT32_MIN);
  ASSERT_TRUE(r.next_field(&id, &type));
  EXPECT_EQ(r.read_i64(), INT64_MAX);
  ASSERT_TRUE(r.next_field(&id, &type));
  EXPECT_EQ(r.read_double(), 2.5);
  ASSERT_TRUE(r.next_field(&id, &type));
  EXPECT_EQ(r.read_binary(), std::string("h\0i", 3));
  ASSERT_TRUE(r.next_field(&id, &type));
  EXPECT_EQ(type, ThriftType::kList);
  auto list = r.read_list_header();
  ASSERT_EQ(list.size, 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(r.read_i32(), i * 1000 - 7);
  ASSERT_TRUE(r.next_field(&id, &type));
  EXPECT_EQ(id, 300);
  r.skip(type);
  ASSERT_TRUE(r.next_field(&id, &type));
  EXPECT_EQ(id, 301);
  list = r.read_list_header();
  EXPECT_TRUE(r.read_bool());
  EXPECT_FALSE(r.read_bool());
  EXPECT_FALSE(r.next_field(&id, &type));
  EXPECT_EQ(r.position(), w.data().size());
}

TEST(ThriftCompactTest, HostileInputThrowsWithOffset) {
  // Binary length far beyond the data.
  std::string huge_binary = {0x18, static_cast<char>(0xff), static_cast<char>(0xff), 0x7f};
  auto r = reader_of(huge_binary);
  r.begin_struct();
  int16_t id;
  ThriftType type;
  ASSERT_TRUE(r.next_field(&id, &type));
  try {
    r.read_binary();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("t.parquet"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("byte 104"), std::string::npos) << e.what();
  }
  // A list claiming 2^40 elements.
  std::string huge_list = {static_cast<char>(0xf5), static_cast<char>(0x80), static_cast<char>(0x80),
                           static_cast<char>(0x80), static_cast<char>(0x80), static_cast<char>(0x80), 0x20};
  auto r2 = reader_of(huge_list);
  EXPECT_THROW(r2.read_list_header(), Error);
  // Structs nested 10000 deep.
  std::string deep(10000, static_cast<char>(0x1c));
  auto r3 = reader_of(deep);
  EXPECT_THROW(r3.skip(ThriftType::kStruct), Error);
  // Truncated varint and overlong varint.
  // The readers borrow their bytes: each string outlives its reader (ASan: stack-use-after-scope).
  const std::string truncated(1, static_cast<char>(0x80));
  auto r4 = reader_of(truncated);
  EXPECT_THROW(r4.read_i32(), Error);
  const std::string overlong(12, static_cast<char>(0xff));
  auto r5 = reader_of(overlong);
  EXPECT_THROW(r5.read_i64(), Error);
  const std::string bad_type(1, 0x0d);
  auto r6 = reader_of(bad_type);  // type code 13 does not exist
  r6.begin_struct();
  EXPECT_THROW(r6.next_field(&id, &type), Error);
}

TEST(ParquetMetadataTest, FileMetaDataRoundTrips) {
  parquet::FileMetaData f;
  f.version = 2;
  f.num_rows = 3;
  f.created_by = "salvo";
  parquet::SchemaElement root;
  root.name = "schema";
  root.num_children = 2;
  parquet::SchemaElement text;
  text.name = "text";
  text.type = parquet::Type::kByteArray;
  text.repetition_type = parquet::FieldRepetitionType::kOptional;
  text.converted_type = parquet::ConvertedType::kUtf8;
  text.logical_type = parquet::LogicalType{parquet::LogicalType::Kind::kString};
  parquet::SchemaElement n;
  n.name = "n";
  n.type = parquet::Type::kInt32;
  n.repetition_type = parquet::FieldRepetitionType::kRequired;
  n.logical_type = parquet::LogicalType{parquet::LogicalType::Kind::kInteger, 16, false};
  f.schema = {root, text, n};
  parquet::RowGroup g;
  g.num_rows = 3;
  g.total_byte_size = 99;
  parquet::ColumnChunk c;
  c.file_offset = 4;
  parquet::ColumnMetaData m;
  m.type = parquet::Type::kByteArray;
  m.encodings = {parquet::Encoding::kRleDictionary, parquet::Encoding::kPlain, parquet::Encoding::kRle};
  m.path_in_schema = {"text"};
  m.codec = parquet::CompressionCodec::kZstd;
  m.num_values = 3;
  m.total_compressed_size = 50;
  m.total_uncompressed_size = 60;
  m.data_page_offset = 40;
  m.dictionary_page_offset = 4;
  m.statistics = parquet::Statistics{1, std::nullopt, "z", "a"};
  c.meta_data = m;
  g.columns = {c, c};
  f.row_groups = {g};
  f.key_value_metadata = {{"k", "v"}, {"only_key", std::nullopt}};

  ThriftCompactWriter w;
  parquet::encode(w, f);
  auto r = reader_of(w.data());
  const parquet::FileMetaData d = parquet::decode_file_metadata(r);
  EXPECT_EQ(r.position(), w.data().size());
  EXPECT_EQ(d.version, 2);
  EXPECT_EQ(d.num_rows, 3);
  EXPECT_EQ(d.created_by, "salvo");
  ASSERT_EQ(d.schema.size(), 3u);
  EXPECT_EQ(d.schema[1].name, "text");
  EXPECT_EQ(d.schema[1].converted_type, parquet::ConvertedType::kUtf8);
  EXPECT_EQ(d.schema[1].logical_type->kind, parquet::LogicalType::Kind::kString);
  EXPECT_EQ(d.schema[2].logical_type->kind, parquet::LogicalType::Kind::kInteger);
  EXPECT_EQ(d.schema[2].logical_type->bit_width, 16);
  EXPECT_FALSE(d.schema[2].logical_type->is_signed);
  ASSERT_EQ(d.row_groups.size(), 1u);
  ASSERT_EQ(d.row_groups[0].columns.size(), 2u);
  const auto& dm = *d.row_groups[0].columns[1].meta_data;
  EXPECT_EQ(dm.encodings, m.encodings);
  EXPECT_EQ(dm.path_in_schema, m.path_in_schema);
  EXPECT_EQ(dm.codec, parquet::CompressionCodec::kZstd);
  EXPECT_EQ(dm.dictionary_page_offset, 4);
  EXPECT_EQ(dm.statistics->min_value, "a");
  EXPECT_EQ(dm.statistics->null_count, 1);
  ASSERT_EQ(d.key_value_metadata.size(), 2u);
  EXPECT_FALSE(d.key_value_metadata[1].value.has_value());
}

TEST(ParquetMetadataTest, PageHeaderRoundTripsAndMissingRequiredFieldsThrow) {
  parquet::PageHeader h;
  h.type = parquet::PageType::kDataPageV2;
  h.uncompressed_page_size = 1000;
  h.compressed_page_size = 400;
  parquet::DataPageHeaderV2 v2;
  v2.num_values = 10;
  v2.num_nulls = 2;
  v2.num_rows = 10;
  v2.encoding = parquet::Encoding::kDeltaByteArray;
  v2.definition_levels_byte_length = 3;
  v2.is_compressed = false;
  h.data_page_header_v2 = v2;
  ThriftCompactWriter w;
  parquet::encode(w, h);
  auto r = reader_of(w.data());
  const parquet::PageHeader d = parquet::decode_page_header(r);
  ASSERT_TRUE(d.data_page_header_v2);
  EXPECT_EQ(d.type, parquet::PageType::kDataPageV2);
  EXPECT_EQ(d.compressed_page_size, 400);
  EXPECT_EQ(d.data_page_header_v2->encoding, parquet::Encoding::kDeltaByteArray);
  EXPECT_EQ(d.data_page_header_v2->num_nulls, 2);
  EXPECT_FALSE(d.data_page_header_v2->is_compressed);

  ThriftCompactWriter partial;
  partial.begin_struct();
  partial.field_i32(1, 0);
  partial.end_struct();
  auto r2 = reader_of(partial.data());
  EXPECT_THROW(parquet::decode_page_header(r2), Error);
}

}  // namespace
}  // namespace salvo
