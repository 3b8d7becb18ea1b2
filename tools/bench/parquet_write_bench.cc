// salvo's Parquet writer on the rows `salvo embed` writes: an int64 id, a text passthrough column
// and a LIST<FLOAT> embedding (plus the always-null error column), without running a model. The
// inputs come from tools/bench/parquet_read_bench.py (texts as [u32 length][bytes]..., the
// embeddings as float32, row-major); building the rows is not timed, writing the file is.
//   parquet_write_bench TEXTS EMBEDDINGS DIMS OUT.parquet [--path sink|writer] [--codec snappy]
// --path sink: OutputRows through the Parquet sink, as the job hands them over today.
// --path writer: the sink's column buffers and ParquetFileWriter directly (what a columnar sink
// would do), row groups cut at the sink's default 128 MiB.
// Prints one JSON line: seconds, CPU seconds, rows, output bytes.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/parquet/parquet_writer.h"
#include "io/row_sink.h"

namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw salvo::Error(salvo::ErrorCode::kIo, "cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: parquet_write_bench TEXTS EMBEDDINGS DIMS OUT.parquet [--path sink|writer] "
                         "[--codec snappy]\n");
    return 2;
  }
  std::string path = "sink";
  std::string codec = "snappy";
  for (int i = 5; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--path") == 0) path = argv[i + 1];
    if (std::strcmp(argv[i], "--codec") == 0) codec = argv[i + 1];
  }
  try {
    const size_t dims = std::stoul(argv[3]);
    const std::string text_file = slurp(argv[1]);
    const std::string embedding_file = slurp(argv[2]);
    std::vector<std::string_view> texts;
    for (size_t pos = 0; pos + 4 <= text_file.size();) {
      uint32_t n;
      std::memcpy(&n, text_file.data() + pos, 4);
      texts.emplace_back(text_file.data() + pos + 4, n);
      pos += 4 + n;
    }
    const size_t rows = texts.size();
    if (embedding_file.size() != rows * dims * sizeof(float)) {
      throw salvo::Error(salvo::ErrorCode::kInvalidArgument, "embeddings do not match the texts");
    }
    const auto* embeddings = reinterpret_cast<const float*>(embedding_file.data());

    // The batches a job hands its sink: id, the kept text, the embedding, error.
    salvo::Schema schema;
    schema.fields = {{"id", salvo::DataType::int64()},
                     {"text", salvo::DataType::string()},
                     {"embedding", salvo::DataType::list(salvo::DataType::float32(), static_cast<int64_t>(dims))},
                     {"error", salvo::DataType::string()}};
    salvo::SinkOptions sink_options;
    sink_options.compression = codec;
    constexpr size_t kWindow = 2048;  // rows per batch, as the job's sort window
    std::vector<salvo::RecordBatch> batches;
    if (path == "sink") {
      for (size_t begin = 0; begin < rows; begin += kWindow) {
        salvo::RecordBatch batch(schema);
        for (size_t r = begin; r < std::min(rows, begin + kWindow); ++r) {
          batch.mutable_column(0).append_int64(static_cast<int64_t>(r));
          batch.mutable_column(1).append_string(texts[r]);
          batch.mutable_column(2).append_list(std::span<const float>(embeddings + r * dims, dims));
          batch.mutable_column(3).append_null();
        }
        batches.push_back(std::move(batch));
      }
    } else if (path != "writer") {
      throw salvo::Error(salvo::ErrorCode::kInvalidArgument, "--path is sink or writer");
    }

    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    if (path == "sink") {
      auto sink = salvo::open_row_sink(argv[4], schema, sink_options);
      for (const auto& batch : batches) sink->write(batch);
      sink->finish();
    } else {
      salvo::ParquetWriteOptions options;
      options.codec = salvo::parse_parquet_codec(codec);
      std::vector<salvo::ParquetColumnSpec> columns = {{"id", salvo::ParquetValueKind::kInt64, false},
                                                       {"text", salvo::ParquetValueKind::kString, false},
                                                       {"embedding", salvo::ParquetValueKind::kFloat, true},
                                                       {"error", salvo::ParquetValueKind::kString, false}};
      std::vector<salvo::ParquetColumnBuffer> buffers;
      for (const auto& c : columns) buffers.emplace_back(c);
      salvo::ParquetFileWriter writer(argv[4], options);
      for (size_t r = 0; r < rows; ++r) {
        buffers[0].add_int64(static_cast<int64_t>(r));
        buffers[1].add_bytes(texts[r]);
        buffers[2].add_list(std::span<const float>(embeddings + r * dims, dims));
        buffers[3].add_null();
        size_t bytes = 0;
        for (const auto& b : buffers) bytes += b.buffered_bytes();
        if (bytes >= sink_options.row_group_bytes) writer.write_row_group(buffers);
      }
      writer.write_row_group(buffers);
      writer.finish(columns);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("{\"seconds\": %.4f, \"cpu_seconds\": %.4f, \"rows\": %zu, \"bytes\": %llu}\n", seconds,
                cpu_seconds() - cpu_start, rows,
                static_cast<unsigned long long>(std::filesystem::file_size(argv[4])));
  } catch (const salvo::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
