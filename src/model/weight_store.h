// The tensors of a checkpoint, whatever file format holds them: model.safetensors, a sharded
// safetensors checkpoint (model.safetensors.index.json) or PyTorch's pytorch_model.bin.
// Architectures read their weights through this interface only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace salvo {

// What a checkpoint says about one tensor.
struct WeightInfo {
  std::string dtype;           // the file's own name for it: "F32", "BF16", "F16", "I64", ...
  std::vector<int64_t> shape;  // empty for a scalar
};

// A read-only set of named tensors. Implementations validate their file when opened and throw
// salvo::Error(kModel) naming the file, the tensor and the problem.
class WeightStore {
 public:
  virtual ~WeightStore() = default;

  // The files the tensors come from, for messages ("dir/model.safetensors").
  virtual std::string describe() const = 0;
  virtual bool contains(const std::string& name) const = 0;
  // Throws kModel if absent.
  virtual WeightInfo info(const std::string& name) const = 0;
  // All tensor names, sorted.
  virtual std::vector<std::string> names() const = 0;
  // The tensor as float32, row-major (F32, F16 and BF16 are converted). Throws kModel if it is
  // absent, holds another dtype, or (when `expected_shape` is not empty) has another shape.
  virtual std::vector<float> to_float(const std::string& name,
                                      const std::vector<int64_t>& expected_shape) const = 0;
};

// Throws salvo::Error(kModel) naming the tensor (`where`: the checkpoint) when `values` holds a
// NaN or an infinity: such a weight turns every output it touches into NaN, which an .npy output
// could not tell from an error row. Architectures check every tensor they load with it.
void require_finite(std::span<const float> values, const std::string& where, const std::string& name);

// Opens the weights of a Hugging Face model folder: model.safetensors if present, else the shards
// listed in model.safetensors.index.json, else pytorch_model.bin. Throws kModel naming the folder
// and what was looked for when none is there.
std::unique_ptr<WeightStore> open_weight_store(const std::filesystem::path& dir);

}  // namespace salvo
