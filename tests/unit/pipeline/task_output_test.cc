#include "pipeline/task_output.h"

#include <gtest/gtest.h>

#include "salvo/error.h"

namespace salvo {
namespace {

ModelInfo classifier() {
  ModelInfo info;
  info.path = "m";
  info.tasks = {Task::kEmbed, Task::kClassify, Task::kTokenize};
  info.hidden_size = 2;
  info.labels = {"neg", "pos", "neutral"};
  return info;
}

TEST(TaskOutputTest, ClassifyRanksLabelsAndKeepsTiesInLabelOrder) {
  TaskOptions options;
  options.top_k = 2;
  options.all_scores = true;
  TaskOutput out(Task::kClassify, classifier(), options, 2, 3);
  const float probs[3] = {0.25f, 0.5f, 0.25f};
  std::copy_n(probs, 3, out.values(0));
  out.set_error(1, "bad");
  const RecordBatch b = out.finish({});
  ASSERT_EQ(b.num_columns(), 6u);
  EXPECT_EQ(b.schema().fields[5].name, "error");
  EXPECT_EQ(b.column("label").string_at(0), "pos");
  EXPECT_EQ(b.column("score").float32_at(0), 0.5f);
  const Column& top = b.column("top_labels");
  EXPECT_EQ(top.child().string_at(top.list_begin(0) + 1), "neg") << "a tie keeps label order";
  EXPECT_EQ(b.column("scores").list_values<float>(0).size(), 3u);
  for (const char* name : {"label", "score", "top_labels", "top_scores", "scores"}) {
    EXPECT_TRUE(b.column(name).is_null(1)) << name;
  }
  EXPECT_EQ(b.column("error").string_at(1), "bad");
  EXPECT_TRUE(b.column("error").is_null(0));
  EXPECT_EQ(b.schema().metadata.at("salvo.labels"), "[\"neg\",\"pos\",\"neutral\"]");
}

TEST(TaskOutputTest, EmbedWritesStraightIntoTheColumn) {
  TaskOutput out(Task::kEmbed, classifier(), {}, 3, 2);
  for (size_t r = 0; r < 3; ++r) {
    out.values(r)[0] = static_cast<float>(r);
    out.values(r)[1] = -1;
  }
  out.set_error(2, "");
  const RecordBatch b = out.finish({});
  const Column& e = b.column("embedding");
  EXPECT_EQ(e.type().fixed_length(), 2);
  EXPECT_EQ(e.list_values<float>(1)[0], 1.0f);
  EXPECT_TRUE(e.is_null(2));
  EXPECT_EQ(b.column("error").string_at(2), "failed") << "an empty reason still marks the row";
  EXPECT_EQ(out.errors(), 1u);
}

TEST(TaskOutputTest, TokenizeTakesTheEncodings) {
  TaskOutput out(Task::kTokenize, classifier(), {}, 2, 0);
  std::vector<Features> rows(2);
  rows[0].encoding.ids = {101, 7, 102};
  rows[0].encoding.type_ids = {0, 0, 0};
  out.set_error(1, "line 2: bad");
  const RecordBatch b = out.finish(rows);
  EXPECT_EQ(b.column("input_ids").list_values<int32_t>(0)[1], 7);
  EXPECT_TRUE(b.column("token_type_ids").is_null(1));
}

TEST(TaskOutputTest, FeaturizeGivesTheTensorAndItsShape) {
  ModelInfo none;
  TaskOptions nested;
  nested.nested_features = true;
  std::vector<Features> rows(2);
  rows[0].shape = {2, 3};
  rows[0].values = {1, 2, 3, 4, 5, 6};
  for (bool is_nested : {false, true}) {
    TaskOutput out(Task::kFeaturize, none, is_nested ? nested : TaskOptions{}, 2, 0, FeatureKind::kFloat32);
    out.set_error(1, "bad file");
    const RecordBatch b = out.finish(rows);
    EXPECT_EQ(b.schema().fields[0].type.to_string(), is_nested ? "list<list<float32>>" : "list<float32>");
    EXPECT_EQ(b.column("shape").list_values<int64_t>(0)[1], 3);
    EXPECT_TRUE(b.column("features").is_null(1));
    const Column& f = b.column("features");
    if (is_nested) {
      ASSERT_EQ(f.list_end(0) - f.list_begin(0), 2);
      EXPECT_EQ(f.child().list_values<float>(1)[0], 4.0f);
    } else {
      EXPECT_EQ(f.list_values<float>(0)[5], 6.0f);
    }
  }
  EXPECT_THROW(task_schema(Task::kFeaturize, none, {}, FeatureKind::kTokens), Error) << "text is tokenize's";
  EXPECT_EQ(task_schema(Task::kFeaturize, none, {}, FeatureKind::kUInt8).fields[0].type.to_string(), "binary");
}

TEST(TaskOutputTest, ATaskTheModelLacksIsAModelError) {
  ModelInfo info = classifier();
  info.tasks = {Task::kEmbed};
  try {
    task_schema(Task::kClassify, info, {});
    FAIL() << "classify accepted without a head";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find("no classification head"), std::string::npos);
  }
}

TEST(TaskOutputTest, ClassifyOptionsForAnotherTaskAreRefused) {
  const ModelInfo info = classifier();
  TaskOptions top;
  top.top_k = 2;
  TaskOptions all;
  all.all_scores = true;
  for (const TaskOptions& options : {top, all}) {
    for (Task task : {Task::kEmbed, Task::kTokenize}) {
      try {
        task_schema(task, info, options);
        FAIL() << task_name(task) << " accepted top_k / all_scores";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find(std::string("apply to classify, not ") + task_name(task)),
                  std::string::npos)
            << e.what();
      }
    }
    EXPECT_NO_THROW(task_schema(Task::kClassify, info, options));
  }
}

}  // namespace
}  // namespace salvo
