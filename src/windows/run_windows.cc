// run_windows: input -> typed rows -> (group, time)-ordered event records (external sort, or the
// input's own order verified) -> sliding aggregates per group -> output sink.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>

#include "core/error.h"
#include "io/json_rows.h"
#include "io/output_file.h"
#include "io/row_sink.h"
#include "salvo/windows.h"
#include "windows/event_codec.h"
#include "windows/external_sorter.h"
#include "windows/table_source.h"
#include "windows/time_spec.h"
#include "windows/window_engine.h"
#include "windows/windows_plan.h"

namespace salvo {
namespace {

using namespace windows;

[[noreturn]] void usage(const std::string& message) { throw Error(ErrorCode::kInvalidArgument, message); }

// The job once its input is open: the plan, the columns' types and the output schema.
struct PreparedJob {
  WindowsPlan plan;
  std::unique_ptr<TableSource> source;
  std::vector<size_t> value_sources;  // per value column: its index among the source's columns
  std::vector<DataType> value_types;
  std::vector<DataType> result_types;  // per feature, then the label
  Schema output;
};

bool is_group_type(TypeId id) {
  switch (id) {
    case TypeId::kBool:
    case TypeId::kInt32:
    case TypeId::kInt64:
    case TypeId::kFloat32:
    case TypeId::kFloat64:
    case TypeId::kString:
    case TypeId::kBinary:
    case TypeId::kTimestamp: return true;
    default: return false;
  }
}

PreparedJob prepare(const WindowsOptions& o) {
  PreparedJob job;
  job.plan = plan_windows(o);
  const WindowsPlan& plan = job.plan;
  TableSourceOptions source_options;
  source_options.column_types = plan.column_types;
  // A CSV or JSONL column without a value to infer its type from gets one its aggregates accept.
  auto hint = [&](const FeatureSpec& f) {
    if (f.column.empty()) return;
    if (f.kind == AggregateKind::kSum || f.kind == AggregateKind::kMean || f.kind == AggregateKind::kStddev) {
      source_options.empty_column_types[f.column] = DataType::float64();
    } else if (f.kind == AggregateKind::kAny) {
      source_options.empty_column_types[f.column] = DataType::boolean();
    }
  };
  for (const FeatureSpec& f : plan.features) hint(f);
  if (plan.label) hint(plan.label->aggregate);
  // An input without rows (a header-only CSV, an empty JSONL file) gives an empty table, not a
  // time column typed as text that --time-unit then refuses.
  if (plan.time_unit != TimeUnit::kNone) source_options.empty_column_types[o.time_column] = DataType::int64();
  SinkOptions sink_choice;
  sink_choice.compression = o.compression;
  check_sink_choice(o.output, "parquet", sink_choice);
  refuse_output_that_is_input(o.input, o.output);
  if (!o.errors_output.empty()) refuse_output_that_is_input(o.input, o.errors_output);
  job.source = open_table_source(o.input.string(), plan.columns, source_options);
  const Schema& in = job.source->schema();

  const DataType& group = in.fields[0].type;
  if (!is_group_type(group.id())) {
    usage("--group-by: column \"" + o.group_by + "\" is " + group.to_string() + ", which cannot be a group key");
  }
  const DataType& time = in.fields[1].type;
  const bool numeric_time = time.id() == TypeId::kInt32 || time.id() == TypeId::kInt64 ||
                            time.id() == TypeId::kFloat32 || time.id() == TypeId::kFloat64;
  if (numeric_time && plan.time_unit == TimeUnit::kNone) {
    usage("--time-column: column \"" + o.time_column + "\" is " + time.to_string() +
          "; say what its numbers count with --time-unit s|ms|us|ns");
  }
  if (!numeric_time && plan.time_unit != TimeUnit::kNone) {
    usage("--time-unit applies to numeric time columns, and \"" + o.time_column + "\" is " + time.to_string());
  }
  if (!numeric_time && time.id() != TypeId::kTimestamp && time.id() != TypeId::kString) {
    usage("--time-column: column \"" + o.time_column + "\" is " + time.to_string() +
          " (expected a timestamp, a date, ISO 8601 text, or numbers with --time-unit)");
  }

  for (const std::string& name : plan.value_columns) {
    const size_t index =
        static_cast<size_t>(std::find(plan.columns.begin(), plan.columns.end(), name) - plan.columns.begin());
    job.value_sources.push_back(index);
    job.value_types.push_back(in.fields[index].type);
    value_kind_of(in.fields[index].type, name);  // refuses lists and JSON values
  }
  auto value_type = [&](const FeatureSpec& f) {
    if (f.column.empty()) return DataType::int64();
    const auto it = std::find(plan.value_columns.begin(), plan.value_columns.end(), f.column);
    return job.value_types[static_cast<size_t>(it - plan.value_columns.begin())];
  };
  for (const FeatureSpec& f : plan.features) {
    try {
      job.result_types.push_back(result_type(f, value_type(f)));
    } catch (const Error& e) {
      usage(std::string("--features: ") + e.what());
    }
  }
  if (plan.label) {
    try {
      job.result_types.push_back(result_type(plan.label->aggregate, value_type(plan.label->aggregate)));
    } catch (const Error& e) {
      usage(std::string("--label: ") + e.what());
    }
  }

  job.output.fields = {
      {o.group_by, group}, {"window_start", DataType::timestamp()}, {"window_end", DataType::timestamp()}};
  for (size_t i = 0; i < plan.features.size(); ++i)
    job.output.fields.push_back({plan.features[i].name, job.result_types[i]});
  if (plan.label) job.output.fields.push_back({"label", job.result_types.back()});
  std::set<std::string> names;
  for (const Field& f : job.output.fields) {
    if (!names.insert(f.name).second) {
      usage("--features: the output would have two columns named \"" + f.name +
            "\" (the group column, window_start, window_end and label are taken; rename with \"as\")");
    }
  }
  job.output.metadata["salvo.windows.window"] = format_duration(plan.geometry.window);
  job.output.metadata["salvo.windows.step"] = format_duration(plan.geometry.step);
  job.output.metadata["salvo.windows.origin"] = format_timestamp(plan.geometry.origin);
  return job;
}

// The time of row `row` in microseconds, or why there is none.
bool event_time(const Column& column, int64_t row, TimeUnit unit, int64_t* micros, std::string* why) {
  if (column.is_null(row)) {
    *why = "the time is null";
    return false;
  }
  bool ok = true;
  const TypeId id = column.type().id();
  switch (id) {
    case TypeId::kTimestamp: *micros = column.int64_at(row); break;
    case TypeId::kInt32: ok = to_micros(static_cast<int64_t>(column.int32_at(row)), unit, micros); break;
    case TypeId::kInt64: ok = to_micros(column.int64_at(row), unit, micros); break;
    case TypeId::kFloat32:
    case TypeId::kFloat64: {
      const double t = id == TypeId::kFloat32 ? column.float32_at(row) : column.float64_at(row);
      if (!std::isfinite(t)) {
        *why = std::isnan(t) ? "the time is NaN" : "the time is infinite";
        return false;
      }
      ok = to_micros(t, unit, micros);
      break;
    }
    case TypeId::kString:
      if (!parse_timestamp(column.string_at(row), micros)) {
        *why = "the time \"" + std::string(column.string_at(row)) + "\" is not an ISO 8601 timestamp";
        return false;
      }
      break;
    default: ok = false;
  }
  // Far enough from int64's ends that window arithmetic never overflows (about 146,000 years).
  constexpr int64_t kLimit = int64_t{1} << 62;
  if (ok && (*micros < -kLimit || *micros > kLimit)) ok = false;
  if (!ok) *why = "the time is out of range";
  return ok;
}

// "customer_id=42, ts=2024-01-02T00:00:00Z", for the message about unsorted input.
std::string describe_event(const std::string& group_name, const DataType& group_type, const std::string& time_name,
                           std::string_view key) {
  Column group(group_type);
  append_group_value(group_of_key(key), &group);
  std::string text = group_name + "=";
  append_json_value(group, 0, &text);
  return text + ", " + time_name + "=" + format_timestamp(time_of_key(key));
}

}  // namespace

void check_windows(const WindowsOptions& options) { prepare(options); }

WindowsSummary run_windows(const WindowsOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  PreparedJob job = prepare(o);
  const WindowsPlan& plan = job.plan;
  TableSource& source = *job.source;

  // The budget covers the output's buffered row group too (Parquet's default is 128 MiB).
  SinkOptions sink_options;
  sink_options.compression = o.compression;
  sink_options.row_group_bytes = std::clamp<uint64_t>(plan.memory_bytes / 16, uint64_t{1} << 20, uint64_t{128} << 20);
  remove_stale_partials(o.output);
  std::unique_ptr<RowSink> sink = open_row_sink(o.output, job.output, sink_options);
  const Schema error_schema{{{"row", DataType::int64()}, {"error", DataType::string()}}, {}};
  std::unique_ptr<RowSink> error_sink;
  if (!o.errors_output.empty()) {
    remove_stale_partials(o.errors_output);
    error_sink = open_row_sink(o.errors_output, error_schema);
  }
  RecordBatch error_rows(error_schema);

  std::vector<ValueKind> kinds;
  for (size_t i = 0; i < job.value_types.size(); ++i)
    kinds.push_back(value_kind_of(job.value_types[i], plan.value_columns[i]));
  auto value_index = [&](const FeatureSpec& f) -> size_t {
    if (f.column.empty()) return 0;
    return static_cast<size_t>(std::find(plan.value_columns.begin(), plan.value_columns.end(), f.column) -
                               plan.value_columns.begin());
  };
  auto value_type = [&](const FeatureSpec& f) {
    return f.column.empty() ? DataType::int64() : job.value_types[value_index(f)];
  };
  std::vector<std::unique_ptr<SlidingAggregate>> features;
  for (const FeatureSpec& f : plan.features)
    features.push_back(make_sliding_aggregate(f, value_index(f), value_type(f)));
  std::unique_ptr<SlidingAggregate> label;
  if (plan.label)
    label = make_sliding_aggregate(plan.label->aggregate, value_index(plan.label->aggregate),
                                   value_type(plan.label->aggregate));
  auto check_cancelled = [&] {
    if (o.cancel && o.cancel->load()) {
      throw Error(ErrorCode::kCancelled, "stopped by a signal; " + o.output.string() + " was not written");
    }
  };
  // Checked at each output batch too: one gap between two events may span millions of windows.
  WindowEngine engine(plan.geometry, kinds, std::move(features), std::move(label), job.output,
                      [&](RecordBatch&& rows) {
                        check_cancelled();
                        sink->write(rows);
                      });

  // The sort gets the budget but a quarter, which covers the output's row group (a sixteenth) and
  // what encoding it takes, the output batches and the spill's write buffer. The events of the
  // widest window, and the decoded input row groups, come on top.
  const uint64_t reserve = plan.memory_bytes / 4;
  std::optional<ExternalSorter> sorter;
  if (!o.sorted) sorter.emplace(ExternalSorterOptions{plan.memory_bytes - reserve, o.temp_dir});

  WindowsSummary summary;
  WindowsProgress progress;
  auto report = [&](const char* phase) {
    if (!o.progress) return;
    progress.phase = phase;
    progress.rows = summary.rows;
    progress.bad_rows = summary.bad_rows;
    progress.windows = engine.windows();
    progress.bytes_read = source.bytes_read();
    progress.total_bytes = source.total_bytes();
    o.progress(progress);
  };
  auto bad_row = [&](uint64_t row, std::string why) {
    ++summary.bad_rows;
    if (summary.first_error.empty()) summary.first_error = why;
    if (!error_sink) return;
    error_rows.mutable_column(0).append_int64(static_cast<int64_t>(row));
    error_rows.mutable_column(1).append_string(why);
    if (error_rows.num_rows() >= 4096) {
      error_sink->write(error_rows);
      error_rows = RecordBatch(error_schema);
    }
  };

  std::string group;  // the group being aggregated (its key bytes)
  bool in_group = false;
  bool warned = false;
  auto feed = [&](std::string_view key, std::string_view payload) {
    const std::string_view g = group_of_key(key);
    if (!in_group || g != group) {
      if (in_group) engine.end_group();
      engine.begin_group(g);
      group.assign(g);
      in_group = true;
    }
    // A window far shorter than the gaps in the data writes windows by the billion (50 years of
    // 1-second windows: 1.6 billion rows): say so before the disk fills.
    if (constexpr int64_t kManyWindows = 10'000'000; !warned && !plan.geometry.skip_empty && o.log &&
                                                      engine.windows_before(time_of_key(key)) > kManyWindows) {
      warned = true;
      o.log(LogLevel::kWarning,
            std::to_string(engine.windows_before(time_of_key(key))) + " windows, most of them empty, come before " +
                describe_event(o.group_by, job.output.fields[0].type, o.time_column, key) + " (--window " + o.window +
                (o.step.empty() ? "" : ", --step " + o.step) + "); --skip-empty writes only windows that hold events");
    }
    engine.add(time_of_key(key), payload);
  };

  InputBatch batch;
  std::string key, payload, previous_key;
  std::vector<const Column*> values;
  while (source.next(&batch)) {
    check_cancelled();
    const RecordBatch& rows = batch.rows;
    values.clear();
    for (size_t index : job.value_sources) values.push_back(&rows.column(index));
    const Column& group_column = rows.column(0);
    const Column& time_column = rows.column(1);
    size_t next_error = 0;
    std::string why;
    for (int64_t r = 0; r < rows.num_rows(); ++r) {
      ++summary.rows;
      const uint64_t row_number = batch.first_row + static_cast<uint64_t>(r) + 1;
      if (next_error < batch.errors.size() && batch.errors[next_error].first == r) {
        bad_row(row_number, std::move(batch.errors[next_error++].second));
        continue;
      }
      int64_t time = 0;
      if (!event_time(time_column, r, plan.time_unit, &time, &why)) {
        const std::string where = row_place(batch, r, source.record_name());
        bad_row(row_number, where + ": " + why);
        continue;
      }
      key.clear();
      append_group_key(group_column, r, &key);
      append_time_key(time, &key);
      payload.clear();
      append_payload(values, r, &payload);
      if (sorter) {
        sorter->add(key, payload);
        continue;
      }
      if (key < previous_key) {
        const std::string where = row_place(batch, r, source.record_name());
        usage("--sorted: the input is not ordered by (" + o.group_by + ", " + o.time_column + "): " + where + " (" +
              describe_event(o.group_by, job.output.fields[0].type, o.time_column, key) + ") comes after (" +
              describe_event(o.group_by, job.output.fields[0].type, o.time_column, previous_key) +
              "); leave out --sorted and salvo sorts it");
      }
      previous_key = key;
      feed(key, payload);
    }
    report(sorter ? "reading" : "windows");
  }
  if (sorter) {
    sorter->finish();
    std::string_view k, p;
    uint64_t done = 0;
    while (sorter->next(&k, &p)) {
      feed(k, p);
      if ((++done & 0xFFFF) == 0) {
        check_cancelled();
        progress.rows_done = done;
        report("windows");
      }
    }
    summary.spilled_runs = sorter->stats().runs;
    summary.spilled_bytes = sorter->stats().spilled_bytes;
    summary.merge_passes = sorter->stats().merge_passes;
  }
  if (in_group) engine.end_group();
  engine.finish();
  sink->finish();
  if (error_sink) {
    if (error_rows.num_rows() > 0) error_sink->write(error_rows);
    error_sink->finish();
  }
  summary.groups = engine.groups();
  summary.windows = engine.windows();
  summary.peak_window_events = engine.peak_events();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace salvo
