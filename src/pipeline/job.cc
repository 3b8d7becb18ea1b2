// A job's threads:
//
//   reader thread: read a window of records -> parse each -> submit the window to the session
//     ──queue of (rows, future), bounded──> job thread: wait for the window's result, join it to
//     the carried columns (id, kept columns), write it, report progress.
//
// The session sorts, batches and runs each window on its replicas while the reader prepares the
// next, so the model never waits for input. Windows are written in the order they were read.
#include "salvo/job.h"

#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/bounded_queue.h"
#include "core/json_text.h"
#include "core/utf8.h"
#include "io/dataset_paths.h"
#include "io/output_file.h"
#include "io/parquet/parquet_sink.h"
#include "io/part_folder_sink.h"
#include "io/row_sink.h"
#include "io/row_source.h"
#include "salvo/error.h"
#include "salvo/featurizer.h"

namespace salvo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr size_t kRecordsPerRead = 256;
constexpr size_t kWindowsInFlight = 3;  // windows submitted and not yet written

// A window's input rows, with the source's buffers their text may borrow from.
struct WindowRows {
  std::vector<InputRow> rows;
  std::vector<std::shared_ptr<const void>> buffers;
};

// One window of rows on its way to the output.
struct Window {
  std::shared_ptr<WindowRows> input;
  std::future<Result> result;
};

DataType scalar_type(ValueType type) {
  switch (type) {
    case ValueType::kDynamic: return DataType::json();
    case ValueType::kString: return DataType::string();
    case ValueType::kBinary: return DataType::binary();
    case ValueType::kBool: return DataType::boolean();
    case ValueType::kInt32: return DataType::int32();
    case ValueType::kInt64: return DataType::int64();
    case ValueType::kFloat: return DataType::float32();
    case ValueType::kDouble: return DataType::float64();
    case ValueType::kTimestamp: return DataType::timestamp();
  }
  return DataType::json();
}

// A carried column's type: a scalar, or lists of one (Parquet LIST columns).
DataType carried_type(const ColumnSpec& spec) {
  DataType type = scalar_type(spec.type);
  for (int i = 0; i < spec.list_depth; ++i) type = DataType::list(type);
  return type;
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
    case TypeId::kInt64:
    case TypeId::kTimestamp: column->append_int64(v.get<int64_t>()); return;
    case TypeId::kFloat32: column->append_float32(v.get<float>()); return;
    case TypeId::kFloat64: column->append_float64(v.get<double>()); return;
    case TypeId::kList:
      column->begin_list();
      for (const auto& item : v) append_carried(item, &column->mutable_child());
      column->end_list();
      return;
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

// Whether a predict job feeds columns of numbers to the model (else: files, through the session's
// featurizer).
bool predicts_on_tensor_columns(const JobOptions& options) {
  return options.task == Task::kPredict && !options.input_columns.empty();
}

// Predict on columns reads them as the source's passthrough columns after the kept ones, and no
// text.
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
  fields.text = predicts_on_tensor_columns(options) ? "" : options.text_field;
  fields.text_pair = options.text_pair_field;
  fields.id = options.id_field;
  fields.passthrough = options.keep_columns;
  if (options.task == Task::kPredict) {
    fields.passthrough.insert(fields.passthrough.end(), options.input_columns.begin(), options.input_columns.end());
    fields.tensor_inputs = options.input_columns.size();
  }
  return fields;
}

// The output columns that come from the input, in output order: "id" (when the input has one),
// then the kept columns.
std::vector<Field> carried_fields(const RowSource& source, size_t kept) {
  const CarriedColumns carried = source.carried_columns();
  std::vector<Field> fields;
  if (carried.id) fields.push_back({"id", carried_type(*carried.id)});
  for (size_t i = 0; i < kept; ++i) fields.push_back({carried.passthrough[i].name, carried_type(carried.passthrough[i])});
  return fields;
}

// The Parquet types (as SinkOptions::json_column_types names them) of JobOptions::column_types,
// checked against the columns carried to the output (`carried`, from carried_fields()).
std::map<std::string, std::string> given_column_types(const JobOptions& options, const std::vector<Field>& carried) {
  std::map<std::string, std::string> types;
  for (const auto& [name, given] : options.column_types) {
    auto field = std::find_if(carried.begin(), carried.end(), [&](const Field& f) { return f.name == name; });
    if (field == carried.end()) {
      throw Error(ErrorCode::kInvalidArgument, "--column-types names \"" + name +
                                                   "\", which is not a column the output carries (the id, or one of "
                                                   "--keep-columns)");
    }
    if (field->type.id() != TypeId::kJson) {
      throw Error(ErrorCode::kInvalidArgument, "--column-types: \"" + name +
                                                   "\" keeps the type it has in the input; only the columns of "
                                                   "JSON Lines input are typed by their values");
    }
    std::string type;
    for (const char c : given) type.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (type == "bool" || type == "boolean") {
      types[name] = "BOOLEAN";
    } else if (type == "int64" || type == "long" || type == "bigint") {
      types[name] = "INT64";
    } else if (type == "float64" || type == "double") {
      types[name] = "DOUBLE";
    } else if (type == "string" || type == "str") {
      types[name] = "STRING";
    } else {
      throw Error(ErrorCode::kInvalidArgument, "--column-types: unknown type \"" + given + "\" for \"" + name +
                                                   "\" (expected bool, int64, float64 or string)");
    }
  }
  return types;
}

// Appends the numbers of `value` (a number, or arrays of numbers nested to any depth) to `out`;
// false for anything else (null, strings, objects).
template <typename T>
bool flatten_numbers(const json& value, std::vector<T>* out, int depth = 0) {
  if (value.is_number()) {
    out->push_back(value.get<T>());
    return true;
  }
  if (value.is_boolean()) {
    out->push_back(value.get<bool>() ? 1 : 0);
    return true;
  }
  if (!value.is_array() || depth > 32) return false;
  for (const auto& v : value) {
    if (!flatten_numbers(v, out, depth + 1)) return false;
  }
  return true;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// The predict inputs of a window: one tensor column per input column; a row whose value does not
// fit gets its reason in `errors` (and zeros in its place, so that rows stay aligned).
std::vector<TensorColumn> tensor_inputs(const JobOptions& options, const std::vector<InputRow>& rows,
                                        std::vector<std::string>* errors) {
  std::vector<TensorColumn> columns;
  const size_t kept = options.keep_columns.size();
  for (size_t c = 0; c < options.input_columns.size(); ++c) {
    TensorColumn t;
    t.name = options.input_columns[c];
    if (c < options.input_shapes.size()) t.shape = options.input_shapes[c];
    t.int64 = c < options.input_dtypes.size() && options.input_dtypes[c] == "int64";
    const size_t n = static_cast<size_t>(t.row_size());
    for (size_t r = 0; r < rows.size(); ++r) {
      const json& value = rows[r].passthrough[kept + c];
      const size_t before = t.int64 ? t.ints.size() : t.floats.size();
      bool null = value.is_null();
      bool numeric;
      if (rows[r].tensors.size() == options.input_columns.size()) {
        // Decoded as numbers by the source (Parquet): no JSON on the way.
        const NumericValue& v = rows[r].tensors[c];
        null = v.null;
        numeric = v.numeric;
        if (t.int64) {
          t.ints.insert(t.ints.end(), v.ints.begin(), v.ints.end());
          for (double x : v.floats) t.ints.push_back(std::isfinite(x) && std::abs(x) < 9.2e18 ? static_cast<int64_t>(x) : 0);
        } else {
          t.floats.insert(t.floats.end(), v.floats.begin(), v.floats.end());
          t.floats.insert(t.floats.end(), v.ints.begin(), v.ints.end());
        }
      } else {
        numeric = t.int64 ? flatten_numbers(value, &t.ints) : flatten_numbers(value, &t.floats);
      }
      const size_t got = (t.int64 ? t.ints.size() : t.floats.size()) - before;
      std::string why;
      if (null) {
        why = "input column \"" + t.name + "\" is null";
      } else if (!numeric) {
        why = "input column \"" + t.name + "\" is not a number or an array of numbers";
      } else if (got != n) {
        why = "input column \"" + t.name + "\" has " + std::to_string(got) + " values; its shape " +
              shape_text(t.shape) + " takes " + std::to_string(n);
      }
      if (t.int64) {
        t.ints.resize(before + n, 0);
      } else {
        t.floats.resize(before + n, 0.0f);
      }
      if (!why.empty() && (*errors)[r].empty()) (*errors)[r] = why;
    }
    columns.push_back(std::move(t));
  }
  return columns;
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
    case Task::kFeaturize: return {"features", "shape"};
  }
  return {};
}

bool is_folder_output(const JobOptions& options) { return options.output.string().ends_with('/'); }

Slice slice_of(const JobOptions& options) { return Slice{options.shard_index, options.shard_count}; }

// The files of `input` (a file, a folder's files at any depth, or what a glob matches, as the
// sources expand it) with their sizes and modification times, folded into one FNV-1a digest: a
// part rewritten in place, a file added or removed changes it.
std::string input_digest(const fs::path& input, uint64_t* files) {
  std::vector<fs::path> roots;
  if (has_wildcard(input.string())) {
    glob_t matches{};
    if (::glob(input.c_str(), 0, nullptr, &matches) == 0) {
      for (size_t i = 0; i < matches.gl_pathc; ++i) roots.emplace_back(matches.gl_pathv[i]);
    }
    globfree(&matches);
  } else {
    roots.push_back(input);
  }
  std::vector<std::string> entries;
  auto add = [&](const fs::path& path) {
    std::error_code e;
    const auto size = fs::file_size(path, e);
    const auto modified = fs::last_write_time(path, e).time_since_epoch().count();
    entries.push_back(path.string() + '\0' + std::to_string(size) + '\0' + std::to_string(modified));
  };
  for (const fs::path& root : roots) {
    std::error_code ec;
    if (fs::is_directory(root, ec)) {
      for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) add(it->path());
      }
    } else if (fs::exists(root, ec)) {
      add(root);
    }
  }
  std::sort(entries.begin(), entries.end());
  uint64_t hash = 14695981039346656037ull;
  for (const std::string& entry : entries) {
    for (const char c : entry) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    hash = (hash ^ 0xffu) * 1099511628211ull;  // the end of an entry
  }
  *files = entries.size();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

// What makes two runs the same job, for a resumed folder: the input (its files, their sizes and
// modification times), the model and its number format, the featurizer's settings, and every
// option that changes the output.
std::string job_identity(const JobOptions& options, const Session& session) {
  const ModelInfo model = session.shared_model() ? session.model().info() : ModelInfo{};
  uint64_t files = 0;
  const std::string digest = input_digest(options.input, &files);
  json j = {{"input", options.input.string()},
            {"input_files", files},
            {"input_digest", digest},
            {"binary_files", json::array({options.files.enabled, options.files.recursive, options.files.glob,
                                          options.files.label_from})},
            {"max_record_bytes", options.max_record_bytes},
            {"featurizer", session.featurizer() ? json(session.featurizer()->settings()) : json(nullptr)},
            {"input_columns", options.input_columns},
            {"input_shapes", options.input_shapes},
            {"input_dtypes", options.input_dtypes},
            {"nested_features", options.task_options.nested_features},
            {"record_type", options.record_type},
            {"input_shape", options.task_options.input_shape},
            {"model", model.path.string()},
            {"dtype", dtype_name(model.dtype)},
            {"max_length", model.max_length},
            {"task", task_name(options.task)},
            {"top_k", options.task_options.top_k},
            {"all_scores", options.task_options.all_scores},
            {"text_field", options.text_field},
            {"text_pair_field", options.text_pair_field},
            {"id_field", options.id_field},
            {"keep_columns", options.keep_columns},
            {"format", options.folder_format},
            {"part_rows", options.part_rows},
            {"shards", options.shard_count}};
  // Only when given, so that a folder begun by an earlier salvo still resumes.
  if (!options.column_types.empty()) j["column_types"] = options.column_types;
  return j.dump();
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
    throw Error(ErrorCode::kIo, "cannot write " + output.string() + ": " +
                                    (fs::exists(parent, ec) ? parent.string() + " is a file, not a folder"
                                                            : "folder " + parent.string() + " does not exist"));
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
    if (options_.resume && !is_folder_output(options_) && fs::exists(options_.output)) {
      summary_.already_complete = true;  // a file that exists is whole
      return summary_;
    }
    source_ = open_row_source(options_.input, field_names(options_), SourceLimits{options_.max_record_bytes},
                              slice_of(options_), options_.files);
    Schema schema;
    schema.fields = carried_fields(*source_, options_.keep_columns.size());
    carried_count_ = schema.fields.size();
    progress_.total_bytes = source_->total_bytes();
    if (options_.task == Task::kPredict) {
      // The model's outputs decide the columns: a file sink opens with the first result; a folder
      // opens now (a resumed job must know where to start) and gets its columns then.
      carried_schema_ = schema;
      if (is_folder_output(options_) && open_sink(schema)) return summary_;
    } else {
      Schema results = session_.output_schema(options_.task, options_.task_options);
      schema.fields.insert(schema.fields.end(), results.fields.begin(), results.fields.end());
      schema.metadata = results.metadata;
      schema.fields.push_back({"error", DataType::string()});
      if (open_sink(schema)) return summary_;
    }
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
  // Opens the sink for `schema`; true when a resumed job finds its output complete.
  bool open_sink(const Schema& schema) {
    SinkOptions sink_options;
    sink_options.compression = options_.compression;
    sink_options.record_type = options_.record_type;
    sink_options.num_shards = options_.num_shards;
    sink_options.json_column_types = given_column_types(
        options_, std::vector<Field>(schema.fields.begin(), schema.fields.begin() + carried_count_));
    if (is_folder_output(options_) && options_.num_shards == 0) {
      PartFolderOptions parts;
      parts.format = options_.folder_format;
      parts.part_rows = options_.part_rows;
      parts.shard_index = options_.shard_index;
      parts.shard_count = options_.shard_count;
      parts.job = job_identity(options_, session_);
      parts.resume = options_.resume;
      parts.sink = sink_options;
      if (options_.shard_count > 1 && options_.folder_format == "parquet") {
        // The types given (--column-types) win over those of the input's first rows.
        for (auto& [name, type] : shared_json_column_types(schema)) parts.sink.json_column_types.emplace(name, type);
      }
      auto folder = std::make_unique<PartFolderSink>(options_.output, schema, parts);
      if (folder->complete()) {
        summary_.already_complete = true;
        return true;
      }
      summary_.resumed_rows = folder->rows_done();
      folder_ = folder.get();
      sink_ = std::move(folder);
    } else {
      remove_stale_partials(options_.output);
      sink_ = open_row_sink(options_.output, schema, sink_options);
    }
    if (!schema.fields.empty() && schema.fields.back().name == "error") schema_ = schema;
    return false;
  }

  // The Parquet types of the JSON columns (ids and kept columns of JSON input) for a folder that
  // several shards write. Each shard would take them from its own first part, and two shards could
  // disagree (one INT64, one STRING), which readers of the folder refuse; so every shard takes them
  // from the same rows, the first kSharedTypeRows of the whole input. A later value that does not
  // fit is null with its row's error (parquet_sink.cc).
  std::map<std::string, std::string> shared_json_column_types(const Schema& schema) const {
    constexpr size_t kSharedTypeRows = 10000;
    std::vector<size_t> json_fields;
    for (size_t c = 0; c < carried_count_; ++c) {
      if (schema.fields[c].type.id() == TypeId::kJson) json_fields.push_back(c);
    }
    if (json_fields.empty()) return {};
    const auto whole = open_row_source(options_.input, field_names(options_), SourceLimits{options_.max_record_bytes},
                                       Slice{}, options_.files);
    const bool has_id = whole->carried_columns().id.has_value();
    std::vector<std::vector<json>> values(json_fields.size());
    std::vector<RawRecord> records;
    for (size_t seen = 0; seen < kSharedTypeRows;) {
      records.clear();
      const bool more = whole->read(std::min<size_t>(1000, kSharedTypeRows - seen), &records);
      for (const RawRecord& record : records) {
        if (!record.error.empty()) continue;
        InputRow row;
        whole->parse(record, &row);
        for (size_t j = 0; j < json_fields.size(); ++j) {
          const size_t c = json_fields[j];
          values[j].push_back(has_id && c == 0 ? row.id : row.passthrough[c - (has_id ? 1 : 0)]);
        }
      }
      seen += records.size();
      if (!more) break;
    }
    std::map<std::string, std::string> types;
    for (size_t j = 0; j < json_fields.size(); ++j) {
      types[schema.fields[json_fields[j]].name] = json_column_type(values[j]);
    }
    return types;
  }

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
    bool more = true;
    // A resumed job: the rows its completed parts hold are framed and dropped, never parsed or run.
    for (uint64_t skip = summary_.resumed_rows; skip > 0 && more;) {
      RawBatch skipped;
      more = source_->read_batch(std::min<uint64_t>(skip, kRecordsPerRead), &skipped);
      skip -= std::min<uint64_t>(skip, skipped.records.size());
    }
    while (more) {
      check_cancelled();
      RawBatch batch;
      size_t bytes = 0;
      while (more && batch.records.size() < options_.window_rows &&
             (options_.window_bytes == 0 || bytes < options_.window_bytes)) {
        const size_t before = batch.records.size();
        const size_t limit = options_.window_bytes ? 1 : kRecordsPerRead;  // whole files: one at a time
        more = source_->read_batch(std::min(limit, options_.window_rows - batch.records.size()), &batch);
        for (size_t i = before; i < batch.records.size(); ++i) bytes += batch.records[i].data().size();
      }
      bytes_read_ = source_->bytes_read();
      if (batch.records.empty()) break;
      if (!windows_.push(submit(std::move(batch)))) return;
    }
    windows_.close();
  }

  Window submit(RawBatch batch) {
    std::vector<RawRecord>& records = batch.records;
    auto input = std::make_shared<WindowRows>();
    input->rows.resize(records.size());
    input->buffers = std::move(batch.buffers);
    std::vector<InputRow>* rows = &input->rows;
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
      source_->consume(std::move(records[i]), &row);
      // A row that failed to parse may have no kept values at all: they are nulls in the output.
      if (row.passthrough.size() < options_.keep_columns.size()) row.passthrough.resize(options_.keep_columns.size());
      if (row.error.empty()) row.error = invalid_utf8_in(row.id, "the id");
      for (size_t p = 0; row.error.empty() && p < options_.keep_columns.size(); ++p) {
        row.error = invalid_utf8_in(row.passthrough[p], "column \"" + options_.keep_columns[p] + "\"");
      }
      if (!row.error.empty()) {
        replace_invalid_utf8(row.id);
        for (json& v : row.passthrough) replace_invalid_utf8(v);
      }
      if (!predicts_on_tensor_columns(options_)) in.texts[i] = row.text_view();
      if (!in.text_pairs.empty()) in.text_pairs[i] = row.text_pair;
      in.errors[i] = row.error;
    }
    if (predicts_on_tensor_columns(options_)) {
      in.texts.clear();
      in.tensors = tensor_inputs(options_, *rows, &in.errors);
    }
    in.keep_alive = input;
    return Window{input, session_.submit(std::move(request))};
  }

  void write_loop(std::chrono::steady_clock::time_point start) {
    while (auto window = windows_.pop()) {
      check_cancelled();
      Result result = window->result.get();
      const std::vector<InputRow>& rows = window->input->rows;
      if (options_.task == Task::kPredict && schema_.fields.empty()) open_predict_sink(result.columns.schema());
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
          named.append_string(source_->record_label(rows[r]) + ": " + std::string(errors.string_at(r)));
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
    if (options_.task == Task::kPredict && schema_.fields.empty()) {
      open_predict_sink(Schema{{{"error", DataType::string()}}, {}});  // no rows ran: no output columns
    }
    sink_->finish();
    summary_.errors += sink_->rows_given_errors();
  }

  // The sink of a predict job, once the first result shows the model's outputs.
  void open_predict_sink(const Schema& results) {
    Schema schema = carried_schema_;
    schema.fields.insert(schema.fields.end(), results.fields.begin(), results.fields.end());
    if (folder_) {
      folder_->set_schema(schema);
      schema_ = schema;
      return;
    }
    if (open_sink(schema)) throw Error(ErrorCode::kInternal, "a completed output was found after the job started");
  }

  Session& session_;
  const JobOptions& options_;
  BoundedQueue<Window> windows_;
  std::unique_ptr<RowSource> source_;
  std::unique_ptr<RowSink> sink_;
  PartFolderSink* folder_ = nullptr;  // sink_, when the output is a folder
  Schema schema_;  // the output's columns, once known
  Schema carried_schema_;  // predict: the carried columns, until the first result completes the schema
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
  if (options.part_rows == 0) throw Error(ErrorCode::kInvalidArgument, "rows per part must be positive");
  if (options.shard_count == 0 || options.shard_index >= options.shard_count) {
    throw Error(ErrorCode::kInvalidArgument, "shard " + std::to_string(options.shard_index) + "/" +
                                                 std::to_string(options.shard_count) +
                                                 " does not exist (shards are numbered from 0 to count - 1)");
  }
  if (options.shard_count > 1) {
    const std::string shard = "--shard " + std::to_string(options.shard_index) + "/" +
                              std::to_string(options.shard_count);
    if (!is_folder_output(options)) {
      throw Error(ErrorCode::kInvalidArgument,
                  shard + " writes a part of the output, and " + options.output.string() +
                      " is one file, which every shard would replace: give a folder (out/), where each shard "
                      "writes parts of its own");
    }
    if (options.num_shards > 0) {
      throw Error(ErrorCode::kInvalidArgument,
                  shard + " and --num-shards: each process would write every TFRecord shard's file; with --shard, "
                          "give --format tfrecord for TFRecord parts");
    }
  }
  if (is_folder_output(options)) {
    static const char* kFormats[] = {"parquet", "jsonl", "csv", "tfrecord", "npy"};
    if (std::find(std::begin(kFormats), std::end(kFormats), options.folder_format) == std::end(kFormats)) {
      throw Error(ErrorCode::kInvalidArgument, "unknown part format \"" + options.folder_format +
                                                   "\" (expected parquet, jsonl, csv, tfrecord or npy)");
    }
  }
  if (options.task == Task::kPredict) {
    if (options.input_columns.empty() && !options.files.enabled) {
      throw Error(ErrorCode::kInvalidArgument,
                  "predict needs the model's input columns (--input-columns), or files and a featurizer (--features)");
    }
    const size_t inputs = options.input_columns.empty() ? 1 : options.input_columns.size();  // files: one
    if (options.input_shapes.size() > inputs || options.input_dtypes.size() > options.input_columns.size()) {
      throw Error(ErrorCode::kInvalidArgument, "more tensor shapes or dtypes than input columns");
    }
    for (const auto& shape : options.input_shapes) {
      for (int64_t d : shape) {
        if (d < 1) throw Error(ErrorCode::kInvalidArgument, "tensor shape " + shape_text(shape) + ": sizes must be positive");
      }
      if (tensor_row_values(shape) < 0) {
        throw Error(ErrorCode::kInvalidArgument, "tensor shape " + shape_text(shape) + " holds more than " +
                                                     std::to_string(kMaxTensorRowValues) + " values a row");
      }
    }
    for (const auto& d : options.input_dtypes) {
      if (d != "float32" && d != "int64") {
        throw Error(ErrorCode::kInvalidArgument, "input dtype \"" + d + "\": expected float32 or int64");
      }
    }
  }
  if (options.task == Task::kScore && options.text_pair_field.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "score needs the field of the second text (--text-pair-field)");
  }
  // .npy holds one fixed-width float vector per row: these tasks never write one (a folder of .npy
  // parts would find out only at its first part, after the model loaded).
  const std::string output = options.output.string();
  const bool npy = options.num_shards == 0 && (output.ends_with('/') ? options.folder_format == "npy"
                                                                     : options.output.extension() == ".npy");
  if (npy && (options.task == Task::kTokenize || options.task == Task::kScore ||
              (options.task == Task::kClassify && !options.task_options.all_scores))) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string(".npy holds a float matrix, and ") + task_name(options.task) +
                    " writes no fixed-width vector column" +
                    (options.task == Task::kClassify ? " (--all-scores does)" : "") +
                    ": use .jsonl, .csv, .parquet or .tfrecord");
  }
  check_output_place(options.output);
  SinkOptions sink_options;
  sink_options.compression = options.compression;
  sink_options.num_shards = options.num_shards;
  sink_options.record_type = options.record_type;
  sink_options.json_column_types.insert(options.column_types.begin(), options.column_types.end());
  check_sink_choice(options.output, options.folder_format, sink_options);
  refuse_output_that_is_input(options.input, options.output);
  const auto source =
      open_row_source(options.input, field_names(options), SourceLimits{options.max_record_bytes}, slice_of(options),
                      options.files);
  const std::vector<Field> carried = carried_fields(*source, options.keep_columns.size());
  given_column_types(options, carried);
  for (size_t i = 0; i < options.keep_columns.size(); ++i) {
    for (size_t j = i + 1; j < options.keep_columns.size(); ++j) {
      if (options.keep_columns[i] == options.keep_columns[j]) {
        throw Error(ErrorCode::kInvalidArgument, "--keep-columns names \"" + options.keep_columns[i] + "\" twice");
      }
    }
  }
  std::vector<std::string> names;
  for (const auto& f : carried) names.push_back(f.name);
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
