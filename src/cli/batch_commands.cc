// embed, classify and tokenize: the batch subcommands over files.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/model_setup.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/progress.h"
#include "kernels/gemm.h"
#include "model/bert_model.h"
#include "pipeline/job.h"
#include "text/tokenizer.h"

namespace salvo::cli {
namespace {

namespace fs = std::filesystem;

struct BatchFlags {
  std::string model;
  std::string input;
  std::string output;
  ModelFlags model_flags;
  bool quiet = false;
  JobOptions job;
};

const char* task_name(Task task) {
  switch (task) {
    case Task::kEmbed: return "embed";
    case Task::kClassify: return "classify";
    case Task::kTokenize: return "tokenize";
  }
  return "?";
}

const char* pooling_name(Pooling pooling) {
  switch (pooling) {
    case Pooling::kCls: return "CLS";
    case Pooling::kMean: return "mean";
    case Pooling::kMax: return "max";
  }
  return "?";
}

void run_batch(Task task, BatchFlags& flags) {
  const fs::path model_dir = flags.model;
  JobOptions& job = flags.job;
  job.task = task;
  job.input = flags.input;
  job.output = flags.output;
  job.progress = !flags.quiet && stderr_is_terminal();
  if (job.threads <= 0) job.threads = available_cores();

  LoadedModel loaded = load_model(model_dir, task, flags.model_flags);
  const Tokenizer& tokenizer = loaded.tokenizer;
  std::unique_ptr<BertModel>& model = loaded.model;

  if (!flags.quiet) {
    std::string what = std::string("salvo ") + task_name(task) + ": " + model_dir.string();
    if (model) {
      const auto& c = model->config();
      what += " (" + std::to_string(c.num_hidden_layers) + " layers, hidden " + std::to_string(c.hidden_size) +
              ", " + loaded.compute + ")";
      if (task == Task::kEmbed) {
        what += std::string(", ") + pooling_name(model->pooling()) + " pooling" +
                (model->normalize() ? " + L2 normalisation" : "") +
                (model->from_sentence_transformers() ? " (from modules.json)" : " (default)");
      }
    }
    what += ", max length " + std::to_string(tokenizer.max_length()) + ", " + std::to_string(job.threads) +
            (job.threads == 1 ? " thread" : " threads");
    std::fprintf(stderr, "%s\n", what.c_str());
  }

  const JobSummary s = run_job(job, tokenizer, model.get());
  if (!flags.quiet) {
    char line[512];
    std::snprintf(line, sizeof(line), "salvo %s: %llu rows, %llu errors, %.2f s, %.1f rows/s, %s tokens/s",
                  task_name(task), static_cast<unsigned long long>(s.rows), static_cast<unsigned long long>(s.errors),
                  s.seconds, s.seconds > 0 ? s.rows / s.seconds : 0.0,
                  human_count(s.seconds > 0 ? s.tokens / s.seconds : 0).c_str());
    std::string summary = line;
    if (task != Task::kTokenize) {
      std::snprintf(line, sizeof(line), ", %llu batches, padding %.1f%% (not computed: batches are packed)",
                    static_cast<unsigned long long>(s.batches), 100 * s.padding_fraction());
      summary += line;
    }
    std::fprintf(stderr, "%s -> %s\n", summary.c_str(), flags.output.c_str());
  }
}

CLI::App* add_batch_command(CLI::App& app, Task task, const std::string& description,
                            std::shared_ptr<BatchFlags> flags, Runner* selected) {
  CLI::App* cmd = app.add_subcommand(task_name(task), description);
  flags->job.threads = 0;  // all cores unless --threads says otherwise
  cmd->add_option("--model", flags->model, "Hugging Face model folder (config.json, model.safetensors, tokenizer.json)")
      ->required();
  cmd->add_option("--input", flags->input,
                  "Input: .jsonl (one JSON object per line), .csv (with a header row), .parquet (a file, a folder of "
                  "part files or a glob) or .tfrecord (tf.train.Example records; .gz / .zz compressed)")
      ->required();
  cmd->add_option("--output", flags->output,
                  "Output: .jsonl, .csv, .npy, .parquet (a path ending in / is a folder of part files) or .tfrecord; "
                  "one row per input row, in order")
      ->required();
  cmd->add_option("--text-field", flags->job.fields.text, "Field or column holding the text")->capture_default_str();
  cmd->add_option("--id-field", flags->job.fields.id, "Field or column copied to the output as \"id\" when present")
      ->capture_default_str();
  cmd->add_option("--keep-columns", flags->job.fields.passthrough,
                  "Input fields or columns copied to each output row unchanged (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--compression", flags->job.compression,
                  "Output codec: Parquet none|snappy|gzip|zstd (default snappy); TFRecord none|gzip|zlib");
  add_compute_flags(cmd, "batch", "rows", task != Task::kTokenize, &flags->model_flags, &flags->job.threads,
                    &flags->job.batching);
  cmd->add_option("--sort-window", flags->job.batching.window_rows,
                  "Rows sorted by length together before batching (bounds memory and latency)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-record-bytes", flags->job.limits.max_record_bytes,
                  "A longer input record becomes an error row")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--quiet,-q", flags->quiet, "No start line, progress or summary on stderr");
  cmd->callback([task, flags, selected] { *selected = [task, flags] { run_batch(task, *flags); }; });
  return cmd;
}

}  // namespace

void add_batch_commands(CLI::App& app, Runner* selected) {
  add_batch_command(app, Task::kEmbed,
                    "Write one embedding per input row. Pooling and normalisation follow the model's "
                    "sentence-transformers files (modules.json, 1_Pooling/config.json, 2_Normalize); without "
                    "them, embed uses mean pooling with L2 normalisation.",
                    std::make_shared<BatchFlags>(), selected);
  auto classify_flags = std::make_shared<BatchFlags>();
  CLI::App* classify = add_batch_command(
      app, Task::kClassify,
      "Write the most likely label and its probability per input row (softmax over the classifier head; labels "
      "from config.json's id2label).",
      classify_flags, selected);
  classify->add_option("--top-k", classify_flags->job.top_k, "Also write the K most likely labels with scores");
  classify->add_flag("--all-scores", classify_flags->job.all_scores, "Also write every label's score");
  add_batch_command(app, Task::kTokenize,
                    "Write the token ids each input row gets, exactly as the model sees them (special tokens "
                    "added, truncated).",
                    std::make_shared<BatchFlags>(), selected);
}

}  // namespace salvo::cli
