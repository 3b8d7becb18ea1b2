// embed, classify and tokenize: the batch subcommands over files.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "compute_flags.h"
#include "progress_line.h"
#include "signals.h"
#include "salvo/job.h"

namespace salvo::cli {
namespace {

struct BatchFlags {
  ComputeFlags compute;
  JobOptions job;
  bool quiet = false;
};

void run_batch(Task task, BatchFlags& flags) {
  JobOptions& job = flags.job;
  job.task = task;
  check_job(job);  // bad paths and fields fail before the model loads, in one line
  // SIGINT / SIGTERM: the job stops at its next window and removes its temporary files (exit 130);
  // a second signal ends the process at once.
  job.cancel = &install_stop_handlers();
  std::unique_ptr<Session> session = open_session(flags.compute, task == Task::kTokenize);
  // The start line comes once the job has opened its input and output: a failure up to then (a task
  // the model lacks, an output format that cannot hold the task's columns) is the only line.
  if (!flags.quiet) {
    job.started = [&] {
      std::fprintf(stderr, "salvo %s: %s\n", task_name(task), describe_session(*session, task).c_str());
    };
  }
  ProgressLine progress(task_name(task), !flags.quiet && stderr_is_terminal());
  if (progress.enabled()) job.progress = [&progress](const JobProgress& p) { progress.update(p); };

  const JobSummary s = run_job(*session, job);
  progress.clear();
  if (flags.quiet) return;
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
  std::fprintf(stderr, "%s -> %s\n", summary.c_str(), job.output.c_str());
}

CLI::App* add_batch_command(CLI::App& app, Task task, const std::string& description,
                            std::shared_ptr<BatchFlags> flags, Runner* selected) {
  CLI::App* cmd = app.add_subcommand(task_name(task), description);
  JobOptions& job = flags->job;
  cmd->add_option("--input", job.input,
                  "Input: .jsonl (one JSON object per line), .csv (with a header row), .parquet (a file, a folder of "
                  "part files or a glob) or .tfrecord (tf.train.Example records; .gz / .zz compressed)")
      ->required();
  cmd->add_option("--output", job.output,
                  "Output: .jsonl, .csv, .npy, .parquet (a path ending in / is a folder of part files) or .tfrecord; "
                  "one row per input row, in order")
      ->required();
  cmd->add_option("--text-field", job.text_field, "Field or column holding the text")->capture_default_str();
  cmd->add_option("--id-field", job.id_field, "Field or column copied to the output as \"id\" when present")
      ->capture_default_str();
  cmd->add_option("--keep-columns", job.keep_columns,
                  "Input fields or columns copied to each output row unchanged (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--compression", job.compression,
                  "Output codec: Parquet none|snappy|gzip|zstd|lz4_raw (default snappy); TFRecord none|gzip|zlib");
  add_compute_flags(cmd, "batch", "rows", task != Task::kTokenize, &flags->compute);
  cmd->add_option("--sort-window", job.window_rows,
                  "Rows sorted by length together before batching (bounds memory and latency)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--max-record-bytes", job.max_record_bytes, "A longer input record becomes an error row")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 30));
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
  classify->add_option("--top-k", classify_flags->job.task_options.top_k,
                       "Also write the K most likely labels (top_labels) and their scores (top_scores)")
      ->check(CLI::Range(1, 1 << 20));
  classify->add_flag("--all-scores", classify_flags->job.task_options.all_scores,
                     "Also write every label's score, in label order (scores)");
  add_batch_command(app, Task::kTokenize,
                    "Write the token ids each input row gets, exactly as the model sees them (special tokens "
                    "added, truncated).",
                    std::make_shared<BatchFlags>(), selected);
}

}  // namespace salvo::cli
