#include "model/weight_store.h"

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/json_text.h"
#include "model/safetensors.h"
#include "model/torch_checkpoint.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;

// An index of a sharded checkpoint is a small JSON file; this bound keeps a corrupt one from being
// read whole.
constexpr uintmax_t kMaxIndexBytes = 64u << 20;

class SafetensorsStore : public WeightStore {
 public:
  explicit SafetensorsStore(const fs::path& path) : file_(path) {}

  std::string describe() const override { return file_.path().string(); }
  bool contains(const std::string& name) const override { return file_.contains(name); }
  WeightInfo info(const std::string& name) const override {
    const SafetensorsTensor& t = file_.tensor(name);
    return {safetensors_dtype_name(t.dtype), t.shape};
  }
  std::vector<std::string> names() const override { return file_.names(); }
  std::vector<float> to_float(const std::string& name,
                              const std::vector<int64_t>& expected_shape) const override {
    return expected_shape.empty() ? file_.to_float(name) : file_.to_float(name, expected_shape);
  }

 private:
  SafetensorsFile file_;
};

class TorchStore : public WeightStore {
 public:
  explicit TorchStore(const fs::path& path) : file_(path) {}

  std::string describe() const override { return file_.path().string(); }
  bool contains(const std::string& name) const override { return file_.contains(name); }
  WeightInfo info(const std::string& name) const override {
    const TorchTensor& t = file_.tensor(name);
    return {safetensors_dtype_name(t.dtype), t.shape};
  }
  std::vector<std::string> names() const override { return file_.names(); }
  std::vector<float> to_float(const std::string& name,
                              const std::vector<int64_t>& expected_shape) const override {
    return expected_shape.empty() ? file_.to_float(name) : file_.to_float(name, expected_shape);
  }

 private:
  TorchCheckpoint file_;
};

// Several files, each holding a disjoint part of the tensors, as `save_pretrained` shards large
// models. The index's weight_map says which file holds which tensor; every file it names is opened
// and validated, and every tensor it lists must be in its file.
class ShardedStore : public WeightStore {
 public:
  template <typename Shard>
  static std::unique_ptr<WeightStore> open(const fs::path& index_path) {
    auto store = std::unique_ptr<ShardedStore>(new ShardedStore(index_path));
    const std::string where = index_path.string();
    auto fail = [&](const std::string& why) { throw Error(ErrorCode::kModel, where + ": " + why); };

    std::error_code ec;
    const uintmax_t size = fs::file_size(index_path, ec);
    if (ec) fail("cannot read the index: " + ec.message());
    if (size > kMaxIndexBytes)
      fail("index of " + std::to_string(size) + " bytes is implausibly large");
    std::ifstream in(index_path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) fail("cannot read the index");
    nlohmann::json index;
    try {
      index = parse_json_document(text.str());
    } catch (const nlohmann::json::exception& e) {
      fail(std::string("index is not valid JSON: ") + e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      fail("index has no \"weight_map\" object");
    }
    std::map<std::string, size_t> shard_of_file;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      if (!file.is_string()) fail("weight_map entry '" + tensor + "' is not a file name");
      const std::string name = file.template get<std::string>();
      // Shards are siblings of the index: a path elsewhere is refused rather than followed.
      if (name.empty() || name.find('/') != std::string::npos || name == "." || name == ".." ||
          name.find('\\') != std::string::npos) {
        fail("weight_map entry '" + tensor + "' names '" + name +
             "', which is not a file in the model folder");
      }
      auto it = shard_of_file.find(name);
      if (it == shard_of_file.end()) {
        const fs::path shard = index_path.parent_path() / name;
        if (!fs::exists(shard)) fail("shard '" + name + "' listed for '" + tensor + "' is missing");
        it = shard_of_file.emplace(name, store->shards_.size()).first;
        store->shards_.push_back(std::make_unique<Shard>(shard));
      }
      const WeightStore& shard = *store->shards_[it->second];
      if (!shard.contains(tensor)) {
        fail("tensor '" + tensor + "' is listed in shard '" + name + "' but is not in it");
      }
    }
    if (store->shards_.empty()) fail("weight_map is empty");
    for (size_t i = 0; i < store->shards_.size(); ++i) {
      for (const std::string& tensor : store->shards_[i]->names()) {
        auto [it, inserted] = store->owner_.emplace(tensor, i);
        if (!inserted) {
          fail("tensor '" + tensor + "' is in both " + store->shards_[it->second]->describe() +
               " and " + store->shards_[i]->describe());
        }
      }
    }
    return store;
  }

  std::string describe() const override { return index_.string(); }
  bool contains(const std::string& name) const override { return owner_.count(name) > 0; }
  WeightInfo info(const std::string& name) const override { return shard(name).info(name); }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    out.reserve(owner_.size());
    for (const auto& [name, i] : owner_) out.push_back(name);
    return out;
  }
  std::vector<float> to_float(const std::string& name,
                              const std::vector<int64_t>& expected_shape) const override {
    return shard(name).to_float(name, expected_shape);
  }

 private:
  explicit ShardedStore(fs::path index) : index_(std::move(index)) {}

  const WeightStore& shard(const std::string& name) const {
    auto it = owner_.find(name);
    if (it == owner_.end()) {
      throw Error(ErrorCode::kModel, index_.string() + ": tensor '" + name + "' is missing");
    }
    return *shards_[it->second];
  }

  fs::path index_;
  std::vector<std::unique_ptr<WeightStore>> shards_;
  std::map<std::string, size_t> owner_;  // tensor -> shard
};

}  // namespace

void require_finite(std::span<const float> values, const std::string& where, const std::string& name) {
  // One branch-free pass (vectorised); the position is only looked for once something is wrong.
  bool finite = true;
  for (const float v : values) finite &= std::isfinite(v);
  if (finite) return;
  size_t i = 0;
  while (std::isfinite(values[i])) ++i;
  throw Error(ErrorCode::kModel, where + ": tensor '" + name + "' holds " + (std::isnan(values[i]) ? "NaN" : "an infinity") +
                                     " (element " + std::to_string(i) + " of " + std::to_string(values.size()) +
                                     "); a model with non-finite weights gives NaN outputs");
}

std::unique_ptr<WeightStore> open_weight_store(const fs::path& dir) {
  if (fs::exists(dir / "model.safetensors")) {
    return std::make_unique<SafetensorsStore>(dir / "model.safetensors");
  }
  if (fs::exists(dir / "model.safetensors.index.json")) {
    return ShardedStore::open<SafetensorsStore>(dir / "model.safetensors.index.json");
  }
  if (fs::exists(dir / "pytorch_model.bin")) {
    return std::make_unique<TorchStore>(dir / "pytorch_model.bin");
  }
  if (fs::exists(dir / "pytorch_model.bin.index.json")) {
    return ShardedStore::open<TorchStore>(dir / "pytorch_model.bin.index.json");
  }
  throw Error(ErrorCode::kModel, dir.string() +
                                     ": no weights found (looked for model.safetensors, "
                                     "model.safetensors.index.json, pytorch_model.bin and "
                                     "pytorch_model.bin.index.json)");
}

}  // namespace salvo
