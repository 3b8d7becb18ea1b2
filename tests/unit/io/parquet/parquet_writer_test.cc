#include "io/parquet/parquet_writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include <random>

#include "core/error.h"
#include "io/parquet/parquet_encoder.h"
#include "io/parquet/parquet_sink.h"
#include "io/parquet/parquet_table_reader.h"
#include "io/part_folder_sink.h"
#include "io/test_files.h"

namespace salvo {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

// A plain reading of the RLE/bit-packed hybrid, straight from the format
// description.
std::vector<uint32_t> decode_hybrid(std::string_view in, int bit_width, size_t count) {
  std::vector<uint32_t> out;
  size_t pos = 0;
  auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const uint8_t b = static_cast<uint8_t>(in.at(pos++));
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
  };
  while (out.size() < count) {
    const uint64_t header = varint();
    if (header & 1) {
      const size_t values = (header >> 1) * 8;
      for (size_t i = 0; i < values; ++i) {
        uint32_t v = 0;
        for (int bit = 0; bit < bit_width; ++bit) {
          const size_t at = i * bit_width + bit;
          v |= ((static_cast<uint8_t>(in.at(pos + at / 8)) >> (at % 8)) & 1u) << bit;
        }
        if (out.size() < count) out.push_back(v);
      }
      pos += (header >> 1) * bit_width;
    } else {
      uint32_t v = 0;
      for (int byte = 0; byte < (bit_width + 7) / 8; ++byte)
        v |= static_cast<uint32_t>(static_cast<uint8_t>(in.at(pos++))) << (8 * byte);
      out.insert(out.end(), header >> 1, v);
    }
  }
  EXPECT_EQ(pos, in.size()) << "trailing bytes after the hybrid data";
  return out;
}

std::string hybrid(std::vector<uint32_t> values, int bit_width) {
  std::string out;
  append_rle_hybrid(values, bit_width, &out);
  return out;
}

TEST(ParquetEncoderTest, BitWidth) {
  EXPECT_EQ(bit_width_for(0), 0);
  EXPECT_EQ(bit_width_for(1), 1);
  EXPECT_EQ(bit_width_for(3), 2);
  EXPECT_EQ(bit_width_for(4), 3);
  EXPECT_EQ(bit_width_for(255), 8);
  EXPECT_EQ(bit_width_for(256), 9);
}

TEST(ParquetEncoderTest, HybridByHand) {
  // Ten ones: one RLE run, header 10 << 1, then the value in one byte.
  EXPECT_EQ(hybrid(std::vector<uint32_t>(10, 1), 1), bytes({0x14, 0x01}));
  // Alternating bits: one bit-packed group, header (1 << 1) | 1, LSB first.
  EXPECT_EQ(hybrid({0, 1, 0, 1, 0, 1, 0, 1}, 1), bytes({0x03, 0xAA}));
  // Three 2-bit values, zero-padded to a group of 8 (2 bytes).
  EXPECT_EQ(hybrid({1, 2, 3}, 2), bytes({0x03, 0x39, 0x00}));
  // Three literals then twenty zeros: the run lends five values to complete the
  // literals' group, and the fifteen left form an RLE run.
  std::vector<uint32_t> mixed = {1, 0, 1};
  mixed.insert(mixed.end(), 20, 0);
  EXPECT_EQ(hybrid(mixed, 1), bytes({0x03, 0x05, 0x1E, 0x00}));
  // Three literals then twelve zeros: too few left for a run, so all fifteen
  // are bit-packed.
  mixed.resize(15);
  EXPECT_EQ(hybrid(mixed, 1), bytes({0x05, 0x05, 0x00}));
  // A 9-bit RLE value takes two bytes.
  EXPECT_EQ(hybrid(std::vector<uint32_t>(8, 300), 9), bytes({0x10, 0x2C, 0x01}));
  EXPECT_EQ(hybrid({}, 3), "");
}

TEST(ParquetEncoderTest, HybridMatchesPlainDecoderOnRandomRuns) {
  std::mt19937 rng(7);
  for (int width : {1, 2, 3, 5, 8, 11, 17}) {
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<uint32_t> values;
      const uint32_t max = width == 32 ? ~0u : (1u << width) - 1;
      while (values.size() < 500) {
        const uint32_t v = rng() & max;
        const size_t run = rng() % 3 == 0 ? 1 + rng() % 40 : 1;
        values.insert(values.end(), run, v);
      }
      const std::string encoded = hybrid(values, width);
      EXPECT_EQ(decode_hybrid(encoded, width, values.size()), values)
          << "width " << width << " trial " << trial;
    }
  }
}

TEST(ParquetEncoderTest, RunsEncodeLikeTheirExpansion) {
  std::mt19937 rng(11);
  for (int width : {1, 2, 3, 7}) {
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<LevelRun> runs;
      std::vector<uint32_t> values;
      const uint32_t max = (1u << width) - 1;
      const size_t n = rng() % 40;
      for (size_t i = 0; i < n; ++i) {
        // Short and long runs, zero-length ones, and neighbours with the same value.
        const uint32_t v = rng() % 4 == 0 && !runs.empty() ? runs.back().value : rng() & max;
        const uint64_t count = rng() % 5 == 0 ? rng() % 500 : rng() % 12;
        runs.push_back({v, count});
        values.insert(values.end(), count, v);
      }
      std::string encoded;
      append_rle_hybrid_runs(runs, width, &encoded);
      EXPECT_EQ(decode_hybrid(encoded, width, values.size()), values) << "width " << width << " trial " << trial;
      // About as compact as the value-by-value encoder.
      EXPECT_LE(encoded.size(), hybrid(values, width).size() * 5 / 4 + 8);
    }
  }
  // A list of 384 elements per row: a bit-packed group and one RLE run per row.
  std::vector<LevelRun> rows;
  for (int r = 0; r < 3; ++r) {
    rows.push_back({0, 1});
    rows.push_back({1, 383});
  }
  std::string encoded;
  append_rle_hybrid_runs(rows, 1, &encoded);
  EXPECT_EQ(encoded.size(), 3u * 5u);
}

TEST(ParquetEncoderTest, LevelsCarryLengthPrefix) {
  std::string out;
  append_levels_v1(std::vector<uint32_t>{3, 3, 0, 1, 3}, 3, &out);
  ASSERT_GE(out.size(), 4u);
  const uint32_t length = static_cast<uint8_t>(out[0]) | static_cast<uint8_t>(out[1]) << 8;
  EXPECT_EQ(length, out.size() - 4);
  EXPECT_EQ(decode_hybrid(std::string_view(out).substr(4), 2, 5),
            (std::vector<uint32_t>{3, 3, 0, 1, 3}));
}

TEST(ParquetEncoderTest, Plain) {
  std::string out;
  append_plain_bools(std::vector<uint8_t>{1, 0, 1, 1, 0, 0, 0, 0, 1}, &out);
  EXPECT_EQ(out, bytes({0x0D, 0x01}));
  out.clear();
  append_plain_bytes("ab", &out);
  append_plain(int32_t{-2}, &out);
  append_plain(1.5f, &out);
  EXPECT_EQ(out, bytes({2, 0, 0, 0, 'a', 'b', 0xFE, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xC0, 0x3F}));
}

// A Parquet file taken apart with the metadata decoders: its footer and each
// column's pages.
struct Page {
  parquet::PageHeader header;
  std::string body;
};

struct ParsedFile {
  parquet::FileMetaData metadata;
  std::vector<std::vector<Page>> pages;  // per column chunk, in file order
};

ParsedFile parse(const std::filesystem::path& path) {
  const std::string file = testing::read_file(path);
  EXPECT_EQ(file.substr(0, 4), "PAR1");
  EXPECT_EQ(file.substr(file.size() - 4), "PAR1");
  uint32_t footer_length = 0;
  std::memcpy(&footer_length, file.data() + file.size() - 8, 4);
  const auto* data = reinterpret_cast<const uint8_t*>(file.data());
  ParsedFile parsed;
  ThriftCompactReader footer(data + file.size() - 8 - footer_length, footer_length, path.string());
  parsed.metadata = parquet::decode_file_metadata(footer);
  for (const auto& group : parsed.metadata.row_groups) {
    for (const auto& chunk : group.columns) {
      const auto& meta = *chunk.meta_data;
      size_t pos = meta.dictionary_page_offset.value_or(meta.data_page_offset);
      const size_t end = pos + meta.total_compressed_size;
      std::vector<Page> pages;
      while (pos < end) {
        ThriftCompactReader in(data + pos, end - pos, path.string(), pos);
        Page page;
        page.header = parquet::decode_page_header(in);
        pos += in.position();
        page.body = file.substr(pos, page.header.compressed_page_size);
        pos += page.header.compressed_page_size;
        pages.push_back(std::move(page));
      }
      EXPECT_EQ(pos, end);
      parsed.pages.push_back(std::move(pages));
    }
  }
  return parsed;
}

ParquetWriteOptions uncompressed() {
  ParquetWriteOptions options;
  options.codec = parquet::CompressionCodec::kUncompressed;
  return options;
}

TEST(ParquetWriterTest, ListLevelsAndSchema) {
  testing::ScratchDir dir;
  const std::vector<ParquetColumnSpec> columns = {{"embedding", ParquetValueKind::kFloat, true},
                                                  {"label", ParquetValueKind::kString, false}};
  std::vector<ParquetColumnBuffer> buffers;
  for (const auto& c : columns) buffers.emplace_back(c);
  const std::vector<float> two = {1.0f, 2.0f}, none = {}, one = {3.0f};
  buffers[0].add_list(two);
  buffers[0].add_null();
  buffers[0].add_list(none);
  buffers[0].add_list(one);
  buffers[1].add_bytes("x");
  buffers[1].add_null();
  buffers[1].add_bytes("y");
  buffers[1].add_bytes("x");
  ParquetFileWriter writer(dir / "f.parquet", uncompressed());
  writer.write_row_group(buffers);
  EXPECT_EQ(buffers[0].rows(), 0u) << "buffers are cleared";
  writer.finish(columns);
  EXPECT_EQ(dir.names(), std::vector<std::string>{"f.parquet"}) << "no temporary file is left";

  const ParsedFile f = parse(dir / "f.parquet");
  ASSERT_EQ(f.metadata.num_rows, 4);
  const auto& schema = f.metadata.schema;
  ASSERT_EQ(schema.size(), 5u);
  EXPECT_EQ(schema[0].num_children, 2);
  EXPECT_EQ(schema[1].name, "embedding");
  EXPECT_EQ(schema[1].converted_type, parquet::ConvertedType::kList);
  EXPECT_EQ(schema[1].repetition_type, parquet::FieldRepetitionType::kOptional);
  EXPECT_EQ(schema[2].name, "list");
  EXPECT_EQ(schema[2].repetition_type, parquet::FieldRepetitionType::kRepeated);
  EXPECT_EQ(schema[3].name, "element");
  EXPECT_EQ(schema[3].type, parquet::Type::kFloat);
  EXPECT_EQ(schema[3].repetition_type, parquet::FieldRepetitionType::kOptional);
  EXPECT_EQ(schema[4].converted_type, parquet::ConvertedType::kUtf8);

  // embedding: one data page with repetition levels, definition levels, then 3
  // floats.
  ASSERT_EQ(f.pages[0].size(), 1u);
  const Page& list = f.pages[0][0];
  EXPECT_EQ(list.header.data_page_header->num_values, 5);
  std::string_view body = list.body;
  uint32_t length = 0;
  std::memcpy(&length, body.data(), 4);
  EXPECT_EQ(decode_hybrid(body.substr(4, length), 1, 5), (std::vector<uint32_t>{0, 1, 0, 0, 0}));
  body.remove_prefix(4 + length);
  std::memcpy(&length, body.data(), 4);
  EXPECT_EQ(decode_hybrid(body.substr(4, length), 2, 5), (std::vector<uint32_t>{3, 3, 0, 1, 3}));
  body.remove_prefix(4 + length);
  std::string floats;
  for (float v : {1.0f, 2.0f, 3.0f}) append_plain(v, &floats);
  EXPECT_EQ(body, floats);

  // label: a PLAIN dictionary page ("x", "y"), then indices 0, 1, 0 after the
  // levels.
  ASSERT_EQ(f.pages[1].size(), 2u);
  EXPECT_EQ(f.pages[1][0].header.type, parquet::PageType::kDictionaryPage);
  EXPECT_EQ(f.pages[1][0].body, bytes({1, 0, 0, 0, 'x', 1, 0, 0, 0, 'y'}));
  const Page& labels = f.pages[1][1];
  EXPECT_EQ(labels.header.data_page_header->encoding, parquet::Encoding::kRleDictionary);
  body = labels.body;
  std::memcpy(&length, body.data(), 4);
  EXPECT_EQ(decode_hybrid(body.substr(4, length), 1, 4), (std::vector<uint32_t>{1, 0, 1, 1}));
  body.remove_prefix(4 + length);
  ASSERT_EQ(body[0], 1) << "index bit width";
  EXPECT_EQ(decode_hybrid(body.substr(1), 1, 3), (std::vector<uint32_t>{0, 1, 0}));
  const auto& meta = *f.metadata.row_groups[0].columns[1].meta_data;
  EXPECT_EQ(meta.statistics->null_count, 1);
  EXPECT_EQ(meta.dictionary_page_offset, f.metadata.row_groups[0].columns[1].file_offset);
}

TEST(ParquetWriterTest, PagesEndAtRowBoundariesAndDictionaryFallsBack) {
  testing::ScratchDir dir;
  const std::vector<ParquetColumnSpec> columns = {{"ids", ParquetValueKind::kInt32, true},
                                                  {"text", ParquetValueKind::kString, false}};
  std::vector<ParquetColumnBuffer> buffers;
  for (const auto& c : columns) buffers.emplace_back(c);
  size_t levels = 0;
  for (int r = 0; r < 1000; ++r) {
    std::vector<int32_t> ids(r % 37, r);
    buffers[0].add_list(ids);
    levels += std::max<size_t>(1, ids.size());
    buffers[1].add_bytes("unique text " + std::to_string(r));
  }
  ParquetWriteOptions options = uncompressed();
  options.page_bytes = 2000;
  options.dictionary_max_bytes = 500;
  ParquetFileWriter writer(dir / "f.parquet", options);
  writer.write_row_group(buffers);
  writer.finish(columns);

  const ParsedFile f = parse(dir / "f.parquet");
  ASSERT_GT(f.pages[0].size(), 3u);
  size_t seen = 0;
  for (const Page& page : f.pages[0]) {
    const int32_t n = page.header.data_page_header->num_values;
    uint32_t length = 0;
    std::memcpy(&length, page.body.data(), 4);
    const auto rep = decode_hybrid(std::string_view(page.body).substr(4, length), 1, n);
    EXPECT_EQ(rep[0], 0u) << "a page starts a row";
    seen += n;
  }
  EXPECT_EQ(seen, levels);
  EXPECT_EQ(f.metadata.row_groups[0].columns[0].meta_data->num_values,
            static_cast<int64_t>(levels));
  for (const Page& page : f.pages[1]) {
    EXPECT_EQ(page.header.type, parquet::PageType::kDataPage)
        << "no dictionary page past the limit";
    EXPECT_EQ(page.header.data_page_header->encoding, parquet::Encoding::kPlain);
  }
}

TEST(ParquetWriterTest, ListRowsAcrossPagesAndRowGroups) {
  testing::ScratchDir dir;
  const std::vector<ParquetColumnSpec> columns = {{"embedding", ParquetValueKind::kFloat, true},
                                                  {"n", ParquetValueKind::kInt64, false}};
  std::vector<ParquetColumnBuffer> buffers;
  for (const auto& c : columns) buffers.emplace_back(c);
  ParquetWriteOptions options = uncompressed();
  options.page_bytes = 5000;
  ParquetFileWriter writer(dir / "f.parquet", options);
  // Rows: null lists, empty lists, 384-float lists; 3 row groups written while the next fills.
  std::vector<int> sizes;
  std::vector<float> floats;
  for (int r = 0; r < 300; ++r) {
    const int size = r % 10 == 3 ? -1 : r % 10 == 7 ? 0 : 384;
    sizes.push_back(size);
    if (size < 0) {
      buffers[0].add_null();
    } else {
      std::vector<float> v(static_cast<size_t>(size));
      for (int i = 0; i < size; ++i) v[static_cast<size_t>(i)] = static_cast<float>(r * 1000 + i);
      floats.insert(floats.end(), v.begin(), v.end());
      buffers[0].add_list(v);
    }
    r % 4 == 0 ? buffers[1].add_null() : buffers[1].add_int64(r);
    if (r % 100 == 99) writer.write_row_group(buffers);
  }
  writer.finish(columns);

  const ParsedFile f = parse(dir / "f.parquet");
  ASSERT_EQ(f.metadata.row_groups.size(), 3u);
  EXPECT_EQ(f.metadata.num_rows, 300);
  std::vector<uint32_t> rep, def;
  std::string values;
  for (size_t g = 0; g < 3; ++g) {
    const auto& pages = f.pages[g * 2];
    EXPECT_GT(pages.size(), 5u);
    for (const Page& page : pages) {
      const int32_t n = page.header.data_page_header->num_values;
      std::string_view body = page.body;
      uint32_t length = 0;
      std::memcpy(&length, body.data(), 4);
      const auto r = decode_hybrid(body.substr(4, length), 1, n);
      EXPECT_EQ(r[0], 0u) << "a page starts a row";
      rep.insert(rep.end(), r.begin(), r.end());
      body.remove_prefix(4 + length);
      std::memcpy(&length, body.data(), 4);
      const auto d = decode_hybrid(body.substr(4, length), 2, n);
      def.insert(def.end(), d.begin(), d.end());
      body.remove_prefix(4 + length);
      values.append(body);
    }
  }
  std::vector<uint32_t> want_rep, want_def;
  for (int size : sizes) {
    want_rep.push_back(0);
    if (size > 1) want_rep.insert(want_rep.end(), static_cast<size_t>(size - 1), 1);
    if (size > 0) {
      want_def.insert(want_def.end(), static_cast<size_t>(size), 3);
    } else {
      want_def.push_back(size == 0 ? 1 : 0);
    }
  }
  EXPECT_EQ(rep, want_rep);
  EXPECT_EQ(def, want_def);
  ASSERT_EQ(values.size(), floats.size() * 4);
  EXPECT_EQ(std::memcmp(values.data(), floats.data(), values.size()), 0);
  int64_t n_nulls = 0;
  for (const auto& group : f.metadata.row_groups) n_nulls += *group.columns[1].meta_data->statistics->null_count;
  EXPECT_EQ(n_nulls, 75);
}

TEST(ParquetWriterTest, TheFileDoesNotDependOnTheThreadCount) {
  testing::ScratchDir dir;
  const std::vector<ParquetColumnSpec> columns = {{"text", ParquetValueKind::kString, false},
                                                  {"embedding", ParquetValueKind::kFloat, true}};
  std::string files[2];
  for (int t = 0; t < 2; ++t) {
    std::vector<ParquetColumnBuffer> buffers;
    for (const auto& c : columns) buffers.emplace_back(c);
    ParquetWriteOptions options;  // snappy
    options.page_bytes = 4000;
    options.threads = t == 0 ? 1 : 4;
    const auto path = dir / ("f" + std::to_string(t) + ".parquet");
    ParquetFileWriter writer(path, options);
    std::vector<float> v(48);
    for (int r = 0; r < 2000; ++r) {
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((r * 31 + static_cast<int>(i)) % 97);
      buffers[0].add_bytes("row " + std::to_string(r) + " of some text");
      buffers[1].add_list(v);
      if (r % 500 == 499) writer.write_row_group(buffers);
    }
    EXPECT_EQ(writer.rows_written(), 2000u);
    writer.finish(columns);
    files[t] = testing::read_file(path);
  }
  EXPECT_GT(files[0].size(), 10000u);
  EXPECT_EQ(files[0], files[1]);
}

TEST(ParquetWriterTest, CodecNames) {
  EXPECT_EQ(parse_parquet_codec(""), parquet::CompressionCodec::kSnappy);
  EXPECT_EQ(parse_parquet_codec("ZSTD"), parquet::CompressionCodec::kZstd);
  EXPECT_EQ(parse_parquet_codec("none"), parquet::CompressionCodec::kUncompressed);
  EXPECT_EQ(parse_parquet_codec("uncompressed"), parquet::CompressionCodec::kUncompressed);
  try {
    parse_parquet_codec("brotli");
    FAIL() << "brotli accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("brotli"), std::string::npos);
  }
}

// An id-less embedding output with one JSON column "n" whose Parquet type is inferred.
Schema dynamic_schema() {
  Schema schema;
  schema.fields = {{"n", DataType::json()},
                   {"embedding", DataType::list(DataType::float32(), 2)},
                   {"error", DataType::string()}};
  return schema;
}

RecordBatch dynamic_row(const nlohmann::json& n, std::vector<float> values, const std::string& error = "") {
  RecordBatch batch(dynamic_schema());
  batch.mutable_column(0).append_json(n);
  if (error.empty()) {
    batch.mutable_column(1).append_list(std::span<const float>(values));
    batch.mutable_column(2).append_null();
  } else {
    batch.mutable_column(1).append_null();
    batch.mutable_column(2).append_string(error);
  }
  return batch;
}

// The "n" and "error" columns of a Parquet output, as rows of "n or null|error or null".
std::vector<std::string> n_and_errors(const std::filesystem::path& path) {
  ParquetTableReader reader(path.string(), {"n", "error"});
  std::vector<std::string> rows;
  RecordBatch batch;
  while (reader.next(&batch)) {
    const Column& n = batch.column(0);
    const Column& error = batch.column(1);
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      rows.push_back((n.is_null(r) ? std::string("null") : std::to_string(n.int64_at(r))) + "|" +
                     (error.is_null(r) ? std::string("null") : std::string(error.string_at(r))));
    }
  }
  return rows;
}

// A value that does not fit the type its JSON column was given (2.5 after integers) is written as
// null, and its row's error says so, with the value: the job goes on, the row is counted.
TEST(ParquetSinkTest, InferredTypeIsKeptAndAMisfitIsAnErrorOfItsRow) {
  testing::ScratchDir dir;
  SinkOptions options;
  options.row_group_bytes = 1;  // a row group per row
  auto sink = open_parquet_sink(dir / "out.parquet", dynamic_schema(), options);
  sink->write(dynamic_row(5, {1.0f, 2.0f}));  // the first row group makes "n" INT64
  sink->write(dynamic_row(2.5, {1.0f, 2.0f}));
  sink->write(dynamic_row("x", {}, "text is null"));  // already an error row: the misfit is added
  sink->write(dynamic_row(7, {1.0f, 2.0f}));
  sink->finish();
  EXPECT_EQ(sink->rows_given_errors(), 1u);
  const std::vector<std::string> rows = n_and_errors(dir / "out.parquet");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], "5|null");
  EXPECT_TRUE(rows[1].starts_with("null|column \"n\" holds 2.5, which its Parquet type INT64")) << rows[1];
  EXPECT_TRUE(rows[2].starts_with("null|text is null; column \"n\" holds \"x\"")) << rows[2];
  EXPECT_EQ(rows[3], "7|null");

  // Without an error column there is nowhere to say so: the job ends, naming the file and row.
  Schema no_errors = dynamic_schema();
  no_errors.fields.pop_back();
  RecordBatch first(no_errors), second(no_errors);
  const std::vector<float> values = {1.0f, 2.0f};
  first.mutable_column(0).append_json(5);
  first.mutable_column(1).append_list(std::span<const float>(values));
  second.mutable_column(0).append_json(2.5);
  second.mutable_column(1).append_list(std::span<const float>(values));
  auto plain = open_parquet_sink(dir / "plain.parquet", no_errors, options);
  plain->write(first);
  try {
    plain->write(second);
    FAIL() << "2.5 written to an INT64 column";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("plain.parquet: row 2: column \"n\""), std::string::npos) << e.what();
  }
  plain.reset();
  EXPECT_FALSE(std::filesystem::exists(dir / "plain.parquet")) << "an abandoned file is removed";
}

TEST(ParquetSinkTest, AJsonColumnTypeFixedBeforehandIsKeptAndReported) {
  testing::ScratchDir dir;
  SinkOptions options;
  options.json_column_types = {{"n", "DOUBLE"}};
  auto sink = open_parquet_sink(dir / "out.parquet", dynamic_schema(), options);
  sink->write(dynamic_row(5, {1.0f, 2.0f}));  // inferred alone, this would make "n" INT64
  sink->write(dynamic_row(2.5, {1.0f, 2.0f}));
  sink->finish();
  EXPECT_EQ(sink->json_column_types(), (std::map<std::string, std::string>{{"n", "DOUBLE"}}));
  auto inferred = open_parquet_sink(dir / "inferred.parquet", dynamic_schema(), {});
  inferred->write(dynamic_row(5, {1.0f, 2.0f}));
  inferred->finish();
  EXPECT_EQ(inferred->json_column_types(), (std::map<std::string, std::string>{{"n", "INT64"}}));
}

// Every part of a folder has the first part's schema: a later part's value that does not fit the
// type the first part gave a JSON column is null with its row's error, as in a later row group of
// one file; a resumed job takes the types from the manifest.
TEST(ParquetSinkTest, TheFirstPartOfAFolderFixesItsJsonColumnTypes) {
  testing::ScratchDir dir;
  PartFolderOptions options;
  options.part_rows = 1;
  options.job = "{}";
  {
    PartFolderSink folder(dir / "out", dynamic_schema(), options);
    folder.write(dynamic_row(5, {1.0f, 2.0f}));
    folder.write(dynamic_row(6, {1.0f, 2.0f}));
    folder.write(dynamic_row(2.5, {1.0f, 2.0f}));
    folder.write(dynamic_row(8, {1.0f, 2.0f}));
    EXPECT_EQ(folder.rows_given_errors(), 1u);
    EXPECT_TRUE(n_and_errors(dir / "out" / "part-00002.parquet")[0].starts_with("null|column \"n\" holds 2.5"));
    EXPECT_EQ(n_and_errors(dir / "out" / "part-00003.parquet")[0], "8|null");
  }
  options.resume = true;
  PartFolderSink resumed(dir / "out", dynamic_schema(), options);
  EXPECT_EQ(resumed.rows_done(), 4u);
  resumed.write(dynamic_row(2.5, {1.0f, 2.0f}));
  EXPECT_EQ(resumed.rows_given_errors(), 1u);
}

TEST(ParquetSinkTest, RejectsUnknownCodec) {
  testing::ScratchDir dir;
  EXPECT_THROW(open_parquet_sink(dir / "b.parquet", dynamic_schema(), {"lzo"}), Error);
}

TEST(ParquetSinkTest, WritesOneRowGroupPerTargetAndSchemaFromInference) {
  testing::ScratchDir dir;
  SinkOptions options;
  options.row_group_bytes = 100;
  auto sink = open_parquet_sink(dir / "out.parquet", dynamic_schema(), options);
  for (int i = 0; i < 40; ++i) {
    sink->write(dynamic_row(i % 2 ? nlohmann::json(i) : nlohmann::json(i + 0.5), {1.0f * i, 2.0f},
                            i == 3 ? "bad" : ""));
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out.parquet"));
  sink->finish();
  const ParsedFile f = parse(dir / "out.parquet");
  EXPECT_EQ(f.metadata.num_rows, 40);
  EXPECT_GT(f.metadata.row_groups.size(), 2u);
  ASSERT_EQ(f.metadata.schema.size(), 6u);  // root, n, embedding (3 nodes), error
  EXPECT_EQ(f.metadata.schema[1].type, parquet::Type::kDouble);
  EXPECT_EQ(f.metadata.schema[5].name, "error");
  int64_t error_nulls = 0;
  for (const auto& group : f.metadata.row_groups) error_nulls += *group.columns.back().meta_data->statistics->null_count;
  EXPECT_EQ(error_nulls, 39);
}

}  // namespace
}  // namespace salvo
