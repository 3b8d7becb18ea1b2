// The text of a windows job's options, parsed and checked: durations, aggregates, label, memory.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "salvo/table.h"
#include "salvo/windows.h"
#include "windows/feature_spec.h"
#include "windows/window_engine.h"

namespace salvo::windows {

// How numeric time values count time.
enum class TimeUnit { kNone, kSeconds, kMillis, kMicros, kNanos };

struct WindowsPlan {
  WindowGeometry geometry;
  std::vector<FeatureSpec> features;
  std::optional<LabelSpec> label;
  uint64_t memory_bytes = 0;
  TimeUnit time_unit = TimeUnit::kNone;
  std::map<std::string, DataType> column_types;
  // The columns read: the group, the time, then the columns aggregates read (each once).
  std::vector<std::string> columns;
  // Columns 2.. of `columns`: the values carried with each event.
  std::vector<std::string> value_columns;
};

// Parses everything in `options` that needs no input. Throws salvo::Error(kInvalidArgument)
// naming the flag and the problem.
WindowsPlan plan_windows(const WindowsOptions& options);

// Parses a memory size: "512M", "2G", "64MiB", "100k", "1048576" (binary units). Throws
// salvo::Error(kInvalidArgument) naming `what`.
uint64_t parse_byte_size(std::string_view text, std::string_view what);

// Converts a numeric time to microseconds; false when it does not fit.
bool to_micros(int64_t value, TimeUnit unit, int64_t* micros);
bool to_micros(double value, TimeUnit unit, int64_t* micros);

}  // namespace salvo::windows
