// load_model(): what kind of model a path holds decides which loader runs.
#include <filesystem>
#include <future>

#include <omp.h>

#include "model/model_impl.h"
#include "model/text_model.h"
#include "model/torchscript_model.h"
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

int64_t TensorColumn::row_size() const {
  const int64_t n = tensor_row_values(shape);
  if (n < 0) {
    throw Error(ErrorCode::kInvalidArgument, "input tensor \"" + name + "\": a row shape whose sizes are negative or "
                                                 "hold more than " + std::to_string(kMaxTensorRowValues) + " values");
  }
  return n;
}

int64_t TensorColumn::rows() const {
  const int64_t n = row_size();
  const size_t values = int64 ? ints.size() : floats.size();
  return n > 0 ? static_cast<int64_t>(values) / n : 0;
}

namespace {

std::shared_ptr<const Model> load_here(const fs::path& path, const ModelOptions& options) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) throw Error(ErrorCode::kModel, "model " + path.string() + " does not exist");
  if (fs::is_regular_file(status) && is_torchscript_file(path)) return load_torchscript_model(path, options);
  if (!fs::is_directory(status)) {
    throw Error(ErrorCode::kModel, "model " + path.string() +
                                       " is a file, neither a model folder (config.json, weights, tokenizer) nor a "
                                       "TorchScript archive");
  }
  if (!options.tokenizer_only && !fs::exists(path / "config.json") && !fs::exists(path / "modules.json")) {
    throw Error(ErrorCode::kModel, "model folder " + path.string() + " has no config.json");
  }
  return load_text_model(path, options);
}

}  // namespace

// Loading runs on a thread of its own that ends with the load. Packing weights and calibrating int8
// run OpenMP teams, and libgomp keeps a thread's team alive until that thread exits. A team left on
// the caller's thread next to a session's replica team makes more OpenMP threads than cores, and
// libgomp then cuts every team's spin before sleeping from 300,000 to 100 rounds: the replica's
// threads sleep and wake between every two parallel regions. That cost 20-30% of a single
// sequence's latency (MiniLM, 128 tokens, 2 cores: f32 8.9 -> 7.0 ms).
std::shared_ptr<const Model> load_model(const fs::path& path, const ModelOptions& options) {
  const int threads = omp_get_max_threads();  // the caller's OpenMP limit applies to the load too
  return std::async(std::launch::async, [&] {
           omp_set_num_threads(threads);
           return load_here(path, options);
         }).get();
}

}  // namespace salvo
