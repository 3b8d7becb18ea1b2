// The TorchScript plugin (libsalvo_torchscript.so): TorchScript models through libtorch, loaded by
// libsalvo only when a TorchScript model is (libtorch alone costs a second and 150 MB to load).
// It uses only what salvo's internal headers define inline, and exports one C function.
//
// The module is loaded once and shared: each replica calls its forward() on its own thread, under
// InferenceMode, with the replica thread's OpenMP limit (ATen's parallel regions read the calling
// thread's omp_get_max_threads()).
#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <string>
#include <vector>

#include "model/model_impl.h"
#include "salvo/error.h"

namespace salvo {

ModelImpl* load_torchscript_model(const std::filesystem::path& path);

namespace {

namespace fs = std::filesystem;

// The line of a libtorch error that says what went wrong. TorchScript interpreter errors are a
// traceback of the scripted code ending in the Python-style exception line ("RuntimeError: mat1
// and mat2 shapes cannot be multiplied (1x4 and 6x3)"); other errors lead with their reason.
std::string torch_reason(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) lines.push_back(line);
    start = end + 1;
  }
  if (lines.empty()) return "(no message)";
  const bool traceback = text.find("Traceback of TorchScript") != std::string::npos ||
                         text.find("The following operation failed in the TorchScript interpreter") != std::string::npos;
  std::string reason = traceback ? lines.back() : lines.front();
  if (reason.size() > 500) reason = reason.substr(0, 497) + "...";
  return reason;
}

// Converts one output tensor of a batch of `rows`.
OutputTensor to_output(const std::string& name, const at::Tensor& tensor, int64_t rows) {
  if (tensor.dim() == 0 || tensor.size(0) != rows) {
    throw Error(ErrorCode::kInvalidArgument,
                "the model's output \"" + name + "\" has shape " + c10::str(tensor.sizes()) + " for a batch of " +
                    std::to_string(rows) + " rows: its first dimension must be the batch");
  }
  OutputTensor out;
  out.name = name;
  out.shape.assign(tensor.sizes().begin(), tensor.sizes().end());
  if (at::isFloatingType(tensor.scalar_type()) || at::isComplexType(tensor.scalar_type())) {
    const at::Tensor t = tensor.to(at::kFloat).contiguous();
    out.floats.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  } else {
    const at::Tensor t = tensor.to(at::kLong).contiguous();
    out.int64 = true;
    out.ints.assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
  }
  return out;
}

// One tensor, a tuple or list of tensors, or a dict of named tensors: one column each.
void collect(const c10::IValue& value, int64_t rows, std::vector<OutputTensor>* outputs) {
  if (value.isTensor()) {
    outputs->push_back(to_output("output", value.toTensor(), rows));
  } else if (value.isTuple() || value.isTensorList() || value.isList()) {
    std::vector<c10::IValue> items;
    if (value.isTuple()) {
      for (const auto& e : value.toTupleRef().elements()) items.push_back(e);
    } else {
      for (const auto& e : value.toListRef()) items.push_back(e);
    }
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].isTensor()) {
        throw Error(ErrorCode::kInvalidArgument, "output " + std::to_string(i) + " of the model is a " +
                                                     items[i].tagKind() + ", not a tensor");
      }
      outputs->push_back(to_output("output_" + std::to_string(i), items[i].toTensor(), rows));
    }
  } else if (value.isGenericDict()) {
    for (const auto& entry : value.toGenericDict()) {
      if (!entry.key().isString() || !entry.value().isTensor()) {
        throw Error(ErrorCode::kInvalidArgument, "the model returns a dict that is not of names to tensors");
      }
      outputs->push_back(to_output(entry.key().toStringRef(), entry.value().toTensor(), rows));
    }
  } else {
    throw Error(ErrorCode::kInvalidArgument, std::string("the model returns a ") + value.tagKind() +
                                                 "; salvo takes a tensor, a tuple or list of tensors, or a dict of them");
  }
}

class TorchScriptReplica : public ModelReplica {
 public:
  explicit TorchScriptReplica(std::shared_ptr<torch::jit::Module> module) : module_(std::move(module)) {}

  void run(Task, const PackedBatch&, float*) override {
    throw Error(ErrorCode::kInvalidArgument, "a TorchScript model takes tensors, not text; use predict");
  }

  void run_tensors(const std::vector<TensorColumn>& inputs, int64_t rows,
                   std::vector<OutputTensor>* outputs) override {
    c10::InferenceMode inference;
    std::vector<c10::IValue> args;
    args.reserve(inputs.size());
    for (const TensorColumn& in : inputs) {
      std::vector<int64_t> shape = {rows};
      shape.insert(shape.end(), in.shape.begin(), in.shape.end());
      // from_blob borrows the batch's buffer: forward() reads it, the batch outlives the call.
      void* data = in.int64 ? static_cast<void*>(const_cast<int64_t*>(in.ints.data()))
                            : static_cast<void*>(const_cast<float*>(in.floats.data()));
      args.emplace_back(torch::from_blob(data, shape, in.int64 ? at::kLong : at::kFloat));
    }
    c10::IValue result;
    try {
      result = module_->forward(args);
    } catch (const c10::Error& e) {
      throw Error(ErrorCode::kModel, "the model's forward() failed: " + torch_reason(e.what_without_backtrace()));
    } catch (const std::exception& e) {  // the TorchScript interpreter's own (JITException), bad_alloc
      throw Error(ErrorCode::kModel, "the model's forward() failed: " + torch_reason(e.what()));
    }
    outputs->clear();
    collect(result, rows, outputs);
  }

 private:
  std::shared_ptr<torch::jit::Module> module_;
};

class TorchScriptModel : public ModelImpl {
 public:
  TorchScriptModel(std::shared_ptr<torch::jit::Module> module, ModelInfo info) : module_(std::move(module)) {
    info_ = std::move(info);
  }

  const Tokenizer& tokenizer() const override {
    throw Error(ErrorCode::kInternal, "a TorchScript model has no tokenizer");
  }
  size_t output_width(Task) const override { return 0; }
  std::unique_ptr<ModelReplica> create_replica() const override {
    return std::make_unique<TorchScriptReplica>(module_);
  }

 private:
  std::shared_ptr<torch::jit::Module> module_;
};

}  // namespace
}  // namespace salvo

// The plugin's entry point: loads `path` into a new model owned by the caller, or sets *error (a
// salvo::Error thrown here could not be caught reliably across the library boundary).
extern "C" __attribute__((visibility("default"))) salvo::ModelImpl* salvo_torchscript_load(const char* path,
                                                                                           std::string* error,
                                                                                           int* code) {
  try {
    return salvo::load_torchscript_model(path);
  } catch (const salvo::Error& e) {
    *error = e.what();
    *code = static_cast<int>(e.code());
  } catch (const std::exception& e) {
    *error = e.what();
    *code = static_cast<int>(salvo::ErrorCode::kInternal);
  }
  return nullptr;
}

namespace salvo {

ModelImpl* load_torchscript_model(const fs::path& path) {
  std::shared_ptr<torch::jit::Module> module;
  try {
    module = std::make_shared<torch::jit::Module>(torch::jit::load(path.string(), torch::kCPU));
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::kModel, path.string() + ": not a TorchScript model libtorch " + TORCH_VERSION +
                                       " can load: " + torch_reason(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    // The interpreter's own errors: an operator this libtorch lacks (a model saved by a newer
    // PyTorch, e.g. aten::scaled_dot_product_attention), code it cannot compile.
    const std::string reason = torch_reason(e.what());
    throw Error(ErrorCode::kModel,
                path.string() + ": libtorch " + TORCH_VERSION + " cannot load this TorchScript model: " + reason +
                    (reason.find("Unknown builtin op") != std::string::npos
                         ? " (saved by a newer PyTorch; export with operators libtorch " TORCH_VERSION
                           " has, e.g. transformers' attn_implementation=\"eager\")"
                         : ""));
  }
  module->eval();
  int64_t parameters = 0;
  for (const auto& p : module->parameters()) parameters += p.numel();
  ModelInfo info;
  info.path = path;
  info.architecture = "torchscript";
  info.summary = "TorchScript, " + std::to_string(parameters) + " parameters, libtorch " + TORCH_VERSION;
  info.tasks = {Task::kPredict};
  return new TorchScriptModel(std::move(module), std::move(info));
}

}  // namespace salvo
