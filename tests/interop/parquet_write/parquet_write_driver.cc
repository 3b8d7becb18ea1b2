// Writes the same synthetic rows through salvo's Parquet sink and its JSONL
// sink, so that the interop test can read the Parquet output with DuckDB and
// compare it with the JSONL.
//
// Usage: parquet_write_driver OUT(.parquet|dir/) EXPECTED.jsonl TASK COMPRESSION ROW_GROUP_BYTES
//                             PART_ROWS ROWS MODE
// TASK: embed | classify | tokenize. MODE: typed (typed carried columns),
// dynamic (JSON carried columns whose types the sink infers), kill (typed, and
// SIGKILL itself after half the rows, once the rows were handed to the sink,
// without finish()).
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "io/part_folder_sink.h"
#include "io/row_sink.h"
#include "pipeline/task_output.h"
#include "salvo/error.h"

namespace {

using json = nlohmann::json;
using salvo::DataType;

// The carried values (id first) of row i.
std::vector<json> carried_values(uint64_t i, bool dynamic) {
  std::vector<json> v;
  if (dynamic) {
    v = {
        json(static_cast<int64_t>(i) * 1000003 - 5),            // id
        json(static_cast<int64_t>(i) - 50),                     // di: integers
        i % 3 ? json(static_cast<int64_t>(i)) : json(i * 0.5),  // dd: numbers
        json(i % 2 == 0),                                       // db: booleans
        i % 4 == 0   ? json("t" + std::to_string(i))
        : i % 4 == 1 ? json(i)
                     : json::object({{"k", i}}),  // dm
        json(),                                   // dn: all null
    };
    if (i % 9 == 4) v[1 + i % 4] = json();
  } else {
    v = {
        i % 11 != 3 ? json("row-" + std::to_string(i)) : json(),                      // id
        json(static_cast<int32_t>(i * 7) - 100),                                      // n32
        json(static_cast<int64_t>(i) * 3000000000LL),                                 // n64
        json(static_cast<double>(i) * 0.25f),                                         // f
        json(1.0 / (static_cast<double>(i) + 3.0)),                                   // x
        json(i % 3 == 0),                                                             // b
        json(i % 6 == 0 ? std::string("καλημέρα ☕") : "s" + std::to_string(i % 13)),  // s
        json("bytes-" + std::to_string(i)),                                           // bin
    };
    for (size_t c = 1; c < v.size(); ++c) {
      if ((i + c - 1) % 5 == 0) v[c] = json();
    }
  }
  return v;
}

void append(const json& v, salvo::Column* column) {
  if (v.is_null()) return column->append_null();
  switch (column->type().id()) {
    case salvo::TypeId::kJson: return column->append_json(v);
    case salvo::TypeId::kString:
    case salvo::TypeId::kBinary: return column->append_string(v.get<std::string>());
    case salvo::TypeId::kBool: return column->append_bool(v.get<bool>());
    case salvo::TypeId::kInt32: return column->append_int32(v.get<int32_t>());
    case salvo::TypeId::kInt64: return column->append_int64(v.get<int64_t>());
    case salvo::TypeId::kFloat32: return column->append_float32(v.get<float>());
    default: return column->append_float64(v.get<double>());
  }
}

// Row i as a one-row batch: carried columns, then the task's columns as the session makes them.
salvo::RecordBatch make_row(uint64_t i, salvo::Task task, const salvo::ModelInfo& model,
                            const salvo::TaskOptions& options, const std::vector<salvo::Field>& carried,
                            bool dynamic) {
  salvo::RecordBatch batch;
  const std::vector<json> values = carried_values(i, dynamic);
  for (size_t c = 0; c < carried.size(); ++c) {
    salvo::Column column(carried[c].type);
    append(values[c], &column);
    batch.add_column(carried[c], std::move(column));
  }
  const size_t width = task == salvo::Task::kEmbed ? 16 : task == salvo::Task::kClassify ? model.labels.size() : 0;
  salvo::TaskOutput output(task, model, options, 1, width);
  std::vector<salvo::Features> encodings(1);
  if (i % 7 == 6) {
    output.set_error(0, "text is not valid UTF-8 (row " + std::to_string(i) + ")");
  } else if (task == salvo::Task::kEmbed) {
    for (size_t d = 0; d < width; ++d) output.values(0)[d] = std::sin(static_cast<float>(i * 31 + d));
  } else if (task == salvo::Task::kClassify) {
    float sum = 0;
    for (size_t d = 0; d < width; ++d) sum += output.values(0)[d] = 1.0f + static_cast<float>((i * 5 + d * 3) % 7);
    for (size_t d = 0; d < width; ++d) output.values(0)[d] /= sum;
  } else {
    for (size_t t = 0; t < i % 5; ++t) {
      encodings[0].encoding.ids.push_back(static_cast<int32_t>(100 + i + t));
      encodings[0].encoding.type_ids.push_back(static_cast<int32_t>(t % 2));
    }
  }
  batch.append_columns(output.finish(encodings));
  return batch;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::cerr << "usage: parquet_write_driver OUT EXPECTED.jsonl TASK COMPRESSION ROW_GROUP_BYTES PART_ROWS ROWS MODE\n";
    return 2;
  }
  try {
    const std::string task_name = argv[3];
    const std::string mode = argv[8];
    const bool dynamic = mode == "dynamic";
    const salvo::Task task = salvo::parse_task(task_name);
    salvo::ModelInfo model;
    model.labels = {"admin", "devel", "libs", "x11 & gui"};
    model.hidden_size = 16;
    model.tasks = {task};
    salvo::TaskOptions options;
    if (task == salvo::Task::kClassify) {  // classify's options: another task refuses them
      options.top_k = 2;
      options.all_scores = true;
    }
    salvo::SinkOptions sink_options;
    sink_options.compression = argv[4];
    sink_options.row_group_bytes = std::stoull(argv[5]);
    const uint64_t part_rows = std::stoull(argv[6]);
    std::vector<salvo::Field> carried;
    if (dynamic) {
      for (const char* name : {"id", "di", "dd", "db", "dm", "dn"}) carried.push_back({name, DataType::json()});
    } else {
      carried = {{"id", DataType::string()},  {"n32", DataType::int32()},   {"n64", DataType::int64()},
                 {"f", DataType::float32()},  {"x", DataType::float64()},   {"b", DataType::boolean()},
                 {"s", DataType::string()},   {"bin", DataType::binary()}};
    }
    const uint64_t rows = std::stoull(argv[7]);
    salvo::Schema schema = make_row(0, task, model, options, carried, dynamic).schema();
    std::unique_ptr<salvo::RowSink> parquet;
    if (std::string(argv[1]).ends_with('/')) {
      parquet = std::make_unique<salvo::PartFolderSink>(
          argv[1], schema, salvo::PartFolderOptions{"parquet", part_rows, 0, 1, "{}", false, sink_options});
    } else {
      parquet = salvo::open_row_sink(argv[1], schema, sink_options);
    }
    auto expected = salvo::open_row_sink(argv[2], schema, sink_options);
    for (uint64_t i = 0; i < rows; ++i) {
      if (mode == "kill" && i == rows / 2) {
        expected->finish();
        std::raise(SIGKILL);
      }
      const auto row = make_row(i, task, model, options, carried, dynamic);
      parquet->write(row);
      expected->write(row);
    }
    parquet->finish();
    expected->finish();
  } catch (const salvo::Error& e) {
    std::cerr << "parquet_write_driver: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
