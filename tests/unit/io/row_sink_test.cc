#include "io/row_sink.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "io/test_files.h"

namespace salvo {
namespace {

using testing::read_file;
using testing::ScratchDir;

OutputRow row(uint64_t index, nlohmann::json id, std::vector<float> values, std::string error = "") {
  OutputRow r;
  r.index = index;
  r.line = index + 1;
  r.id = std::move(id);
  r.values = std::move(values);
  r.error = std::move(error);
  return r;
}

TEST(JsonlSinkTest, EmbeddingsErrorsAndAtomicRename) {
  ScratchDir dir;
  auto path = dir / "out.jsonl";
  {
    auto sink = open_row_sink(path, {Task::kEmbed});
    sink->write(row(0, 1, {0.5f, -1.25f}));
    sink->write(row(1, nullptr, {}, "missing text field \"text\""));
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_TRUE(std::filesystem::exists(dir / "out.jsonl.partial"));
    sink->finish();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl.partial"));
  EXPECT_EQ(read_file(path),
            "{\"id\":1,\"embedding\":[0.5,-1.25]}\n"
            "{\"line\":2,\"error\":\"missing text field \\\"text\\\"\"}\n");
}

TEST(JsonlSinkTest, UnfinishedSinkLeavesNoFile) {
  ScratchDir dir;
  {
    auto sink = open_row_sink(dir / "out.jsonl", {Task::kEmbed});
    sink->write(row(0, 1, {1}));
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl.partial"));
}

TEST(JsonlSinkTest, ClassificationWithTopKAndAllScores) {
  ScratchDir dir;
  OutputSchema schema{Task::kClassify, {"neg", "pos", "neutral"}, 2, true, 3};
  auto sink = open_row_sink(dir / "out.jsonl", schema);
  sink->write(row(0, "a", {0.25f, 0.5f, 0.25f}));
  sink->finish();
  EXPECT_EQ(read_file(dir / "out.jsonl"),
            "{\"id\":\"a\",\"label\":\"pos\",\"score\":0.5,\"top_k\":[{\"label\":\"pos\",\"score\":0.5},"
            "{\"label\":\"neg\",\"score\":0.25}],\"scores\":{\"neg\":0.25,\"pos\":0.5,\"neutral\":0.25}}\n");
}

TEST(JsonlSinkTest, TokenIds) {
  ScratchDir dir;
  auto sink = open_row_sink(dir / "out.jsonl", {Task::kTokenize});
  OutputRow r = row(0, 3, {});
  r.ids = {101, 7, 102};
  r.type_ids = {0, 0, 0};
  sink->write(r);
  sink->finish();
  EXPECT_EQ(read_file(dir / "out.jsonl"), "{\"id\":3,\"input_ids\":[101,7,102],\"token_type_ids\":[0,0,0]}\n");
}

TEST(CsvSinkTest, QuotesVectorsAndErrors) {
  ScratchDir dir;
  auto sink = open_row_sink(dir / "out.csv", {Task::kEmbed});
  sink->write(row(0, "a,b", {1.f, 2.f}));
  sink->write(row(1, 7, {}, "text is not valid UTF-8 (byte 3)"));
  sink->finish();
  EXPECT_EQ(read_file(dir / "out.csv"),
            "id,embedding,error\n"
            "\"a,b\",\"[1,2]\",\n"
            "7,,text is not valid UTF-8 (byte 3)\n");
}

TEST(NpySinkTest, WritesFloatMatrixWithNanErrorRows) {
  ScratchDir dir;
  OutputSchema schema{Task::kEmbed};
  schema.dims = 3;
  auto sink = open_row_sink(dir / "out.npy", schema);
  sink->write(row(0, 1, {1.f, 2.f, 3.f}));
  sink->write(row(1, 2, {}, "bad"));
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

TEST(RowSinkTest, RefusesUnknownFormatsAndRaggedNpy) {
  ScratchDir dir;
  EXPECT_THROW(open_row_sink(dir / "out.xlsx", {Task::kEmbed}), Error);
  EXPECT_THROW(open_row_sink(dir / "out.npy", {Task::kTokenize}), Error);
  EXPECT_THROW(open_row_sink(dir / "no-such-dir" / "out.jsonl", {Task::kEmbed}), Error);
}

}  // namespace
}  // namespace salvo
