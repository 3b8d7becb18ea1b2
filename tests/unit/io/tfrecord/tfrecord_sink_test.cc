// TFRecord sink: SequenceExample feature lists and context, shards spread round-robin with a
// _SUCCESS marker, refusals of what a record type cannot hold.
#include "io/tfrecord/tfrecord_sink.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../test_files.h"
#include "io/tfrecord/example.pb.h"
#include "io/tfrecord/tfrecord_file.h"
#include "salvo/error.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;

// Rows i = 0..n-1: "id" = i, "frames" = i lists [i, i + 0.5] (null for i == 2).
RecordBatch sequences(int n) {
  Schema schema;
  schema.fields = {{"id", DataType::int64()}, {"frames", DataType::list(DataType::list(DataType::float32()))}};
  RecordBatch batch(schema);
  for (int i = 0; i < n; ++i) {
    batch.mutable_column(0).append_int64(i);
    Column& frames = batch.mutable_column(1);
    if (i == 2) {
      frames.append_null();
      continue;
    }
    frames.begin_list();
    for (int s = 0; s < i; ++s) {
      const float step[2] = {static_cast<float>(i), i + 0.5f};
      frames.mutable_child().append_list(std::span<const float>(step, 2));
    }
    frames.end_list();
  }
  return batch;
}

std::vector<std::string> records(const fs::path& path, TfRecordCompression compression = TfRecordCompression::kNone) {
  TfRecordReader reader(path, compression, 1 << 20);
  std::vector<std::string> out;
  std::string data;
  uint64_t offset = 0, too_long = 0;
  while (reader.next(&data, &offset, &too_long)) out.push_back(data);
  return out;
}

// Regression: a TFRecord input's empty float_list, carried as [], was written as an empty
// bytes_list, and TensorFlow's parser (float32) refused the record.
TEST(TfRecordSinkTest, AnEmptyListOfAJsonColumnKeepsTheColumnsKind) {
  testing::ScratchDir dir;
  Schema schema;
  schema.fields = {{"w", DataType::json()}};
  RecordBatch batch(schema);
  for (const nlohmann::json& v : {nlohmann::json::array({1.5, 2.5}), nlohmann::json::array(), nlohmann::json(7),
                                  nlohmann::json::array()}) {
    batch.mutable_column(0).append_json(v);
  }
  auto sink = open_tfrecord_sink(dir / "w.tfrecord", schema, SinkOptions{});
  sink->write(batch);
  sink->finish();
  const auto recs = records(dir / "w.tfrecord");
  ASSERT_EQ(recs.size(), 4u);
  const tf::Feature::KindCase want[] = {tf::Feature::kFloatList, tf::Feature::kFloatList, tf::Feature::kInt64List,
                                        tf::Feature::kInt64List};
  for (size_t r = 0; r < 4; ++r) {
    tf::Example ex;
    ASSERT_TRUE(ex.ParseFromString(recs[r]));
    EXPECT_EQ(ex.features().feature().at("w").kind_case(), want[r]) << r;
  }
}

TEST(TfRecordSinkTest, SequenceExampleWritesListsOfListsAsFeatureLists) {
  testing::ScratchDir dir;
  const RecordBatch batch = sequences(4);
  SinkOptions options;
  options.record_type = "SequenceExample";
  auto sink = open_tfrecord_sink(dir / "s.tfrecord", batch.schema(), options);
  sink->write(batch);
  sink->finish();
  const auto recs = records(dir / "s.tfrecord");
  ASSERT_EQ(recs.size(), 4u);
  tf::SequenceExample ex;
  ASSERT_TRUE(ex.ParseFromString(recs[3]));
  EXPECT_EQ(ex.context().feature().at("id").int64_list().value(0), 3);
  const tf::FeatureList& frames = ex.feature_lists().feature_list().at("frames");
  ASSERT_EQ(frames.feature_size(), 3);
  EXPECT_EQ(frames.feature(1).float_list().value(1), 3.5f);
  ASSERT_TRUE(ex.ParseFromString(recs[2]));
  EXPECT_EQ(ex.feature_lists().feature_list().count("frames"), 0u) << "a null is left out";
  EXPECT_THROW(open_tfrecord_sink(dir / "e.tfrecord", batch.schema(), {}), Error)
      << "an Example cannot hold a list of lists";
  options.record_type = "ByteArray";
  EXPECT_THROW(open_tfrecord_sink(dir / "b.tfrecord", batch.schema(), options), Error);
}

TEST(TfRecordSinkTest, ShardsTakeRowsRoundRobinAndSuccessComesLast) {
  testing::ScratchDir dir;
  Schema schema;
  schema.fields = {{"id", DataType::int64()}};
  RecordBatch batch(schema);
  for (int i = 0; i < 10; ++i) batch.mutable_column(0).append_int64(i);
  SinkOptions options;
  options.num_shards = 3;
  options.compression = "gzip";
  fs::create_directories(dir / "out");
  dir.write("out/part-00003-of-00004.tfrecord.gz", "an earlier run's shard");
  dir.write("out/notes.txt", "the user's");
  auto sink = open_tfrecord_sink(dir / "out/", schema, options);
  sink->write(batch);
  EXPECT_FALSE(fs::exists(dir / "out/_SUCCESS"));
  EXPECT_FALSE(fs::exists(dir / "out/part-00000-of-00003.tfrecord.gz")) << "complete only after finish";
  sink->finish();
  EXPECT_TRUE(fs::exists(dir / "out/_SUCCESS"));
  EXPECT_FALSE(fs::exists(dir / "out/part-00003-of-00004.tfrecord.gz")) << "stale shards are removed";
  EXPECT_TRUE(fs::exists(dir / "out/notes.txt"));
  for (int s = 0; s < 3; ++s) {
    const auto recs = records(dir / ("out/part-0000" + std::to_string(s) + "-of-00003.tfrecord.gz"),
                              TfRecordCompression::kGzip);
    ASSERT_EQ(recs.size(), s == 0 ? 4u : 3u);
    for (size_t r = 0; r < recs.size(); ++r) {
      tf::Example ex;
      ASSERT_TRUE(ex.ParseFromString(recs[r]));
      EXPECT_EQ(ex.features().feature().at("id").int64_list().value(0), static_cast<int64_t>(r * 3 + s));
    }
  }
}

}  // namespace
}  // namespace salvo
