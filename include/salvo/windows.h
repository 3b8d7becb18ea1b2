// Grouped sliding windows over event histories: one output row per (group, window) with aggregates
// of the group's events in the window, and optionally a label from the events after it. Streaming,
// with memory bounded by a budget and by the events of one window, never by a group.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "salvo/export.h"
#include "salvo/types.h"

namespace salvo {

// Where a windows job is, as a progress line reads it.
struct WindowsProgress {
  const char* phase = "reading";  // "reading" (and sorting), then "windows"
  uint64_t rows = 0;              // input rows read
  uint64_t bad_rows = 0;          // input rows that could not be used
  uint64_t rows_done = 0;         // rows whose windows are written
  uint64_t windows = 0;           // output rows written
  uint64_t bytes_read = 0;
  std::optional<uint64_t> total_bytes;
};

// What a finished job did, for the one-line summary.
struct WindowsSummary {
  uint64_t rows = 0;        // input rows
  uint64_t bad_rows = 0;    // rows left out (null or unreadable time, unreadable values)
  std::string first_error;  // the first bad row's position and reason
  uint64_t groups = 0;
  uint64_t windows = 0;       // output rows
  uint64_t spilled_runs = 0;  // sorted runs written to disk (0: sorted in memory, or --sorted)
  uint64_t spilled_bytes = 0;
  uint64_t merge_passes = 0;        // extra merge passes (too many runs for one)
  uint64_t peak_window_events = 0;  // most events held at once by the sliding window
  double seconds = 0;
};

// The flags of `salvo windows`, as text the library parses (see docs: README "Sliding windows").
struct WindowsOptions {
  std::filesystem::path input;          // .parquet (file, folder of part files, glob), .csv, .jsonl
  std::filesystem::path output;         // .parquet (a path ending in "/" is a folder), .jsonl, .csv, .tfrecord
  std::string group_by;                 // the group column
  std::string time_column;              // the event time column
  std::string window;                   // duration: "14d"
  std::string step;                     // duration; empty: the window (tumbling windows)
  std::string origin;                   // empty: the Unix epoch; else a timestamp or a duration after the epoch
  std::string features;                 // "count(*), sum(amount), distinct(kind)"
  std::string label;                    // empty: none; "max(churned) over next 30d"
  std::string time_unit;                // numeric time columns: s, ms, us or ns
  std::string column_types;             // CSV / JSONL: "amount=float64,kind=string"
  std::string memory = "512M";          // budget of the external sort: "64M", "2G"
  std::filesystem::path temp_dir;       // spill files; empty: $TMPDIR or /tmp
  bool sorted = false;                  // the input is ordered by (group, time): no sort, order verified
  bool skip_empty = false;              // leave out windows without events
  std::filesystem::path errors_output;  // bad rows as JSON lines {"row", "error"}; empty: counted only
  std::string compression;              // output codec (Parquet, TFRecord)
  // Called from the job's thread every so often.
  std::function<void(const WindowsProgress&)> progress;
  // When set and it becomes true (e.g. from a signal handler), the job stops within a batch of
  // rows and throws salvo::Error(kCancelled); its temporary files are removed, no output appears.
  const std::atomic<bool>* cancel = nullptr;
  // Warnings: a gap between two events of a group that would write more than 10 million (mostly
  // empty) windows, once a job.
  LogCallback log;
};

// Checks the specs, the input's columns and their types, before any work: throws
// salvo::Error(kInvalidArgument) naming the flag, aggregate or column that is wrong, kIo when the
// input cannot be read.
SALVO_API void check_windows(const WindowsOptions& options);

// Runs the job. Bad rows are counted (and written to errors_output) and the job goes on; anything
// that stops it throws salvo::Error and leaves no output behind.
SALVO_API WindowsSummary run_windows(const WindowsOptions& options);

}  // namespace salvo
