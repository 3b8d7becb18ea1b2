// Writes the same synthetic rows through salvo's Parquet sink and its JSONL
// sink, so that the interop test can read the Parquet output with DuckDB and
// compare it with the JSONL.
//
// Usage: parquet_write_driver OUT(.parquet|dir/) EXPECTED.jsonl TASK
// COMPRESSION ROW_GROUP_BYTES
//                             PART_FILE_BYTES ROWS MODE
// TASK: embed | classify | tokenize. MODE: typed (typed carried columns),
// dynamic (JSON carried columns whose types the sink infers), kill (typed, and
// SIGKILL itself after half the rows, once the rows were handed to the sink,
// without finish()).
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include "core/error.h"
#include "io/row_sink.h"

namespace {

using json = nlohmann::json;
using salvo::ValueType;

salvo::OutputRow make_row(uint64_t i, const salvo::OutputSchema& schema, bool dynamic) {
  salvo::OutputRow row;
  row.index = i;
  row.line = i + 1;
  if (dynamic) {
    row.id = static_cast<int64_t>(i) * 1000003 - 5;
    row.passthrough = {
        json(static_cast<int64_t>(i) - 50),                     // di: integers
        i % 3 ? json(static_cast<int64_t>(i)) : json(i * 0.5),  // dd: numbers
        json(i % 2 == 0),                                       // db: booleans
        i % 4 == 0   ? json("t" + std::to_string(i))
        : i % 4 == 1 ? json(i)
                     : json::object({{"k", i}}),  // dm
        json(),                                   // dn: all null
    };
    if (i % 9 == 4) row.passthrough[i % 4] = json();
  } else {
    if (i % 11 != 3) row.id = "row-" + std::to_string(i);
    row.passthrough = {
        json(static_cast<int32_t>(i * 7) - 100),                                      // n32
        json(static_cast<int64_t>(i) * 3000000000LL),                                 // n64
        json(static_cast<double>(i) * 0.25f),                                         // f
        json(1.0 / (static_cast<double>(i) + 3.0)),                                   // x
        json(i % 3 == 0),                                                             // b
        json(i % 6 == 0 ? std::string("καλημέρα ☕") : "s" + std::to_string(i % 13)),  // s
        json("bytes-" + std::to_string(i)),                                           // bin
    };
    for (size_t c = 0; c < row.passthrough.size(); ++c) {
      if ((i + c) % 5 == 0) row.passthrough[c] = json();
    }
  }
  if (i % 7 == 6) {
    row.error = "text is not valid UTF-8 (row " + std::to_string(i) + ")";
    return row;
  }
  switch (schema.task) {
    case salvo::Task::kEmbed:
      for (size_t d = 0; d < schema.dims; ++d)
        row.values.push_back(std::sin(static_cast<float>(i * 31 + d)));
      break;
    case salvo::Task::kClassify: {
      float sum = 0;
      for (size_t d = 0; d < schema.labels.size(); ++d) {
        row.values.push_back(1.0f + static_cast<float>((i * 5 + d * 3) % 7));
        sum += row.values.back();
      }
      for (auto& v : row.values) v /= sum;
      break;
    }
    case salvo::Task::kTokenize:
      for (size_t t = 0; t < i % 5; ++t) {
        row.ids.push_back(static_cast<int32_t>(100 + i + t));
        row.type_ids.push_back(static_cast<int32_t>(t % 2));
      }
      break;
  }
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::cerr << "usage: parquet_write_driver OUT EXPECTED.jsonl TASK "
                 "COMPRESSION ROW_GROUP_BYTES "
                 "PART_FILE_BYTES ROWS MODE\n";
    return 2;
  }
  try {
    const std::string task = argv[3];
    const std::string mode = argv[8];
    const bool dynamic = mode == "dynamic";
    salvo::OutputSchema schema;
    schema.task = task == "embed"      ? salvo::Task::kEmbed
                  : task == "classify" ? salvo::Task::kClassify
                                       : salvo::Task::kTokenize;
    schema.labels = {"admin", "devel", "libs", "x11 & gui"};
    schema.top_k = 2;
    schema.all_scores = true;
    schema.dims = schema.task == salvo::Task::kEmbed ? 16 : schema.labels.size();
    schema.compression = argv[4];
    schema.row_group_bytes = std::stoull(argv[5]);
    schema.part_file_bytes = std::stoull(argv[6]);
    if (dynamic) {
      schema.carried.id = salvo::ColumnSpec{"id", ValueType::kDynamic};
      for (const char* name : {"di", "dd", "db", "dm", "dn"}) {
        schema.carried.passthrough.push_back({name, ValueType::kDynamic});
      }
    } else {
      schema.carried.id = salvo::ColumnSpec{"id", ValueType::kString};
      schema.carried.passthrough = {{"n32", ValueType::kInt32}, {"n64", ValueType::kInt64},
                                    {"f", ValueType::kFloat},   {"x", ValueType::kDouble},
                                    {"b", ValueType::kBool},    {"s", ValueType::kString},
                                    {"bin", ValueType::kBinary}};
    }
    const uint64_t rows = std::stoull(argv[7]);
    auto parquet = salvo::open_row_sink(argv[1], schema);
    auto expected = salvo::open_row_sink(argv[2], schema);
    for (uint64_t i = 0; i < rows; ++i) {
      if (mode == "kill" && i == rows / 2) {
        expected->finish();
        std::raise(SIGKILL);
      }
      const auto row = make_row(i, schema, dynamic);
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
