// Prints what salvo's Parquet source reads, one JSON object per row, for the interop test:
//   parquet_dump INPUT TEXT_COLUMN [ID_COLUMN|-] [PASSTHROUGH...]
// The first line holds the carried column types; integers print as decimal strings and binary
// values as {"hex": "..."}.
#include <cstdio>
#include <iostream>

#include "core/error.h"
#include "io/parquet/parquet_source.h"

namespace {

const char* type_name(salvo::ValueType type) {
  switch (type) {
    case salvo::ValueType::kDynamic: return "dynamic";
    case salvo::ValueType::kString: return "string";
    case salvo::ValueType::kBinary: return "binary";
    case salvo::ValueType::kBool: return "bool";
    case salvo::ValueType::kInt32: return "int32";
    case salvo::ValueType::kInt64: return "int64";
    case salvo::ValueType::kFloat: return "float";
    case salvo::ValueType::kDouble: return "double";
  }
  return "?";
}

// Integers print as strings: JavaScript numbers cannot hold every int64.
nlohmann::json printable(const nlohmann::json& v) {
  if (v.is_number_integer()) return v.dump();
  if (!v.is_binary()) return v;
  static const char* digits = "0123456789ABCDEF";
  std::string hex;
  for (uint8_t b : v.get_binary()) {
    hex.push_back(digits[b >> 4]);
    hex.push_back(digits[b & 15]);
  }
  return nlohmann::json{{"hex", hex}};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: parquet_dump INPUT TEXT_COLUMN [ID_COLUMN|-] [PASSTHROUGH...]\n";
    return 2;
  }
  try {
    salvo::FieldNames fields;
    fields.text = argv[2];
    fields.id = argc > 3 ? argv[3] : "-";
    for (int i = 4; i < argc; ++i) fields.passthrough.push_back(argv[i]);
    auto source = salvo::open_parquet_source(argv[1], fields, {});
    const salvo::CarriedColumns carried = source->carried_columns();
    nlohmann::json types = nlohmann::json::array();
    for (const auto& c : carried.passthrough) types.push_back(type_name(c.type));
    std::cout << nlohmann::json{{"id_type", carried.id ? type_name(carried.id->type) : "none"}, {"types", types}}.dump()
              << "\n";
    // As the job reads: batches whose records borrow their text, consumed into rows.
    salvo::RawBatch batch;
    bool more = true;
    while (more) {
      batch.clear();
      more = source->read_batch(4096, &batch);
      for (auto& record : batch.records) {
        salvo::InputRow row;
        source->consume(std::move(record), &row);
        nlohmann::json out;
        out["line"] = row.line;
        out["index"] = row.index;
        if (!row.error.empty()) out["error"] = row.error;
        out["text"] = row.error.empty() ? nlohmann::json(std::string(row.text_view())) : nlohmann::json();
        if (carried.id) out["id"] = printable(row.id);
        nlohmann::json values = nlohmann::json::array();
        for (const auto& v : row.passthrough) values.push_back(printable(v));
        out["values"] = values;
        std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      }
    }
    if (source->bytes_read() != source->total_bytes().value_or(0)) {
      std::cerr << "progress ends at " << source->bytes_read() << " of " << source->total_bytes().value_or(0) << " bytes\n";
      return 3;
    }
  } catch (const salvo::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
