// The rows that flow through a job: as read, as parsed, and as computed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace salvo {

// One record exactly as the source framed it (a JSONL line, a CSV record), not yet parsed.
// Parsing happens on worker threads, so a malformed record costs the reader nothing.
struct RawRecord {
  uint64_t index = 0;  // 0-based position among the input's records; output order follows it
  uint64_t line = 0;   // 1-based line where the record starts, for error messages
  std::string bytes;
  std::string error;  // set by the source when it could not even frame the record (e.g. oversize)
};

// A parsed input row: the text to run and the id to carry to the output, or why it is bad.
struct InputRow {
  uint64_t index = 0;
  uint64_t line = 0;
  nlohmann::json id;  // null when the input has no id field
  std::string text;
  std::string error;  // non-empty: the row is reported with this reason and not computed
};

// A row's result, as handed to a sink. Which vectors are filled depends on the job's task.
struct OutputRow {
  uint64_t index = 0;
  uint64_t line = 0;
  nlohmann::json id;
  std::string error;             // non-empty: an error row
  std::vector<float> values;     // embedding, or class probabilities in label order
  std::vector<int32_t> ids;      // tokenize: input ids
  std::vector<int32_t> type_ids; // tokenize: token type ids
};

}  // namespace salvo
