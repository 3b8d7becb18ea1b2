// A job's threads:
//
//   reader thread: read a window of records -> parse each -> submit the window to the session
//     ──queue of (rows, future), bounded──> job thread: wait for the window's result, join it to
//     the carried columns (id, kept columns), write it, report progress.
//
// The session sorts, batches and runs each window on its replicas while the reader prepares the
// next, so the model never waits for input. Windows are written in the order they were read.
#include "salvo/job.h"

#include <unistd.h>

#include <chrono>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/bounded_queue.h"
#include "core/json_text.h"
#include "core/utf8.h"
#include "io/row_sink.h"
#include "io/row_source.h"
#include "salvo/error.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr size_t kRecordsPerRead = 256;
constexpr size_t kWindowsInFlight = 3;  // windows submitted and not yet written

// One window of rows on its way to the output.
struct Window {
  std::shared_ptr<std::vector<InputRow>> rows;
  std::future<Result> result;
};

DataType carried_type(ValueType type) {
  switch (type) {
    case ValueType::kDynamic: return DataType::json();
    case ValueType::kString: return DataType::string();
    case ValueType::kBinary: return DataType::binary();
    case ValueType::kBool: return DataType::boolean();
    case ValueType::kInt32: return DataType::int32();
    case ValueType::kInt64: return DataType::int64();
    case ValueType::kFloat: return DataType::float32();
    case ValueType::kDouble: return DataType::float64();
  }
  return DataType::json();
}

// Appends a carried value (as the source decoded it) to its column.
void append_carried(const json& v, Column* column) {
  if (v.is_null()) {
    column->append_null();
    return;
  }
  switch (column->type().id()) {
    case TypeId::kJson: column->append_json(v); return;
    case TypeId::kString:
      column->append_string(v.is_string() ? v.get_ref<const std::string&>() : json_text(v));
      return;
    case TypeId::kBinary:
      if (v.is_binary()) {
        const auto& bytes = v.get_binary();
        column->append_string({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
      } else {
        column->append_string(v.is_string() ? v.get_ref<const std::string&>() : json_text(v));
      }
      return;
    case TypeId::kBool: column->append_bool(v.get<bool>()); return;
    case TypeId::kInt32: column->append_int32(v.get<int32_t>()); return;
    case TypeId::kInt64: column->append_int64(v.get<int64_t>()); return;
    case TypeId::kFloat32: column->append_float32(v.get<float>()); return;
    case TypeId::kFloat64: column->append_float64(v.get<double>()); return;
    default: throw Error(ErrorCode::kInternal, "carried column of " + column->type().to_string());
  }
}

// The first string inside `v` that is not valid UTF-8 (JSON input is validated whole; CSV,
// Parquet and TFRecord strings are not), as an error message; empty when all are valid.
std::string invalid_utf8_in(const json& v, const std::string& name) {
  size_t bad = 0;
  if (v.is_string() && !is_valid_utf8(v.get_ref<const std::string&>(), &bad)) {
    return name + " is not valid UTF-8 (byte " + std::to_string(bad) + ")";
  }
  if (v.is_array() || v.is_object()) {
    for (const auto& item : v) {
      std::string e = invalid_utf8_in(item, name);
      if (!e.empty()) return e;
    }
  }
  return "";
}

// Replaces what is not UTF-8 in the strings of `v` by U+FFFD (as JSON printing does), so that an
// error row's carried values are valid text in every output format.
void replace_invalid_utf8(json& v) {
  if (v.is_string()) {
    std::string& s = v.get_ref<std::string&>();
    if (!is_valid_utf8(s)) s = json::parse(json(s).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
  } else if (v.is_array() || v.is_object()) {
    for (auto& item : v) replace_invalid_utf8(item);
  }
}

FieldNames field_names(const JobOptions& options) {
  FieldNames fields;
  fields.text = options.text_field;
  fields.text_pair = options.text_pair_field;
  fields.id = options.id_field;
  fields.passthrough = options.keep_columns;
  return fields;
}

// The output columns that come from the input, in output order: "id" (when the input has one),
// then the kept columns.
std::vector<Field> carried_fields(const RowSource& source) {
  const CarriedColumns carried = source.carried_columns();
  std::vector<Field> fields;
  if (carried.id) fields.push_back({"id", carried_type(carried.id->type)});
  for (const auto& c : carried.passthrough) fields.push_back({c.name, carried_type(c.type)});
  return fields;
}

// The names of a task's result columns, known without a model.
std::vector<std::string> task_column_names(Task task, const TaskOptions& options) {
  switch (task) {
    case Task::kEmbed: return {"embedding"};
    case Task::kClassify: {
      std::vector<std::string> names = {"label", "score"};
      if (options.top_k > 0) names.insert(names.end(), {"top_labels", "top_scores"});
      if (options.all_scores) names.push_back("scores");
      return names;
    }
    case Task::kScore: return {"score"};
    case Task::kTokenize: return {"input_ids", "token_type_ids"};
    case Task::kPredict: return {};
  }
  return {};
}

void check_output_place(const fs::path& output) {
  const bool folder = output.string().ends_with('/');
  std::error_code ec;
  if (!folder && fs::is_directory(output, ec)) {
    throw Error(ErrorCode::kInvalidArgument, "output " + output.string() +
                                                 " is an existing folder (give a file name, or end the path "
                                                 "with / for a folder of Parquet part files)");
  }
  fs::path parent = folder ? fs::path(output.string()).parent_path().parent_path() : output.parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, ec)) {
    throw Error(ErrorCode::kIo, "cannot write " + output.string() + ": folder " + parent.string() +
                                    " does not exist");
  }
  if (access(parent.c_str(), W_OK) != 0) {
    throw Error(ErrorCode::kIo, "cannot write " + output.string() + ": folder " + parent.string() +
                                    " is not writable");
  }
}

class JobRunner {
 public:
  JobRunner(Session& session, const JobOptions& options)
      : session_(session), options_(options), windows_(kWindowsInFlight) {}

  JobSummary run() {
    const auto start = std::chrono::steady_clock::now();
    check_cancelled();
    source_ = open_row_source(options_.input, field_names(options_), SourceLimits{options_.max_record_bytes});
    Schema schema;
    schema.fields = carried_fields(*source_);
    carried_count_ = schema.fields.size();
    Schema results = session_.output_schema(options_.task, options_.task_options);
    schema.fields.insert(schema.fields.end(), results.fields.begin(), results.fields.end());
    schema.metadata = results.metadata;
    schema.fields.push_back({"error", DataType::string()});
    progress_.total_bytes = source_->total_bytes();
    sink_ = open_row_sink(options_.output, schema, SinkOptions{options_.compression});
    schema_ = std::move(schema);
    if (options_.started) options_.started();

    std::thread reader([this] { guarded([this] { read_loop(); }); });
    guarded([this, start] { write_loop(start); });
    windows_.close();
    reader.join();
    if (error_) std::rethrow_exception(error_);
    summary_.seconds = seconds_since(start);
    return summary_;
  }

 private:
  static double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  // Runs a loop; the first failure is kept and the queue closed so that the other loop ends too.
  void guarded(const std::function<void()>& loop) {
    try {
      loop();
    } catch (...) {
      {
        std::lock_guard lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
      windows_.close();
    }
  }

  void check_cancelled() const {
    if (options_.cancel && options_.cancel->load()) {
      throw Error(ErrorCode::kCancelled, "stopped by a signal; " + options_.output.string() + " was not written");
    }
  }

  void read_loop() {
    std::vector<RawRecord> records;
    bool more = true;
    while (more) {
      check_cancelled();
      records.clear();
      while (more && records.size() < options_.window_rows) {
        more = source_->read(std::min(kRecordsPerRead, options_.window_rows - records.size()), &records);
      }
      bytes_read_ = source_->bytes_read();
      if (records.empty()) break;
      if (!windows_.push(submit(records))) return;
    }
    windows_.close();
  }

  // Parses a window's records (their bytes are released as each is parsed: a huge record is held
  // once, as its row's text) and submits the rows to the session.
  Window submit(std::vector<RawRecord>& records) {
    auto rows = std::make_shared<std::vector<InputRow>>(records.size());
    Request request;
    request.task = options_.task;
    request.options = options_.task_options;
    Inputs& in = request.inputs;
    in.texts.resize(records.size());
    in.errors.resize(records.size());
    if (!options_.text_pair_field.empty()) in.text_pairs.resize(records.size());
    const CarriedColumns carried = source_->carried_columns();
    for (size_t i = 0; i < records.size(); ++i) {
      InputRow& row = (*rows)[i];
      source_->parse(records[i], &row);
      std::string().swap(records[i].bytes);
      // A row that failed to parse may have no kept values at all: they are nulls in the output.
      row.passthrough.resize(options_.keep_columns.size());
      if (row.error.empty()) row.error = invalid_utf8_in(row.id, "the id");
      for (size_t p = 0; row.error.empty() && p < row.passthrough.size(); ++p) {
        row.error = invalid_utf8_in(row.passthrough[p], "column \"" + options_.keep_columns[p] + "\"");
      }
      if (!row.error.empty()) {
        replace_invalid_utf8(row.id);
        for (json& v : row.passthrough) replace_invalid_utf8(v);
      }
      in.texts[i] = row.text;
      if (!in.text_pairs.empty()) in.text_pairs[i] = row.text_pair;
      in.errors[i] = row.error;
    }
    in.keep_alive = rows;
    return Window{rows, session_.submit(std::move(request))};
  }

  void write_loop(std::chrono::steady_clock::time_point start) {
    while (auto window = windows_.pop()) {
      check_cancelled();
      Result result = window->result.get();
      const std::vector<InputRow>& rows = *window->rows;
      RecordBatch out;
      for (size_t c = 0; c < carried_count_; ++c) {
        Column column(schema_.fields[c].type);
        column.reserve(static_cast<int64_t>(rows.size()));
        const bool is_id = c == 0 && source_->carried_columns().id.has_value();
        const size_t p = is_id ? 0 : c - (source_->carried_columns().id ? 1 : 0);
        for (const InputRow& row : rows) append_carried(is_id ? row.id : row.passthrough[p], &column);
        out.add_column(schema_.fields[c], std::move(column));
      }
      // Each error names its record: "line 12: invalid JSON: ...".
      const size_t error_index = result.columns.num_columns() - 1;
      const Column& errors = result.columns.column(error_index);
      Column named(DataType::string());
      for (int64_t r = 0; r < errors.size(); ++r) {
        if (errors.is_null(r)) {
          named.append_null();
        } else {
          named.append_string(std::string(source_->record_name()) + " " + std::to_string(rows[r].line) + ": " +
                              std::string(errors.string_at(r)));
        }
      }
      result.columns.mutable_column(error_index) = std::move(named);
      out.append_columns(std::move(result.columns));
      sink_->write(out);

      summary_.rows += result.stats.rows;
      summary_.errors += result.stats.errors;
      summary_.tokens += result.stats.tokens;
      summary_.padded_tokens += result.stats.padded_tokens;
      summary_.batches += result.stats.batches;
      if (options_.progress) {
        progress_.rows = summary_.rows;
        progress_.errors = summary_.errors;
        progress_.tokens = summary_.tokens;
        progress_.bytes_read = bytes_read_.load();
        progress_.seconds = seconds_since(start);
        options_.progress(progress_);
      }
    }
    {
      std::lock_guard lock(error_mutex_);
      if (error_) return;
    }
    check_cancelled();
    sink_->finish();
  }

  Session& session_;
  const JobOptions& options_;
  BoundedQueue<Window> windows_;
  std::unique_ptr<RowSource> source_;
  std::unique_ptr<RowSink> sink_;
  Schema schema_;
  size_t carried_count_ = 0;
  JobSummary summary_;
  JobProgress progress_;
  std::atomic<uint64_t> bytes_read_{0};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace

void check_job(const JobOptions& options) {
  if (options.window_rows == 0) throw Error(ErrorCode::kInvalidArgument, "the sort window must be positive");
  if (options.task == Task::kScore && options.text_pair_field.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "score needs the field of the second text (--text-pair-field)");
  }
  check_output_place(options.output);
  const auto source = open_row_source(options.input, field_names(options), SourceLimits{options.max_record_bytes});
  std::vector<std::string> names;
  for (const auto& f : carried_fields(*source)) names.push_back(f.name);
  for (const auto& n : task_column_names(options.task, options.task_options)) names.push_back(n);
  names.push_back("error");
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = i + 1; j < names.size(); ++j) {
      if (names[i] == names[j]) {
        throw Error(ErrorCode::kInvalidArgument,
                    "two output columns would be named \"" + names[i] +
                        "\": a kept column (--keep-columns) clashes with the id or a result column");
      }
    }
  }
}

JobSummary run_job(Session& session, const JobOptions& options) {
  JobRunner runner(session, options);
  return runner.run();
}

}  // namespace salvo
