#include "compute_flags.h"

#include <cstdio>

namespace salvo::cli {

void add_compute_flags(CLI::App* cmd, const std::string& batch, const std::string& rows, ModelKind kind,
                       ComputeFlags* flags) {
  cmd->add_option("--model", flags->model,
                  kind == ModelKind::kTorchScript ? "TorchScript model file (torch.jit.save)"
                  : kind == ModelKind::kTokenizer
                      ? "Hugging Face model folder (tokenizer.json, or a WordPiece vocab.txt; no weights needed)"
                      : "Hugging Face model folder (config.json, model.safetensors, tokenizer.json)")
      ->required();
  if (kind != ModelKind::kTorchScript) {
    cmd->add_option("--max-length", flags->model_options.max_length,
                    "Truncate to this many tokens, special tokens included (default: sentence_bert_config.json's "
                    "max_seq_length, else tokenizer.json's truncation, else the model's positions)")
        ->check(CLI::Range(2, 1 << 20));
  }
  cmd->add_option("--threads", flags->session_options.threads, "Compute threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  if (kind != ModelKind::kTorchScript) {
    cmd->add_option("--batch-tokens", flags->session_options.batching.max_batch_tokens,
                    "Token budget of one " + batch)
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 24));
  }
  cmd->add_option("--batch-rows", flags->session_options.batching.max_batch_rows, "Most " + rows + " in one " + batch)
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  if (kind != ModelKind::kTokenizer) {
    cmd->add_option("--replicas", flags->session_options.replicas,
                    "Model replicas running separate batches at once; the threads are split between them")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
  }
  if (kind == ModelKind::kTextEncoder) {
    cmd->add_option("--gemm", flags->model_options.gemm,
                    "Matrix-product library: onednn or openblas (default: the fastest here)")
        ->check(CLI::IsMember({"onednn", "openblas"}));
    cmd->add_option("--dtype", flags->dtype,
                    "Number format of the encoder's matrix products: f32 (exact), bf16 (AVX512_BF16), int8 "
                    "(AVX512_VNNI; dynamic per-row activations, per-channel weights; activation channels smoothed into the "
                    "weights from a built-in probe batch at load) or auto (the fastest that "
                    "keeps every embedding of a probe batch within cosine 0.99 (int8) or 0.999 (bf16) of f32). "
                    "A format this CPU lacks runs as f32 with a warning")
        ->capture_default_str()
        ->check(CLI::IsMember({"f32", "fp32", "bf16", "int8", "auto"}));
  }
}

LogCallback stderr_log() {
  return [](LogLevel level, const std::string& message) {
    if (level == LogLevel::kWarning || level == LogLevel::kError) {
      std::fprintf(stderr, "salvo: %s: %s\n", level == LogLevel::kWarning ? "warning" : "error", message.c_str());
    } else {
      std::fprintf(stderr, "%s\n", message.c_str());
    }
  };
}

std::unique_ptr<Session> open_session(ComputeFlags& flags, bool tokenizer_only) {
  flags.model_options.dtype = parse_dtype(flags.dtype);
  flags.model_options.tokenizer_only = tokenizer_only;
  flags.model_options.log = stderr_log();
  flags.session_options.log = stderr_log();
  return Session::open(flags.model, flags.model_options, flags.session_options);
}

std::string describe_session(const Session& session, Task task) {
  const ModelInfo& info = session.model().info();
  std::string line = info.path.string();
  if (task != Task::kTokenize) line += " (" + info.summary + ")";
  if (task == Task::kEmbed) line += ", " + info.pooling;
  if ((task == Task::kClassify || task == Task::kScore) && !info.head.empty()) line += ", " + info.head;
  if (info.max_length > 0) line += ", max length " + std::to_string(info.max_length);
  line += ", " + std::to_string(session.threads()) + (session.threads() == 1 ? " thread" : " threads");
  return line;
}

}  // namespace salvo::cli
