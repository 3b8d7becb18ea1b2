// What every subcommand that runs a model shares: the flags that say how the model is loaded and
// run, and turning them into a session, with messages on stderr.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "salvo/session.h"

namespace salvo::cli {

struct ComputeFlags {
  std::string model;          // --model
  std::string dtype = "f32";  // --dtype
  ModelOptions model_options;
  SessionOptions session_options;
};

// Which model a command runs, for the flags it gets.
enum class ModelKind {
  kTokenizer,    // tokenize: the tokenizer only
  kTextEncoder,  // embed, classify, score, stream
  kTorchScript,  // predict: tensors in, tensors out
};

// Adds --model, --threads, --batch-rows; for text models --max-length and --batch-tokens; for
// models that run --replicas; for text encoders --gemm and --dtype. `batch` names a batch in the
// help ("batch", "micro-batch"), `rows` what it holds ("rows", "requests").
void add_compute_flags(CLI::App* cmd, const std::string& batch, const std::string& rows, ModelKind kind,
                       ComputeFlags* flags);

// Prints the library's messages on stderr: warnings as "salvo: warning: ...", other lines as given.
LogCallback stderr_log();

// Loads the model with the flags' options and opens a session on it.
std::unique_ptr<Session> open_session(ComputeFlags& flags, bool tokenizer_only);

// "examples/m (4 layers, hidden 128, f32, onednn), mean pooling + L2 normalisation (default), max
// length 128, 2 threads": the model part of a start line.
std::string describe_session(const Session& session, Task task);

}  // namespace salvo::cli
