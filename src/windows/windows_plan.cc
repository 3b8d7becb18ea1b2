#include "windows/windows_plan.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "windows/table_source.h"
#include "windows/time_spec.h"

namespace salvo::windows {
namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

[[noreturn]] void usage(const std::string& message) { throw Error(ErrorCode::kInvalidArgument, message); }

int64_t unit_micros(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::kSeconds: return kMicrosPerSecond;
    case TimeUnit::kMillis: return 1000;
    default: return 1;
  }
}

}  // namespace

uint64_t parse_byte_size(std::string_view text, std::string_view what) {
  const std::string t = trim(text);
  uint64_t count = 0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), count);
  if (ec != std::errc() || ptr == t.data()) usage(std::string(what) + " \"" + t + "\": not a size (write 512M, 2G)");
  std::string unit(ptr, t.data() + t.size());
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  if (unit.ends_with("ib"))
    unit.resize(unit.size() - 2);
  else if (unit.size() > 1 && unit.ends_with("b"))
    unit.resize(unit.size() - 1);
  int shift = 0;
  if (unit.empty() || unit == "b")
    shift = 0;
  else if (unit == "k")
    shift = 10;
  else if (unit == "m")
    shift = 20;
  else if (unit == "g")
    shift = 30;
  else if (unit == "t")
    shift = 40;
  else
    usage(std::string(what) + " \"" + t + "\": unknown unit (write K, M, G or T)");
  if (count == 0 || count > (std::numeric_limits<uint64_t>::max() >> (shift + 1))) {
    usage(std::string(what) + " \"" + t + "\": out of range");
  }
  return count << shift;
}

bool to_micros(int64_t value, TimeUnit unit, int64_t* micros) {
  if (unit == TimeUnit::kNanos) {
    *micros = floor_div(value, 1000);
    return true;
  }
  const int64_t scale = unit_micros(unit);
  if (value > std::numeric_limits<int64_t>::max() / scale || value < std::numeric_limits<int64_t>::min() / scale) {
    return false;
  }
  *micros = value * scale;
  return true;
}

bool to_micros(double value, TimeUnit unit, int64_t* micros) {
  const double scaled = unit == TimeUnit::kNanos ? std::floor(value / 1000) : std::floor(value * unit_micros(unit));
  if (!std::isfinite(scaled) || std::fabs(scaled) > 9.2e18) return false;
  *micros = static_cast<int64_t>(scaled);
  return true;
}

WindowsPlan plan_windows(const WindowsOptions& o) {
  WindowsPlan plan;
  if (o.group_by.empty()) usage("--group-by: no column given");
  if (o.time_column.empty()) usage("--time-column: no column given");
  if (o.window.empty()) usage("--window: no duration given");
  plan.geometry.window = parse_duration(trim(o.window), "--window");
  plan.geometry.step = o.step.empty() ? plan.geometry.window : parse_duration(trim(o.step), "--step");
  if (!o.origin.empty()) {
    const std::string origin = trim(o.origin);
    int64_t micros = 0;
    if (parse_timestamp(origin, &micros)) {
      plan.geometry.origin = micros;
    } else {
      try {
        plan.geometry.origin = parse_offset(origin, "--origin");
      } catch (const Error&) {
        usage("--origin \"" + origin +
              "\": neither a timestamp (2024-01-01T06:00:00Z) nor an offset from the epoch (6h, 0s, -30m)");
      }
    }
    plan.geometry.origin = floor_mod(plan.geometry.origin, plan.geometry.step);
  }
  plan.geometry.skip_empty = o.skip_empty;
  plan.features = parse_features(o.features);
  if (!trim(o.label).empty()) {
    plan.label = parse_label(o.label);
    plan.geometry.horizon = plan.label->horizon;
  }
  plan.memory_bytes = parse_byte_size(o.memory, "--memory");
  if (plan.memory_bytes < (uint64_t{1} << 20)) usage("--memory \"" + o.memory + "\": at least 1M, please");

  const std::string unit = trim(o.time_unit);
  if (unit.empty())
    plan.time_unit = TimeUnit::kNone;
  else if (unit == "s")
    plan.time_unit = TimeUnit::kSeconds;
  else if (unit == "ms")
    plan.time_unit = TimeUnit::kMillis;
  else if (unit == "us")
    plan.time_unit = TimeUnit::kMicros;
  else if (unit == "ns")
    plan.time_unit = TimeUnit::kNanos;
  else
    usage("--time-unit \"" + unit + "\": expected s, ms, us or ns");

  if (!trim(o.column_types).empty()) {
    std::string_view rest = o.column_types;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string item = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const size_t sep = item.find_first_of("=:");
      if (sep == std::string::npos || sep == 0) usage("--column-types: \"" + item + "\" is not name=type");
      const std::string name = trim(item.substr(0, sep));
      if (plan.column_types.count(name)) usage("--column-types names \"" + name + "\" twice");
      plan.column_types[name] = parse_type_name(trim(item.substr(sep + 1)));
    }
  }

  plan.columns = {o.group_by, o.time_column};
  if (o.group_by == o.time_column) usage("--group-by and --time-column name the same column");
  auto add_value = [&](const FeatureSpec& f) {
    if (f.column.empty()) return;
    if (std::find(plan.value_columns.begin(), plan.value_columns.end(), f.column) == plan.value_columns.end()) {
      plan.value_columns.push_back(f.column);
    }
  };
  for (const FeatureSpec& f : plan.features) add_value(f);
  if (plan.label) add_value(plan.label->aggregate);
  for (const std::string& c : plan.value_columns) {
    if (c != o.group_by && c != o.time_column) plan.columns.push_back(c);
  }
  return plan;
}

}  // namespace salvo::windows
