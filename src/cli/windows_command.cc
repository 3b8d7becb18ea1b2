// windows: grouped sliding-window aggregates over event histories (flags only; the engine is
// run_windows in the library).
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "progress_line.h"
#include "signals.h"
#include "salvo/windows.h"

namespace salvo::cli {
namespace {

struct WindowsFlags {
  WindowsOptions options;
  bool quiet = false;
};

std::string human_bytes(double bytes) {
  char buf[32];
  if (bytes >= 1e9)
    std::snprintf(buf, sizeof(buf), "%.1f GB", bytes / 1e9);
  else if (bytes >= 1e6)
    std::snprintf(buf, sizeof(buf), "%.1f MB", bytes / 1e6);
  else
    std::snprintf(buf, sizeof(buf), "%.0f kB", bytes / 1e3);
  return buf;
}

void run(WindowsFlags& flags) {
  WindowsOptions& o = flags.options;
  check_windows(o);  // a bad spec or column fails in one line before any work
  ProgressLine progress("salvo windows", !flags.quiet && stderr_is_terminal());
  if (progress.enabled()) {
    o.progress = [&progress](const WindowsProgress& p) {
      std::string text = std::string(p.phase) + ", " + human_count(p.rows) + " rows";
      if (p.bad_rows) text += " (" + human_count(p.bad_rows) + " bad)";
      text += ", " + human_count(p.windows) + " windows";
      // Reading (and, with --sorted, everything) goes by input bytes; after a sort, by rows merged.
      double fraction = -1;
      if (p.rows_done > 0 && p.rows > 0) {
        fraction = static_cast<double>(p.rows_done) / p.rows;
      } else if (p.total_bytes && *p.total_bytes > 0) {
        fraction = static_cast<double>(p.bytes_read) / *p.total_bytes;
      }
      progress.update_text(text, fraction);
    };
  }
  // SIGINT / SIGTERM: the job stops and removes its temporary files (exit 130); a second signal
  // ends the process at once.
  o.cancel = &install_stop_handlers();
  o.log = [&progress](LogLevel, const std::string& message) {
    progress.clear();
    std::fprintf(stderr, "salvo windows: warning: %s\n", message.c_str());
  };
  const WindowsSummary s = run_windows(o);
  progress.clear();
  if (flags.quiet) return;
  std::string line = "salvo windows: " + std::to_string(s.rows) + " rows";
  if (s.bad_rows) {
    line += " (" + std::to_string(s.bad_rows) + " bad";
    line += o.errors_output.empty() ? "; first: " + s.first_error : ", see " + o.errors_output.string();
    line += ")";
  }
  char buf[256];
  std::snprintf(buf, sizeof(buf), ", %llu groups, %llu windows, %.2f s, %s rows/s",
                static_cast<unsigned long long>(s.groups), static_cast<unsigned long long>(s.windows), s.seconds,
                human_count(s.seconds > 0 ? s.rows / s.seconds : 0).c_str());
  line += buf;
  line += ", at most " + human_count(static_cast<double>(s.peak_window_events)) + " events held";
  if (o.sorted) {
    line += ", input order verified";
  } else if (s.spilled_runs == 0) {
    line += ", sorted in memory";
  } else {
    line += ", sorted in " + std::to_string(s.spilled_runs) + " runs (" + human_bytes(s.spilled_bytes) + " spilled";
    if (s.merge_passes) line += ", " + std::to_string(s.merge_passes) + " extra merge passes";
    line += ")";
  }
  std::fprintf(stderr, "%s -> %s\n", line.c_str(), o.output.c_str());
}

}  // namespace

void add_windows_command(CLI::App& app, Runner* selected) {
  auto flags = std::make_shared<WindowsFlags>();
  WindowsOptions& o = flags->options;
  CLI::App* cmd = app.add_subcommand(
      "windows",
      "Aggregate each group's events over sliding time windows: one output row per (group, window) with the "
      "group key, window_start, window_end, one column per feature and an optional label. Windows are "
      "[start, start + window) with starts every --step from the Unix epoch (or --origin), as Spark's window() "
      "places them; every window from the one holding a group's first event to the last one starting by its "
      "last event is written (empty ones with count 0 and null aggregates, unless --skip-empty). The input is "
      "sorted by (group, time) on disk under --memory, or declared sorted with --sorted.");
  cmd->add_option("--input", o.input, "Input: .parquet (a file, a folder of part files or a glob), .csv or .jsonl")
      ->required();
  cmd->add_option("--output", o.output,
                  "Output: .parquet (a path ending in / is a folder of part files), .jsonl, .csv or .tfrecord")
      ->required();
  cmd->add_option("--group-by", o.group_by, "The group column (any scalar type; its type is kept)")->required();
  cmd->add_option("--time-column", o.time_column,
                  "The event time: a timestamp or date column, ISO 8601 text, or numbers with --time-unit")
      ->required();
  cmd->add_option("--window", o.window, "Window length: 30s, 15m, 6h, 14d, 2w (also ms, us)")->required();
  cmd->add_option("--step", o.step, "Distance between window starts (default: the window, i.e. tumbling windows)");
  cmd->add_option("--origin", o.origin,
                  "Where window starts are counted from: a timestamp (2024-01-01T06:00:00Z) or an offset after the "
                  "epoch (6h, like Spark's startTime); default the Unix epoch");
  cmd->add_option("--features", o.features,
                  "Aggregates, comma-separated: count(*), count(x), sum(x), mean(x)/avg(x), min(x), max(x), "
                  "first(x), last(x), distinct(x), stddev(x), any(*), any(x); each may end in \"as name\". "
                  "Columns are named <aggregate>_<column> (count(*) is \"count\")")
      ->required();
  cmd->add_option("--label", o.label,
                  "An aggregate over the events after each window, [window_end, window_end + D): "
                  "\"max(churned) over next 30d\"; written as column \"label\"");
  cmd->add_option("--time-unit", o.time_unit, "What numeric time values count: s, ms, us or ns")
      ->check(CLI::IsMember({"s", "ms", "us", "ns"}));
  cmd->add_option("--column-types", o.column_types,
                  "CSV/JSONL: types for columns instead of inferring them from the first 10,000 rows, e.g. "
                  "\"amount=float64,id=string\" (bool, int32, int64, float32, float64, string, timestamp)");
  cmd->add_flag("--sorted", o.sorted,
                "The input is already ordered by (group, time), groups ascending: skip the sort (verified as it "
                "streams: a row out of order ends the job)");
  cmd->add_flag("--skip-empty", o.skip_empty, "Leave out windows that hold no event");
  cmd->add_option("--memory", o.memory,
                  "Memory budget of the sort and the output buffers, e.g. 64M, 2G (the events of the widest window "
                  "come on top)")
      ->capture_default_str();
  cmd->add_option("--temp-dir", o.temp_dir, "Where sorted runs are spilled (default $TMPDIR or /tmp)");
  cmd->add_option("--errors-output", o.errors_output,
                  "Write the rows left out (null or unreadable time, unreadable values) here, as .jsonl or .csv: "
                  "{\"row\": N, \"error\": \"...\"}; without it they are counted in the summary");
  cmd->add_option("--compression", o.compression,
                  "Output codec: Parquet none|snappy|gzip|zstd|lz4_raw (default snappy); TFRecord none|gzip|zlib");
  cmd->add_flag("--quiet,-q", flags->quiet, "No progress or summary on stderr");
  cmd->callback([flags, selected] { *selected = [flags] { run(*flags); }; });
}

}  // namespace salvo::cli
