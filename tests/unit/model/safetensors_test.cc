#include "model/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "resident_memory.h"
#include "test_checkpoint.h"

namespace salvo {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::raw_file;
using testing::resident_kib;
using testing::RawTensor;
using testing::safetensors_bytes;
using testing::TempDir;
using testing::write_text;

// Opens `bytes` as a safetensors file and returns the error message, or "" when it loads.
std::string open_error(const TempDir& dir, const std::string& bytes) {
  const auto path = dir.path() / "model.safetensors";
  write_text(path, bytes);
  try {
    SafetensorsFile file(path);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    return e.what();
  }
  return "";
}

std::string header_with(const std::string& entry) { return "{\"w\":" + entry + "}"; }

TEST(SafetensorsTest, ReadsF32F16AndBf16) {
  TempDir dir;
  const std::vector<float> values = {1.5f, -2.0f, 0.0f, 3.0e-5f, 65504.0f, -0.125f};
  std::string f16;
  // IEEE half bit patterns of the same values (3e-5 is subnormal in half precision).
  for (uint16_t bits : {0x3e00, 0xc000, 0x0000, 0x01f7, 0x7bff, 0xb000}) {
    f16.push_back(static_cast<char>(bits & 0xff));
    f16.push_back(static_cast<char>(bits >> 8));
  }
  std::string bf16;
  for (float v : values) {
    const uint16_t bits = testing::to_bf16(v);
    bf16.push_back(static_cast<char>(bits & 0xff));
    bf16.push_back(static_cast<char>(bits >> 8));
  }
  const auto path = dir.path() / "model.safetensors";
  write_text(path, safetensors_bytes({{"a", {"F32", {2, 3}, testing::f32_bytes(values)}},
                                      {"b", {"F16", {6}, f16}},
                                      {"c", {"BF16", {3, 2}, bf16}},
                                      {"ids", {"I64", {1}, std::string(8, '\0')}}}));
  SafetensorsFile file(path);
  EXPECT_EQ(file.names(), (std::vector<std::string>{"a", "b", "c", "ids"}));
  EXPECT_EQ(file.to_float("a", {2, 3}), values);
  const std::vector<float> b = file.to_float("b", {6});
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_NEAR(b[i], values[i], std::abs(values[i]) * 1e-3 + 1e-7) << i;
  }
  const std::vector<float> c = file.to_float("c");
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_NEAR(c[i], values[i], std::abs(values[i]) * 8e-3) << i;
  }
  EXPECT_EQ(file.tensor("ids").dtype, SafetensorsDtype::kI64);
}

// Once converted, a tensor's pages of the file mapping leave the process's resident memory, so a
// loading model does not hold its whole checkpoint file besides what it builds from it; reading
// the tensor again gives the same values.
TEST(SafetensorsTest, AConvertedTensorsFilePagesLeaveTheProcess) {
  TempDir dir;
  const size_t count = size_t{4} << 20;  // 16 MiB of float32
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = static_cast<float>(i % 1000) * 0.5f;
  const auto path = dir.path() / "model.safetensors";
  write_text(path, safetensors_bytes({{"big", {"F32", {static_cast<int64_t>(count)}, testing::f32_bytes(values)}}}));
  SafetensorsFile file(path);
  const long before = resident_kib();
  if (before < 0) GTEST_SKIP() << "no VmRSS in /proc/self/status here";
  const std::vector<float> first = file.to_float("big");
  // The returned vector's 16 MiB, without the file's 16 MiB besides.
  EXPECT_LT(resident_kib() - before, 24 << 10);
  EXPECT_EQ(first, values);
  EXPECT_EQ(file.to_float("big"), values);
}

TEST(SafetensorsTest, HalfSpecialValues) {
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0x8000), -0.0f);
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
  EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(bfloat16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(bfloat16_to_float(0xc040), -3.0f);
}

TEST(SafetensorsTest, ShapeAndDtypeChecksOnRead) {
  TempDir dir;
  const auto path = dir.path() / "model.safetensors";
  write_text(path, safetensors_bytes({{"w", {"F32", {2, 2}, testing::f32_bytes({1, 2, 3, 4})}},
                                      {"ids", {"I32", {2}, std::string(8, '\0')}}}));
  SafetensorsFile file(path);
  try {
    file.to_float("w", {4});
    FAIL() << "shape mismatch accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("model.safetensors"), HasSubstr("'w'"),
                                HasSubstr("[2, 2]"), HasSubstr("expected [4]")));
  }
  try {
    file.to_float("ids");
    FAIL() << "I32 weights accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("'ids'"), HasSubstr("I32")));
  }
  try {
    file.to_float("missing");
    FAIL() << "missing tensor accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("'missing'"), HasSubstr("missing")));
  }
}

TEST(SafetensorsTest, RefusesShortFile) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, "abc"),
              AllOf(HasSubstr("model.safetensors"), HasSubstr("truncated"), HasSubstr("3 bytes")));
}

TEST(SafetensorsTest, RefusesHeaderSizeBeyondFile) {
  TempDir dir;
  std::string bytes = raw_file("{}", "");
  bytes[0] = 100;  // claims a 100-byte header in a 10-byte file
  EXPECT_THAT(open_error(dir, bytes), AllOf(HasSubstr("header size 100"), HasSubstr("truncated")));
}

TEST(SafetensorsTest, RefusesTruncatedData) {
  TempDir dir;
  std::string bytes = safetensors_bytes({{"w", {"F32", {4}, testing::f32_bytes({1, 2, 3, 4})}}});
  bytes.resize(bytes.size() - 4);
  EXPECT_THAT(open_error(dir, bytes),
              AllOf(HasSubstr("tensor 'w'"), HasSubstr("past the end"), HasSubstr("truncated")));
}

TEST(SafetensorsTest, RefusesBadJson) {
  TempDir dir;
  EXPECT_THAT(open_error(dir, raw_file("{\"w\": [", "")), HasSubstr("not valid JSON"));
  EXPECT_THAT(open_error(dir, raw_file("[1, 2]", "")), HasSubstr("not a JSON object"));
}

TEST(SafetensorsTest, RefusesOverlappingTensors) {
  TempDir dir;
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  EXPECT_THAT(open_error(dir, raw_file(header, std::string(12, '\0'))),
              AllOf(HasSubstr("'a'"), HasSubstr("'b'"), HasSubstr("overlap")));
}

TEST(SafetensorsTest, RefusesBadOffsetsAndSizes) {
  TempDir dir;
  const std::string data(16, '\0');
  EXPECT_THAT(
      open_error(
          dir, raw_file(header_with(R"({"dtype":"F32","shape":[2],"data_offsets":[8,4]})"), data)),
      HasSubstr("end before they begin"));
  EXPECT_THAT(
      open_error(
          dir, raw_file(header_with(R"({"dtype":"F32","shape":[2],"data_offsets":[8,24]})"), data)),
      HasSubstr("past the end of the data section"));
  EXPECT_THAT(
      open_error(
          dir, raw_file(header_with(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"), data)),
      AllOf(HasSubstr("tensor 'w'"), HasSubstr("[3] x F32 needs 12 bytes"), HasSubstr("span 8")));
  EXPECT_THAT(
      open_error(
          dir, raw_file(header_with(R"({"dtype":"F16","shape":[2],"data_offsets":[0,8]})"), data)),
      HasSubstr("F16 needs 4 bytes"));
  EXPECT_THAT(
      open_error(dir,
                 raw_file(header_with(R"({"dtype":"Q4","shape":[2],"data_offsets":[0,8]})"), data)),
      HasSubstr("unknown dtype 'Q4'"));
  EXPECT_THAT(
      open_error(
          dir, raw_file(header_with(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), data)),
      HasSubstr("not a list of sizes"));
  EXPECT_THAT(open_error(dir, raw_file(header_with(R"({"dtype":"F32","shape":[2]})"), data)),
              HasSubstr("data_offsets"));
  EXPECT_THAT(
      open_error(dir, raw_file(header_with(R"({"dtype":"F32","shape":[4294967296,4294967296],)"
                                           R"("data_offsets":[0,8]})"),
                               data)),
      HasSubstr("too large"));
}

TEST(SafetensorsTest, ReadsMetadataAndEmptyTensors) {
  TempDir dir;
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},)"
      R"("w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  const auto path = dir.path() / "model.safetensors";
  write_text(path, raw_file(header, testing::f32_bytes({7.0f})));
  SafetensorsFile file(path);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_TRUE(file.to_float("e", {0, 3}).empty());
  EXPECT_EQ(file.to_float("w"), std::vector<float>{7.0f});
  EXPECT_FALSE(file.contains("__metadata__"));
}

TEST(SafetensorsTest, MissingFileNamesPath) {
  TempDir dir;
  try {
    SafetensorsFile file(dir.path() / "nope.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_THAT(e.what(), HasSubstr("nope.safetensors"));
  }
}

}  // namespace
}  // namespace salvo
