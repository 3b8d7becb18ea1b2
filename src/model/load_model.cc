// load_model(): what kind of model a path holds decides which loader runs.
#include <filesystem>

#include "model/text_model.h"
#include "salvo/error.h"
#include "salvo/model.h"

namespace salvo {

namespace fs = std::filesystem;

bool ModelInfo::serves(Task task) const {
  for (Task t : tasks) {
    if (t == task) return true;
  }
  return false;
}

std::shared_ptr<const Model> load_model(const fs::path& path, const ModelOptions& options) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) throw Error(ErrorCode::kModel, "model " + path.string() + " does not exist");
  if (!fs::is_directory(status)) {
    throw Error(ErrorCode::kModel, "model " + path.string() +
                                       " is a file, not a model folder (expected a folder with config.json)");
  }
  if (!options.tokenizer_only && !fs::exists(path / "config.json") && !fs::exists(path / "modules.json")) {
    throw Error(ErrorCode::kModel, "model folder " + path.string() + " has no config.json");
  }
  return load_text_model(path, options);
}

}  // namespace salvo
