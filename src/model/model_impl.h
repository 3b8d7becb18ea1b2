// The library's side of a Model: what sessions need to run one. Every Model that load_model()
// returns is a ModelImpl.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/packed_batch.h"
#include "salvo/error.h"
#include "salvo/model.h"
#include "salvo/session.h"

namespace salvo {

class Tokenizer;

// One output tensor of a Task::kPredict batch: [rows, ...], row-major.
struct OutputTensor {
  std::string name;
  std::vector<int64_t> shape;  // the batch dimension first
  bool int64 = false;
  std::vector<float> floats;
  std::vector<int64_t> ints;
};

// One thread's working copy of a model: scratch buffers, never weights. Not thread-safe; a
// session gives each of its worker threads one.
class ModelReplica {
 public:
  virtual ~ModelReplica() = default;
  // Runs `batch` for `task` (kEmbed, kClassify or kScore) and writes rows() x
  // ModelImpl::output_width(task) floats, row after row, to `out`.
  virtual void run(Task task, const PackedBatch& batch, float* out) = 0;
  // Runs a batch of `rows` input tensors (each column holds `rows` rows) through a tensor model
  // (Task::kPredict). Throws kInvalidArgument for a model without tensor inputs. (Inline, like the
  // rest of this header: the TorchScript plugin, a separate shared object, derives from these.)
  virtual void run_tensors(const std::vector<TensorColumn>& inputs, int64_t rows, std::vector<OutputTensor>* outputs) {
    throw Error(ErrorCode::kInvalidArgument, "this model takes text, not tensors");
  }
};

class ModelImpl : public Model {
 public:
  const ModelInfo& info() const override { return info_; }
  // The tokenizer rows go through before the model sees them, with the session's length limit set.
  // Throws kInternal for a model without text input (check info().serves(Task::kPredict) first).
  virtual const Tokenizer& tokenizer() const = 0;
  // Floats per row that ModelReplica::run writes for `task`.
  virtual size_t output_width(Task task) const = 0;
  // The longest sequence of token ids the model takes (its positions); 0 when it takes no ids.
  virtual size_t max_tokens() const { return 0; }
  virtual std::unique_ptr<ModelReplica> create_replica() const = 0;

 protected:
  ModelInfo info_;
};

// The ModelImpl behind a Model (every Model comes from load_model()).
inline const ModelImpl& model_impl(const Model& model) { return static_cast<const ModelImpl&>(model); }

}  // namespace salvo
