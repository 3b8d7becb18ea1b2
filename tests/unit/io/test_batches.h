// Small result batches for sink tests: an id column, one result column, and "error".
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "salvo/table.h"

namespace salvo::testing {

// One row of an embedding batch: its id, and its vector or its error.
struct EmbedRow {
  nlohmann::json id;
  std::vector<float> embedding;
  std::string error;
};

// The schema a job writes for embeddings of width `dims`, with a JSON id column.
inline Schema embed_schema(int64_t dims) {
  Schema s;
  s.fields = {{"id", DataType::json()},
              {"embedding", DataType::list(DataType::float32(), dims)},
              {"error", DataType::string()}};
  return s;
}

inline RecordBatch embed_batch(int64_t dims, const std::vector<EmbedRow>& rows) {
  RecordBatch batch(embed_schema(dims));
  for (const auto& r : rows) {
    batch.mutable_column(0).append_json(r.id);
    if (r.error.empty()) {
      batch.mutable_column(1).append_list(std::span<const float>(r.embedding));
      batch.mutable_column(2).append_null();
    } else {
      batch.mutable_column(1).append_null();
      batch.mutable_column(2).append_string(r.error);
    }
  }
  return batch;
}

}  // namespace salvo::testing
