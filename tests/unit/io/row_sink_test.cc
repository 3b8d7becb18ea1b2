#include "io/row_sink.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "io/test_batches.h"
#include "io/test_files.h"
#include "salvo/error.h"

namespace salvo {
namespace {

using testing::embed_batch;
using testing::embed_schema;
using testing::read_file;
using testing::ScratchDir;

TEST(JsonlSinkTest, WritesNonNullColumnsAndRenamesAtomically) {
  ScratchDir dir;
  auto path = dir / "out.jsonl";
  {
    auto sink = open_row_sink(path, embed_schema(2));
    sink->write(embed_batch(2, {{1, {0.5f, -1.25f}, ""}, {nullptr, {}, "line 2: missing text field \"text\""}}));
    EXPECT_FALSE(std::filesystem::exists(path));
    sink->finish();
  }
  EXPECT_EQ(read_file(path),
            "{\"id\":1,\"embedding\":[0.5,-1.25]}\n"
            "{\"error\":\"line 2: missing text field \\\"text\\\"\"}\n");
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "out.jsonl") << "no temporary file is left";
  }
}

TEST(JsonlSinkTest, UnfinishedSinkLeavesNoFile) {
  ScratchDir dir;
  {
    auto sink = open_row_sink(dir / "out.jsonl", embed_schema(1));
    sink->write(embed_batch(1, {{1, {1.f}, ""}}));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(JsonlSinkTest, ListsOfStringsIntsAndScalars) {
  ScratchDir dir;
  Schema schema;
  schema.fields = {{"label", DataType::string()},
                   {"score", DataType::float32()},
                   {"top_labels", DataType::list(DataType::string())},
                   {"input_ids", DataType::list(DataType::int32())},
                   {"n", DataType::int64()},
                   {"ok", DataType::boolean()},
                   {"x", DataType::float64()}};
  RecordBatch batch(schema);
  batch.mutable_column(0).append_string("pos");
  batch.mutable_column(1).append_float32(0.5f);
  const std::vector<std::string> labels = {"pos", "neg"};
  batch.mutable_column(2).append_list(std::span<const std::string>(labels));
  const std::vector<int32_t> ids = {101, 7, 102};
  batch.mutable_column(3).append_list(std::span<const int32_t>(ids));
  batch.mutable_column(4).append_int64(-3);
  batch.mutable_column(5).append_bool(true);
  batch.mutable_column(6).append_float64(0.1);
  auto sink = open_row_sink(dir / "out.jsonl", schema);
  sink->write(batch);
  sink->finish();
  EXPECT_EQ(read_file(dir / "out.jsonl"),
            "{\"label\":\"pos\",\"score\":0.5,\"top_labels\":[\"pos\",\"neg\"],\"input_ids\":[101,7,102],"
            "\"n\":-3,\"ok\":true,\"x\":0.1}\n");
}

TEST(CsvSinkTest, QuotesVectorsAndErrors) {
  ScratchDir dir;
  auto sink = open_row_sink(dir / "out.csv", embed_schema(2));
  sink->write(embed_batch(2, {{"a,b", {1.f, 2.f}, ""}, {7, {}, "line 2: text is not valid UTF-8 (byte 3)"}}));
  sink->finish();
  EXPECT_EQ(read_file(dir / "out.csv"),
            "id,embedding,error\n"
            "\"a,b\",\"[1,2]\",\n"
            "7,,line 2: text is not valid UTF-8 (byte 3)\n");
}

TEST(CsvSinkTest, AnEmptyStringIsQuotedAndANullIsAnEmptyCell) {
  ScratchDir dir;
  Schema schema;
  schema.fields = {{"key", DataType::string()}, {"n", DataType::int64()}, {"x", DataType::float64()}};
  RecordBatch batch(schema);
  batch.mutable_column(0).append_string("");
  batch.mutable_column(1).append_null();
  batch.mutable_column(2).append_float64(std::nan(""));
  batch.mutable_column(0).append_null();
  batch.mutable_column(1).append_int64(2);
  batch.mutable_column(2).append_float64(-HUGE_VAL);
  auto sink = open_row_sink(dir / "out.csv", schema);
  sink->write(batch);
  sink->finish();
  // A non-finite float as Spark writes it (NaN, Inf, -Inf); it was the JSON text "null".
  EXPECT_EQ(read_file(dir / "out.csv"), "key,n,x\n\"\",,NaN\n,2,-Inf\n");
}

TEST(NpySinkTest, WritesFloatMatrixWithNanErrorRows) {
  ScratchDir dir;
  auto sink = open_row_sink(dir / "out.npy", embed_schema(3));
  sink->write(embed_batch(3, {{1, {1.f, 2.f, 3.f}, ""}, {2, {}, "bad"}}));
  sink->finish();
  const std::string bytes = read_file(dir / "out.npy");
  ASSERT_EQ(bytes.size(), 128u + 6 * sizeof(float));
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(bytes.find("'shape': (2, 3)"), std::string::npos);
  EXPECT_EQ(bytes[127], '\n');
  float values[6];
  std::memcpy(values, bytes.data() + 128, sizeof(values));
  EXPECT_EQ(values[2], 3.f);
  EXPECT_TRUE(std::isnan(values[3]));
}

TEST(RowSinkTest, RefusesUnknownFormatsRaggedNpyAndClashingNames) {
  ScratchDir dir;
  EXPECT_THROW(open_row_sink(dir / "out.xlsx", embed_schema(2)), Error);
  Schema tokens;
  tokens.fields = {{"input_ids", DataType::list(DataType::int32())}};
  EXPECT_THROW(open_row_sink(dir / "out.npy", tokens), Error);
  EXPECT_THROW(open_row_sink(dir / "no-such-dir" / "out.jsonl", embed_schema(2)), Error);
  Schema clash = embed_schema(2);
  clash.fields.push_back({"id", DataType::string()});
  for (const char* name : {"out.jsonl", "out.csv", "out.parquet", "out.tfrecord"}) {
    try {
      open_row_sink(dir / name, clash);
      ADD_FAILURE() << name << " accepted two columns named id";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("\"id\""), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace salvo
