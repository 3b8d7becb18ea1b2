#include "model/weight_store.h"

#include "core/error.h"
#include "model/safetensors.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;

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

}  // namespace

std::unique_ptr<WeightStore> open_weight_store(const fs::path& dir) {
  const fs::path single = dir / "model.safetensors";
  if (fs::exists(single)) return std::make_unique<SafetensorsStore>(single);
  std::string hint;
  if (fs::exists(dir / "model.safetensors.index.json")) {
    hint = " (sharded safetensors checkpoints are not supported yet)";
  } else if (fs::exists(dir / "pytorch_model.bin")) {
    hint = " (pytorch_model.bin is not supported yet; convert it to safetensors)";
  }
  throw Error(ErrorCode::kModel, single.string() + ": weight file is missing" + hint);
}

}  // namespace salvo
