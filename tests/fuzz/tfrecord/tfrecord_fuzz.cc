// libFuzzer target for the TFRecord reader and the tf.train.Example decoding of the source: any
// bytes must give records, error rows or a salvo::Error, never a crash, a leak or a huge buffer.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/tfrecord/tfrecord_source.h"

namespace {

std::filesystem::path scratch_file(const char* suffix) {
  const std::filesystem::path dir = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  return dir / ("salvo-tfrecord-fuzz-" + std::to_string(getpid()) + suffix);
}

void read_all(const std::filesystem::path& path) {
  salvo::FieldNames fields;
  fields.passthrough = {"lang", "score"};
  salvo::SourceLimits limits;
  limits.max_record_bytes = 1u << 16;
  try {
    auto source = salvo::open_tfrecord_source(path, fields, limits);
    std::vector<salvo::RawRecord> records;
    while (source->read(64, &records)) {
      for (const auto& record : records) {
        salvo::InputRow row;
        source->parse(record, &row);
      }
      records.clear();
    }
    for (const auto& record : records) {
      salvo::InputRow row;
      source->parse(record, &row);
    }
  } catch (const salvo::Error&) {
    // Corruption is reported as an error: the expected outcome for most inputs.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto path = scratch_file(".tfrecord");
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  read_all(path);

  // The same bytes as one Example inside a valid frame, to reach the protobuf decoding directly.
  salvo::FieldNames fields;
  fields.passthrough = {"lang"};
  auto source = salvo::open_tfrecord_source(path, fields, {});
  salvo::RawRecord record;
  record.bytes.assign(reinterpret_cast<const char*>(data), size);
  record.line = 1;
  salvo::InputRow row;
  source->parse(record, &row);
  return 0;
}
