// Reads the text column of the Parquet file named by $SALVO_BENCH_PARQUET through salvo's Parquet
// source (read + parse, as a job does) and reports bytes of text per second. Run by
// tools/bench/parquet_read_bench.sh, which makes the file and times DuckDB on it too.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "io/parquet/parquet_source.h"

namespace {

void BM_ParquetReadText(benchmark::State& state) {
  const char* path = std::getenv("SALVO_BENCH_PARQUET");
  if (path == nullptr) {
    state.SkipWithError("set SALVO_BENCH_PARQUET to a Parquet file with a text column");
    return;
  }
  uint64_t text_bytes = 0;
  for (auto _ : state) {
    auto source = salvo::open_parquet_source(path, {}, {});
    std::vector<salvo::RawRecord> records;
    salvo::InputRow row;
    uint64_t sum = 0;
    bool more = true;
    while (more) {
      records.clear();
      more = source->read(8192, &records);
      for (const auto& record : records) {
        source->parse(record, &row);
        sum += row.text.size();
      }
    }
    benchmark::DoNotOptimize(sum);
    text_bytes = sum;
  }
  state.counters["text_bytes"] = static_cast<double>(text_bytes);
  state.SetBytesProcessed(static_cast<int64_t>(text_bytes) * state.iterations());
}
BENCHMARK(BM_ParquetReadText)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
