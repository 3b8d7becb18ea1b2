// The session API against the bundled example model: results do not depend on threads,
// replicas or how calls are split, order is restored, and bad rows and bad calls report clearly.
#include "salvo/session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "salvo/error.h"

namespace salvo {
namespace {

std::vector<std::string> texts(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::string t = "package number " + std::to_string(i) + " provides";
    for (size_t w = 0; w < (i * 7) % 40; ++w) t += " library tools for the web and fonts";
    out.push_back(t);
  }
  return out;
}

SessionOptions options(int threads, int replicas, size_t batch_tokens = 8192) {
  SessionOptions o;
  o.threads = threads;
  o.replicas = replicas;
  o.batching.max_batch_tokens = batch_tokens;
  return o;
}

std::shared_ptr<const Model> example_model() {
  static const std::shared_ptr<const Model> model = load_model(SALVO_EXAMPLE_MODEL);
  return model;
}

float max_difference(const Column& a, const Column& b) {
  EXPECT_EQ(a.size(), b.size());
  const auto x = a.child().values<float>();
  const auto y = b.child().values<float>();
  float worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

TEST(SessionTest, ResultsDoNotDependOnThreadsReplicasOrBatches) {
  const auto input = texts(300);
  Session one(example_model(), options(1, 1));
  const Result reference = one.embed(input);
  EXPECT_EQ(reference.stats.rows, 300u);
  EXPECT_EQ(reference.stats.errors, 0u);
  for (auto [threads, replicas, budget] : {std::tuple{2, 1, 8192}, std::tuple{2, 2, 300}, std::tuple{3, 3, 64}}) {
    Session session(example_model(), options(threads, replicas, static_cast<size_t>(budget)));
    const Result got = session.embed(input);
    EXPECT_LT(max_difference(got.columns.column("embedding"), reference.columns.column("embedding")), 1e-5f)
        << threads << " threads, " << replicas << " replicas, budget " << budget;
  }
}

TEST(SessionTest, ManyCallerThreadsShareOneSessionAndOneModel) {
  const auto input = texts(64);
  Session single(example_model(), options(1, 1));
  const Result reference = single.embed(input);
  Session shared(example_model(), options(2, 2, 256));
  std::vector<std::thread> callers;
  std::vector<float> worst(8, 0);
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        // Each caller embeds its own rotation of the rows; results come back in its order.
        std::vector<std::string> mine(input.begin() + t, input.end());
        mine.insert(mine.end(), input.begin(), input.begin() + t);
        const Result r = shared.embed(mine);
        const auto got = r.columns.column("embedding");
        const auto& want = reference.columns.column("embedding");
        for (size_t i = 0; i < mine.size(); ++i) {
          const auto g = got.list_values<float>(static_cast<int64_t>(i));
          const auto w = want.list_values<float>(static_cast<int64_t>((i + t) % input.size()));
          for (size_t d = 0; d < g.size(); ++d) worst[t] = std::max(worst[t], std::abs(g[d] - w[d]));
        }
      }
    });
  }
  for (auto& c : callers) c.join();
  for (int t = 0; t < 8; ++t) EXPECT_LT(worst[t], 1e-5f) << "caller " << t;
}

TEST(SessionTest, SubmittedCallsCompleteInAnyOrderWithTheirOwnRows) {
  Session session(example_model(), options(2, 1, 128));
  const auto input = texts(40);
  std::vector<std::future<Result>> futures;
  for (size_t i = 0; i < input.size(); ++i) {
    Request request;
    request.task = Task::kClassify;
    auto text = std::make_shared<std::string>(input[i]);
    request.inputs.texts = {*text};
    request.inputs.keep_alive = text;
    futures.push_back(session.submit(std::move(request)));
  }
  const Result all = session.classify(input);
  for (size_t i = futures.size(); i-- > 0;) {
    const Result r = futures[i].get();
    ASSERT_EQ(r.columns.num_rows(), 1);
    EXPECT_EQ(r.columns.column("label").string_at(0), all.columns.column("label").string_at(static_cast<int64_t>(i)));
  }
}

TEST(SessionTest, BadRowsGetErrorsAndTheRestRuns) {
  Session session(example_model(), options(2, 1));
  Request request;
  request.task = Task::kEmbed;
  const std::string bad_utf8 = "caf\xc3";
  request.inputs.texts = {"a good row", bad_utf8, "", "another good row"};
  request.inputs.errors = {"", "", "", "line 4: null text"};
  const Result r = session.run(std::move(request));
  const Column& error = r.columns.column("error");
  EXPECT_TRUE(error.is_null(0));
  EXPECT_EQ(error.string_at(1), "text is not valid UTF-8 (byte 3)");
  EXPECT_TRUE(error.is_null(2)) << "an empty text still has its special tokens";
  EXPECT_EQ(error.string_at(3), "line 4: null text");
  EXPECT_TRUE(r.columns.column("embedding").is_null(3));
  EXPECT_EQ(r.stats.errors, 2u);
}

// Rows go bad on several tokenizer and replica threads at once (bad UTF-8, given errors): the
// error count is exact (it was a plain counter shared by those threads: a data race).
TEST(SessionTest, ErrorCountsAreExactWhenManyThreadsFindBadRows) {
  Session session(example_model(), options(4, 2, 512));
  for (int round = 0; round < 5; ++round) {
    Request request;
    request.task = Task::kTokenize;
    size_t expected = 0;
    for (size_t i = 0; i < 4000; ++i) {
      const bool bad = i % 3 == 0;
      const bool given = i % 7 == 0;
      request.inputs.texts.push_back(bad ? std::string_view("caf\xc3") : std::string_view("a good row"));
      request.inputs.errors.push_back(given ? "given" : "");
      expected += bad || given;
    }
    const Result r = session.run(std::move(request));
    EXPECT_EQ(r.stats.errors, expected);
  }
}

TEST(SessionTest, CallsThatCannotRunThrow) {
  Session session(example_model(), options(1, 1));
  Request pairs;
  pairs.task = Task::kEmbed;
  pairs.inputs.texts = {"a"};
  pairs.inputs.text_pairs = {"b"};
  EXPECT_THROW(session.submit(pairs), Error);
  Request errors;
  errors.inputs.texts = {"a", "b"};
  errors.inputs.errors = {""};
  EXPECT_THROW(session.submit(errors), Error);
  EXPECT_THROW(Session(example_model(), options(1, 0)), Error);
  EXPECT_THROW(Session(nullptr), Error);
  const Result empty = session.embed({});
  EXPECT_EQ(empty.columns.num_rows(), 0);
}

TEST(SessionTest, TokenizeAndPreTokenizedInput) {
  Session session(example_model(), options(2, 1));
  const Result tokens = session.tokenize({"hello world", "fonts"});
  const Column& ids = tokens.columns.column("input_ids");
  ASSERT_EQ(ids.size(), 2);
  Request request;
  request.task = Task::kEmbed;
  for (int64_t r = 0; r < 2; ++r) {
    Encoding e;
    const auto v = ids.list_values<int32_t>(r);
    e.ids.assign(v.begin(), v.end());
    e.type_ids.assign(v.size(), 0);
    request.inputs.encodings.push_back(e);
  }
  request.inputs.encodings.push_back(Encoding{});
  Encoding too_long;  // longer than the model's 128 positions: an error row, not a failed call
  too_long.ids.assign(129, 5);
  too_long.type_ids.assign(129, 0);
  request.inputs.encodings.push_back(too_long);
  const Result from_ids = session.run(std::move(request));
  const Result from_text = session.embed({"hello world", "fonts"});
  EXPECT_EQ(from_ids.columns.column("error").string_at(2), "the text gives no tokens");
  EXPECT_EQ(from_ids.columns.column("error").string_at(3), "129 tokens, more than the model's 128 positions");
  const auto a = from_ids.columns.column("embedding").list_values<float>(1);
  const auto b = from_text.columns.column("embedding").list_values<float>(1);
  for (size_t d = 0; d < a.size(); ++d) EXPECT_NEAR(a[d], b[d], 1e-6f);
}

TEST(SessionTest, ModelInfoDescribesTheExample) {
  Session session(example_model(), options(1, 1));
  const ModelInfo& info = session.model().info();
  EXPECT_EQ(info.architecture, "bert");
  EXPECT_TRUE(info.serves(Task::kClassify));
  EXPECT_FALSE(info.serves(Task::kScore));
  EXPECT_EQ(info.hidden_size, 128);
  EXPECT_EQ(info.max_length, 128u);
  EXPECT_EQ(info.dtype, DType::kF32);
  EXPECT_EQ(session.output_schema(Task::kEmbed).fields[0].type.fixed_length(), 128);
}

}  // namespace
}  // namespace salvo
