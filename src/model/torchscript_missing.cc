// The TorchScript entry points of a build without libtorch.
#include "model/torchscript_model.h"
#include "salvo/error.h"

namespace salvo {

bool torchscript_available() { return false; }

std::shared_ptr<const ModelImpl> load_torchscript_model(const std::filesystem::path& path, const ModelOptions&) {
  throw Error(ErrorCode::kModel, path.string() +
                                     " is a TorchScript model, and this salvo was built without TorchScript support "
                                     "(libtorch-dev was not installed when it was built)");
}

}  // namespace salvo
