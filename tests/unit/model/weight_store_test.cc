#include "model/weight_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "model/safetensors.h"
#include "test_checkpoint.h"
#include "torch_test_files.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TempDir;

std::string open_error(const fs::path& dir) {
  try {
    open_weight_store(dir);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    return e.what();
  }
  return "";
}

void place(const fs::path& from, const fs::path& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

class WeightStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  fs::path fixtures() const { return GetParam(); }
  // The float tensors of the fixture state dict, as the expected safetensors file has them.
  void expect_state(const WeightStore& store) {
    const SafetensorsFile want(fixtures() / "state.expected.safetensors");
    EXPECT_EQ(store.names(), want.names());
    for (const std::string& name : want.names()) {
      const SafetensorsTensor& t = want.tensor(name);
      const WeightInfo info = store.info(name);
      EXPECT_EQ(info.dtype, safetensors_dtype_name(t.dtype)) << name;
      EXPECT_EQ(info.shape, t.shape) << name;
      if (info.dtype == "F32" || info.dtype == "F16" || info.dtype == "BF16") {
        const std::vector<float> a = store.to_float(name, t.shape);
        const std::vector<float> b = want.to_float(name);
        ASSERT_EQ(a.size(), b.size()) << name;
        EXPECT_TRUE(a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0)
            << name;
      }
    }
  }
  TempDir tmp_;
};

TEST_P(WeightStoreTest, OpensPytorchModelBin) {
  place(fixtures() / "state.bin", tmp_.path() / "pytorch_model.bin");
  const auto store = open_weight_store(tmp_.path());
  EXPECT_EQ(store->describe(), (tmp_.path() / "pytorch_model.bin").string());
  EXPECT_TRUE(store->contains("dense.weight"));
  EXPECT_FALSE(store->contains("nope"));
  EXPECT_EQ(store->info("position_ids").dtype, "I64");
  expect_state(*store);
}

TEST_P(WeightStoreTest, OpensShardedCheckpoints) {
  for (const char* folder : {"sharded_bin", "sharded_safetensors"}) {
    SCOPED_TRACE(folder);
    const auto store = open_weight_store(fixtures() / folder);
    EXPECT_THAT(store->describe(), HasSubstr(".index.json"));
    expect_state(*store);
    try {
      store->to_float("nope", {});
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr("tensor 'nope' is missing"));
    }
  }
}

TEST_P(WeightStoreTest, PrefersSafetensorsOverPytorchModelBin) {
  place(fixtures() / "state.bin", tmp_.path() / "pytorch_model.bin");
  place(fixtures() / "state.expected.safetensors", tmp_.path() / "model.safetensors");
  EXPECT_THAT(open_weight_store(tmp_.path())->describe(), HasSubstr("model.safetensors"));
}

INSTANTIATE_TEST_SUITE_P(Writers, WeightStoreTest,
                         ::testing::ValuesIn(testing::torch_fixture_dirs()),
                         [](const auto& info) { return "writer" + std::to_string(info.index); });

TEST(WeightStoreErrorsTest, NamesWhatWasLookedFor) {
  TempDir tmp;
  const std::string error = open_error(tmp.path());
  EXPECT_THAT(error, HasSubstr(tmp.path().string()));
  EXPECT_THAT(error, HasSubstr("model.safetensors.index.json"));
  EXPECT_THAT(error, HasSubstr("pytorch_model.bin"));
}

TEST(WeightStoreErrorsTest, RefusesBadShardIndexes) {
  TempDir tmp;
  const fs::path index = tmp.path() / "model.safetensors.index.json";
  const std::string shard =
      testing::safetensors_bytes({{"a", {"F32", {1}, testing::f32_bytes({1.0f})}},
                                  {"b", {"F32", {1}, testing::f32_bytes({2.0f})}}});
  testing::write_text(tmp.path() / "s1.safetensors", shard);
  testing::write_text(tmp.path() / "s2.safetensors", shard);

  testing::write_text(index, "{not json");
  EXPECT_THAT(open_error(tmp.path()), HasSubstr("not valid JSON"));
  testing::write_text(index, R"({"metadata": {}})");
  EXPECT_THAT(open_error(tmp.path()), HasSubstr("no \"weight_map\""));
  testing::write_text(index, R"({"weight_map": {}})");
  EXPECT_THAT(open_error(tmp.path()), HasSubstr("weight_map is empty"));
  testing::write_text(index, R"({"weight_map": {"a": "../s1.safetensors"}})");
  EXPECT_THAT(open_error(tmp.path()), HasSubstr("not a file in the model folder"));
  testing::write_text(index, R"({"weight_map": {"a": "/etc/passwd"}})");
  EXPECT_THAT(open_error(tmp.path()), HasSubstr("not a file in the model folder"));
  testing::write_text(index, R"({"weight_map": {"a": "missing.safetensors"}})");
  EXPECT_THAT(open_error(tmp.path()),
              HasSubstr("shard 'missing.safetensors' listed for 'a' is missing"));
  testing::write_text(index, R"({"weight_map": {"c": "s1.safetensors"}})");
  EXPECT_THAT(open_error(tmp.path()),
              HasSubstr("tensor 'c' is listed in shard 's1.safetensors' but is not in it"));
  testing::write_text(index, R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
  EXPECT_THAT(open_error(tmp.path()), HasSubstr("is in both"));
  testing::write_text(index, R"({"weight_map": {"a": 3}})");
  EXPECT_THAT(open_error(tmp.path()), HasSubstr("is not a file name"));
}

TEST(WeightStoreTest, NonFiniteWeightsAreRefusedNamingTheTensor) {
  std::vector<float> w(1000, 0.5f);
  EXPECT_NO_THROW(require_finite(w, "m/model.safetensors", "w"));
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    w[737] = bad;
    try {
      require_finite(w, "m/model.safetensors", "encoder.layer.0.output.dense.weight");
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModel);
      EXPECT_THAT(e.what(), HasSubstr("m/model.safetensors: tensor 'encoder.layer.0.output.dense.weight' holds "));
      EXPECT_THAT(e.what(), HasSubstr("(element 737 of 1000)"));
      EXPECT_THAT(e.what(), HasSubstr(std::isnan(bad) ? "NaN" : "an infinity"));
    }
  }
}

}  // namespace
}  // namespace salvo
