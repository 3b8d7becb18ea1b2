// prep: features from files (audio log-mel spectrograms, image tensors) for training, written as
// TFRecord, Parquet or any other output. A featurizer-only session on all cores, run by run_job.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "compute_flags.h"
#include "progress_line.h"
#include "salvo/featurizer.h"
#include "salvo/job.h"

namespace salvo::cli {
namespace {

struct PrepFlags {
  JobOptions job;
  std::string features;
  AudioLogMelOptions audio;
  std::string mel_norm = "slaney";
  ImageOptions image;
  int threads = 0;
  size_t window_files = 64;  // an image's tensor is ~600 KB: 4 windows in flight stay ~150 MB
  size_t window_mib = 64;
  bool quiet = false;
};

void run_prep(PrepFlags& flags) {
  JobOptions& job = flags.job;
  job.task = Task::kFeaturize;
  job.files.enabled = true;
  job.text_field = "content";
  job.window_rows = flags.window_files;
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
    flags.audio.time_major = true;  // a feature list of frames, each n_mels long
  }
  if (job.num_shards > 0 && !job.output.string().ends_with('/')) job.output = job.output.string() + "/";

  SessionOptions options;
  options.threads = flags.threads;
  options.log = stderr_log();
  if (flags.features == "audio-logmel") {
    flags.audio.slaney_norm = flags.mel_norm == "slaney";
    options.featurizer = make_audio_logmel_featurizer(flags.audio);
  } else {
    options.featurizer = make_image_featurizer(flags.image);
  }
  check_job(job);
  Session session(nullptr, options);
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
                  "A folder of files (walked to the bottom; key=value folders become columns) or a glob "
                  "('clips/**/*.wav')")
      ->required();
  cmd->add_option("--output", job.output,
                  "Output: .tfrecord (.gz), .parquet, a folder ending in / (Parquet part files, or TFRecord shards "
                  "with --num-shards), .jsonl")
      ->required();
  cmd->add_option("--features", flags->features, "What to compute: audio-logmel or image")
      ->required()
      ->check(CLI::IsMember({"audio-logmel", "image"}));
  cmd->add_flag("--recursive", job.files.recursive,
                "Spark's recursiveFileLookup: no partition columns from key=value folders");
  cmd->add_option("--glob", job.files.glob, "Spark's pathGlobFilter: only files whose name matches (\"*.wav\")");
  cmd->add_option("--label-from", job.files.label_from,
                  "Adds a label column: parent (the file's folder name) or regex:PATTERN (its first capture group in "
                  "the path)");
  cmd->add_option("--keep-columns", job.keep_columns,
                  "More columns of the file rows to keep (modificationTime, length, content, partition columns)")
      ->delimiter(',');
  cmd->add_option("--record-type", job.record_type,
                  "TFRecord: Example (default) or SequenceExample (features as a feature list: one step per frame "
                  "for audio, per channel for images)")
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
  cmd->add_option("--window-files", flags->window_files, "Files read ahead and featurized together, at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--window-mib", flags->window_mib, "...and at most this many MiB of them")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_flag("--quiet,-q", flags->quiet, "No start line, progress or summary on stderr");

  AudioLogMelOptions& a = flags->audio;
  const std::string audio = "Audio: ";
  cmd->add_option("--sample-rate", a.sample_rate, audio + "resample to this rate (libsoxr, high quality)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 22));
  cmd->add_option("--n-fft", a.n_fft, audio + "FFT size")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--hop-length", a.hop_length, audio + "samples between frames")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--win-length", a.win_length, audio + "window length (default: n_fft)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--window", a.window, audio + "hann or hamming")
      ->capture_default_str()
      ->check(CLI::IsMember({"hann", "hamming"}));
  cmd->add_option("--n-mels", a.n_mels, audio + "mel bands")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--fmin", a.fmin, audio + "lowest frequency (Hz)")->capture_default_str();
  cmd->add_option("--fmax", a.fmax, audio + "highest frequency (Hz; default: sample rate / 2)");
  cmd->add_option("--mel-scale", a.mel_scale, audio + "slaney or htk")
      ->capture_default_str()
      ->check(CLI::IsMember({"slaney", "htk"}));
  cmd->add_option("--mel-norm", flags->mel_norm, audio + "slaney (equal-area filters) or none")
      ->capture_default_str()
      ->check(CLI::IsMember({"slaney", "none"}));
  cmd->add_option("--top-db", a.top_db, audio + "floor at the clip's peak minus this many dB; 0: no floor")
      ->capture_default_str();
  cmd->add_option("--frames", a.frames, audio + "trim or pad (with the clip's floor) to this many frames")
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_flag("--time-major", a.time_major, audio + "shape [frames, n_mels] instead of [n_mels, frames]");

  ImageOptions& i = flags->image;
  const std::string image = "Image: ";
  cmd->add_option("--resize", i.resize, image + "shorter side to this (bilinear, antialiased); 0: keep")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 16));
  cmd->add_option("--crop", i.crop, image + "centre crop to this square; 0: none")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 16));
  cmd->add_option("--mean", i.mean, image + "per-channel mean subtracted after /255")->delimiter(',');
  cmd->add_option("--std", i.std, image + "per-channel divisor after the mean")->delimiter(',');
  cmd->add_flag("--raw", i.raw, image + "uint8 HWC pixels (binary) instead of normalised float32 CHW");
  cmd->callback([flags, selected] { *selected = [flags] { run_prep(*flags); }; });
}

}  // namespace salvo::cli
