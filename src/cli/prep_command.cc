// prep: features from files (audio log-mel spectrograms, image tensors) for training, written as
// TFRecord, Parquet or any other output. A featurizer-only session on all cores, run by run_job.
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "compute_flags.h"
#include "featurizer_flags.h"
#include "progress_line.h"
#include "salvo/featurizer.h"
#include "salvo/job.h"

namespace salvo::cli {
namespace {

struct PrepFlags {
  JobOptions job;
  FeaturizerFlags featurizer;
  int threads = 0;
  size_t window_files = 0;  // 0: 8 per featurizer thread, at least 16
  size_t window_mib = 64;
  bool quiet = false;
};

// glibc's allocator, tuned for this job: buffers of a few MB (a decoded image, a row's features)
// and tens of MB (a window's output columns) are made and freed over and over on several threads.
// By default glibc hands them back to the kernel when they are freed (munmap of a buffer over
// 32 MB, or of a thread arena's whole 64 MB heap once it is empty) and the next one faults in
// fresh zeroed pages: a quarter of `salvo prep`'s CPU time on images. Freed memory is kept for
// reuse instead, up to the job's peak, which its bounded windows cap:
// - buffers up to 64 MB come from the heaps, not from mmap of their own;
// - a heap's free top is trimmed only past 256 MB;
// - an empty thread heap is kept, since glibc deletes one only when more than M_TOP_PAD would
//   remain free without it.
// Only `prep` does this: `windows` promises a memory budget and `embed` a peak a few times its
// largest record, and memory held for reuse raised both peaks past their tests' bounds (120 MB
// against 117 MB, 480 MB against 400 MB). The Python package leaves its host's allocator alone.
void keep_freed_memory_for_reuse() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
}

void run_prep(PrepFlags& flags) {
  keep_freed_memory_for_reuse();
  JobOptions& job = flags.job;
  job.task = Task::kFeaturize;
  job.files.enabled = true;
  job.text_field = "content";
  job.window_bytes = flags.window_mib << 20;
  // Label and path first, then what the user keeps: the columns a training set needs.
  std::vector<std::string> keep;
  if (!job.files.label_from.empty()) keep.push_back("label");
  keep.push_back("path");
  for (const auto& c : job.keep_columns) {
    if (std::find(keep.begin(), keep.end(), c) == keep.end()) keep.push_back(c);
  }
  job.keep_columns = keep;
  if (job.record_type == "SequenceExample") {
    job.task_options.nested_features = true;
    flags.featurizer.audio.time_major = true;  // a feature list of frames, each n_mels long
  }
  if (job.num_shards > 0 && !job.output.string().ends_with('/')) job.output = job.output.string() + "/";

  SessionOptions options;
  options.threads = flags.threads;
  options.log = stderr_log();
  options.featurizer = make_featurizer(flags.featurizer);
  check_job(job);
  Session session(nullptr, options);
  // Windows a few files per thread deep: enough to keep every thread busy, while an image's
  // tensors (~600 KB each, held twice until the window is written) stay a few MB per thread. A
  // 64-file window on 2 threads held ~200 MB and made 2x the page faults, for no more speed.
  job.window_rows = flags.window_files ? flags.window_files : std::max<size_t>(16, 8 * session.threads());
  if (!flags.quiet) {
    std::fprintf(stderr, "salvo prep: %s, %d %s\n", options.featurizer->describe().c_str(), session.threads(),
                 session.threads() == 1 ? "thread" : "threads");
  }
  ProgressLine progress("prep", !flags.quiet && stderr_is_terminal());
  if (progress.enabled()) job.progress = [&progress](const JobProgress& p) { progress.update(p); };
  const JobSummary s = run_job(session, job);
  progress.clear();
  if (flags.quiet) return;
  std::fprintf(stderr, "salvo prep: %llu files, %llu errors, %.2f s, %.1f files/s -> %s\n",
               static_cast<unsigned long long>(s.rows), static_cast<unsigned long long>(s.errors), s.seconds,
               s.seconds > 0 ? s.rows / s.seconds : 0.0, job.output.c_str());
}

}  // namespace

void add_prep_command(CLI::App& app, Runner* selected) {
  auto flags = std::make_shared<PrepFlags>();
  CLI::App* cmd = app.add_subcommand(
      "prep",
      "Turn files into training features: audio log-mel spectrograms (as librosa computes them) or image tensors "
      "(as Pillow + torchvision compute them). One row per file: features (flat list<float32>, or binary with "
      "--raw), shape, label, path; a file that cannot be read or decoded becomes an error row naming it.");
  JobOptions& job = flags->job;
  cmd->add_option("--input", job.input,
                  "A folder of files (walked to the bottom; key=value folders become columns that --keep-columns "
                  "can keep) or a glob ('clips/**/*.wav')")
      ->required();
  cmd->add_option("--output", job.output,
                  "Output: .tfrecord (.gz), .parquet, a folder ending in / (Parquet part files, or TFRecord shards "
                  "with --num-shards), .jsonl")
      ->required();
  add_file_flags(cmd, &job.files);
  cmd->add_option("--keep-columns", job.keep_columns,
                  "More columns of the file rows to keep (modificationTime, length, content, partition columns)")
      ->delimiter(',');
  cmd->add_option("--record-type", job.record_type,
                  "TFRecord: Example (default) or SequenceExample (features as a feature list: one step per frame "
                  "for audio, per channel for float images; --raw pixels stay one bytes value)")
      ->check(CLI::IsMember({"Example", "SequenceExample"}));
  cmd->add_option("--num-shards", job.num_shards,
                  "TFRecord: a folder of N part-NNNNN-of-MMMMM.tfrecord files (row i in part i mod N) and _SUCCESS")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--compression", job.compression,
                  "Output codec: TFRecord none|gzip|zlib; Parquet none|snappy|gzip|zstd|lz4_raw");
  cmd->add_option("--threads", flags->threads, "Featurizer threads (default: all cores)")->check(CLI::Range(1, 1024));
  cmd->add_option("--max-record-bytes", job.max_record_bytes, "A larger file becomes an error row")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--window-files", flags->window_files,
                  "Files read ahead and featurized together, at most (default: 8 per thread, at least 16)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--window-mib", flags->window_mib, "...and at most this many MiB of them")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_flag("--quiet,-q", flags->quiet, "No start line, progress or summary on stderr");

  add_featurizer_flags(cmd, &flags->featurizer);
  cmd->callback([flags, selected] { *selected = [flags] { run_prep(*flags); }; });
}

}  // namespace salvo::cli
