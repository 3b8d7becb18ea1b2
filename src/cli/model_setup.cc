#include "cli/model_setup.h"

#include "core/error.h"

namespace salvo::cli {

namespace fs = std::filesystem;

size_t resolve_max_length(size_t requested, const WordPieceTokenizer& tokenizer, const BertModel* model,
                          const fs::path& model_dir) {
  size_t positions = 0;
  if (model) {
    positions = model->config().max_position_embeddings;
  } else if (fs::exists(model_dir / "config.json")) {
    positions = BertConfig::from_json_file(model_dir / "config.json").max_position_embeddings;
  }
  if (requested > 0) {
    if (requested < 2) throw Error(ErrorCode::kInvalidArgument, "--max-length must be at least 2");
    if (positions && requested > positions) {
      throw Error(ErrorCode::kInvalidArgument, "--max-length " + std::to_string(requested) +
                                                   " is over the model's max_position_embeddings (" +
                                                   std::to_string(positions) + ")");
    }
    return requested;
  }
  size_t limit = tokenizer.max_length();
  if (limit == 0 || (positions && limit > positions)) limit = positions ? positions : 512;
  return limit;
}

LoadedModel load_model(const fs::path& model_dir, Task task, const std::string& gemm, size_t max_length) {
  if (!fs::is_directory(model_dir)) {
    throw Error(ErrorCode::kModel, "model folder " + model_dir.string() + " does not exist");
  }
  LoadedModel loaded{WordPieceTokenizer::from_model_dir(model_dir), nullptr};
  if (task != Task::kTokenize) {
    BertModelOptions model_options;
    if (!gemm.empty()) model_options.gemm = parse_gemm_backend(gemm);
    loaded.model = BertModel::load(model_dir, model_options);
    if (task == Task::kClassify && !loaded.model->has_classifier()) {
      throw Error(ErrorCode::kModel, model_dir.string() +
                                         " has no classification head (no classifier.weight in model.safetensors); "
                                         "use embed");
    }
    if (static_cast<int64_t>(loaded.tokenizer.vocab_size()) > loaded.model->config().vocab_size) {
      throw Error(ErrorCode::kModel, "the tokenizer has " + std::to_string(loaded.tokenizer.vocab_size()) +
                                         " tokens but the model's vocab_size is " +
                                         std::to_string(loaded.model->config().vocab_size));
    }
  }
  loaded.tokenizer.set_max_length(resolve_max_length(max_length, loaded.tokenizer, loaded.model.get(), model_dir));
  return loaded;
}

void add_compute_flags(CLI::App* cmd, const std::string& batch, const std::string& rows, size_t* max_length,
                       int* threads, BatchingOptions* batching, std::string* gemm) {
  cmd->add_option("--max-length", *max_length,
                  "Truncate to this many tokens, special tokens included (default: tokenizer.json's truncation, "
                  "else the model's max_position_embeddings)");
  cmd->add_option("--threads", *threads, "Compute threads (default: all cores)");
  cmd->add_option("--batch-tokens", batching->max_batch_tokens, "Token budget of one " + batch)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch-rows", batching->max_batch_rows, "Most " + rows + " in one " + batch)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  if (gemm) {
    cmd->add_option("--gemm", *gemm, "Matrix-product library: onednn or openblas (default: the fastest here)");
  }
}

}  // namespace salvo::cli
