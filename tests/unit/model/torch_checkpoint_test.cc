#include "model/torch_checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "model/safetensors.h"
#include "test_checkpoint.h"
#include "torch_test_files.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;
using testing::floats;
using ::testing::HasSubstr;
using testing::PickleWriter;
using testing::TempDir;
using testing::TensorSpec;
using testing::write_torch_zip;

bool is_float(SafetensorsDtype d) {
  return d == SafetensorsDtype::kF32 || d == SafetensorsDtype::kF16 || d == SafetensorsDtype::kBF16;
}

// Every tensor of `bin` against the contiguous copy PyTorch's writer script stored in `expected`:
// the same names, dtypes and shapes, and the same bytes.
void expect_same_tensors(const TorchCheckpoint& bin, const fs::path& expected) {
  const SafetensorsFile want(expected);
  ASSERT_EQ(bin.names(), want.names()) << bin.path();
  for (const std::string& name : want.names()) {
    SCOPED_TRACE(bin.path().string() + ": " + name);
    const SafetensorsTensor& w = want.tensor(name);
    const TorchTensor& t = bin.tensor(name);
    EXPECT_EQ(safetensors_dtype_name(t.dtype), std::string(safetensors_dtype_name(w.dtype)));
    EXPECT_EQ(t.shape, w.shape);
    EXPECT_EQ(bin.read_bytes(name), testing::safetensors_raw(want, name));
    if (is_float(w.dtype)) {
      const std::vector<float> a = bin.to_float(name, w.shape);
      const std::vector<float> b = want.to_float(name);
      ASSERT_EQ(a.size(), b.size());
      EXPECT_TRUE(a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    }
  }
}

class WrittenByTorchTest : public ::testing::TestWithParam<std::string> {
 protected:
  fs::path dir() const { return GetParam(); }
};

TEST_P(WrittenByTorchTest, ZipAndLegacyStateDictsMatchTheirContents) {
  for (const char* name : {"state", "nested"}) {
    TorchCheckpoint zip(dir() / (std::string(name) + ".bin"));
    EXPECT_FALSE(zip.legacy_format());
    expect_same_tensors(zip, dir() / (std::string(name) + ".expected.safetensors"));
    TorchCheckpoint legacy(dir() / (std::string(name) + ".legacy.bin"));
    EXPECT_TRUE(legacy.legacy_format());
    expect_same_tensors(legacy, dir() / (std::string(name) + ".expected.safetensors"));
  }
  TorchCheckpoint protocol5(dir() / "state.p5.bin");
  expect_same_tensors(protocol5, dir() / "state.expected.safetensors");
}

TEST_P(WrittenByTorchTest, ViewsAndSharedStoragesAreResolved) {
  TorchCheckpoint bin(dir() / "state.bin");
  const TorchTensor& w = bin.tensor("dense.weight");
  const TorchTensor& t = bin.tensor("t_view");
  EXPECT_EQ(w.storage, t.storage);  // one storage, two views
  EXPECT_EQ(w.storage, bin.tensor("tied").storage);
  EXPECT_TRUE(w.contiguous());
  EXPECT_FALSE(t.contiguous());
  EXPECT_EQ(bin.tensor("slice").offset, 5);  // w[1:, 1:3] of a 3x4 weight
  // The transpose read out equals the weight transposed element by element.
  const std::vector<float> wv = bin.to_float("dense.weight", {3, 4});
  const std::vector<float> tv = bin.to_float("t_view", {4, 3});
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) EXPECT_EQ(tv[j * 3 + i], wv[i * 4 + j]);
  }
  EXPECT_TRUE(bin.tensor("scalar").shape.empty());
  EXPECT_EQ(bin.to_float("scalar"), std::vector<float>{2.5f});
  EXPECT_TRUE(bin.to_float("empty", {0, 3}).empty());
  EXPECT_EQ(bin.tensor("position_ids").dtype, SafetensorsDtype::kI64);
}

TEST_P(WrittenByTorchTest, NonWeightDtypesAreListedButNotReadAsWeights) {
  TorchCheckpoint bin(dir() / "state.bin");
  for (const char* name : {"position_ids", "double", "flags"}) {
    try {
      bin.to_float(name);
      ADD_FAILURE() << name << " was read as float";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModel);
      EXPECT_THAT(e.what(), HasSubstr("weights must be stored as F32, F16 or BF16"));
    }
  }
  try {
    bin.to_float("dense.weight", {4, 3});
    ADD_FAILURE() << "shape not checked";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("has shape [3, 4], expected [4, 3]"));
  }
  try {
    bin.tensor("nope");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("tensor 'nope' is missing"));
  }
}

// Files whose pickle would run a shell command when loaded with Python's pickle are refused by
// name, and the command never runs.
TEST_P(WrittenByTorchTest, MaliciousPicklesAreRefusedWithoutSideEffects) {
  const std::string marker = "/tmp/salvo_pickle_pwned";
  for (const char* kind : {"system", "eval"}) {
    fs::remove(marker + "_" + kind);
    for (const char* suffix : {".bin", ".legacy.bin"}) {
      const fs::path path = dir() / (std::string("evil_") + kind + suffix);
      SCOPED_TRACE(path.string());
      try {
        TorchCheckpoint bin(path);
        ADD_FAILURE() << "loaded";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kModel);
        EXPECT_THAT(e.what(), HasSubstr(path.string()));
        EXPECT_THAT(e.what(), HasSubstr(std::string(kind) == "system"
                                            ? "refusing global 'posix.system'"
                                            : "refusing global '__builtin__.eval'"));
        EXPECT_THAT(e.what(), HasSubstr("nothing was executed"));
      }
      EXPECT_FALSE(fs::exists(marker + "_" + kind));
    }
  }
}

// Every prefix of a valid file is refused with a model error: never a crash, a hang, or a
// different exception.
TEST_P(WrittenByTorchTest, TruncatedFilesAreRefused) {
  // Hundreds of rewrites of one file: on tmpfs when there is one, since truncating files on a
  // disk costs milliseconds each.
  TempDir tmp;
  const fs::path cut = fs::exists("/dev/shm")
                           ? fs::path("/dev/shm/salvo_torch_cut_" + std::to_string(::getpid()))
                           : tmp.path() / "cut.bin";
  for (const char* name : {"state.bin", "state.legacy.bin"}) {
    const std::string bytes = testing::read_file(dir() / name);
    for (size_t n = 0; n < bytes.size(); n += (n < 256 ? 1 : 61)) {
      testing::write_text(cut, bytes.substr(0, n));
      try {
        TorchCheckpoint bin(cut);
        ADD_FAILURE() << name << " cut to " << n << " bytes loaded";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kModel) << name << " cut to " << n;
      }
    }
  }
  fs::remove(cut);
}

INSTANTIATE_TEST_SUITE_P(Writers, WrittenByTorchTest,
                         ::testing::ValuesIn(testing::torch_fixture_dirs()), [](const auto& info) {
                           std::string name = fs::path(info.param).filename().string();
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name + "_" + std::to_string(info.index);
                         });

// Hand-built archives for the cases no PyTorch writes.
class TorchZipTest : public ::testing::Test {
 protected:
  std::string open_error(const std::string& pickle,
                         const std::map<std::string, std::string>& storages,
                         std::map<std::string, std::string> extra = {}) {
    const fs::path path = tmp_.path() / "pytorch_model.bin";
    write_torch_zip(path, pickle, storages, std::move(extra));
    try {
      TorchCheckpoint bin(path);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModel);
      return e.what();
    }
    return "";
  }
  std::string open_error(const std::vector<TensorSpec>& tensors,
                         const std::map<std::string, std::string>& storages) {
    return open_error(testing::state_dict_pickle(tensors).bytes(), storages);
  }
  TempDir tmp_;
};

TEST_F(TorchZipTest, ReadsAHandBuiltArchive) {
  const fs::path path = tmp_.path() / "pytorch_model.bin";
  write_torch_zip(path,
                  testing::state_dict_pickle({{"w", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
                                              {"col", "FloatStorage", "0", 6, 1, {2}, {3}}})
                      .bytes(),
                  {{"0", floats({1, 2, 3, 4, 5, 6})}});
  TorchCheckpoint bin(path);
  EXPECT_EQ(bin.names(), (std::vector<std::string>{"col", "w"}));
  EXPECT_EQ(bin.to_float("w", {2, 3}), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(bin.to_float("col", {2}), (std::vector<float>{2, 5}));
}

TEST_F(TorchZipTest, RefusesViewsOutsideTheirStorage) {
  const auto data = floats({1, 2, 3, 4, 5, 6});
  EXPECT_THAT(open_error({{"w", "FloatStorage", "0", 6, 1, {2, 3}, {3, 1}}}, {{"0", data}}),
              HasSubstr("reaches past the end of the storage"));
  EXPECT_THAT(open_error({{"w", "FloatStorage", "0", 6, 0, {3, 3}, {3, 1}}}, {{"0", data}}),
              HasSubstr("reaches past the end"));
  EXPECT_THAT(
      open_error({{"w", "FloatStorage", "0", 6, 0, {1000000, 1000}, {0, 0}}}, {{"0", data}}),
      HasSubstr("more elements than its storage"));
  EXPECT_THAT(open_error({{"w", "FloatStorage", "0", 6, 0, {INT64_MAX, 4}, {1, 1}}}, {{"0", data}}),
              HasSubstr("too large"));
  EXPECT_THAT(open_error({{"w", "FloatStorage", "0", 6, 7, {0}, {1}}}, {{"0", data}}),
              HasSubstr("starts past the storage"));
  EXPECT_THAT(open_error({{"w", "FloatStorage", "0", 6, 0, {2, 3}, {3}}}, {{"0", data}}),
              HasSubstr("differ in length"));
  EXPECT_THAT(open_error({{"w", "FloatStorage", "0", 6, 0, {2, -3}, {3, 1}}}, {{"0", data}}),
              HasSubstr("not a non-negative integer"));
}

TEST_F(TorchZipTest, RefusesStorageRecordsThatDoNotMatchTheirDescription) {
  const std::vector<TensorSpec> w = {{"w", "FloatStorage", "0", 6, 0, {6}, {1}}};
  EXPECT_THAT(open_error(w, {{"0", floats({1, 2, 3})}}),
              HasSubstr("holds 12 bytes, but 6 x F32 need 24"));
  EXPECT_THAT(open_error(w, {}), HasSubstr("storage record 'archive/data/0' is missing"));
  EXPECT_THAT(open_error({{"w", "FloatStorage", "0", INT64_MAX, 0, {6}, {1}}}, {}),
              HasSubstr("too large"));
  EXPECT_THAT(open_error({{"a", "FloatStorage", "0", 6, 0, {6}, {1}},
                          {"b", "HalfStorage", "0", 6, 0, {6}, {1}}},
                         {{"0", floats({1, 2, 3, 4, 5, 6})}}),
              HasSubstr("storage '0' is referenced as F16 x 6 and as F32 x 6"));
  EXPECT_THAT(open_error({{"w", "ComplexFloatStorage", "0", 6, 0, {6}, {1}}}, {}),
              HasSubstr("refusing global 'torch.ComplexFloatStorage'"));
}

TEST_F(TorchZipTest, RefusesWhatIsNotAStateDict) {
  PickleWriter tensor;
  tensor.proto().tensor("FloatStorage", "0", 1, 0, {1}, {1}).stop();
  EXPECT_THAT(open_error(tensor.bytes(), {{"0", floats({1})}}),
              HasSubstr("holds a single tensor, not a state dict"));
  PickleWriter list;
  list.proto().empty_list().stop();
  EXPECT_THAT(open_error(list.bytes(), {}), HasSubstr("holds list of 0, not a state dict"));
  PickleWriter pid;
  pid.proto()
      .empty_dict()
      .str("w")
      .mark()
      .str("storage")
      .str("0")
      .tuple()
      .persid()
      .setitem()
      .stop();
  EXPECT_THAT(open_error(pid.bytes(), {}), HasSubstr("is not a storage reference"));
  PickleWriter key;
  key.proto().empty_dict().none().integer(1).setitem().stop();
  EXPECT_THAT(open_error(key.bytes(), {}), HasSubstr("key None is not a string"));
  PickleWriter cycle;  // d = {}; d["self"] = d
  cycle.proto().empty_dict().put(0).str("self").get(0).setitem().stop();
  EXPECT_THAT(open_error(cycle.bytes(), {}), HasSubstr("appears twice"));
  PickleWriter call;  // a storage class is allowed as a reference but never called
  call.proto().global("torch", "FloatStorage").empty_tuple().reduce().stop();
  EXPECT_THAT(open_error(call.bytes(), {}), HasSubstr("torch.FloatStorage cannot be called"));
}

TEST_F(TorchZipTest, RefusesCompressedStorageRecords) {
  // A few KiB of deflated zeros could otherwise claim gigabytes of tensor data.
  const fs::path path = tmp_.path() / "pytorch_model.bin";
  const int64_t numel = 1 << 20;
  write_torch_zip(
      path,
      testing::state_dict_pickle({{"w", "FloatStorage", "0", numel, 0, {numel}, {1}}}).bytes(),
      {{"0", std::string(numel * 4, '\0')}}, {}, ZIP_CM_DEFLATE);
  EXPECT_LT(fs::file_size(path), 100000u);
  try {
    TorchCheckpoint bin(path);
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("storage record 'archive/data/0' is compressed"));
  }
}

TEST_F(TorchZipTest, RefusesBigEndianAndAmbiguousArchives) {
  const std::string pickle = testing::state_dict_pickle({}).bytes();
  EXPECT_THAT(open_error(pickle, {}, {{"archive/byteorder", "big"}}),
              HasSubstr("only little-endian"));
  EXPECT_EQ(open_error(pickle, {}, {{"archive/byteorder", "little"}}), "");
  EXPECT_THAT(open_error(pickle, {}, {{"other/data.pkl", pickle}}),
              HasSubstr("2 data.pkl records"));
  const fs::path path = tmp_.path() / "x.bin";
  testing::write_zip(path, {{"readme.txt", "hi"}});
  try {
    TorchCheckpoint bin(path);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("no <folder>/data.pkl record"));
  }
}

TEST_F(TorchZipTest, NamesFilesThatAreNotCheckpoints) {
  const fs::path path = tmp_.path() / "pytorch_model.bin";
  auto error = [&](const std::string& bytes) -> std::string {
    testing::write_text(path, bytes);
    try {
      TorchCheckpoint bin(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_THAT(error("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n"),
              HasSubstr("Git LFS pointer"));
  EXPECT_THAT(error(""), HasSubstr("is not a PyTorch checkpoint"));
  EXPECT_THAT(error(std::string("\x80\x02K\x01.", 5)),
              HasSubstr("not with PyTorch's magic number"));
  std::string tar(512, '\0');
  std::memcpy(tar.data() + 257, "ustar", 5);
  EXPECT_THAT(error(tar), HasSubstr("tar-format checkpoint"));
}

}  // namespace
}  // namespace salvo
