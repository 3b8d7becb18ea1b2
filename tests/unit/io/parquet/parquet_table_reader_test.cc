#include "io/parquet/parquet_table_reader.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "io/parquet/parquet_file_reader.h"
#include "io/parquet/parquet_sink.h"
#include "io/parquet/thrift_compact.h"
#include "io/test_files.h"

namespace salvo {
namespace {

RecordBatch sample_batch(int64_t first, int64_t rows) {
  RecordBatch batch(Schema{{{"key", DataType::string()},
                            {"ts", DataType::timestamp()},
                            {"n", DataType::int32()},
                            {"x", DataType::float64()},
                            {"b", DataType::boolean()},
                            {"f", DataType::float32()}},
                           {}});
  for (int64_t i = first; i < first + rows; ++i) {
    i % 5 == 0 ? batch.mutable_column(0).append_null()
               : batch.mutable_column(0).append_string("k" + std::to_string(i % 7));
    i % 6 == 0 ? batch.mutable_column(1).append_null() : batch.mutable_column(1).append_int64(-1000000 + i * 1234567);
    batch.mutable_column(2).append_int32(static_cast<int32_t>(i * 3 - 50));
    i % 4 == 0 ? batch.mutable_column(3).append_null() : batch.mutable_column(3).append_float64(i / 8.0);
    batch.mutable_column(4).append_bool(i % 3 == 0);
    batch.mutable_column(5).append_float32(static_cast<float>(i) / 2);
  }
  return batch;
}

void expect_same_rows(const RecordBatch& got, const RecordBatch& want, int64_t offset) {
  for (size_t c = 0; c < want.num_columns(); ++c) {
    for (int64_t r = 0; r < got.num_rows(); ++r) {
      const Column& g = got.column(c);
      const Column& w = want.column(c);
      ASSERT_EQ(g.is_null(r), w.is_null(offset + r)) << "column " << c << " row " << r;
      if (g.is_null(r)) continue;
      switch (w.type().id()) {
        case TypeId::kString: ASSERT_EQ(g.string_at(r), w.string_at(offset + r)); break;
        case TypeId::kTimestamp: ASSERT_EQ(g.int64_at(r), w.int64_at(offset + r)); break;
        case TypeId::kInt32: ASSERT_EQ(g.int32_at(r), w.int32_at(offset + r)); break;
        case TypeId::kFloat64: ASSERT_EQ(g.float64_at(r), w.float64_at(offset + r)); break;
        case TypeId::kFloat32: ASSERT_EQ(g.float32_at(r), w.float32_at(offset + r)); break;
        case TypeId::kBool: ASSERT_EQ(g.bool_at(r), w.bool_at(offset + r)); break;
        default: FAIL();
      }
    }
  }
}

TEST(ParquetTableReader, ReadsWhatTheSinkWroteWithItsTypes) {
  testing::ScratchDir dir;
  const RecordBatch batch = sample_batch(0, 5000);
  SinkOptions options;
  options.row_group_bytes = 16 << 10;  // several row groups
  auto sink = open_parquet_sink(dir / "t.parquet", batch.schema(), options);
  sink->write(batch);
  sink->finish();

  // The timestamp column is annotated TIMESTAMP(MICROS, UTC).
  parquet::ParquetFileReader file(dir / "t.parquet");
  const parquet::LeafColumn* ts = file.find_column("ts");
  ASSERT_NE(ts, nullptr);
  ASSERT_TRUE(ts->element.logical_type);
  EXPECT_EQ(ts->element.logical_type->kind, parquet::LogicalType::Kind::kTimestamp);
  EXPECT_EQ(ts->element.logical_type->unit, parquet::LogicalType::TimeUnit::kMicros);
  EXPECT_TRUE(ts->element.logical_type->adjusted_to_utc);
  EXPECT_EQ(ts->element.converted_type, parquet::ConvertedType::kTimestampMicros);
  EXPECT_GT(file.num_row_groups(), 2u);

  ParquetTableReader reader((dir / "t.parquet").string(), {"ts", "key", "n", "x", "b", "f"});
  const Schema& schema = reader.schema();
  ASSERT_EQ(schema.fields.size(), 6u);
  EXPECT_EQ(schema.fields[0].type, DataType::timestamp());
  EXPECT_EQ(schema.fields[1].type, DataType::string());
  EXPECT_EQ(schema.fields[2].type, DataType::int32());
  EXPECT_EQ(schema.fields[3].type, DataType::float64());
  EXPECT_EQ(schema.fields[4].type, DataType::boolean());
  EXPECT_EQ(schema.fields[5].type, DataType::float32());
  RecordBatch reordered(Schema{{batch.schema().fields[1], batch.schema().fields[0], batch.schema().fields[2],
                                batch.schema().fields[3], batch.schema().fields[4], batch.schema().fields[5]},
                               {}});
  for (size_t c : {1, 0, 2, 3, 4, 5}) {
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      reordered.mutable_column(c == 1 ? 0 : c == 0 ? 1 : c).append_from(batch.column(c), r);
    }
  }
  RecordBatch got;
  int64_t rows = 0;
  while (reader.next(&got)) {
    expect_same_rows(got, reordered, rows);
    rows += got.num_rows();
  }
  EXPECT_EQ(rows, 5000);
  EXPECT_EQ(reader.bytes_read(), reader.total_bytes());
}

TEST(ParquetTableReader, FoldersOfPartFilesWithPartitions) {
  testing::ScratchDir dir;
  for (const auto& [folder, first] : {std::pair{"day=2024-01-01", 0}, std::pair{"day=2024-01-02", 100}}) {
    std::filesystem::create_directories(dir / folder);
    const RecordBatch batch = sample_batch(first, 100);
    auto sink = open_parquet_sink(dir / folder / "part-0.parquet", batch.schema(), {});
    sink->write(batch);
    sink->finish();
  }
  dir.write("_SUCCESS", "");
  ParquetTableReader reader(dir.path().string(), {"day", "n"});
  EXPECT_EQ(reader.schema().fields[0].type, DataType::string());
  RecordBatch got;
  std::vector<std::string> days;
  std::vector<int32_t> ns;
  while (reader.next(&got)) {
    for (int64_t r = 0; r < got.num_rows(); ++r) {
      days.emplace_back(got.column(0).string_at(r));
      ns.push_back(got.column(1).int32_at(r));
    }
  }
  ASSERT_EQ(days.size(), 200u);
  EXPECT_EQ(days.front(), "2024-01-01");
  EXPECT_EQ(days.back(), "2024-01-02");
  EXPECT_EQ(ns[150], 150 * 3 - 50);
}

TEST(ParquetTableReader, MissingColumnIsNamed) {
  testing::ScratchDir dir;
  const RecordBatch batch = sample_batch(0, 10);
  auto sink = open_parquet_sink(dir / "t.parquet", batch.schema(), {});
  sink->write(batch);
  sink->finish();
  try {
    ParquetTableReader reader((dir / "t.parquet").string(), {"n", "nosuch"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("no column named \"nosuch\""), std::string::npos);
  }
  EXPECT_THROW(ParquetTableReader((dir / "none.parquet").string(), {"n"}), Error);
}

TEST(ParquetMetadata, TimestampAndDateLogicalTypesRoundTrip) {
  using parquet::LogicalType;
  for (auto unit : {LogicalType::TimeUnit::kMillis, LogicalType::TimeUnit::kMicros, LogicalType::TimeUnit::kNanos}) {
    for (bool utc : {true, false}) {
      parquet::FileMetaData f;
      parquet::SchemaElement root;
      root.name = "schema";
      root.num_children = 2;
      parquet::SchemaElement t;
      t.name = "t";
      t.type = parquet::Type::kInt64;
      LogicalType logical;
      logical.kind = LogicalType::Kind::kTimestamp;
      logical.unit = unit;
      logical.adjusted_to_utc = utc;
      t.logical_type = logical;
      parquet::SchemaElement d;
      d.name = "d";
      d.type = parquet::Type::kInt32;
      d.logical_type = LogicalType{LogicalType::Kind::kDate};
      f.schema = {root, t, d};
      ThriftCompactWriter w;
      parquet::encode(w, f);
      ThriftCompactReader r(reinterpret_cast<const uint8_t*>(w.data().data()), w.data().size(), "footer", 0);
      const parquet::FileMetaData back = parquet::decode_file_metadata(r);
      ASSERT_EQ(back.schema.size(), 3u);
      EXPECT_EQ(back.schema[1].logical_type->kind, LogicalType::Kind::kTimestamp);
      EXPECT_EQ(back.schema[1].logical_type->unit, unit);
      EXPECT_EQ(back.schema[1].logical_type->adjusted_to_utc, utc);
      EXPECT_EQ(back.schema[2].logical_type->kind, LogicalType::Kind::kDate);
    }
  }
}

}  // namespace
}  // namespace salvo
