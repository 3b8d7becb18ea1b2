#include "io/tfrecord/tfrecord_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "io/row_sink.h"
#include "io/row_source.h"
#include "io/test_files.h"
#include "io/tfrecord/example.pb.h"
#include "io/tfrecord/feature_value.h"
#include "io/tfrecord/tfrecord_file.h"
#include "io/tfrecord/tfrecord_sink.h"

namespace salvo {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ScratchDir;

std::vector<tf::Example> read_examples(const std::filesystem::path& path,
                                       TfRecordCompression compression) {
  TfRecordReader reader(path, compression, 1u << 20);
  std::vector<tf::Example> out;
  std::string data;
  uint64_t offset = 0;
  uint64_t too_long = 0;
  while (reader.next(&data, &offset, &too_long)) {
    out.emplace_back();
    EXPECT_TRUE(out.back().ParseFromString(data));
  }
  return out;
}

std::vector<InputRow> read_rows(const std::filesystem::path& path, const FieldNames& fields = {},
                                const SourceLimits& limits = {}) {
  auto source = open_tfrecord_source(path, fields, limits);
  std::vector<RawRecord> records;
  while (source->read(2, &records)) {
  }
  std::vector<InputRow> rows(records.size());
  for (size_t i = 0; i < records.size(); ++i) source->parse(records[i], &rows[i]);
  return rows;
}

const tf::Feature& feature(const tf::Example& example, const std::string& name) {
  static const tf::Feature kMissing;
  const auto& map = example.features().feature();
  auto it = map.find(name);
  EXPECT_NE(it, map.end()) << name;
  return it == map.end() ? kMissing : it->second;
}

std::string serialize(const std::vector<std::pair<std::string, tf::Feature>>& features) {
  tf::Example example;
  auto& map = *example.mutable_features()->mutable_feature();
  for (const auto& [name, f] : features) map[name] = f;
  return example.SerializeAsString();
}

tf::Feature bytes_feature(const std::vector<std::string>& values) {
  tf::Feature f;
  f.mutable_bytes_list();  // an empty list is still a bytes_list
  for (const auto& v : values) f.mutable_bytes_list()->add_value(v);
  return f;
}

TEST(TfRecordSinkTest, EmbeddingsWithIdsPassthroughAndErrors) {
  ScratchDir dir;
  const auto path = dir / "out.tfrecord";
  Schema schema;
  schema.fields = {{"id", DataType::json()},
                   {"lang", DataType::json()},
                   {"tags", DataType::json()},
                   {"embedding", DataType::list(DataType::float32(), 3)},
                   {"error", DataType::string()}};
  RecordBatch batch(schema);
  const std::vector<float> a = {0.5f, -1.25f, 3.0f};
  batch.mutable_column(0).append_json("doc-1");
  batch.mutable_column(1).append_json("en");
  batch.mutable_column(2).append_json(nlohmann::json::array({1, 2}));
  batch.mutable_column(3).append_list(std::span<const float>(a));
  batch.mutable_column(4).append_null();
  batch.mutable_column(0).append_json(42);
  batch.mutable_column(1).append_json(nullptr);
  batch.mutable_column(2).append_json("x");
  batch.mutable_column(3).append_null();
  batch.mutable_column(4).append_string("line 2: text is not valid UTF-8 (byte 3)");
  auto sink = open_tfrecord_sink(path, schema, {});
  sink->write(batch);
  EXPECT_FALSE(std::filesystem::exists(path));
  sink->finish();

  const auto examples = read_examples(path, TfRecordCompression::kNone);
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_THAT(feature(examples[0], "id").bytes_list().value(), ElementsAre("doc-1"));
  EXPECT_THAT(feature(examples[0], "lang").bytes_list().value(), ElementsAre("en"));
  EXPECT_THAT(feature(examples[0], "tags").int64_list().value(), ElementsAre(1, 2));
  EXPECT_THAT(feature(examples[0], "embedding").float_list().value(), ElementsAre(0.5f, -1.25f, 3.0f));
  EXPECT_EQ(examples[0].features().feature().count("error"), 0u);
  EXPECT_THAT(feature(examples[1], "id").int64_list().value(), ElementsAre(42));
  EXPECT_EQ(examples[1].features().feature().count("lang"), 0u);
  EXPECT_THAT(feature(examples[1], "error").bytes_list().value(),
              ElementsAre("line 2: text is not valid UTF-8 (byte 3)"));
  EXPECT_EQ(examples[1].features().feature().count("embedding"), 0u);
}

TEST(TfRecordSinkTest, TypesMapAsSparkTfrecordMapsThem) {
  ScratchDir dir;
  Schema schema;
  schema.fields = {{"label", DataType::string()},     {"score", DataType::float32()},
                   {"n", DataType::int32()},           {"big", DataType::int64()},
                   {"x", DataType::float64()},         {"flag", DataType::boolean()},
                   {"ids", DataType::list(DataType::int32())}, {"names", DataType::list(DataType::string())}};
  RecordBatch batch(schema);
  batch.mutable_column(0).append_string("devel");
  batch.mutable_column(1).append_float32(0.7f);
  batch.mutable_column(2).append_int32(-5);
  batch.mutable_column(3).append_int64(int64_t{1} << 40);
  batch.mutable_column(4).append_float64(0.25);
  batch.mutable_column(5).append_bool(true);
  const std::vector<int32_t> ids = {101, 2023, 102};
  batch.mutable_column(6).append_list(std::span<const int32_t>(ids));
  const std::vector<std::string> names = {"a", "b"};
  batch.mutable_column(7).append_list(std::span<const std::string>(names));
  for (const char* compression : {"gzip", "zlib"}) {
    auto sink = open_tfrecord_sink(dir / "c.tfrecord", schema, {compression});
    sink->write(batch);
    sink->finish();
    auto examples = read_examples(dir / "c.tfrecord", std::string(compression) == "gzip" ? TfRecordCompression::kGzip
                                                                                          : TfRecordCompression::kZlib);
    ASSERT_EQ(examples.size(), 1u);
    EXPECT_THAT(feature(examples[0], "label").bytes_list().value(), ElementsAre("devel"));
    EXPECT_THAT(feature(examples[0], "score").float_list().value(), ElementsAre(0.7f));
    EXPECT_THAT(feature(examples[0], "n").int64_list().value(), ElementsAre(-5));
    EXPECT_THAT(feature(examples[0], "big").int64_list().value(), ElementsAre(int64_t{1} << 40));
    EXPECT_THAT(feature(examples[0], "x").float_list().value(), ElementsAre(0.25f));
    EXPECT_THAT(feature(examples[0], "flag").int64_list().value(), ElementsAre(1));
    EXPECT_THAT(feature(examples[0], "ids").int64_list().value(), ElementsAre(101, 2023, 102));
    EXPECT_THAT(feature(examples[0], "names").bytes_list().value(), ElementsAre("a", "b"));
  }
  EXPECT_THROW(open_tfrecord_sink(dir / "x.tfrecord", schema, {"lz4"}), Error);
}

TEST(TfRecordSourceTest, ReadsTextIdAndPassthroughFromFeatures) {
  ScratchDir dir;
  const auto path = dir / "in.tfrecord";
  {
    TfRecordWriter writer(path, TfRecordCompression::kNone);
    tf::Feature id;
    id.mutable_int64_list()->add_value(7);
    tf::Feature score;
    score.mutable_float_list()->add_value(0.25f);
    score.mutable_float_list()->add_value(0.5f);
    writer.write(serialize({{"body", bytes_feature({"Grüße aus Köln"})},
                            {"key", id},
                            {"score", score},
                            {"lang", bytes_feature({"de"})}}));
    writer.write(serialize({{"body", bytes_feature({"hello"})}, {"key", bytes_feature({"k2"})}}));
    writer.write(serialize({{"key", bytes_feature({"k3"})}}));
    writer.write(serialize({{"body", score}}));
    writer.write(serialize({{"body", bytes_feature({"bad \xc3\x28 utf8"})}}));
    writer.write(serialize({{"body", bytes_feature({})}}));
    writer.write(serialize({{"body", tf::Feature()}}));
    writer.write("this is not a protobuf message \xff\xff\xff\xff");
    writer.write(serialize({{"body", bytes_feature({std::string(500, 'x')})}}));
    writer.write(serialize({{"body", bytes_feature({"one", "two"})}}));
    writer.finish();
  }
  FieldNames fields;
  fields.text = "body";
  fields.id = "key";
  fields.passthrough = {"lang", "score"};
  SourceLimits limits;
  limits.max_record_bytes = 200;
  const auto rows = read_rows(path, fields, limits);
  ASSERT_EQ(rows.size(), 10u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].index, i);
    EXPECT_EQ(rows[i].line, i + 1);
  }
  EXPECT_EQ(rows[0].error, "");
  EXPECT_EQ(rows[0].text, "Grüße aus Köln");
  EXPECT_EQ(rows[0].id, 7);
  EXPECT_EQ(rows[0].passthrough[0], "de");
  EXPECT_EQ(rows[0].passthrough[1], nlohmann::json::array({0.25, 0.5}));
  EXPECT_EQ(rows[1].text, "hello");
  EXPECT_EQ(rows[1].id, "k2");
  EXPECT_TRUE(rows[1].passthrough[0].is_null());
  EXPECT_EQ(rows[2].error, "missing text feature \"body\"");
  EXPECT_EQ(rows[2].id, "k3");
  EXPECT_EQ(rows[3].error, "text feature \"body\" is a float_list, not a bytes_list");
  EXPECT_EQ(rows[4].error, "text is not valid UTF-8 (byte 4)");
  EXPECT_EQ(rows[5].error, "text feature \"body\" is an empty bytes list");
  EXPECT_EQ(rows[6].error, "text feature \"body\" has no value");
  EXPECT_EQ(rows[7].error, "record is not a valid tf.train.Example");
  EXPECT_THAT(rows[8].error, HasSubstr("more than the limit of 200"));
  EXPECT_EQ(rows[9].error, "text feature \"body\" holds 2 values, not one");

  auto source = open_tfrecord_source(path, fields, limits);
  const auto carried = source->carried_columns();
  ASSERT_TRUE(carried.id.has_value());
  ASSERT_EQ(carried.passthrough.size(), 2u);
  EXPECT_EQ(carried.passthrough[1].name, "score");
}

TEST(TfRecordSourceTest, SinkOutputReadsBackAndCompressionIsDetected) {
  ScratchDir dir;
  Schema schema;
  schema.fields = {{"id", DataType::int64()},
                   {"text", DataType::string()},
                   {"embedding", DataType::list(DataType::float32(), 1)}};
  RecordBatch batch(schema);
  for (int i = 0; i < 100; ++i) {
    batch.mutable_column(0).append_int64(i);
    batch.mutable_column(1).append_string("text number " + std::to_string(i));
    const float v = static_cast<float>(i);
    batch.mutable_column(2).append_list(std::span<const float>(&v, 1));
  }
  // Written gzip under a plain name: the reader recognises the stream, whatever the name says.
  for (const char* compression : {"gzip", "zlib", "none"}) {
    const auto path = dir / "echo.tfrecord";
    auto sink = open_tfrecord_sink(path, schema, {compression});
    sink->write(batch);
    sink->finish();
    const auto rows = read_rows(path);
    ASSERT_EQ(rows.size(), 100u) << compression;
    for (int i = 0; i < 100; ++i) {
      EXPECT_EQ(rows[i].text, "text number " + std::to_string(i));
      EXPECT_EQ(rows[i].id, i);
    }
  }
}

// Regression: slices (--shard) went by the file position of the reader's 1 MiB read-ahead, so the
// last slice got nearly every record of a file (2,000 records in 3 slices: 1, 0 and 1,999).
TEST(TfRecordSourceTest, SlicesShareTheRecordsEvenly) {
  ScratchDir dir;
  Schema schema;
  schema.fields = {{"id", DataType::int64()}, {"text", DataType::string()}};
  RecordBatch batch(schema);
  for (int i = 0; i < 2000; ++i) {
    batch.mutable_column(0).append_int64(i);
    batch.mutable_column(1).append_string("row " + std::to_string(i * 7919 % 100000));
  }
  for (const char* compression : {"none", "gzip"}) {
    const auto path = dir / (std::string("slices-") + compression + ".tfrecord");
    auto sink = open_tfrecord_sink(path, schema, {compression});
    sink->write(batch);
    sink->finish();
    int64_t next = 0;
    for (uint32_t i = 0; i < 3; ++i) {
      auto source = open_row_source(path, FieldNames{}, SourceLimits{}, Slice{i, 3});
      std::vector<RawRecord> records;
      while (source->read(100, &records)) {
      }
      EXPECT_GT(records.size(), 550u) << compression << " slice " << i;
      EXPECT_LT(records.size(), 780u) << compression << " slice " << i;
      for (const RawRecord& record : records) {
        InputRow row;
        source->parse(record, &row);
        EXPECT_EQ(row.id, next++) << compression;  // disjoint, in order, none left out
      }
    }
    EXPECT_EQ(next, 2000) << compression;
  }
}

TEST(TfRecordSourceTest, CorruptionEndsTheJobWithFileAndOffset) {
  ScratchDir dir;
  const auto path = dir / "bad.tfrecord";
  {
    TfRecordWriter writer(path, TfRecordCompression::kNone);
    writer.write(serialize({{"text", bytes_feature({"one"})}}));
    writer.write(serialize({{"text", bytes_feature({"two"})}}));
    writer.finish();
  }
  std::string bytes = testing::read_file(path);
  const size_t second = bytes.size() / 2;
  bytes[second + 14] ^= 1;
  dir.write("bad.tfrecord", bytes);
  try {
    read_rows(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_THAT(e.what(), HasSubstr(path.string() + ": corrupt record at byte " +
                                    std::to_string(second) + ": data CRC mismatch"));
  }
  EXPECT_THROW(open_tfrecord_source(dir / "missing.tfrecord", {}, {}), Error);
}

TEST(TfRecordSourceTest, FeatureNameThatIsNotUtf8DoesNotSpoilTheRecord) {
  ScratchDir dir;
  const auto path = dir / "names.tfrecord";
  {
    TfRecordWriter writer(path, TfRecordCompression::kNone);
    writer.write(serialize({{"text", bytes_feature({"fine"})}, {"bad\xff", bytes_feature({"x"})}}));
    writer.finish();
  }
  ::testing::internal::CaptureStderr();
  const auto rows = read_rows(path);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].error, "");
  EXPECT_EQ(rows[0].text, "fine");
}

TEST(FeatureValueTest, JsonRoundTrip) {
  const std::vector<nlohmann::json> values = {
      "text",
      12,
      -3,
      true,
      1.5,
      nlohmann::json::array({"a", "b"}),
      nlohmann::json::array({1, 2, 3}),
      nlohmann::json::array({0.5, 1}),
      nlohmann::json::array(),
      nlohmann::json::object({{"k", 1}}),
  };
  const std::vector<nlohmann::json> expected = {
      "text",
      12,
      -3,
      1,
      1.5,
      nlohmann::json::array({"a", "b"}),
      nlohmann::json::array({1, 2, 3}),
      nlohmann::json::array({0.5, 1.0}),
      nlohmann::json::array(),
      "{\"k\":1}",
  };
  for (size_t i = 0; i < values.size(); ++i) {
    tf::Feature f;
    json_to_feature(values[i], &f);
    EXPECT_EQ(feature_to_json(f), expected[i]) << values[i].dump();
  }
  tf::Feature none;
  json_to_feature(nullptr, &none);
  EXPECT_EQ(none.kind_case(), tf::Feature::KIND_NOT_SET);
  EXPECT_TRUE(feature_to_json(none).is_null());
  // A float reads as the double of its shortest decimal form (it was 0.10000000149011612).
  tf::Feature floats;
  floats.mutable_float_list()->add_value(0.1f);
  EXPECT_EQ(feature_to_json(floats), 0.1);
  floats.mutable_float_list()->add_value(3e-8f);
  EXPECT_EQ(feature_to_json(floats), nlohmann::json::array({0.1, 3e-8}));
}

}  // namespace
}  // namespace salvo
