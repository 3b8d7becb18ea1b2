// A featurizer-only session: rows featurized on all threads, returned in order with their
// shapes, bad rows as errors; tasks that need a model or tokens refused.
#include <gtest/gtest.h>

#include "salvo/error.h"
#include "salvo/featurizer.h"
#include "salvo/session.h"

namespace salvo {
namespace {

// Each byte of the input as a float, shape [2, n/2]; odd lengths are bad rows.
class HalvingFeaturizer : public Featurizer {
 public:
  explicit HalvingFeaturizer(FeatureKind kind) : kind_(kind) {}
  FeatureKind kind() const override { return kind_; }
  std::string describe() const override { return "test"; }
  std::string featurize(std::string_view input, Features* out) const override {
    if (input.size() % 2) return "odd length " + std::to_string(input.size());
    out->shape = {2, static_cast<int64_t>(input.size() / 2)};
    for (char c : input) {
      out->values.push_back(static_cast<float>(c));
      out->bytes.push_back(static_cast<uint8_t>(c));
    }
    return "";
  }

 private:
  FeatureKind kind_;
};

Session featurizer_session(FeatureKind kind, int threads) {
  SessionOptions options;
  options.threads = threads;
  options.featurizer = std::make_shared<HalvingFeaturizer>(kind);
  return Session(nullptr, options);
}

TEST(FeaturizeSessionTest, RowsComeBackInOrderWithShapesAndErrors) {
  std::vector<std::string> inputs;
  for (int i = 0; i < 301; ++i) inputs.push_back(std::string(static_cast<size_t>(i % 7), static_cast<char>('a' + i % 26)));
  for (int threads : {1, 3}) {
    Session session = featurizer_session(FeatureKind::kFloat32, threads);
    Request request;
    request.task = Task::kFeaturize;
    request.inputs.texts.assign(inputs.begin(), inputs.end());
    const Result result = session.run(request);
    const RecordBatch& b = result.columns;
    ASSERT_EQ(b.num_rows(), 301);
    EXPECT_EQ(b.schema().fields[0].name, "features");
    EXPECT_EQ(b.schema().fields[1].name, "shape");
    for (int i = 0; i < 301; ++i) {
      const size_t n = inputs[i].size();
      if (n % 2) {
        EXPECT_EQ(b.column("error").string_at(i), "odd length " + std::to_string(n));
        EXPECT_TRUE(b.column("features").is_null(i));
        continue;
      }
      EXPECT_EQ(b.column("features").list_values<float>(i).size(), n);
      if (n) {
        EXPECT_EQ(b.column("features").list_values<float>(i)[0], static_cast<float>(inputs[i][0]));
      }
      EXPECT_EQ(b.column("shape").list_values<int64_t>(i)[1], static_cast<int64_t>(n / 2));
    }
  }
}

TEST(FeaturizeSessionTest, RawAndNestedLayouts) {
  Session session = featurizer_session(FeatureKind::kUInt8, 2);
  Request request;
  request.task = Task::kFeaturize;
  request.options.nested_features = true;
  const std::string text = "abcdef";
  request.inputs.texts = {text};
  const RecordBatch b = session.run(request).columns;
  EXPECT_EQ(b.schema().fields[0].type.to_string(), "list<binary>");
  const Column& rows = b.column("features");
  ASSERT_EQ(rows.list_end(0) - rows.list_begin(0), 2);
  EXPECT_EQ(rows.child().string_at(1), "def");
}

TEST(FeaturizeSessionTest, TasksThatNeedAModelOrTokensAreRefused) {
  Session session = featurizer_session(FeatureKind::kFloat32, 1);
  EXPECT_THROW(session.model(), Error);
  EXPECT_THROW(session.embed({"a"}), Error);
  EXPECT_THROW(session.tokenize({"a"}), Error);
  EXPECT_THROW(Session(nullptr, SessionOptions{}), Error) << "neither a model nor a featurizer";
  Session tokens = featurizer_session(FeatureKind::kTokens, 1);
  Request request;
  request.task = Task::kFeaturize;
  request.inputs.texts = {"ab"};
  EXPECT_THROW(tokens.run(request), Error);
}

}  // namespace
}  // namespace salvo
