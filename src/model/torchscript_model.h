// TorchScript models (`torch.jit.save` archives): any PyTorch model with plain tensor inputs, run
// through libtorch for Task::kPredict. libtorch is optional at build time: without it, loading one
// says so.
#pragma once

#include <filesystem>
#include <memory>

#include "model/model_impl.h"

namespace salvo {

// Whether `path` is a TorchScript archive: a zip holding code/ and constants.pkl (a torch.save
// checkpoint has neither).
bool is_torchscript_file(const std::filesystem::path& path);

// Loads a TorchScript archive (a shared, immutable module; replicas call its forward() concurrently).
// Throws salvo::Error(kModel) naming the file for a corrupt archive, or when this build of salvo has
// no libtorch.
std::shared_ptr<const ModelImpl> load_torchscript_model(const std::filesystem::path& path, const ModelOptions& options);

// Whether this build can run TorchScript models.
bool torchscript_available();

}  // namespace salvo
