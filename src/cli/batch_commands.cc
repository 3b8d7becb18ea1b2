// embed, classify and tokenize: the batch subcommands over files.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "commands.h"
#include "compute_flags.h"
#include "featurizer_flags.h"
#include <nlohmann/json.hpp>

#include "progress_line.h"
#include "salvo/error.h"
#include "signals.h"
#include "salvo/job.h"
#include "shard_flag.h"

namespace salvo::cli {
namespace {

// '[[1,8,8],[4]]' -> {{1,8,8},{4}}.
std::vector<std::vector<int64_t>> parse_tensor_shapes(const std::string& text) {
  std::vector<std::vector<int64_t>> shapes;
  try {
    const nlohmann::json json = nlohmann::json::parse(text);
    if (!json.is_array()) throw std::invalid_argument("not a list");
    for (const auto& shape : json) {
      if (!shape.is_array()) throw std::invalid_argument("not a list of lists");
      std::vector<int64_t> dims;
      for (const auto& d : shape) {
        if (!d.is_number_integer()) throw std::invalid_argument("a size is not an integer");
        dims.push_back(d.get<int64_t>());
      }
      shapes.push_back(std::move(dims));
    }
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kInvalidArgument,
                "--input-tensor-shapes " + text + ": expected a JSON list of shapes such as [[1,8,8],[4]] (" +
                    e.what() + ")");
  }
  return shapes;
}

struct BatchFlags {
  ComputeFlags compute;
  JobOptions job;
  FeaturizerFlags featurizer;  // predict on files: --features
  std::string tensor_shapes;  // predict: --input-tensor-shapes, JSON
  std::vector<std::string> column_types;  // --column-types: name=type items
  std::string shard;
  uint32_t shard_count = 0;
  bool quiet = false;
  const CLI::Option* format = nullptr;     // --format, --part-rows: for a folder output only
  const CLI::Option* part_rows = nullptr;
};

void run_batch(Task task, BatchFlags& flags) {
  JobOptions& job = flags.job;
  job.task = task;
  if (!flags.tensor_shapes.empty()) job.input_shapes = parse_tensor_shapes(flags.tensor_shapes);
  for (const std::string& item : flags.column_types) {
    const size_t sep = item.find('=');
    if (sep == std::string::npos || sep == 0) {
      throw Error(ErrorCode::kInvalidArgument, "--column-types: \"" + item + "\" is not name=type");
    }
    if (!job.column_types.emplace(item.substr(0, sep), item.substr(sep + 1)).second) {
      throw Error(ErrorCode::kInvalidArgument, "--column-types names \"" + item.substr(0, sep) + "\" twice");
    }
  }
  if (!flags.featurizer.features.empty()) {
    // Files in, the featurizer's tensor into the model: the input rows are the files' contents.
    if (!job.input_columns.empty()) {
      throw Error(ErrorCode::kInvalidArgument, "--features computes the model's input: drop --input-columns");
    }
    job.files.enabled = true;
    job.text_field = "content";
    job.window_rows = 64;
    job.window_bytes = 64u << 20;
    if (!job.input_shapes.empty()) job.task_options.input_shape = job.input_shapes[0];
    flags.compute.session_options.featurizer = make_featurizer(flags.featurizer);
  }
  if (!job.output.string().ends_with('/') && job.num_shards == 0) {
    for (const CLI::Option* folder_only : {flags.format, flags.part_rows}) {
      if (folder_only != nullptr && folder_only->count() > 0) {
        throw Error(ErrorCode::kInvalidArgument, folder_only->get_name() + " is for a folder output (a path ending in /), not " +
                                                     job.output.string());
      }
    }
  }
  if (job.num_shards > 0) {
    for (const CLI::Option* folder_only : {flags.format, flags.part_rows}) {
      if (folder_only != nullptr && folder_only->count() > 0) {
        throw Error(ErrorCode::kInvalidArgument, folder_only->get_name() +
                                                     " is for a folder of part files; --num-shards writes " +
                                                     std::to_string(job.num_shards) + " TFRecord shards");
      }
    }
    if (!job.output.string().ends_with('/')) job.output = job.output.string() + "/";
  }
  const ShardChoice shard = parse_shard(flags.shard, flags.shard_count, [](const char* name) { return std::getenv(name); });
  job.shard_index = shard.index;
  job.shard_count = shard.count;
  check_job(job);  // bad paths and fields fail before the model loads, in one line
  // SIGINT / SIGTERM: the job stops at its next window and removes its temporary files (exit 130);
  // a second signal ends the process at once.
  job.cancel = &install_stop_handlers();
  std::unique_ptr<Session> session = open_session(flags.compute, task == Task::kTokenize);
  session->output_schema(task, job.task_options);  // a task the model lacks: one line naming why
  // The start line comes once the job has opened its input and output: a failure up to then (a task
  // the model lacks, an output format that cannot hold the task's columns) is the only line.
  if (!flags.quiet) {
    job.started = [&] {
      std::string where;
      if (shard.count > 1) {
        where = ", shard " + std::to_string(shard.index) + "/" + std::to_string(shard.count) +
                (shard.source.empty() ? "" : " (" + shard.source + ")");
      }
      std::fprintf(stderr, "salvo %s: %s%s\n", task_name(task), describe_session(*session, task).c_str(), where.c_str());
    };
  }
  ProgressLine progress(task_name(task), !flags.quiet && stderr_is_terminal());
  if (progress.enabled()) job.progress = [&progress](const JobProgress& p) { progress.update(p); };

  const JobSummary s = run_job(*session, job);
  progress.clear();
  if (flags.quiet) return;
  if (s.already_complete) {
    std::fprintf(stderr, "salvo %s: %s is already complete; nothing to do (--resume)\n", task_name(task),
                 job.output.c_str());
    return;
  }
  char line[512];
  std::snprintf(line, sizeof(line), "salvo %s: %llu rows, %llu errors, %.2f s, %.1f rows/s", task_name(task),
                static_cast<unsigned long long>(s.rows), static_cast<unsigned long long>(s.errors), s.seconds,
                s.seconds > 0 ? s.rows / s.seconds : 0.0);
  std::string summary = line;
  if (task != Task::kPredict) summary += ", " + human_count(s.seconds > 0 ? s.tokens / s.seconds : 0) + " tokens/s";
  if (task == Task::kPredict) {
    std::snprintf(line, sizeof(line), ", %llu batches", static_cast<unsigned long long>(s.batches));
    summary += line;
  } else if (task != Task::kTokenize) {
    std::snprintf(line, sizeof(line), ", %llu batches, padding %.1f%% (not computed: batches are packed)",
                  static_cast<unsigned long long>(s.batches), 100 * s.padding_fraction());
    summary += line;
  }
  if (s.resumed_rows > 0) {
    summary += ", resumed after " + std::to_string(s.resumed_rows) + " rows done before";
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
  // .npy holds a fixed-width float vector per row, which tokenize and score never write.
  const bool npy = task != Task::kTokenize && task != Task::kScore;
  cmd->add_option("--output", job.output,
                  std::string("Output: .jsonl, .csv, ") + (npy ? ".npy, " : "") +
                      ".parquet or .tfrecord; a path ending in / is a folder of part files (--format, --part-rows) "
                      "with a manifest and _SUCCESS. One row per input row, in order")
      ->required();
  flags->format = cmd->add_option("--format", job.folder_format, "Format of the part files of a folder output")
      ->capture_default_str()
      ->check(npy ? CLI::IsMember({"parquet", "jsonl", "csv", "tfrecord", "npy"})
                  : CLI::IsMember({"parquet", "jsonl", "csv", "tfrecord"}));
  flags->part_rows = cmd->add_option("--part-rows", job.part_rows, "Rows per part file of a folder output")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  cmd->add_flag("--resume", job.resume,
                "Continue a job that died: a folder output continues after its last complete part; a file output "
                "that exists is taken as done. Without an output yet, the job just runs (safe for schedulers to "
                "always pass)");
  cmd->add_option("--shard", flags->shard,
                  "Run the I-th of N disjoint slices of the input (I/N, from 0), or auto: from SLURM_ARRAY_TASK_ID/"
                  "COUNT, JOB_COMPLETION_INDEX (with --shard-count), OMPI_COMM_WORLD_RANK/SIZE or PMI_RANK/SIZE. "
                  "Shards may share one output folder");
  cmd->add_option("--shard-count", flags->shard_count,
                  "With --shard auto on Kubernetes: the indexed Job's completions")
      ->check(CLI::Range(1u, 1u << 20));
  if (task != Task::kPredict) {
    cmd->add_option("--text-field", job.text_field, "Field or column holding the text")->capture_default_str();
  }
  cmd->add_option("--id-field", job.id_field, "Field or column copied to the output as \"id\" when present")
      ->capture_default_str();
  cmd->add_option("--keep-columns", job.keep_columns,
                  "Input fields or columns copied to each output row unchanged (comma-separated)")
      ->delimiter(',');
  add_file_flags(cmd, &job.files);
  cmd->add_option("--column-types", flags->column_types,
                  "Parquet output: types for the id and kept columns of JSON Lines input, instead of the type of "
                  "their first values, e.g. id=string,year=int64 (bool, int64, float64, string)")
      ->delimiter(',');
  cmd->add_option("--record-type", job.record_type, "TFRecord output: Example (default) or SequenceExample")
      ->check(CLI::IsMember({"Example", "SequenceExample"}));
  cmd->add_option("--num-shards", job.num_shards, "TFRecord output: a folder of N shards and _SUCCESS")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--compression", job.compression,
                  "Output codec: Parquet none|snappy|gzip|zstd|lz4_raw (default snappy); TFRecord none|gzip|zlib");
  const ModelKind kind = task == Task::kTokenize  ? ModelKind::kTokenizer
                         : task == Task::kPredict ? ModelKind::kTorchScript
                                                  : ModelKind::kTextEncoder;
  add_compute_flags(cmd, "batch", "rows", kind, &flags->compute);
  if (task != Task::kPredict) {
    cmd->add_option("--sort-window", job.window_rows,
                    "Rows sorted by length together before batching (bounds memory and latency)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 24));
  }
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
  auto score_flags = std::make_shared<BatchFlags>();
  CLI::App* score = add_batch_command(
      app, Task::kScore,
      "Score text pairs with a cross-encoder (a reranker): each pair encoded as the tokenizer's pair template "
      "says (separators, token types, truncation strategy), one score per pair: the model's logit through the "
      "activation its config names (sigmoid for one-label sentence-transformers cross-encoders).",
      score_flags, selected);
  score->add_option("--text-pair-field", score_flags->job.text_pair_field,
                    "Field or column holding the second text of each pair (the passage; --text-field is the query)")
      ->required();
  auto predict_flags = std::make_shared<BatchFlags>();
  CLI::App* predict = add_batch_command(
      app, Task::kPredict,
      "Run a TorchScript model (torch.jit.save) on tensor columns, as Spark's predict_batch_udf does: each input "
      "column is reshaped to its tensor shape and batched; each output tensor becomes a column (\"output\", or "
      "\"output_0\", ... for a tuple, or the keys of a dict): a scalar per row, or the row's values flattened.",
      predict_flags, selected);
  predict->add_option("--input-columns", predict_flags->job.input_columns,
                      "Columns fed to forward(), in order (comma-separated); each a number or an array of numbers")
      ->delimiter(',');
  add_featurizer_flags(predict, &predict_flags->featurizer, false);
  predict->add_option("--input-tensor-shapes", predict_flags->tensor_shapes,
                      "Each input's shape without the batch dimension, as JSON: '[[1,8,8],[4]]' ([] for a scalar; "
                      "default: scalars)");
  predict->add_option("--input-dtypes", predict_flags->job.input_dtypes,
                      "Each input's type: float32 (default) or int64 (comma-separated)")
      ->delimiter(',');
}

}  // namespace salvo::cli
