// Loading the TorchScript plugin (libsalvo_torchscript.so) when a TorchScript model is loaded.
#include <dlfcn.h>

#include <mutex>
#include <string>
#include <vector>

#include "model/torchscript_model.h"
#include "salvo/error.h"

#ifndef SALVO_PLUGIN_DIR
#define SALVO_PLUGIN_DIR ""
#endif

namespace salvo {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPlugin = "libsalvo_torchscript.so";

using LoadFunction = ModelImpl* (*)(const char*, std::string*, int*);

struct Plugin {
  LoadFunction load = nullptr;
  std::string why_not;  // when load is null
};

// Looks next to the library (or program) holding this code, then where the build put it, then on
// the loader's search path. The plugin stays loaded for the process's life.
const Plugin& plugin() {
  static const Plugin loaded = [] {
    Plugin p;
    std::vector<std::string> candidates;
    Dl_info self{};
    if (dladdr(reinterpret_cast<void*>(&torchscript_available), &self) != 0 && self.dli_fname != nullptr) {
      candidates.push_back((fs::path(self.dli_fname).parent_path() / kPlugin).string());
    }
    if (*SALVO_PLUGIN_DIR) candidates.push_back((fs::path(SALVO_PLUGIN_DIR) / kPlugin).string());
    candidates.push_back(kPlugin);
    std::string errors;
    for (const auto& candidate : candidates) {
      void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle == nullptr) {
        if (const char* e = dlerror()) errors += std::string(errors.empty() ? "" : "; ") + e;
        continue;
      }
      p.load = reinterpret_cast<LoadFunction>(dlsym(handle, "salvo_torchscript_load"));
      if (p.load != nullptr) return p;
      errors += "; " + candidate + " has no salvo_torchscript_load";
    }
    p.why_not = errors;
    return p;
  }();
  return loaded;
}

}  // namespace

bool torchscript_available() { return plugin().load != nullptr; }

std::shared_ptr<const ModelImpl> load_torchscript_model(const fs::path& path, const ModelOptions&) {
  const Plugin& p = plugin();
  if (p.load == nullptr) {
    throw Error(ErrorCode::kModel, path.string() +
                                       " is a TorchScript model, and this salvo has no TorchScript support (it was "
                                       "built without libtorch-dev, or " + kPlugin + " cannot be loaded: " +
                                       p.why_not + ")");
  }
  std::string error;
  int code = 0;
  ModelImpl* model = p.load(path.c_str(), &error, &code);
  if (model == nullptr) throw Error(static_cast<ErrorCode>(code), error);
  return std::shared_ptr<const ModelImpl>(model);
}

}  // namespace salvo
