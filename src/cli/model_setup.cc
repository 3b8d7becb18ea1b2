#include "cli/model_setup.h"

#include <cstdio>

#include "core/error.h"
#include "model/precision_choice.h"

namespace salvo::cli {

namespace fs = std::filesystem;

size_t resolve_max_length(size_t requested, const Tokenizer& tokenizer, const BertModel* model,
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

namespace {

// The probe batch --dtype auto compares number formats on, tokenized as the job's rows will be.
PackedBatch probe_batch(const Tokenizer& tokenizer) {
  PackedBatch batch;
  batch.offsets.push_back(0);
  Encoding encoding;
  for (const std::string& text : precision_probe_texts()) {
    tokenizer.encode(text, &encoding);
    batch.ids.insert(batch.ids.end(), encoding.ids.begin(), encoding.ids.end());
    batch.type_ids.insert(batch.type_ids.end(), encoding.type_ids.begin(), encoding.type_ids.end());
    batch.offsets.push_back(static_cast<int32_t>(batch.ids.size()));
  }
  return batch;
}

}  // namespace

LoadedModel load_model(const fs::path& model_dir, Task task, const ModelFlags& flags) {
  if (!fs::is_directory(model_dir)) {
    throw Error(ErrorCode::kModel, "model folder " + model_dir.string() + " does not exist");
  }
  LoadedModel loaded{Tokenizer::from_model_dir(model_dir), nullptr, ""};
  if (task != Task::kTokenize) {
    BertModelOptions model_options;
    if (!flags.gemm.empty()) model_options.gemm = parse_gemm_backend(flags.gemm);
    Precision precision = Precision::kF32;
    const bool automatic = !parse_dtype(flags.dtype, &precision);
    if (precision != Precision::kF32 && model_options.gemm != GemmBackend::kOneDnn) {
      throw Error(ErrorCode::kInvalidArgument,
                  "--dtype " + flags.dtype + " needs --gemm onednn (OpenBLAS runs f32 only)");
    }
    PackedBatch probe;
    if (automatic) {
      // The probe is tokenized with the job's length limit, which never exceeds the model's positions.
      Tokenizer probe_tokenizer = loaded.tokenizer;
      probe_tokenizer.set_max_length(resolve_max_length(flags.max_length, loaded.tokenizer, nullptr, model_dir));
      probe = probe_batch(probe_tokenizer);
    }
    ChosenModel chosen = load_with_dtype(model_dir, model_options, flags.dtype, probe);
    if (!chosen.fallback_warning.empty()) std::fprintf(stderr, "salvo: warning: %s\n", chosen.fallback_warning.c_str());
    loaded.model = std::move(chosen.model);
    loaded.compute = chosen.description + ", " + gemm_backend_name(model_options.gemm);
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
  loaded.tokenizer.set_max_length(
      resolve_max_length(flags.max_length, loaded.tokenizer, loaded.model.get(), model_dir));
  return loaded;
}

void add_compute_flags(CLI::App* cmd, const std::string& batch, const std::string& rows, bool runs_model,
                       ModelFlags* model, int* threads, BatchingOptions* batching) {
  cmd->add_option("--max-length", model->max_length,
                  "Truncate to this many tokens, special tokens included (default: tokenizer.json's truncation, "
                  "else the model's max_position_embeddings)");
  cmd->add_option("--threads", *threads, "Compute threads (default: all cores)");
  cmd->add_option("--batch-tokens", batching->max_batch_tokens, "Token budget of one " + batch)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch-rows", batching->max_batch_rows, "Most " + rows + " in one " + batch)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  if (runs_model) {
    cmd->add_option("--gemm", model->gemm, "Matrix-product library: onednn or openblas (default: the fastest here)");
    cmd->add_option("--dtype", model->dtype,
                    "Number format of the encoder's matrix products: f32 (exact), bf16 (AVX512_BF16), int8 "
                    "(AVX512_VNNI; dynamic per-row activations, per-channel weights) or auto (the fastest that "
                    "keeps every embedding of a probe batch within cosine 0.99 (int8) or 0.999 (bf16) of f32). "
                    "A format this CPU lacks runs as f32 with a warning")
        ->capture_default_str()
        ->check(CLI::IsMember({"f32", "fp32", "bf16", "int8", "auto"}));
  }
}

}  // namespace salvo::cli
