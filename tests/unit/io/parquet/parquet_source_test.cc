#include "io/parquet/parquet_source.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "io/compression.h"
#include "io/parquet/parquet_file_reader.h"
#include "io/parquet/parquet_metadata.h"
#include "io/parquet/parquet_writer.h"
#include "io/test_files.h"

namespace salvo {
namespace {

using namespace salvo::parquet;

void append_u32(std::string* s, uint32_t v) { s->append(reinterpret_cast<const char*>(&v), 4); }

// Builds a small file by hand from the spec: "text" (optional UTF8, snappy, a dictionary-less v1
// page with definition levels) and "n" (required INT64, uncompressed v2 page), 4 rows:
// "a", null, "\xff" (bad UTF-8), "dé".
std::string make_file(int64_t text_page_size_delta = 0) {
  std::string file = "PAR1";
  FileMetaData meta;
  meta.num_rows = 4;
  SchemaElement root;
  root.name = "schema";
  root.num_children = 2;
  SchemaElement text;
  text.name = "text";
  text.type = Type::kByteArray;
  text.repetition_type = FieldRepetitionType::kOptional;
  text.converted_type = ConvertedType::kUtf8;
  SchemaElement n;
  n.name = "n";
  n.type = Type::kInt64;
  n.repetition_type = FieldRepetitionType::kRequired;
  meta.schema = {root, text, n};
  RowGroup group;
  group.num_rows = 4;

  // text: levels 1,0,1,1 as one bit-packed group, then three PLAIN values.
  std::string body;
  append_u32(&body, 2);
  body += "\x03\x0d";
  for (std::string v : {std::string("a"), std::string("\xff"), std::string("d\xc3\xa9")}) {
    append_u32(&body, static_cast<uint32_t>(v.size()));
    body += v;
  }
  const std::string packed = compress(Compression::kSnappy, body);
  PageHeader page;
  page.type = PageType::kDataPage;
  page.uncompressed_page_size = static_cast<int32_t>(body.size());
  page.compressed_page_size = static_cast<int32_t>(packed.size() + text_page_size_delta);
  page.data_page_header = DataPageHeader{4, parquet::Encoding::kPlain, parquet::Encoding::kRle, parquet::Encoding::kRle, std::nullopt};
  ThriftCompactWriter header;
  encode(header, page);
  ColumnMetaData text_meta;
  text_meta.type = Type::kByteArray;
  text_meta.encodings = {parquet::Encoding::kPlain, parquet::Encoding::kRle};
  text_meta.path_in_schema = {"text"};
  text_meta.codec = CompressionCodec::kSnappy;
  text_meta.num_values = 4;
  text_meta.data_page_offset = static_cast<int64_t>(file.size());
  text_meta.total_compressed_size = static_cast<int64_t>(header.data().size() + packed.size());
  text_meta.total_uncompressed_size = static_cast<int64_t>(header.data().size() + body.size());
  file += header.data() + packed;

  std::string values;
  for (int64_t v : {int64_t{10}, int64_t{-20}, int64_t{30}, int64_t{1} << 40}) values.append(reinterpret_cast<const char*>(&v), 8);
  PageHeader page2;
  page2.type = PageType::kDataPageV2;
  page2.uncompressed_page_size = static_cast<int32_t>(values.size());
  page2.compressed_page_size = static_cast<int32_t>(values.size());
  DataPageHeaderV2 v2;
  v2.num_values = 4;
  v2.num_rows = 4;
  v2.is_compressed = false;
  page2.data_page_header_v2 = v2;
  ThriftCompactWriter header2;
  encode(header2, page2);
  ColumnMetaData n_meta;
  n_meta.type = Type::kInt64;
  n_meta.encodings = {parquet::Encoding::kPlain};
  n_meta.path_in_schema = {"n"};
  n_meta.codec = CompressionCodec::kUncompressed;
  n_meta.num_values = 4;
  n_meta.data_page_offset = static_cast<int64_t>(file.size());
  n_meta.total_compressed_size = static_cast<int64_t>(header2.data().size() + values.size());
  n_meta.total_uncompressed_size = n_meta.total_compressed_size;
  file += header2.data() + values;

  group.columns = {ColumnChunk{std::nullopt, text_meta.data_page_offset, text_meta},
                   ColumnChunk{std::nullopt, n_meta.data_page_offset, n_meta}};
  meta.row_groups = {group};
  ThriftCompactWriter footer;
  encode(footer, meta);
  file += footer.data();
  append_u32(&file, static_cast<uint32_t>(footer.data().size()));
  return file + "PAR1";
}

// Every row of `path`; with `labels`, how error messages name each row too.
std::vector<InputRow> read_all(const std::string& path, const FieldNames& fields,
                               std::vector<std::string>* labels = nullptr) {
  auto source = open_parquet_source(path, fields, {});
  std::vector<RawRecord> records;
  while (source->read(3, &records)) {
  }
  std::vector<InputRow> rows(records.size());
  for (size_t i = 0; i < records.size(); ++i) source->parse(records[i], &rows[i]);
  if (labels) {
    for (const auto& row : rows) labels->push_back(source->record_label(row));
  }
  EXPECT_EQ(source->bytes_read(), source->total_bytes());
  return rows;
}

TEST(ParquetSourceTest, ReadsTextIdAndErrorRows) {
  testing::ScratchDir dir;
  const auto path = dir.write("t.parquet", make_file());
  FieldNames fields;
  fields.id = "n";
  auto source = open_parquet_source(path, fields, {});
  ASSERT_TRUE(source->carried_columns().id);
  EXPECT_EQ(source->carried_columns().id->type, ValueType::kInt64);
  const auto rows = read_all(path, fields);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].text, "a");
  EXPECT_EQ(rows[0].id, 10);
  EXPECT_EQ(rows[0].line, 1u);
  EXPECT_EQ(rows[1].error, "text is null");
  EXPECT_EQ(rows[1].id, -20);
  EXPECT_NE(rows[2].error.find("not valid UTF-8"), std::string::npos);
  EXPECT_EQ(rows[3].text, "d\xc3\xa9");
  EXPECT_EQ(rows[3].id, int64_t{1} << 40);
  EXPECT_EQ(rows[3].index, 3u);
}

TEST(ParquetSourceTest, FoldersPartitionsAndMissingColumns) {
  testing::ScratchDir dir;
  std::filesystem::create_directories(dir / "out" / "lang=en");
  std::filesystem::create_directories(dir / "out" / "lang=de%2Fat");
  dir.write("out/lang=en/part-0.parquet", make_file());
  dir.write("out/lang=de%2Fat/part-1.parquet", make_file());
  dir.write("out/_SUCCESS", "");
  dir.write("out/.part-0.parquet.crc", "junk");
  FieldNames fields;
  fields.id = "none";
  fields.passthrough = {"lang", "n"};
  std::vector<std::string> labels;
  const auto rows = read_all((dir / "out").string(), fields, &labels);
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_EQ(rows[0].passthrough[0], "de/at");  // sorted paths: "lang=de%2Fat" < "lang=en"
  EXPECT_EQ(rows[4].passthrough[0], "en");
  EXPECT_EQ(rows[5].passthrough[1], -20);
  EXPECT_EQ(rows[7].index, 7u);
  // A folder's rows are named by their file and row in it.
  EXPECT_EQ(labels[1], (dir / "out" / "lang=de%2Fat" / "part-1.parquet").string() + " row 2");
  EXPECT_EQ(labels[7], (dir / "out" / "lang=en" / "part-0.parquet").string() + " row 4");
  EXPECT_EQ(read_all((dir / "out" / "*" / "*.parquet").string(), fields).size(), 8u);

  fields.passthrough = {"missing"};
  EXPECT_THROW(open_parquet_source((dir / "out").string(), fields, {}), Error);
  FieldNames wrong_text;
  wrong_text.text = "n";
  EXPECT_THROW(open_parquet_source((dir / "out").string(), wrong_text, {}), Error);
}

// Reads every column of every row group; hostile files must end in salvo::Error, nothing else.
void read_everything(const std::filesystem::path& path) {
  ReaderOptions options;
  options.max_column_bytes = 1 << 20;
  ParquetFileReader reader(path, options);
  for (size_t g = 0; g < reader.num_row_groups(); ++g) {
    std::vector<size_t> leaves;
    for (size_t c = 0; c < reader.columns().size(); ++c) leaves.push_back(c);
    reader.read_row_group(g, leaves);
  }
}

TEST(ParquetFileReaderTest, HostileFilesGiveErrorsNamingFileAndOffset) {
  testing::ScratchDir dir;
  const std::string good = make_file();
  read_everything(dir.write("good.parquet", good));

  auto expect_error = [&](const std::string& content, const std::string& needle) {
    const auto path = dir.write("bad.parquet", content);
    try {
      read_everything(path);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kIo);
      EXPECT_NE(std::string(e.what()).find("bad.parquet"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("PAR", "too short");
  expect_error("XXXX" + good.substr(4), "no PAR1 magic at the start");
  expect_error(good.substr(0, good.size() - 1), "no PAR1 magic at the end");
  std::string huge_footer = good;
  huge_footer[huge_footer.size() - 5] = 0x7f;
  expect_error(huge_footer, "footer length");
  expect_error(make_file(1000), "runs past the column chunk");
  std::string bad_thrift = good;
  const uint32_t footer_length = *reinterpret_cast<const uint32_t*>(good.data() + good.size() - 8);
  bad_thrift[good.size() - 8 - footer_length] = 0x0d;  // type code 13 does not exist
  expect_error(bad_thrift, "bad Thrift metadata at byte");

  // Every truncation and every single-byte corruption either reads or throws salvo::Error.
  for (size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_THROW(read_everything(dir.write("cut.parquet", good.substr(0, cut))), Error);
  }
  size_t errors = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      try {
        read_everything(dir.write("flip.parquet", bad));
      } catch (const Error&) {
        ++errors;
      }
    }
  }
  EXPECT_GT(errors, good.size());
}

// A file of `groups` row groups of `rows` rows, written by salvo's writer with small pages (many
// per column chunk): text (nullable, every 7th row null, every 11th not UTF-8, a few repeated
// values so some chunks get a dictionary), id INT64 (every 5th null), tag STRING (8 values).
std::filesystem::path write_groups(const testing::ScratchDir& dir, const std::string& name, size_t groups,
                                   size_t rows, std::vector<std::string>* texts) {
  ParquetWriteOptions options;
  options.page_bytes = 2000;
  options.dictionary_max_bytes = 3000;
  const auto path = dir / name;
  ParquetFileWriter writer(path, options);
  std::vector<ParquetColumnSpec> columns = {{"text", ParquetValueKind::kString, false},
                                            {"id", ParquetValueKind::kInt64, false},
                                            {"tag", ParquetValueKind::kString, false}};
  std::vector<ParquetColumnBuffer> buffers;
  for (const auto& c : columns) buffers.emplace_back(c);
  size_t n = 0;
  for (size_t g = 0; g < groups; ++g) {
    for (size_t r = 0; r < rows; ++r, ++n) {
      std::string text = g % 2 == 0 ? "row " + std::to_string(n) + " text" : "same " + std::to_string(n % 3);
      if (n % 11 == 4) text += "\xff";
      if (n % 7 == 3) {
        buffers[0].add_null();
        texts->push_back("<null>");
      } else {
        buffers[0].add_bytes(text);
        texts->push_back(text);
      }
      n % 5 == 0 ? buffers[1].add_null() : buffers[1].add_int64(static_cast<int64_t>(n) * 1000);
      buffers[2].add_bytes("tag " + std::to_string(n % 8));
    }
    writer.write_row_group(buffers);
  }
  writer.finish(columns);
  return path;
}

// What a source gives for one row, as a string to compare.
std::string describe(const InputRow& row) {
  std::string out = std::to_string(row.index) + "/" + std::to_string(row.line) + " ";
  out += row.error.empty() ? std::string(row.text_view()) : "error: " + row.error;
  out += " id=" + row.id.dump();
  for (const auto& v : row.passthrough) out += " " + v.dump();
  return out;
}

TEST(ParquetSourceTest, BatchesBorrowTextThatOutlivesTheSource) {
  testing::ScratchDir dir;
  std::vector<std::string> texts;
  const auto path = write_groups(dir, "groups.parquet", 6, 500, &texts);
  FieldNames fields;
  fields.passthrough = {"tag"};

  // The reference: read() copies every value.
  std::vector<std::string> expected;
  {
    auto source = open_parquet_source(path.string(), fields, {});
    std::vector<RawRecord> records;
    while (source->read(97, &records)) {
    }
    for (const auto& record : records) {
      InputRow row;
      source->parse(record, &row);
      EXPECT_TRUE(row.borrowed_text.empty());
      expected.push_back(describe(row));
    }
  }
  ASSERT_EQ(expected.size(), 3000u);
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i] == "<null>") {
      EXPECT_NE(expected[i].find("error: text is null"), std::string::npos) << expected[i];
    } else if (texts[i].back() == '\xff') {
      EXPECT_NE(expected[i].find("not valid UTF-8 (byte " + std::to_string(texts[i].size() - 1) + ")"),
                std::string::npos)
          << expected[i];
    } else {
      EXPECT_NE(expected[i].find(" " + texts[i] + " id="), std::string::npos) << expected[i];
    }
  }

  // Batches, with every decoding setup: the rows are the same, their text borrowed, and still
  // valid once the source is gone (the batches keep the decoded row groups alive).
  for (int threads : {1, 2, 4}) {
    for (uint64_t budget : {uint64_t{1}, uint64_t{64} << 20}) {
      SourceLimits limits;
      limits.decode_threads = threads;
      limits.read_ahead_bytes = budget;
      std::vector<RawBatch> batches;
      {
        auto source = open_parquet_source(path.string(), fields, limits);
        for (bool more = true; more;) {
          RawBatch batch;
          more = source->read_batch(97, &batch);
          if (!batch.records.empty()) batches.push_back(std::move(batch));
        }
        // parse() on one half, consume() on the other, while the source lives.
      }
      auto source = open_parquet_source(path.string(), fields, limits);  // only for parse()
      std::vector<std::string> got;
      size_t borrowed = 0;
      for (auto& batch : batches) {
        EXPECT_FALSE(batch.buffers.empty());
        for (auto& record : batch.records) {
          InputRow row;
          if (record.index % 2 == 0) {
            source->parse(record, &row);
          } else {
            source->consume(std::move(record), &row);
          }
          if (row.error.empty()) {
            EXPECT_TRUE(row.text.empty());
            borrowed += row.borrowed_text.data() != nullptr;
          }
          got.push_back(describe(row));
        }
      }
      EXPECT_EQ(got, expected) << threads << " threads, budget " << budget;
      EXPECT_GT(borrowed, 2000u);
    }
  }
}

TEST(ParquetFileReaderTest, PagesDecodeInAnyOrder) {
  testing::ScratchDir dir;
  std::vector<std::string> texts;
  const auto path = write_groups(dir, "pages.parquet", 2, 700, &texts);
  ParquetFileReader reader(path);
  size_t most_pages = 0;
  for (size_t g = 0; g < reader.num_row_groups(); ++g) {
    for (size_t leaf = 0; leaf < reader.columns().size(); ++leaf) {
      const ColumnChunkData serial = reader.read_column(g, leaf, true);
      auto chunk = reader.open_column(g, leaf, true);
      most_pages = std::max(most_pages, chunk->page_count());
      std::vector<DecodedPage> pages(chunk->page_count());
      for (size_t p = pages.size(); p-- > 0;) pages[p] = chunk->decode_page(p);
      const ColumnChunkData reversed = chunk->assemble(std::move(pages));
      ASSERT_EQ(reversed.values.size(), serial.values.size());
      EXPECT_EQ(reversed.defined, serial.defined);
      EXPECT_EQ(reversed.values.ints, serial.values.ints);
      EXPECT_EQ(reversed.values.invalid_utf8, serial.values.invalid_utf8);
      for (size_t i = 0; i < serial.values.views.size(); ++i) {
        ASSERT_EQ(reversed.values.views[i], serial.values.views[i]);
      }
      if (leaf == 0) {
        EXPECT_FALSE(serial.values.invalid_utf8.empty());
      }
    }
  }
  EXPECT_GE(most_pages, 5u);
}

TEST(ParquetSourceTest, ADecodeErrorArrivesAfterTheRowsBeforeIt) {
  testing::ScratchDir dir;
  std::vector<std::string> texts;
  const auto path = write_groups(dir, "ok.parquet", 4, 300, &texts);
  // Corrupt one byte inside the third row group's text chunk: rows of the first two groups are
  // read, then the error.
  std::string file = testing::read_file(path);
  ParquetFileReader reader(path);
  const auto& meta = *reader.metadata().row_groups[2].columns[0].meta_data;
  const size_t at = static_cast<size_t>(meta.data_page_offset);
  std::string bad = file;
  for (size_t i = at; i < at + 8; ++i) bad[i] = '\x7f';
  const auto bad_path = dir.write("bad.parquet", bad);
  SourceLimits limits;
  limits.decode_threads = 3;
  auto source = open_parquet_source(bad_path.string(), {}, limits);
  RawBatch batch;
  size_t rows = 0;
  try {
    while (source->read_batch(50, &batch)) {
      rows += batch.records.size();
      batch.clear();
    }
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    rows += batch.records.size();
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    // The page header is what broke: the message names the file and the byte.
    EXPECT_NE(std::string(e.what()).find("bad.parquet: bad Thrift metadata at byte"), std::string::npos) << e.what();
  }
  EXPECT_EQ(rows, 600u);
}

}  // namespace
}  // namespace salvo
