// libFuzzer target: JSON Lines and CSV input files, framed (RecordReader) and parsed (parse_json_row,
// split_csv). The first byte picks the format; the rest is the file. Every record is framed and
// parsed without a crash, in bounded memory, and every JSONL row's carried values print back as
// valid JSON.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/csv.h"
#include "io/json_rows.h"
#include "io/record_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const int fd = memfd_create("text_rows_fuzz", 0);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data + 1, size - 1, 0) != static_cast<ssize_t>(size - 1)) return 0;
  const bool csv = data[0] & 1;
  try {
    salvo::RecordReader reader("/proc/self/fd/" + std::to_string(fd),
                               csv ? salvo::RecordReader::Framing::kCsvRecords : salvo::RecordReader::Framing::kLines,
                               (data[0] & 2) ? 64 : 4096);
    salvo::FieldNames fields;
    fields.passthrough = {"k", "id"};
    salvo::RawRecord record;
    uint64_t last_line = 0;
    while (reader.next(&record)) {
      if (record.line <= last_line || reader.bytes_read() > size - 1) std::abort();
      last_line = record.line;
      if (!record.error.empty()) continue;
      if (csv) {
        std::vector<std::string> values;
        std::string error;
        salvo::split_csv(record.bytes, &values, &error);
        continue;
      }
      salvo::InputRow row;
      salvo::parse_json_row(record.bytes, fields, &row);
      row.passthrough.resize(fields.passthrough.size());  // as the job does for rows that failed to parse
      salvo::Schema schema;
      schema.fields = {{"id", salvo::DataType::json()}, {"k", salvo::DataType::json()}};
      salvo::RecordBatch batch(schema);
      batch.mutable_column(0).append_json(row.id);
      batch.mutable_column(1).append_json(row.passthrough[0]);
      std::string line;
      salvo::append_json_row(batch, 0, &line);
      if (!nlohmann::json::accept(line)) std::abort();
    }
  } catch (const salvo::Error&) {
  }
  return 0;
}
